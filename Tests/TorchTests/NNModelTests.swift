import Foundation
import Testing
import TestSupport
@testable import Torch

/// Touches libtorch's global generator and thread settings: run serially.
@Suite(.serialized)
struct NNModelTests {
    static let streaming = TestPaths.fixture("models/tiny-streaming.ts")
    static let deterministic = TestPaths.fixture("models/tiny-deterministic.ts")

    @Test func describesTheStreamingFixture() throws {
        let model = try NNModel(contentsOf: Self.streaming)
        #expect(model.sampleRate == 44100)
        #expect(model.methods.map(\.name) == ["encode", "decode", "forward"])
        let encode = try model.method(named: "encode")
        #expect([encode.inChannels, encode.inRatio, encode.outChannels, encode.outRatio] == [Int]([1, 1, 4, 256]))
        let decode = try model.method(named: "decode")
        #expect([decode.inChannels, decode.inRatio, decode.outChannels, decode.outRatio] == [Int]([4, 256, 1, 1]))
        #expect(encode.outputLabels?.count == 4)
        #expect(model.latentSize == 4)
        #expect(model.minimumBlock == 256)
        let description = model.describe()
        #expect(description.attributes.map(\.name) == ["gain"])
        #expect(description.attributes.first?.types == [.float])
        #expect(description.attributes.first?.value == .number(1))
    }

    @Test func readsAV1StyleModelWithoutGetMethods() throws {
        let model = try NNModel(contentsOf: TestPaths.fixture("models/tiny-v1.ts"))
        #expect(model.sampleRate == 22050)
        #expect(Set(model.methods.map(\.name)) == ["encode", "decode", "forward"])
        #expect(model.minimumBlock == 128)
        #expect(model.latentSize == 2)
    }

    @Test func aPlainModuleHasNoNNMethods() throws {
        let model = try NNModel(contentsOf: TestPaths.fixture("models/plain.ts"))
        #expect(model.methods.isEmpty)
        #expect(model.sampleRate == nil)
        let error = try #require(throws: TorchError.self) { try model.method(named: "forward") }
        #expect(error.description.contains("no method 'forward'"))
    }

    @Test func getsAndSetsAttributes() throws {
        let model = try NNModel(contentsOf: Self.deterministic)
        try model.setAttribute("gain", ["2.5"])
        #expect(try model.attribute("gain") == .number(2.5))
        #expect(throws: TorchError.self) { try model.setAttribute("gain", ["loud"]) }
        let refused = try #require(throws: TorchError.self) { try model.setAttribute("gain", ["-1"]) }
        #expect(refused.description.contains("refused"))
        #expect(throws: TorchError.self) { try model.setAttribute("nope", ["1"]) }
        #expect(throws: TorchError.self) { try model.setAttribute("gain", ["1", "2"]) }
    }

    /// One call of a method on a fresh [1, channels, frames] buffer.
    static func run(_ method: ScriptMethod, _ input: [Float], channels: Int = 1, outCount: Int) throws -> [Float] {
        var output = [Float](repeating: 0, count: outCount)
        try input.withUnsafeBufferPointer { inBuf in
            try output.withUnsafeMutableBufferPointer { outBuf in
                _ = try method(inBuf, batch: 1, channels: channels, frames: input.count / channels, into: outBuf)
            }
        }
        return output
    }

    static func noise(_ count: Int, seed: UInt64) -> [Float] {
        var state = seed
        return (0..<count).map { _ in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int64(bitPattern: state >> 11) % 2000 - 1000) / 5000
        }
    }

    @Test func instancesKeepTheirOwnStreamingState() throws {
        let model = try NNModel(contentsOf: Self.deterministic)
        let a = try model.instance(), b = try model.instance(), c = try model.instance()
        let first = Self.noise(1024, seed: 1), second = Self.noise(1024, seed: 2)
        let fa = try a.module.method("forward"), fb = try b.module.method("forward"), fc = try c.module.method("forward")
        _ = try Self.run(fa, first, outCount: 1024)
        let aSecond = try Self.run(fa, second, outCount: 1024)
        let bSecond = try Self.run(fb, second, outCount: 1024)  // b never saw `first`
        _ = try Self.run(fc, first, outCount: 1024)
        let cSecond = try Self.run(fc, second, outCount: 1024)
        #expect(aSecond == cSecond, "same history, same output")
        #expect(aSecond != bSecond, "the cache carries the previous block into this one")
    }

    @Test func instancesShareWeightsNotState() throws {
        let model = try NNModel(contentsOf: Self.deterministic)
        let a = try model.instance(), b = try model.instance()
        #expect(a.module.sharesParameters(with: b.module))
        #expect(a.module.sharesParameters(with: model.module))
        // A deep copy holds copies of the weights, not the same tensors.
        let copy = try model.module.copy()
        #expect(!copy.sharesParameters(with: model.module))
    }

    @Test func seedingMakesNoiseRepeatable() throws {
        let model = try NNModel(contentsOf: Self.streaming)
        let input = Self.noise(512, seed: 3)
        func once(seed: UInt64?) throws -> [Float] {
            let instance = try model.instance()
            if let seed { Torch.manualSeed(seed) }
            return try Self.run(try instance.module.method("forward"), input, outCount: 512)
        }
        let x = try once(seed: 11), y = try once(seed: 11), z = try once(seed: nil)
        #expect(x == y)
        #expect(x != z)
    }

    @Test func aWrongChannelCountIsAnErrorNotACrash() throws {
        let model = try NNModel(contentsOf: Self.deterministic)
        let forward = try model.module.method("forward")
        let error = try #require(throws: TorchError.self) {
            _ = try Self.run(forward, Self.noise(1024, seed: 4), channels: 2, outCount: 4096)
        }
        #expect(!error.summary.contains("\n"))
        #expect(error.description.contains("forward"))
    }

    @Test func threadSettings() throws {
        Torch.applyDefaults()
        Torch.intraOpThreads = 2
        #expect(Torch.intraOpThreads == 2)
        Torch.intraOpThreads = 1
        #expect(Torch.intraOpThreads == 1)
        #expect(Torch.interOpThreads == 1)
    }

    @Test func badFilesAreOneLineErrorsNamingTheFile() throws {
        let dir = TemporaryDirectory()
        let good = try Data(contentsOf: Self.streaming)
        let truncated = dir.file("truncated.ts"), random = dir.file("random.ts"), empty = dir.file("empty.ts")
        try good.prefix(good.count / 2).write(to: truncated)
        var generator = SystemRandomNumberGenerator()
        try Data((0..<4096).map { _ in UInt8.random(in: 0...255, using: &generator) }).write(to: random)
        try Data().write(to: empty)
        for url in [truncated, random, empty, dir.file("missing.ts"), dir.url] {
            let error = try #require(throws: TorchError.self) { try NNModel(contentsOf: url) }
            #expect(error.description.contains(url.path))
            #expect(!error.description.contains("\n"), "\(error.description)")
        }
    }

    /// The models in ../shared/models match their README.
    @Test(.needsSharedModels, arguments: [
        ("drums-v2small-causal.ts", 44100, [("encode", [1, 1, 8, 512]), ("decode", [8, 512, 1, 1]), ("forward", [1, 1, 1, 1])], 8, 128, 512),
        ("v2small-noncausal.ts", 44100, [("encode", [1, 1, 1, 512]), ("decode", [1, 512, 1, 1]), ("forward", [1, 1, 1, 1])], 1, 128, 512),
    ])
    func describesSharedModels(file: String, rate: Int, methods: [(String, [Int])], latent: Int, full: Int, block: Int) throws {
        let model = try NNModel(contentsOf: TestPaths.sharedModels.appendingPathComponent(file))
        #expect(model.sampleRate == rate)
        for (name, params) in methods {
            let m = try model.method(named: name)
            #expect([m.inChannels, m.inRatio, m.outChannels, m.outRatio] == params, "\(file) \(name)")
        }
        #expect(model.latentSize == latent)
        #expect(model.fullLatentSize == full)
        #expect(model.minimumBlock == block)
        #expect(Set(model.attributeNames) == ["learn_target", "reset_target", "learn_source", "reset_source"])
        #expect(try model.attribute("learn_target") == .bool(false))
    }
}

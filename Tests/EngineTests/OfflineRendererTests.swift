import AudioIO
import Engine
import Foundation
import Testing
import TestSupport
import Torch

/// Signals and helpers shared by the engine's tests.
enum Signals {
    /// Deterministic noise with a slow envelope, like a drum loop without rhythm.
    static func noise(frames: Int, seed: UInt64 = 1, amplitude: Float = 0.3) -> [Float] {
        var state = seed
        return (0..<frames).map { i in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            let u = Float(state >> 40) / Float(1 << 24) * 2 - 1
            return u * amplitude * Float(0.6 + 0.4 * sin(Double(i) * 0.0007))
        }
    }

    static var models: URL { TestPaths.fixture("models") }

    static func configuration(rate: Int = 44100) -> Instrument.Configuration {
        Instrument.Configuration(sampleRate: rate, period: 512, modelsDirectories: [models])
    }
}

/// The graph driven offline: exact, repeatable, and the reference for the live engine.
@Suite(.serialized)
struct OfflineRendererTests {
    /// The node's bus is the model's own output over the input, delayed by exactly the reported latency.
    @Test func aNodeIsItsModelDelayedByItsLatency() throws {
        let frames = 44100
        let input = Signals.noise(frames: frames)
        let result = try OfflineRenderer.render(
            input: AudioBuffer(sampleRate: 44100, channels: [input]), frames: frames, configuration: Signals.configuration(),
            events: [RenderEvent(frame: 0) { try $0.createNow(NodeSpec(label: "a", model: "tiny-deterministic.ts")) }])
        let latency = try #require(result.latencies["a"])
        #expect(latency == 4096)  // one 2048 block to fill + one block of inference allowance

        // The reference: the same model called directly, block by block.
        let model = try NNModel(contentsOf: Signals.models.appendingPathComponent("tiny-deterministic.ts"))
        let method = try model.module.method("forward")
        var reference: [Float] = []
        var out = [Float](repeating: 0, count: 2048)
        // The engine warms a node up on silence before it joins; silence leaves this model's state at zero.
        for start in stride(from: 0, to: frames - 2048, by: 2048) {
            let block = Array(input[start..<(start + 2048)])
            try block.withUnsafeBufferPointer { b in
                try out.withUnsafeMutableBufferPointer { o in _ = try method(b, batch: 1, channels: 1, frames: 2048, into: o) }
            }
            reference += out
        }
        let bus = try #require(result.buses.first { $0.label == "a" }?.buffer)
        #expect(bus.channels[0][0..<latency].allSatisfy { $0 == 0 })
        // The node fades in over 50 ms from the moment its output starts (at the latency); after that it is exact.
        var worst: Float = 0
        for i in 2205..<(frames - latency) where i < reference.count {
            worst = max(worst, abs(bus.channels[0][i + latency] - reference[i]))
            worst = max(worst, abs(bus.channels[1][i + latency] - reference[i]))  // a mono model feeds both sides
        }
        #expect(worst < 1e-6, "largest difference \(worst)")
        #expect(result.master.channels[0] == bus.channels[0])
    }

    /// Nodes that join in the same cycle get different block phases (their blocks complete in
    /// different cycles, so the workers get work every cycle), yet each keeps the latency it
    /// reports and gives the same samples as an unstaggered node: the phase is silence before
    /// the node's input, never a delay of it.
    @Test func staggeredPhasesKeepLatencyAndOutput() throws {
        let frames = 44100
        let input = Signals.noise(frames: frames, seed: 11)
        func render(stagger: Bool) throws -> (RenderResult, [Int]) {
            var configuration = Signals.configuration()
            configuration.staggerBlocks = stagger
            var phases: [Int] = []
            let result = try OfflineRenderer.render(
                input: AudioBuffer(sampleRate: 44100, channels: [input]), frames: frames, configuration: configuration,
                events: [
                    RenderEvent(frame: 0) { instrument in
                        for label in ["a", "b", "c", "d", "e"] { try instrument.createNow(NodeSpec(label: label, model: "tiny-deterministic.ts")) }
                    },
                    RenderEvent(frame: 8192) { instrument in phases = instrument.status().nodes.map { $0.phaseSamples } },
                ])
            return (result, phases)
        }
        let (staggered, phases) = try render(stagger: true)
        let (plain, plainPhases) = try render(stagger: false)
        // Period 512, block 2048: four phases (where blocks begin on the engine's clock); the fifth node shares the first's.
        #expect(phases == [0, 1536, 1024, 512, 0])
        #expect(plainPhases == [0, 0, 0, 0, 0])
        #expect(staggered.latencies.values.allSatisfy { $0 == 4096 }, "\(staggered.latencies)")
        let reference = try #require(plain.buses.first { $0.label == "a" }?.buffer.channels[0])
        #expect(reference.contains { $0 != 0 })
        for (label, bus) in staggered.buses {
            var worst: Float = 0
            for i in 0..<frames { worst = max(worst, abs(bus.channels[0][i] - reference[i])) }
            #expect(worst < 1e-5, "node \(label): largest difference \(worst) from the unstaggered node")
        }
    }

    /// Fully dry, a node is its input delayed by its latency: wet and dry line up.
    @Test func dryIsDelayedByTheLatency() throws {
        let frames = 30000
        let input = Signals.noise(frames: frames, seed: 4)
        let result = try OfflineRenderer.render(
            input: AudioBuffer(sampleRate: 44100, channels: [input]), frames: frames, configuration: Signals.configuration(),
            events: [RenderEvent(frame: 0) { instrument in
                try instrument.createNow(NodeSpec(label: "d", model: "tiny-deterministic.ts", block: 512))
                try instrument.set("d", .wet(0))
            }])
        let latency = try #require(result.latencies["d"])
        #expect(latency == 1024)
        let bus = result.buses[0].buffer.channels[0]
        // The wet/dry glide and the fade-in settle within half a second; after that it is exact.
        var worst: Float = 0
        for i in 22050..<frames { worst = max(worst, abs(bus[i] - input[i - latency])) }
        #expect(worst < 1e-5, "largest difference \(worst)")
    }

    /// Toggling on and off fades: no sample-to-sample jump larger than the signal's own.
    @Test func togglingFadesWithoutClicks() throws {
        let frames = 44100
        let input = (0..<frames).map { Float(sin(Double($0) * 2 * .pi * 220 / 44100)) * 0.5 }
        let result = try OfflineRenderer.render(
            input: AudioBuffer(sampleRate: 44100, channels: [input]), frames: frames, configuration: Signals.configuration(),
            events: [
                RenderEvent(frame: 1000) { try $0.createNow(NodeSpec(label: "t", model: "tiny-deterministic.ts")); try $0.set("t", .wet(0)) },
                RenderEvent(frame: 30001) { try $0.free("t") },
            ])
        let bus = result.buses[0].buffer.channels[0]
        let steepest = zip(bus.dropFirst(), bus).map { abs($0 - $1) }.max() ?? 0
        let natural = Float(2 * Double.pi * 220 / 44100 * 0.5)
        #expect(steepest <= natural * 1.05, "largest step \(steepest)")
        #expect(bus[20000] != 0)
        #expect(bus[(30001 + 2205 + 4096)...].allSatisfy { $0 == 0 }, "silent after the fade-out")
    }

    /// A node whose model draws noise repeats exactly with the same seed, and differs with another.
    @Test func seededNodesRepeat() throws {
        func render(_ seed: UInt64) throws -> [Float] {
            let frames = 20000
            let result = try OfflineRenderer.render(
                input: AudioBuffer(sampleRate: 44100, channels: [Signals.noise(frames: frames)]), frames: frames,
                configuration: Signals.configuration(),
                events: [RenderEvent(frame: 0) {
                    try $0.createNow(NodeSpec(label: "n", model: "tiny-streaming.ts", method: .encode, seed: seed))
                    try $0.set("n", .noise(0.3))
                }])
            return result.buses[0].buffer.channels[0]
        }
        Torch.manualSeed(99)
        let first = try render(5)
        Torch.manualSeed(12345)
        let again = try render(5)
        let other = try render(6)
        #expect(first == again)
        #expect(first != other)
        #expect(first.contains { $0 != 0 })
    }

    /// A model at 44.1 kHz in a 48 kHz engine is resampled both ways, with a fixed latency and no dropouts.
    @Test func modelsAtAnotherRateAreResampled() throws {
        let frames = 48000
        let input = (0..<frames).map { Float(sin(Double($0) * 2 * .pi * 300 / 48000)) * 0.5 }
        var status: EngineStatus?
        let result = try OfflineRenderer.render(
            input: AudioBuffer(sampleRate: 48000, channels: [input]), frames: frames, configuration: Signals.configuration(rate: 48000),
            events: [
                RenderEvent(frame: 0) { try $0.createNow(NodeSpec(label: "r", model: "tiny-deterministic.ts")); try $0.set("r", .wet(0)) },
                RenderEvent(frame: frames - 1) { status = $0.status() },
            ])
        let latency = try #require(result.latencies["r"])
        #expect(latency > 4096)
        let node = try #require(status?.nodes.first)
        #expect(node.dropouts == 0)
        #expect(node.modelSampleRate == 44100)
        #expect(node.blocks > 10)
        let bus = result.buses[0].buffer.channels[0]
        var worst: Float = 0
        for i in 24000..<frames { worst = max(worst, abs(bus[i] - input[i - latency])) }
        #expect(worst < 1e-5)
    }

    /// Models resolve inside the models folders only.
    @Test func modelsOutsideTheFoldersAreRefused() throws {
        let dir = TemporaryDirectory()
        let folder = dir.file("models")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let model = Signals.models.appendingPathComponent("tiny-deterministic.ts")
        try FileManager.default.copyItem(at: model, to: folder.appendingPathComponent("inside.ts"))
        try FileManager.default.copyItem(at: model, to: dir.file("outside.ts"))
        try FileManager.default.createSymbolicLink(at: folder.appendingPathComponent("link.ts"), withDestinationURL: dir.file("outside.ts"))
        let library = ModelLibrary(directories: [folder])
        #expect(try library.resolve("inside.ts").lastPathComponent == "inside.ts")
        #expect(try library.resolve(folder.appendingPathComponent("inside.ts").path).lastPathComponent == "inside.ts")
        #expect(try library.resolve("sub/../inside.ts").lastPathComponent == "inside.ts")
        for name in ["../outside.ts", dir.file("outside.ts").path, "link.ts", model.path] {
            #expect(throws: EngineError.self, "\(name)") { _ = try library.resolve(name) }
        }
    }

    /// Latent steering: bias moves the output, decode-only nodes play latent values.
    @Test func latentsSteerTheOutput() throws {
        let frames = 20000
        func render(_ extra: @escaping (Instrument) throws -> Void, method: NodeMethod) throws -> [Float] {
            let result = try OfflineRenderer.render(
                input: AudioBuffer(sampleRate: 44100, channels: [Signals.noise(frames: frames)]), frames: frames,
                configuration: Signals.configuration(),
                events: [RenderEvent(frame: 0) {
                    try $0.createNow(NodeSpec(label: "z", model: "tiny-deterministic.ts", method: method))
                    try extra($0)
                }])
            return result.buses[0].buffer.channels[0]
        }
        let plain = try render({ _ in }, method: .encode)
        let biased = try render({ try $0.set("z", .bias(1, 0.8)) }, method: .encode)
        #expect(plain != biased)
        let silent = try render({ _ in }, method: .decode)
        let played = try render({ try $0.set("z", .latents([0.5, -0.5, 0.3, 0.1])) }, method: .decode)
        #expect(silent.allSatisfy { $0 == 0 })
        #expect(played.contains { abs($0) > 0.01 })
        #expect(throws: EngineError.self) { try render({ try $0.set("z", .latent(9, 1)) }, method: .decode) }
    }
}

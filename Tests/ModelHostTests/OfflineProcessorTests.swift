import AudioIO
import Benchmarks
import DSP
import Foundation
import Testing
import TestSupport
@testable import ModelHost
import Torch

/// A drum-like test loop: decaying low sines (kicks) and noise bursts (snares, hats).
func drumLoop(seconds: Double, sampleRate: Double = 44100, seed: UInt64 = 1) -> [Float] {
    var rng = SplitMix64(seed: seed)
    let count = Int(seconds * sampleRate)
    var x = [Float](repeating: 0, count: count)
    var k = 0
    var start = 0.0
    while start < seconds {
        let i0 = Int(start * sampleRate)
        let n = min(Int(0.2 * sampleRate), count - i0)
        for i in 0..<max(n, 0) {
            let t = Double(i) / sampleRate
            let v: Double
            switch k % 4 {
            case 0: v = sin(2 * .pi * (50 + 100 * exp(-t * 30)) * t) * exp(-t * 12)
            case 2: v = (rng.nextUnit() * 2 - 1) * exp(-t * 25) * 0.6
            default: v = (rng.nextUnit() * 2 - 1) * exp(-t * 80) * 0.3
            }
            x[i0 + i] += Float(v * 0.7)
        }
        k += 1
        start += 0.25
    }
    return x
}

/// Streams through libtorch's global generator: run serially.
@Suite(.serialized)
struct OfflineProcessorTests {
    /// timbre process against python3-torch calling the model on the same blocks in order.
    func compareWithPyTorch(model modelURL: URL, block: Int, seed: UInt64, seconds: Double = 1.5) throws -> Float {
        let dir = TemporaryDirectory()
        let signal = drumLoop(seconds: seconds)
        let wav = dir.file("loop.wav"), npy = dir.file("loop.npy"), out = dir.file("out.wav"), reference = dir.file("ref.npy")
        try AudioFile.write(AudioBuffer(sampleRate: 44100, channels: [signal]), to: wav, format: .float32)
        try Npy.write(signal, shape: [1, signal.count], to: npy)
        let model = try NNModel(contentsOf: modelURL)
        let report = try OfflineProcessor.process(model: model, input: wav, output: out,
                                                  options: ProcessOptions(method: "forward", block: block, seed: seed))
        #expect(report.hostLatencySamples == 0)
        let python = try runPython(TestPaths.fixture("reference_process.py"),
                                   [modelURL.path, npy.path, reference.path, "--block", "\(block)", "--seed", "\(seed)"])
        #expect(python.status == 0, "python3-torch failed: \(python.stderr)")
        let ours = try AudioFile.read(out)
        let (shape, theirs) = try Npy.read(reference)
        #expect(shape == [1, signal.count])
        #expect(ours.frameCount == signal.count, "output length equals input length")
        #expect(ours.sampleRate == 44100)
        guard ours.frameCount == theirs.count else { return .infinity }
        let diff = zip(ours.channels[0], theirs).map { abs($0 - $1) }.max() ?? .infinity
        let peak = theirs.map(abs).max() ?? 0
        #expect(peak > 0.01, "the model produced sound")
        return diff
    }

    @Test func deterministicFixtureMatchesPyTorch() throws {
        let diff = try compareWithPyTorch(model: TestPaths.fixture("models/tiny-deterministic.ts"), block: 512, seed: 1)
        #expect(diff < 1e-5)
    }

    @Test func noisyFixtureMatchesPyTorchWithTheSameSeed() throws {
        let diff = try compareWithPyTorch(model: TestPaths.fixture("models/tiny-streaming.ts"), block: 1024, seed: 7)
        #expect(diff < 1e-5)
    }

    /// The bar: the drum model at block 2048 with seed 7 gives python3-torch's samples within 1e-4.
    @Test(.needsSharedModels)
    func drumModelMatchesPyTorch() throws {
        let diff = try compareWithPyTorch(model: TestPaths.sharedModels.appendingPathComponent("drums-v2small-causal.ts"), block: 2048, seed: 7, seconds: 3)
        #expect(diff < 1e-4)
    }

    @Test func aStereoFileThroughAMonoModelRunsOneInstancePerChannel() throws {
        let dir = TemporaryDirectory()
        let left = drumLoop(seconds: 0.5, seed: 1), right = drumLoop(seconds: 0.5, seed: 2).map { $0 * 0.5 }
        try AudioFile.write(AudioBuffer(sampleRate: 44100, channels: [left, right]), to: dir.file("st.wav"))
        try AudioFile.write(AudioBuffer(sampleRate: 44100, channels: [right]), to: dir.file("r.wav"))
        let modelURL = TestPaths.fixture("models/tiny-deterministic.ts")
        let report = try OfflineProcessor.process(model: try NNModel(contentsOf: modelURL), input: dir.file("st.wav"), output: dir.file("st-out.wav"))
        #expect(report.channelMapping.contains("each through its own instance"))
        _ = try OfflineProcessor.process(model: try NNModel(contentsOf: modelURL), input: dir.file("r.wav"), output: dir.file("r-out.wav"))
        let stereo = try AudioFile.read(dir.file("st-out.wav")), alone = try AudioFile.read(dir.file("r-out.wav"))
        #expect(stereo.channelCount == 2)
        #expect(stereo.channels[1] == alone.channels[0], "the right channel never saw the left one's state")
        #expect(stereo.channels[0] != stereo.channels[1])
    }

    @Test func aMonoFileFeedsEveryInputOfAStereoModel() throws {
        let dir = TemporaryDirectory()
        try AudioFile.write(AudioBuffer(sampleRate: 44100, channels: [drumLoop(seconds: 0.3)]), to: dir.file("m.wav"))
        let model = try NNModel(contentsOf: TestPaths.fixture("models/tiny-stereo.ts"))
        _ = try OfflineProcessor.process(model: model, input: dir.file("m.wav"), output: dir.file("o.wav"))
        let out = try AudioFile.read(dir.file("o.wav"))
        #expect(out.channelCount == 2)
        #expect(out.frameCount == Int(0.3 * 44100))
    }

    @Test func encodeThenDecodeRestoresRateAndLength() throws {
        let dir = TemporaryDirectory()
        let signal = drumLoop(seconds: 1.0, sampleRate: 48000)
        try AudioFile.write(AudioBuffer(sampleRate: 48000, channels: [signal]), to: dir.file("in.wav"))
        let modelURL = TestPaths.fixture("models/tiny-deterministic.ts")
        _ = try OfflineProcessor.process(model: try NNModel(contentsOf: modelURL), input: dir.file("in.wav"), output: dir.file("z.npy"),
                                         options: ProcessOptions(method: "encode", block: 512))
        let (shape, values) = try Npy.read(dir.file("z.npy"))
        let framesAt44k = Int((1.0 * 44100).rounded())
        #expect(shape == [(framesAt44k + 255) / 256, 4])
        #expect(values.allSatisfy { $0.isFinite && abs($0) <= 1 })
        let sidecar = try JSONDecoder().decode(LatentSidecar.self, from: Data(contentsOf: dir.file("z.json")))
        #expect(sidecar.hop == 256 && sidecar.sampleRate == 44100 && sidecar.sourceRate == 48000 && sidecar.sourceFrames == 48000)
        _ = try OfflineProcessor.process(model: try NNModel(contentsOf: modelURL), input: dir.file("z.npy"), output: dir.file("back.wav"),
                                         options: ProcessOptions(method: "decode", block: 512))
        let back = try AudioFile.read(dir.file("back.wav"))
        #expect(back.sampleRate == 48000)
        #expect(back.frameCount == 48000)
        // Latents at 44.1 kHz resampled back: the same samples as forward at the model's rate, up to resampling.
        #expect(back.channels[0].contains { abs($0) > 0.01 })
    }

    @Test func resamplesToTheModelRateAndBack() throws {
        let dir = TemporaryDirectory()
        let signal = drumLoop(seconds: 0.7, sampleRate: 22050)
        try AudioFile.write(AudioBuffer(sampleRate: 22050, channels: [signal]), to: dir.file("in.wav"))
        let report = try OfflineProcessor.process(model: try NNModel(contentsOf: TestPaths.fixture("models/tiny-deterministic.ts")),
                                                  input: dir.file("in.wav"), output: dir.file("out.flac"),
                                                  options: ProcessOptions(format: .pcm24))
        #expect(report.modelRate == 44100 && report.sourceRate == 22050)
        let out = try AudioFile.read(dir.file("out.flac"))
        #expect(out.sampleRate == 22050)
        #expect(out.frameCount == signal.count)
    }

    @Test func blocksMustBeMultiplesOfTheMinimumBlock() throws {
        let dir = TemporaryDirectory()
        try AudioFile.write(AudioBuffer(sampleRate: 44100, channels: [drumLoop(seconds: 0.1)]), to: dir.file("in.wav"))
        let error = try #require(throws: TorchError.self) {
            try OfflineProcessor.process(model: try NNModel(contentsOf: TestPaths.fixture("models/tiny-deterministic.ts")),
                                         input: dir.file("in.wav"), output: dir.file("out.wav"),
                                         options: ProcessOptions(block: 300))
        }
        #expect(error.description.contains("minimum block 256"))
        #expect(!FileManager.default.fileExists(atPath: dir.file("out.wav").path))
    }

    @Test func benchmarkComparesHostAndBaseline() throws {
        let model = try NNModel(contentsOf: TestPaths.fixture("models/tiny-deterministic.ts"))
        let result = try InferenceBenchmark.run(model: model, method: "forward", block: 2048, iterations: 20, warmup: 2)
        #expect(result.host.count == 20 && result.baseline.count == 20)
        #expect(result.host.medianMilliseconds > 0 && result.baseline.medianMilliseconds > 0)
        #expect(result.overheadRatio > 0)
    }
}

import AudioIO
import Foundation
import Testing
import TestSupport
import Torch
@testable import DrumVAE

/// The exported TorchScript model in PyTorch (Debian's python3-torch): nn_tilde's method
/// test (8192-sample input, shapes and dtypes), and `decode` driven by triggers against
/// timbre's own generation for the same latents.
@Suite(.serialized)
struct ExportTests {
    static let python = """
    import json, sys
    import numpy as np
    import torch
    torch.set_num_threads(1)
    model = torch.jit.load(sys.argv[1])
    report = {"methods": model.get_methods(), "attributes": model.get_attributes(), "sr": model.sr, "shapes": {}}
    for name in model.get_methods():
        in_ch, in_ratio, out_ch, out_ratio = [int(v) for v in getattr(model, name + "_params")]
        for make in (torch.zeros, torch.randn):
            x = make(1, in_ch, 8192 // in_ratio)
            y = getattr(model, name)(x)
            assert y.dtype == torch.float32, (name, y.dtype)
            assert tuple(y.shape) == (1, out_ch, 8192 // out_ratio), (name, tuple(y.shape))
            assert bool(torch.isfinite(y).all()), name
        report["shapes"][name] = list(y.shape)
    fresh = torch.jit.load(sys.argv[1])
    # A synth run's noise: torch's generator, seeded as timbre seeded its own.
    torch.manual_seed(int(sys.argv[4]))
    calls = np.load(sys.argv[2])
    expected = np.load(sys.argv[3])
    outs = [fresh.decode(torch.from_numpy(calls[k:k + 1]).contiguous())[0, 0].numpy() for k in range(calls.shape[0])]
    got = np.concatenate(outs)
    report["maxDifference"] = float(np.abs(got - expected).max())
    report["expectedPeak"] = float(np.abs(expected).max())
    hits = torch.zeros(1, 1, 8192)
    hits[0, 0, 2048:2048 + 400] = torch.randn(400) * torch.linspace(1, 0, 400)
    enc = fresh.encode(hits)
    report["encodeTriggers"] = enc[0, 0].tolist()
    print(json.dumps(report))
    """

    struct Report: Decodable {
        var methods: [String]
        var attributes: [String]
        var sr: Int
        var shapes: [String: [Int]]
        var maxDifference: Double
        var expectedPeak: Double
        var encodeTriggers: [Double]
    }

    /// The complex decoder with the demodulated phase frame (the default) and without it
    /// (`--no-demodulated-phase`), and the synth decoder (its noise from each side's
    /// generator, seeded alike).
    @Test(.needsHydrogenKits, arguments: [(Representation.complex, false), (.complex, true), (.synth, false)])
    func exportMatchesTimbreInPyTorch(representation: Representation, demodulated: Bool) throws {
        let kit = try makeTestKit(perKit: 3, kits: ["HardElectro1", "ElectricEmpireKit"])
        let dir = TemporaryDirectory()
        let runURL = dir.file("run")
        var config = smallConfig(steps: 3)
        config.demodulatedPhase = demodulated
        config.representation = representation
        config.sinusoids = 8
        config.noiseBands = 16
        try train(kit: kit.url, run: runURL, steps: 3, config: config)
        let run = try TrainedRun(runURL)
        let r = 2048, frames = 12, calls = 2, d = run.config.latentSize
        let model = dir.file("drums.ts")
        try TorchScriptExport(run: run, block: r).write(to: model)

        // Triggers: frame 1 rises (z0), stays high on frame 2 (no new one-shot), falls, rises
        // on frame 4 (z1, overlapping z0's tail) and on frame 13, in the second call (z2).
        // Latent channels hold noise on every other frame: only rising frames may be read.
        let latents = try run.sampleLatents(count: 3, temperature: 1, seed: 5)
        let noise = try run.sampleLatents(count: calls * frames, temperature: 3, seed: 9)
        var input = [Float](repeating: 0, count: calls * (d + 1) * frames)
        let starts = [1: 0, 4: 1, 13: 2]
        for global in 0..<(calls * frames) {
            let call = global / frames, f = global % frames
            let high = starts[global] != nil || global == 2
            input[call * (d + 1) * frames + f] = high ? 1 : 0
            let z = starts[global].map { latents[$0] } ?? noise[global]
            for c in 0..<d { input[call * (d + 1) * frames + (c + 1) * frames + f] = z[c] }
        }
        let noiseSeed: UInt64 = 11
        let shots = try run.decode(latents, noiseSeed: noiseSeed).map(run.finish)
        var expected = [Float](repeating: 0, count: calls * frames * r)
        for (frame, k) in starts {
            for i in 0..<shots[k].count where frame * r + i < expected.count { expected[frame * r + i] += shots[k][i] }
        }
        try Npy.write(input, shape: [calls, d + 1, frames], to: dir.file("calls.npy"))
        try Npy.write(expected, shape: [expected.count], to: dir.file("expected.npy"))
        let script = dir.file("check.py")
        try Self.python.write(to: script, atomically: true, encoding: .utf8)
        let result = try runPython(script, [model.path, dir.file("calls.npy").path, dir.file("expected.npy").path, String(noiseSeed)])
        try #require(result.status == 0, "python: \(result.stderr)")
        let report = try JSONDecoder().decode(Report.self, from: Data(result.stdout.utf8))
        #expect(report.methods == ["encode", "decode", "forward"])
        #expect(report.attributes.isEmpty)
        #expect(report.sr == 44100)
        #expect(report.shapes["decode"] == [1, 1, 8192])
        #expect(report.shapes["encode"] == [1, d + 1, 4])
        #expect(report.shapes["forward"] == [1, 1, 8192])
        #expect(report.expectedPeak > 1e-3, "the reference is silent, the comparison would prove nothing")
        #expect(report.maxDifference < 1e-4, "decode differs from timbre's generation by \(report.maxDifference)")
        #expect(report.encodeTriggers == [0, 1, 0, 0], "encode should mark the hit in frame 1")

        // timbre's own reader describes it as nn~ would.
        let nn = try NNModel(contentsOf: model)
        #expect(nn.sampleRate == 44100)
        #expect(nn.methods.map(\.name) == ["encode", "decode", "forward"])
        #expect(try nn.method(named: "decode").inChannels == d + 1)
        #expect(try nn.method(named: "decode").inRatio == r)
    }

    @Test(.needsHydrogenKits)
    func blockMustBeAPowerOfTwoInRange() throws {
        let kit = try makeTestKit(perKit: 2, kits: ["HardElectro1"])
        let dir = TemporaryDirectory()
        try train(kit: kit.url, run: dir.file("run"), steps: 1, config: smallConfig(steps: 1))
        let run = try TrainedRun(dir.file("run"))
        for block in [256, 3000, 8192] {
            #expect(throws: DrumVAEError.self) { try TorchScriptExport(run: run, block: block) }
        }
    }
}

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
        try TorchScriptExport(run: run, block: r, contract: 1).write(to: model)

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
        let shots = try run.decode(latents, noiseSeed: noiseSeed).map { TrainedRun.levelled(run.finish($0)) }
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

    static let drumMachinePython = """
    import json, sys
    import numpy as np
    import torch
    torch.set_num_threads(1)
    path = sys.argv[1]
    seed = int(sys.argv[4])
    deterministic = sys.argv[5] == "1"
    model = torch.jit.load(path)
    k = len(model.trigger_classes)
    channels = int(model.decode_params[0])
    r = int(model.decode_params[1])
    d = channels - k
    report = {"methods": model.get_methods(), "attributes": model.get_attributes(), "sr": model.sr,
              "contract": int(model.trigger_contract), "classes": list(model.trigger_classes),
              "labels": list(model.decode_input_labels), "shapes": {}}
    for name in model.get_methods():
        in_ch, in_ratio, out_ch, out_ratio = [int(v) for v in getattr(model, name + "_params")]
        for make in (torch.zeros, torch.randn):
            x = make(1, in_ch, 8192 // in_ratio)
            y = getattr(model, name)(x)
            assert y.dtype == torch.float32, (name, y.dtype)
            assert tuple(y.shape) == (1, out_ch, 8192 // out_ratio), (name, tuple(y.shape))
            assert bool(torch.isfinite(y).all()), name
        report["shapes"][name] = list(y.shape)
    # Calls against timbre's own generation.
    fresh = torch.jit.load(path)
    torch.manual_seed(seed)
    calls = np.load(sys.argv[2])
    expected = np.load(sys.argv[3])
    got = np.concatenate([fresh.decode(torch.from_numpy(calls[c:c + 1]).contiguous())[0, 0].numpy() for c in range(calls.shape[0])])
    report["maxDifference"] = float(np.abs(got - expected).max())
    report["expectedPeak"] = float(np.abs(expected).max())
    # The drum machine, one fresh instance per case: hits on frame 1 with one latent offset,
    # then silence until every tail has played.
    u = torch.from_numpy(np.linspace(-0.5, 0.5, d).astype(np.float32))
    tail_frames = (88200 + r - 1) // r + 1
    def play(hits):
        m = torch.jit.load(path)
        torch.manual_seed(seed)
        x = torch.zeros(1, channels, 4)
        for c, v in hits:
            x[0, c, 1] = v
        x[0, k:, 1] = u
        head = m.decode(x)[0, 0]
        rest = m.decode(torch.zeros(1, channels, tail_frames))[0, 0]
        return torch.cat([head, rest]).numpy().astype(np.float64)
    def rms(a):
        return float(np.sqrt(np.mean(a * a)))
    def spectrum_db(a):
        s = np.abs(np.fft.rfft(a[r:r + 88200]))
        return 20 * np.log10(s[: len(s) * 16000 // 22050] + 1e-6)
    first = play([(0, 1.0)])
    again = play([(0, 1.0)])
    last = play([(k - 1, 1.0)])
    quarter = play([(0, 0.25)])
    report["firstRMS"] = rms(first)
    report["quarterRatio"] = rms(quarter) / rms(first)
    report["quarterDifference"] = float(np.abs(quarter - 0.25 * first).max())
    report["classDistanceDb"] = float(np.mean(np.abs(spectrum_db(first) - spectrum_db(last))))
    report["repeatDistanceDb"] = float(np.mean(np.abs(spectrum_db(first) - spectrum_db(again))))
    # encode: a noise burst in frame 1 is a hit of one class at velocity 1 there.
    burst = torch.zeros(1, 1, 8192)
    burst[0, 0, 2048:2048 + 400] = torch.randn(400) * torch.linspace(1, 0, 400)
    enc = torch.jit.load(path).encode(burst)
    report["encodeVelocities"] = enc[0, :k].sum(0).tolist()
    report["encodeHitsPerFrame"] = (enc[0, :k] > 0).sum(0).tolist()
    if deterministic and k > 1:
        both = play([(0, 1.0), (k - 1, 1.0)])
        report["sumDifference"] = float(np.abs(both - (first + last)).max())
        report["bothPeak"] = float(np.abs(both).max())
    print(json.dumps(report))
    """

    struct DrumMachineReport: Decodable {
        var methods: [String]
        var attributes: [String]
        var sr: Int
        var contract: Int
        var classes: [String]
        var labels: [String]
        var shapes: [String: [Int]]
        var maxDifference: Double
        var expectedPeak: Double
        var firstRMS: Double
        var quarterRatio: Double
        var quarterDifference: Double
        var classDistanceDb: Double
        var repeatDistanceDb: Double
        var sumDifference: Double?
        var bothPeak: Double?
        var encodeVelocities: [Double]
        var encodeHitsPerFrame: [Int]
    }

    /// Trigger contract 2 in PyTorch: a conditional complex run (classes from the decoder's
    /// condition and the prior's means) and an unconditional synth run (classes from the
    /// prior's means alone). Over two calls, hits on consecutive frames, two classes in one
    /// frame, velocities below 0.5 and junk elsewhere match timbre's own generation; two hits
    /// in one frame sum to each alone; velocity 0.25 is a quarter of the gain; the class
    /// changes the spectrum (a repeat of the same hit, the control, does not).
    @Test(.needsHydrogenKits, arguments: [(Representation.complex, true), (.synth, false)])
    func drumMachineExportMatchesTimbreInPyTorch(representation: Representation, conditional: Bool) throws {
        let kit = try makeTestKit(perKit: 3, kits: ["HardElectro1", "ElectricEmpireKit"])
        let dir = TemporaryDirectory()
        let runURL = dir.file("run")
        var config = smallConfig(steps: 3)
        config.representation = representation
        config.conditional = conditional
        config.sinusoids = 8
        config.noiseBands = 16
        try train(kit: kit.url, run: runURL, steps: 3, config: config)
        let run = try TrainedRun(runURL)
        let r = 2048, frames = 12, calls = 2, d = run.config.latentSize
        let export = try TorchScriptExport(run: run, block: r)
        let classes = export.hitClasses
        let k = classes.count
        try #require(k >= 2, "the kit gives \(k) classes; the test needs two")
        let model = dir.file("drums.ts")
        try export.write(to: model)

        // Hits (frame, class, velocity, offsets): class 0 on frames 1 and 2 (consecutive, the
        // second at 0.25), classes 0 and K-1 together on frame 4 (one offset vector), class K-1
        // at 0.75 in the second call. Elsewhere the velocity channels hold 0 or negative junk
        // and the latent channels noise.
        let offsets = try run.sampleLatents(count: 4, temperature: 0.5, seed: 5)
        let noise = try run.sampleLatents(count: calls * frames, temperature: 3, seed: 9)
        let hits: [(frame: Int, cls: Int, velocity: Float, offset: Int)] = [
            (1, 0, 1, 0), (2, 0, 0.25, 1), (4, 0, 1, 2), (4, k - 1, 0.5, 2), (13, k - 1, 0.75, 3),
        ]
        let channels = k + d
        var input = [Float](repeating: 0, count: calls * channels * frames)
        for global in 0..<(calls * frames) {
            let call = global / frames, f = global % frames
            let here = hits.filter { $0.frame == global }
            for c in 0..<k { input[call * channels * frames + c * frames + f] = global % 3 == 0 ? -0.5 : 0 }
            for hit in here { input[call * channels * frames + hit.cls * frames + f] = hit.velocity }
            let z = here.first.map { offsets[$0.offset] } ?? noise[global]
            for c in 0..<d { input[call * channels * frames + (k + c) * frames + f] = z[c] }
        }
        // timbre's own generation: the class mean + the offsets, the class's condition, in
        // the order the export decodes them (frame, then class).
        let latents = hits.map { hit in (0..<d).map { classes[hit.cls].mean[$0] + offsets[hit.offset][$0] } }
        let noiseSeed: UInt64 = 11
        let shots = try run.decode(latents, classes: hits.map { classes[$0.cls].conditionIndex ?? 0 }, noiseSeed: noiseSeed).map { TrainedRun.levelled(run.finish($0)) }
        var expected = [Float](repeating: 0, count: calls * frames * r)
        for (hit, shot) in zip(hits, shots) {
            for i in 0..<shot.count where hit.frame * r + i < expected.count { expected[hit.frame * r + i] += hit.velocity * shot[i] }
        }
        try Npy.write(input, shape: [calls, channels, frames], to: dir.file("calls.npy"))
        try Npy.write(expected, shape: [expected.count], to: dir.file("expected.npy"))
        let script = dir.file("check.py")
        try Self.drumMachinePython.write(to: script, atomically: true, encoding: .utf8)
        let deterministic = representation != .synth
        let result = try runPython(script, [model.path, dir.file("calls.npy").path, dir.file("expected.npy").path, String(noiseSeed), deterministic ? "1" : "0"])
        try #require(result.status == 0, "python: \(result.stderr)")
        let report = try JSONDecoder().decode(DrumMachineReport.self, from: Data(result.stdout.utf8))
        print("drum machine export (\(representation), conditional \(conditional), classes \(report.classes)): max difference \(report.maxDifference) (peak \(report.expectedPeak)); quarter-velocity RMS ratio \(report.quarterRatio), max deviation from 0.25 x \(report.quarterDifference); class distance \(report.classDistanceDb) dB (repeat \(report.repeatDistanceDb) dB); two hits in one frame vs the sum of each alone \(report.sumDifference.map { String($0) } ?? "n/a") (peak \(report.bothPeak.map { String($0) } ?? "n/a"))")
        #expect(report.methods == ["encode", "decode", "forward"])
        #expect(report.attributes.isEmpty)
        #expect(report.contract == 2)
        #expect(report.classes == classes.map(\.name))
        #expect(report.labels.count == channels && report.labels[0].hasPrefix("(velocity) \(classes[0].name):"))
        #expect(report.shapes["decode"] == [1, 1, 8192])
        #expect(report.shapes["encode"] == [1, channels, 4])
        #expect(report.expectedPeak > 1e-3, "the reference is silent, the comparison would prove nothing")
        #expect(report.maxDifference < 1e-4, "decode differs from timbre's generation by \(report.maxDifference)")
        #expect(report.encodeVelocities == [0, 1, 0, 0] && report.encodeHitsPerFrame == [0, 1, 0, 0], "encode should mark one hit in frame 1")
        #expect(report.firstRMS > 1e-5, "a full-velocity hit is silent")
        #expect(abs(report.quarterRatio - 0.25) < 1e-3, "velocity 0.25 gives an RMS ratio of \(report.quarterRatio)")
        #expect(report.quarterDifference < 1e-5)
        #expect(report.repeatDistanceDb < 1e-3, "the same hit twice differs: the class check would prove nothing")
        // 3 training steps: an unconditional run's class means still lie close together
        // (about 1 dB apart in log spectrum here, the conditional run's one-hot about 6 dB).
        #expect(report.classDistanceDb > 0.3, "class \(classes[0].name) and \(classes[k - 1].name) sound alike (\(report.classDistanceDb) dB)")
        if deterministic {
            let sum = try #require(report.sumDifference), peak = try #require(report.bothPeak)
            #expect(peak > 1e-3)
            #expect(sum < 1e-5, "two hits in one frame differ from the sum of each alone by \(sum)")
        }

        // timbre's reader tells the contract.
        let nn = try NNModel(contentsOf: model)
        #expect(nn.triggerContract == 2)
        #expect(nn.describe().triggerClasses == classes.map(\.name))
        #expect(try nn.method(named: "decode").inChannels == channels)
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

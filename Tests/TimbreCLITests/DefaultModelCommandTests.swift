import AudioIO
import Foundation
import Testing
import TestSupport

/// The shipped default model from the command line, as a fresh clone has it (no ../shared, no
/// data package): generate without a run, morph and encode without --run, export default and
/// load the export in python3-torch; then fine-tuning from it (`train --from default`) and
/// `--all-kits` on a few hydrogen clips.
@Suite(.serialized)
struct DefaultModelCommandTests {
    @Test func generateMorphEncodeAndExportUseTheShippedModel() throws {
        let dir = TemporaryDirectory()
        let generated = dir.file("generated")
        let generate = try runTimbre(["generate", "--count", "3", "--seed", "2", "--out", generated.path])
        #expect(generate.status == 0, "\(generate.stderr)")
        let files = try FileManager.default.contentsOfDirectory(atPath: generated.path).filter { $0.hasSuffix(".wav") }.sorted()
        #expect(files.count == 3)
        // The default is conditional: each file is named by its class.
        #expect(files.allSatisfy { !$0.hasPrefix("oneshot-") }, "\(files)")
        let first = try AudioFile.read(generated.appendingPathComponent(files[0]))
        #expect(first.sampleRate == 44100 && first.frameCount == 88200)
        #expect(first.channels[0].contains { abs($0) > 1e-3 }, "silent one-shot")

        let a = generated.appendingPathComponent(files[0]).path, b = generated.appendingPathComponent(files[1]).path
        let morph = try runTimbre(["morph", a, b, "--steps", "3", "--out", dir.file("morph").path])
        #expect(morph.status == 0, "\(morph.stderr)")
        #expect(morph.stdout.split(separator: "\n").count == 3)
        let encode = try runTimbre(["encode", a])
        #expect(encode.status == 0, "\(encode.stderr)")
        let codes = try JSONSerialization.jsonObject(with: Data(encode.stdout.utf8)) as? [[String: Any]]
        #expect((codes?.first?["latent"] as? [Double])?.count == 16)
        // `--run default` is the same model.
        let named = try runTimbre(["encode", a, "--run", "default"])
        #expect(named.stdout == encode.stdout)

        let model = dir.file("default.ts")
        let export = try runTimbre(["export", "default", model.path])
        #expect(export.status == 0, "\(export.stderr)")
        let info = try runTimbre(["info", model.path])
        #expect(info.status == 0, "\(info.stderr)")
        // Trigger contract 2: a velocity channel for each of the 8 classes, then 16 latent offsets.
        #expect(info.stdout.contains("decode       [24, 2048, 1, 1]") && info.stdout.contains("44100 Hz")
                && info.stdout.contains("trigger contract 2"), "\(info.stdout)")
        let script = dir.file("load.py")
        try """
        import sys, torch
        m = torch.jit.load(sys.argv[1])
        z = torch.zeros(1, 24, 8)
        z[0, 3, 2] = 1.0  # a kick (classes in order: clap, cymbal, hat, kick, ...) at full velocity
        y = m.decode(z)
        assert y.shape == (1, 1, 8 * 2048), y.shape
        assert torch.isfinite(y).all()
        assert y.abs().max() > 1e-3, "the trigger played nothing"
        print("ok", float(y.abs().max()))
        """.write(to: script, atomically: true, encoding: .utf8)
        let python = try runPython(script, [model.path])
        #expect(python.status == 0 && python.stdout.hasPrefix("ok"), "\(python.stderr)")
    }

    @Test func aMissingDefaultIsOneLine() throws {
        let dir = TemporaryDirectory()
        var environment = ProcessInfo.processInfo.environment
        environment["TIMBRE_DEFAULT_MODEL"] = dir.url.path
        let result = try runProcess(TestPaths.timbreExecutable, ["generate", "--out", dir.file("g").path], environment: environment)
        #expect(result.status == 1)
        #expect(result.stderr.hasPrefix("timbre: error:") && result.stderr.contains("TIMBRE_DEFAULT_MODEL"), "\(result.stderr)")
        #expect(result.stderr.split(separator: "\n").count == 1)
    }

    /// A musician's folder (here: a few clips of two hydrogen kits) fine-tuned from the default:
    /// a new run at step 0 with the default's weights; contradicting the default's architecture,
    /// or --from with --resume, is a one-line error; then `pack` makes a folder `generate` reads.
    @Test(.needsHydrogenKits)
    func fineTuneFromDefaultAndPack() throws {
        let kit = try DrumVAECommandTests.kit(perKit: 2)
        let dir = TemporaryDirectory()
        let run = dir.file("run")
        let train = try runTimbre(["train", kit.url.path, "--out", run.path, "--from", "default", "--steps", "2",
                                   "--batch", "2", "--kl-warmup", "0", "--no-report"])
        #expect(train.status == 0, "\(train.stderr)")
        #expect(train.stderr.contains("from step 0 (weights of "), "\(train.stderr)")
        let config = try JSONSerialization.jsonObject(with: Data(contentsOf: run.appendingPathComponent("config.json"))) as? [String: Any]
        #expect((config?["initialWeights"] as? String)?.contains("Resources/default") == true, "\(String(describing: config))")
        #expect(config?["conditional"] as? Bool == true && config?["splitByKit"] as? Bool == true)

        let mismatch = try runTimbre(["train", kit.url.path, "--out", dir.file("bad").path, "--from", "default", "--steps", "1", "--latent", "8"])
        #expect(mismatch.status == 1)
        #expect(mismatch.stderr.contains("architecture does not match: --latent 8 (it has 16)"), "\(mismatch.stderr)")
        #expect(mismatch.stderr.split(separator: "\n").count == 1)
        let both = try runTimbre(["train", kit.url.path, "--out", run.path, "--from", "default", "--steps", "3", "--resume"])
        #expect(both.status != 0 && both.stderr.contains("--from starts a new run"), "\(both.stderr)")

        let packed = dir.file("packed")
        let pack = try runTimbre(["pack", run.path, packed.path])
        #expect(pack.status == 0, "\(pack.stderr)")
        #expect(pack.stdout.contains("step 2"))
        let generate = try runTimbre(["generate", packed.path, "--count", "2", "--out", dir.file("g").path])
        #expect(generate.status == 0, "\(generate.stderr)")
    }

    /// `--all-kits` records itself, holds nothing out, and resumes.
    @Test(.needsHydrogenKits)
    func allKitsTrainsOnEveryKitAndResumes() throws {
        let kit = try DrumVAECommandTests.kit(perKit: 2)
        let dir = TemporaryDirectory()
        let run = dir.file("run")
        let train = try runTimbre(["train", kit.url.path, "--out", run.path, "--all-kits", "--steps", "1", "--no-report"] + DrumVAECommandTests.tiny)
        #expect(train.status == 0, "\(train.stderr)")
        #expect(train.stderr.contains("every kit trains (--all-kits)"), "\(train.stderr)")
        let config = try JSONSerialization.jsonObject(with: Data(contentsOf: run.appendingPathComponent("config.json"))) as? [String: Any]
        #expect(config?["allKits"] as? Bool == true && config?["splitByKit"] as? Bool == false)
        let resumed = try runTimbre(["train", kit.url.path, "--out", run.path, "--all-kits", "--steps", "2", "--resume", "--no-report"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(resumed.stdout.contains("step 2:"))
    }
}

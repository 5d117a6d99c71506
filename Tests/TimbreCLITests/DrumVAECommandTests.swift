import AudioIO
import Foundation
import Testing
import TestSupport

/// The drum VAE's commands end to end: train, generate, morph, encode, export, and the
/// interruption paths (SIGTERM checkpoints; `kill -9` then `--resume`).
@Suite(.serialized)
struct DrumVAECommandTests {
    /// A folder made by `timbre prep` from the first files of two hydrogen kits (two groups).
    static func kit(perKit: Int = 4) throws -> TemporaryDirectory {
        let dir = TemporaryDirectory("timbre-vae-cli-kit")
        let sources = TemporaryDirectory("timbre-vae-cli-kit-sources")
        try HydrogenKits.stage(perKit: perKit, kits: ["HardElectro1", "ElectricEmpireKit"], into: sources.url)
        let result = try runTimbre(["prep", sources.url.path, "--out", dir.url.path, "--jobs", "1"])
        #expect(result.status == 0, "\(result.stderr)")
        return dir
    }

    static let tiny = ["--channels", "16", "--latent", "4", "--batch", "2", "--kl-warmup", "2"]

    /// Step numbers of the training lines in RUN/log.jsonl.
    static func loggedSteps(_ run: URL) throws -> [Int] {
        try String(contentsOf: run.appendingPathComponent("log.jsonl"), encoding: .utf8).split(separator: "\n").compactMap { line in
            let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            return object?["loss"] != nil ? object?["step"] as? Int : nil
        }
    }

    @Test(arguments: [["train"], ["generate"], ["morph"], ["encode"], ["export"], ["pack"], ["bench", "train"], ["bench", "reconstruction"], ["bench", "drums"]])
    func helpIsThere(_ path: [String]) throws {
        let result = try runTimbre(path + ["--help"])
        #expect(result.status == 0)
        #expect(result.stdout.contains("USAGE"))
    }

    @Test(arguments: ["--log-weight", "--magnitude-warmup", "--phase-weight", "--spectrum-weight"])
    func negativeLossSettingsAreRefused(_ flag: String) throws {
        let dir = TemporaryDirectory()
        let result = try runTimbre(["train", dir.url.path, "--out", dir.file("run").path, "--steps", "1", flag + "=-1"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("must be 0 or more"), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.file("run").path))
    }

    @Test(.needsHydrogenKits)
    func trainGenerateMorphEncodeExport() throws {
        let kit = try Self.kit()
        let dir = TemporaryDirectory()
        let run = dir.file("run")
        // Two steps on the decoder's spectrum (with the phase loss), then two with the waveform
        // loss (plus the spectrum loss).
        let train = try runTimbre(["train", kit.url.path, "--out", run.path, "--steps", "4", "--conditional",
                                   "--magnitude-warmup", "2", "--log-weight", "0.1", "--phase-weight", "0.5",
                                   "--spectrum-weight", "0.25"] + Self.tiny)
        #expect(train.status == 0, "\(train.stderr)")
        #expect(train.stdout.contains("step 4:"))
        for name in ["config.json", "checkpoint.pt", "log.jsonl", "split.json", "prior.json"] {
            #expect(FileManager.default.fileExists(atPath: run.appendingPathComponent(name).path), "\(name) missing")
        }
        let config = try JSONSerialization.jsonObject(with: Data(contentsOf: run.appendingPathComponent("config.json"))) as? [String: Any]
        let classes = try #require(config?["classes"] as? [String])
        #expect(config?["magnitudeWarmupSteps"] as? Int == 2 && config?["logWeight"] as? Double == 0.1)
        #expect(config?["phaseWeight"] as? Double == 0.5 && config?["spectrumWeight"] as? Double == 0.25)
        // Two kits, two groups: the run holds one kit out whole, says so, and records it.
        #expect(config?["splitByKit"] as? Bool == true)
        let split = try JSONSerialization.jsonObject(with: Data(contentsOf: run.appendingPathComponent("split.json"))) as? [String: [String]]
        #expect(split?["train"]?.count == 1 && split?["validation"]?.count == 1 && split?["test"] == [])
        #expect(train.stderr.contains("split by kit") && train.stderr.contains("validation: 1 groups"), "\(train.stderr)")

        let generated = dir.file("generated")
        let generate = try runTimbre(["generate", run.path, "--count", "3", "--class", classes[0], "--seed", "4", "--out", generated.path])
        #expect(generate.status == 0, "\(generate.stderr)")
        let files = try FileManager.default.contentsOfDirectory(atPath: generated.path).sorted()
        #expect(files == (1...3).map { String(format: "%@-%03d.wav", classes[0], $0) })
        let info = try AudioFile.info(generated.appendingPathComponent(files[0]))
        #expect(info.sampleRate == 44100 && info.frameCount == 88200 && info.channelCount == 1)

        let unknown = try runTimbre(["generate", run.path, "--class", "didgeridoo", "--out", generated.path])
        #expect(unknown.status == 1)
        #expect(unknown.stderr.hasPrefix("timbre: error:") && unknown.stderr.contains("didgeridoo"))

        let clips = try FileManager.default.subpathsOfDirectory(atPath: kit.url.path).filter { $0.hasSuffix(".wav") }.sorted()
        let a = kit.url.appendingPathComponent(clips[0]).path, b = kit.url.appendingPathComponent(clips[1]).path
        let morph = try runTimbre(["morph", a, b, "--run", run.path, "--steps", "3", "--out", dir.file("morph").path])
        #expect(morph.status == 0, "\(morph.stderr)")
        #expect(morph.stdout.split(separator: "\n").count == 3)

        let encode = try runTimbre(["encode", a, b, "--run", run.path])
        #expect(encode.status == 0, "\(encode.stderr)")
        let codes = try JSONSerialization.jsonObject(with: Data(encode.stdout.utf8)) as? [[String: Any]]
        #expect(codes?.count == 2)
        #expect((codes?[0]["latent"] as? [Double])?.count == 4)
        #expect(codes?[0]["file"] as? String == a)

        // Trigger contract 1 (--contract 1): one trigger channel and the 4 latents.
        let model = dir.file("drums.ts")
        let export = try runTimbre(["export", run.path, model.path, "--block", "1024", "--contract", "1"])
        #expect(export.status == 0, "\(export.stderr)")
        let described = try runTimbre(["info", model.path])
        #expect(described.status == 0, "\(described.stderr)")
        #expect(described.stdout.contains("decode       [5, 1024, 1, 1]"))
        #expect(described.stdout.contains("encode       [1, 1, 5, 1024]"))
        #expect(described.stdout.contains("forward      [1, 1, 1, 1]"))
        #expect(described.stdout.contains("44100 Hz"))
        #expect(described.stdout.contains("drum export    trigger contract 1"), "\(described.stdout)")

        // Contract 2 (the default): a velocity channel per class (a conditional run's classes,
        // else its prior's), then the latents.
        let machine = dir.file("machine.ts")
        let exported = try runTimbre(["export", run.path, machine.path, "--block", "1024"])
        #expect(exported.status == 0, "\(exported.stderr)")
        let prior = try JSONSerialization.jsonObject(with: Data(contentsOf: run.appendingPathComponent("prior.json"))) as? [String: Any]
        let runConfig = try JSONSerialization.jsonObject(with: Data(contentsOf: run.appendingPathComponent("config.json"))) as? [String: Any]
        let exportClasses = runConfig?["conditional"] as? Bool == true
            ? runConfig?["classes"] as? [String] ?? []
            : (prior?["components"] as? [[String: Any]] ?? []).compactMap { $0["className"] as? String }
        #expect(!exportClasses.isEmpty)
        let machineInfo = try runTimbre(["info", machine.path])
        #expect(machineInfo.status == 0, "\(machineInfo.stderr)")
        #expect(machineInfo.stdout.contains("drum export    trigger contract 2: a velocity channel per class (\(exportClasses.joined(separator: ", ")))"), "\(machineInfo.stdout)")
        #expect(machineInfo.stdout.contains("decode       [\(exportClasses.count + 4), 1024, 1, 1]"), "\(machineInfo.stdout)")
        let refused = try runTimbre(["export", run.path, dir.file("x.ts").path, "--class", "kick"])
        #expect(refused.status != 0 && refused.stderr.contains("contract 2 picks the class per hit"), "\(refused.stderr)")
    }

    /// `bench reconstruction` on complex runs (the demodulated phase frame by default, the
    /// STFT's own with `--no-demodulated-phase`) and a magnitude run: every row, the per-class
    /// table.
    @Test(.needsHydrogenKits)
    func benchReconstructionMeasuresBothRepresentations() throws {
        let kit = try Self.kit()
        let dir = TemporaryDirectory()
        for (name, extra, demodulated) in [("ours", [String](), true), ("stft", ["--no-demodulated-phase"], false),
                                           ("baseline", ["--representation", "magnitude"], true)] {
            let train = try runTimbre(["train", kit.url.path, "--out", dir.file(name).path, "--steps", "2", "--no-report"] + Self.tiny + extra)
            #expect(train.status == 0, "\(train.stderr)")
            let config = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.file(name).appendingPathComponent("config.json"))) as? [String: Any]
            #expect(config?["demodulatedPhase"] as? Bool == demodulated, "\(name)")
        }
        let bench = try runTimbre(["bench", "reconstruction", dir.file("ours").path, dir.file("stft").path, dir.file("baseline").path,
                                   "--dataset", kit.url.path, "--iterations", "2", "--by-class"])
        #expect(bench.status == 0, "\(bench.stderr)")
        for inversion in ["decoder phase", "decoder phase + FGLA 2", "zero phase", "Griffin-Lim 2", "PGHI+FGLA 100", "true phase (ceiling)"] {
            #expect(bench.stdout.contains(inversion), "no '\(inversion)' row in:\n\(bench.stdout)")
        }
        #expect(bench.stdout.contains("per class (dB; clips: "), "no per-class table in:\n\(bench.stdout)")
    }

    @Test func badInputIsOneLineAndExitsWithOne() throws {
        let dir = TemporaryDirectory()
        let cases: [([String], String)] = [
            (["train", dir.file("nowhere").path, "--out", dir.file("run").path, "--steps", "1"], "manifest.jsonl"),
            (["train", dir.url.path, "--out", dir.file("run").path, "--steps", "1", "--resume"], "nothing to resume"),
            (["generate", dir.file("norun").path, "--out", dir.file("g").path], "config.json"),
            (["export", dir.file("norun").path, dir.file("m.ts").path], "config.json"),
        ]
        for (arguments, needle) in cases {
            let result = try runTimbre(arguments)
            #expect(result.status == 1, "\(arguments)")
            #expect(result.stderr.hasPrefix("timbre: error:") && result.stderr.contains(needle), "\(result.stderr)")
            #expect(result.stderr.split(separator: "\n").count == 1)
        }
        let noBudget = try runTimbre(["train", dir.url.path, "--out", dir.file("run").path])
        #expect(noBudget.status != 0 && noBudget.stderr.contains("--minutes or --steps"))
    }

    /// Option values are parsed by ArgumentParser: a bad one is a one-line error naming the
    /// option, exit status 64; options that would do nothing are refused, not ignored.
    @Test(arguments: [
        (["--loss-scales", "1024,abc"], "--loss-scales"), (["--loss-scales", "1000"], "--loss-scales"),
        (["--loss-scales", ""], "--loss-scales"), (["--representation", "phase"], "--representation"),
        (["--representation", "magnitude", "--spectrum-weight", "1"], "complex model"),
        (["--phase-weight", "1"], "--magnitude-warmup or --spectrum-weight"), (["--validate-every", "0"], "--validate-every"),
        (["--steps", "0"], "--steps"), (["--learning-rate", "0"], "--learning-rate"),
    ])
    func badTrainOptionsAreOneLineErrors(_ extra: [String], _ needle: String) throws {
        let dir = TemporaryDirectory()
        let arguments = ["train", dir.url.path, "--out", dir.file("run").path] + (extra.contains("--steps") ? [] : ["--steps", "1"]) + extra
        let result = try runTimbre(arguments)
        #expect(result.status == 64, "\(arguments): \(result.stderr)")
        let first = result.stderr.split(separator: "\n").first.map(String.init) ?? ""
        #expect(first.hasPrefix("Error:") && first.contains(needle), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.file("run").path))
    }

    /// Starts a long training run and waits for its first checkpoint.
    static func startTraining(kit: URL, run: URL) throws -> Process {
        let process = Process()
        process.executableURL = TestPaths.timbreExecutable
        process.arguments = ["train", kit.path, "--out", run.path, "--steps", "100000", "--checkpoint-every", "2",
                             "--validate-every", "100000"] + tiny
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let checkpoint = run.appendingPathComponent("checkpoint.pt")
        let deadline = Date().addingTimeInterval(120)
        while !FileManager.default.fileExists(atPath: checkpoint.path) && Date() < deadline && process.isRunning {
            Thread.sleep(forTimeInterval: 0.1)
        }
        Thread.sleep(forTimeInterval: 1.5)  // a few more steps past the first checkpoint
        return process
    }

    @Test(.needsHydrogenKits)
    func resumesAfterKillNine() throws {
        let kit = try Self.kit()
        let dir = TemporaryDirectory()
        let run = dir.file("run")
        let process = try Self.startTraining(kit: kit.url, run: run)
        try #require(process.isRunning, "training ended early")
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        // The log has a line every 10 steps and the checkpoint comes every 2, so the
        // checkpoint is at most about 10 steps past the last logged line: aim beyond it.
        let before = try Self.loggedSteps(run)
        let target = (before.last ?? 0) + 14
        let resumed = try runTimbre(["train", kit.url.path, "--out", run.path, "--resume", "--steps", String(target)])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(resumed.stdout.contains("step \(target):"))
        let from = resumed.stderr.components(separatedBy: "from step ").last.flatMap { Int($0.prefix { $0.isNumber }) }
        #expect(from != nil && from! >= (before.last ?? 0) && from! < target, "resumed \(String(describing: from)), target \(target)")
        let steps = try Self.loggedSteps(run)
        #expect(steps.last == target)
        #expect(steps == steps.sorted() && Set(steps).count == steps.count, "log has repeated or unordered steps: \(steps)")
    }

    @Test(.needsHydrogenKits)
    func sigtermCheckpointsAndExits() throws {
        let kit = try Self.kit()
        let dir = TemporaryDirectory()
        let run = dir.file("run")
        let process = try Self.startTraining(kit: kit.url, run: run)
        try #require(process.isRunning, "training ended early")
        process.terminate()
        process.waitUntilExit()
        #expect(process.terminationStatus == 128 + SIGTERM)
        // The checkpoint holds the last step: resuming to it runs no step and keeps the log.
        let steps = try Self.loggedSteps(run)
        let last = try #require(steps.last)
        let resumed = try runTimbre(["train", kit.url.path, "--out", run.path, "--resume", "--steps", String(last)])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(resumed.stderr.contains("from step \(last)"))
    }

    /// A drum-machine export (trigger contract 2) in the live engine's offline render: a
    /// sequenced pattern of two classes at velocities 1 and 0.5 is the sum of each class's hit
    /// alone at velocity 1, the second scaled by 0.5 (the engine feeds each step's velocity on
    /// its class's channel, the export applies it as a gain).
    @Test(.needsHydrogenKits)
    func renderPlaysASequencedPatternWithVelocities() throws {
        let kit = try Self.kit(perKit: 3)
        let dir = TemporaryDirectory()
        let run = dir.file("run")
        let train = try runTimbre(["train", kit.url.path, "--out", run.path, "--steps", "2", "--conditional", "--no-report"] + Self.tiny)
        #expect(train.status == 0, "\(train.stderr)")
        let export = try runTimbre(["export", run.path, dir.file("drums.ts").path, "--block", "1024"])
        #expect(export.status == 0, "\(export.stderr)")
        let config = try JSONSerialization.jsonObject(with: Data(contentsOf: run.appendingPathComponent("config.json"))) as? [String: Any]
        let classes = config?["classes"] as? [String] ?? []
        try #require(classes.count >= 2, "classes \(classes)")
        let zeros = Array(repeating: "0", count: classes.count + 4).joined(separator: " ")
        try AudioFile.write(AudioBuffer(sampleRate: 44100, channelCount: 1, frameCount: 88200 * 2), to: dir.file("silence.wav"))
        func render(_ name: String, _ steps: [(step: Int, velocity: Float, cls: String)]) throws -> [Float] {
            var lines = ["toggle kit drums.ts decode", "seq kit steps 4 bpm 120 div 1"]
            for s in steps { lines.append("seq/step kit \(s.step) latents \(zeros) trigger \(s.velocity) class \(s.cls)") }
            lines.append("@0.2 seq/play kit")
            try (lines.joined(separator: "\n") + "\n").write(to: dir.file("\(name).txt"), atomically: true, encoding: .utf8)
            let result = try runTimbre(["render", "--session", dir.file("\(name).txt").path, "--input", dir.file("silence.wav").path,
                                        "--out", dir.file(name).path, "--models-dir", dir.url.path])
            #expect(result.status == 0, "\(result.stderr)")
            return try AudioFile.read(dir.file("\(name)/kit.wav")).channels[0]
        }
        let first = classes[0], last = classes[classes.count - 1]
        let pattern = try render("pattern", [(0, 1, first), (1, 0.5, last)])
        let a = try render("a", [(0, 1, first)])
        let b = try render("b", [(1, 1, last)])
        let peak = pattern.reduce(Float(0)) { max($0, abs($1)) }
        let expected = zip(a, b).map { $0 + 0.5 * $1 }
        let difference = zip(pattern, expected).reduce(Float(0)) { max($0, abs($1.0 - $1.1)) }
        let peakB = b.reduce(Float(0)) { max($0, abs($1)) }
        print("sequenced drum-machine export (\(first), \(last)): pattern peak \(peak), class \(last) alone peak \(peakB), max |pattern - (a + 0.5 b)| \(difference)")
        #expect(peak > 1e-4 && peakB > 1e-4, "silent render")
        #expect(difference <= 1e-4 * max(peak, 1e-3), "the pattern differs from its hits by \(difference)")
    }

    /// `seq/encode` on a drum-machine export (trigger contract 2): each step whose span holds a
    /// detected hit gets a trigger at velocity 1 of one of the export's classes, and the
    /// velocity channels of its latents are 0 (seen in the session `session/save` writes).
    @Test(.needsHydrogenKits)
    func seqEncodeFillsStepsWithClasses() throws {
        let kit = try Self.kit(perKit: 3)
        let dir = TemporaryDirectory()
        let run = dir.file("run")
        let train = try runTimbre(["train", kit.url.path, "--out", run.path, "--steps", "2", "--conditional", "--no-report"] + Self.tiny)
        #expect(train.status == 0, "\(train.stderr)")
        let export = try runTimbre(["export", run.path, dir.file("drums.ts").path, "--block", "1024"])
        #expect(export.status == 0, "\(export.stderr)")
        let config = try JSONSerialization.jsonObject(with: Data(contentsOf: run.appendingPathComponent("config.json"))) as? [String: Any]
        let classes = config?["classes"] as? [String] ?? []
        // Four decaying noise bursts on the quarter notes of 120 bpm.
        var loop = [Float](repeating: 0, count: 88200)
        var seed: UInt32 = 7
        for hit in 0..<4 {
            for i in 0..<8000 {
                seed = seed &* 1_664_525 &+ 1_013_904_223
                loop[hit * 22050 + i] = (Float(seed >> 8) / Float(1 << 24) * 2 - 1) * 0.8 * Float(exp(-Double(i) / 1500))
            }
        }
        try AudioFile.write(AudioBuffer(sampleRate: 44100, channels: [loop]), to: dir.file("loop.wav"))
        let session = "toggle kit drums.ts decode\nseq kit steps 4 bpm 120 div 1\nseq/encode kit loop.wav\n@0.5 session/save saved.txt\n"
        try session.write(to: dir.file("session.txt"), atomically: true, encoding: .utf8)
        let render = try runTimbre(["render", "--session", dir.file("session.txt").path, "--input", dir.file("loop.wav").path,
                                    "--out", dir.file("out").path, "--models-dir", dir.url.path, "--files-dir", dir.url.path, "--seconds", "1"])
        #expect(render.status == 0, "\(render.stderr)")
        let saved = try String(contentsOf: dir.file("saved.txt"), encoding: .utf8)
        let steps = saved.split(separator: "\n").filter { $0.hasPrefix("/timbre/seq/step kit ") }
        #expect(steps.count == 4, "\(saved)")
        for line in steps {
            let words = line.split(separator: " ").map(String.init)
            let triggered = words.firstIndex(of: "trigger")
            let named = words.firstIndex(of: "class").map { words[$0 + 1] }
            #expect(triggered.map { words[$0 + 1] } == "1" && named.map(classes.contains) == true, "\(line)")
            let latents = Array(words.drop { $0 != "latents" }.dropFirst().prefix(classes.count))
            #expect(latents.allSatisfy { Float($0) == 0 }, "velocity channels not 0: \(line)")
        }
    }

    /// The exported model in the live engine's offline render: `forward` finds the hits of a
    /// drum loop and re-synthesises each from its own latent.
    @Test(.needsHydrogenKits)
    func renderPlaysTheExportInASession() throws {
        let kit = try Self.kit(perKit: 3)
        let dir = TemporaryDirectory()
        let run = dir.file("run")
        let train = try runTimbre(["train", kit.url.path, "--out", run.path, "--steps", "2", "--no-report"] + Self.tiny)
        #expect(train.status == 0, "\(train.stderr)")
        let export = try runTimbre(["export", run.path, dir.file("drums.ts").path])
        #expect(export.status == 0, "\(export.stderr)")
        // Four hits half a second apart: a decaying noise burst each.
        var loop = [Float](repeating: 0, count: 88200)
        var seed: UInt32 = 1
        for hit in 0..<4 {
            for i in 0..<8000 {
                seed = seed &* 1_664_525 &+ 1_013_904_223
                loop[hit * 22050 + i] = (Float(seed >> 8) / Float(1 << 24) * 2 - 1) * 0.8 * Float(exp(-Double(i) / 1500))
            }
        }
        try AudioFile.write(AudioBuffer(sampleRate: 44100, channels: [loop]), to: dir.file("loop.wav"))
        try "@0 /timbre/toggle drums drums.ts\n".write(to: dir.file("session.txt"), atomically: true, encoding: .utf8)
        let render = try runTimbre(["render", "--session", dir.file("session.txt").path, "--input", dir.file("loop.wav").path,
                                    "--out", dir.file("out").path, "--models-dir", dir.url.path])
        #expect(render.status == 0, "\(render.stderr)")
        let out = try AudioFile.read(dir.file("out/drums.wav"))
        #expect(out.frameCount == 88200)
        let samples = out.channels[0]
        let finite = samples.allSatisfy { $0.isFinite }
        #expect(finite)
        let rms = (samples.reduce(0) { $0 + Double($1) * Double($1) } / Double(samples.count)).squareRoot()
        #expect(rms > 1e-6, "the render is silent")
    }
}

/// `timbre bench drums --json` on a tiny run: every row and key the issue lists.
@Suite(.serialized)
struct BenchDrumsCommandTests {
    @Test(.needsHydrogenKits)
    func jsonHasEveryRowAndKey() throws {
        let kit = TemporaryDirectory("timbre-bench-drums-kit")
        let sources = TemporaryDirectory("timbre-bench-drums-sources")
        try HydrogenKits.stage(perKit: 6, kits: ["HardElectro1", "ElectricEmpireKit", "Millo-Drums_v.1", "Audiophob", "ForzeeStereo"],
                               into: sources.url)
        let made = try runTimbre(["prep", sources.url.path, "--out", kit.url.path, "--jobs", "1"])
        try #require(made.status == 0, "\(made.stderr)")
        // One group per kit: prep's near-identical grouping links most hydrogen kits today,
        // which would leave no kit to hold out.
        let manifest = kit.file("manifest.jsonl")
        let lines = try String(contentsOf: manifest, encoding: .utf8).split(separator: "\n").map { line -> String in
            var object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
            object["group"] = object["kit"]
            return String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
        }
        try (lines.joined(separator: "\n") + "\n").write(to: manifest, atomically: true, encoding: .utf8)
        let dir = TemporaryDirectory()
        let run = dir.file("run")
        let train = try runTimbre(["train", kit.url.path, "--out", run.path, "--steps", "2", "--no-report"] + DrumVAECommandTests.tiny)
        try #require(train.status == 0, "\(train.stderr)")
        let bench = try runTimbre(["bench", "drums", run.path, "--dataset", kit.url.path, "--count", "12", "--classifier-steps", "20",
                                   "--bootstrap", "20", "--out", dir.file("bench").path, "--json"])
        try #require(bench.status == 0, "\(bench.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(bench.stdout.utf8)) as? [String: Any])
        for row in ["retrieval", "realVsReal", "randomPhase", "noiseBursts", "jittered", run.path] {
            #expect(object[row] != nil, "no row \(row) in \(object.keys.sorted())")
        }
        for row in ["realVsReal", "randomPhase", "noiseBursts", "jittered", run.path] {
            let r = try #require(object[row] as? [String: Any])
            for space in ["handcrafted", "classifier"] {
                let s = try #require(r[space] as? [String: Any], "\(row) has no \(space)")
                for key in ["kid", "kidLow", "kidHigh", "precision", "recall", "density", "coverage"] {
                    #expect(s[key] is Double, "\(row).\(space).\(key)")
                }
            }
            #expect(r["meehanZ"] is Double && r["copyShare"] is Double, "\(row)")
            #expect(r["verdict"] is [String: Any], "\(row)")
        }
        for row in ["randomPhase", "noiseBursts", "jittered"] {
            let verdict = try #require((object[row] as? [String: Any])?["verdict"] as? [String: Any])
            #expect(["passes", "fails"].contains(verdict["realism"] as? String) && ["passes", "fails"].contains(verdict["copying"] as? String))
            #expect((verdict["rule"] as? String)?.contains("0.8") == true)
        }
        let reconstruction = try #require((object[run.path] as? [String: Any])?["reconstruction"] as? [String: Any])
        #expect(!reconstruction.isEmpty)
        #expect((object["retrieval"] as? [String: Any])?["reconstruction"] is [String: Any])
        for file in ["result.json", "report.html", "embedding.png", "classes.png", "reconstruction.png"] {
            #expect(FileManager.default.fileExists(atPath: dir.file("bench").appendingPathComponent(file).path), "\(file)")
        }
        // Issue 15's bars and the one-shot checks, on the model row only.
        let model = try #require(object[run.path] as? [String: Any])
        let bars = try #require(model["bars"] as? [[String: Any]])
        #expect(Set(bars.compactMap { $0["name"] as? String }).isSuperset(of: ["realism", "kid", "copying", "controls", "diversity", "oneShots"]))
        #expect((model["oneShots"] as? [String: Any])?["decaying"] is Double)
        #expect((object["realVsReal"] as? [String: Any])?["bars"] == nil)
        let html = try String(contentsOf: dir.file("bench").appendingPathComponent("report.html"), encoding: .utf8)
        #expect(html.contains("Issue 15's bars") && html.contains("title=\"copies "), "the report has no grid of the bars")

        // --seeds 2: the whole evaluation twice, and the spread of its numbers over the two.
        let seedsOut = dir.file("seeds")
        let seeded = try runTimbre(["bench", "drums", run.path, "--dataset", kit.url.path, "--count", "12", "--classifier-steps", "20",
                                    "--bootstrap", "20", "--out", seedsOut.path, "--seed", "5", "--seeds", "2"])
        try #require(seeded.status == 0, "\(seeded.stderr)")
        #expect(seeded.stdout.contains("over 2 seeds (5, 6)") && seeded.stdout.contains("issue 15's bars passed in"), "\(seeded.stdout)")
        let spread = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: seedsOut.appendingPathComponent("seeds.json"))) as? [String: Any])
        let rows = try #require(spread["rows"] as? [[String: Any]])
        let spreadModel = try #require(rows.first { $0["name"] as? String == run.path })
        let recall = try #require((spreadModel["metrics"] as? [[String: Any]])?.first { $0["name"] as? String == "handcrafted recall" })
        var perSeed: [Double] = []
        for seed in [5, 6] {
            let one = try JSONSerialization.jsonObject(with: Data(contentsOf: seedsOut.appendingPathComponent("seed-\(seed)/result.json"))) as? [String: Any]
            let hand = try #require((one?[run.path] as? [String: Any])?["handcrafted"] as? [String: Any])
            perSeed.append(try #require(hand["recall"] as? Double))
        }
        #expect(recall["values"] as? [Double] == perSeed)
        #expect(recall["min"] as? Double == perSeed.min() && recall["max"] as? Double == perSeed.max() && recall["mean"] is Double)
    }
}

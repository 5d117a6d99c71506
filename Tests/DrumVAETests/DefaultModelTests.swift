import AudioIO
import Dataset
import Foundation
import Testing
import TestSupport
import Torch
@testable import DrumVAE

/// The shipped default model (Resources/default), packed folders (`TrainedRun.pack`), where the
/// executable finds the default, and fine-tuning (`TrainingRequest.from`).
@Suite(.serialized)
struct DefaultModelTests {
    static let shipped = TestPaths.packageRoot.appendingPathComponent("Resources/default")

    /// The committed model loads from its float16 weights, is small enough for git, and makes
    /// sound: finite, below clipping, not silent.
    @Test func shippedModelLoadsAndGenerates() throws {
        let bytes = try #require(try FileManager.default.attributesOfItem(atPath: RunFolder(Self.shipped).weights.path)[.size] as? Int)
        #expect(bytes < 3_000_000, "weights.pt is \(bytes) bytes")
        #expect(!FileManager.default.fileExists(atPath: RunFolder(Self.shipped).checkpoint.path), "a checkpoint would ship the optimiser state")
        #expect(FileManager.default.fileExists(atPath: Self.shipped.appendingPathComponent("MODEL.md").path), "no model card")
        let model = try TrainedRun(Self.shipped)
        // float16 holds about 2 bytes per parameter.
        #expect(bytes < model.model.parameterCount * 2 + 100_000)
        #expect(model.prior != nil)
        #expect(model.prior?.kitBalanced == true, "the shipped prior weighs each kit once per class")
        #expect((model.prior?.spread ?? 0) > 1, "the shipped prior's spread is fitted leaving one kit out")
        #expect(model.priorIsCurrent, "the prior belongs to the shipped weights' step")
        let shots = try model.generate(count: 2, className: nil, temperature: 1, seed: 3)
        for (_, samples) in shots {
            #expect(samples.count == 88200 && samples.allSatisfy(\.isFinite))
            let peak = samples.reduce(0) { max($0, abs($1)) }
            #expect(peak < 1 && peak > 1e-3, "peak \(peak)")
        }
    }

    /// A build inside a clone finds the clone's Resources/default; an installed executable finds
    /// PREFIX/share/timbre/default first; TIMBRE_DEFAULT_MODEL wins; without any, one line says
    /// where it looked.
    @Test func locateFollowsTheDocumentedOrder() throws {
        let built = TestPaths.packageRoot.appendingPathComponent(".build/x86_64-unknown-linux-gnu/release/timbre-core")
        #expect(try DefaultModel.locate(executable: built, environment: [:]).standardizedFileURL.path == Self.shipped.standardizedFileURL.path)

        let prefix = TemporaryDirectory("timbre-default-prefix")
        let share = prefix.file("share/timbre/default")
        try FileManager.default.createDirectory(at: share, withIntermediateDirectories: true)
        for name in try FileManager.default.contentsOfDirectory(atPath: Self.shipped.path) {
            try FileManager.default.copyItem(at: Self.shipped.appendingPathComponent(name), to: share.appendingPathComponent(name))
        }
        let installed = prefix.file("bin/timbre-core")
        #expect(try DefaultModel.locate(executable: installed, environment: [:]).standardizedFileURL.path == share.standardizedFileURL.path)
        _ = try TrainedRun(share)

        let other = TemporaryDirectory("timbre-default-env")
        #expect(try DefaultModel.locate(executable: installed, environment: ["TIMBRE_DEFAULT_MODEL": share.path]).path == share.path)
        #expect {
            try DefaultModel.locate(executable: installed, environment: ["TIMBRE_DEFAULT_MODEL": other.url.path])
        } throws: { error in
            "\(error)".contains("TIMBRE_DEFAULT_MODEL") && !"\(error)".contains("\n")
        }
        let nowhere = other.file("bin/timbre-core")
        #expect {
            try DefaultModel.locate(executable: nowhere, environment: [:])
        } throws: { error in
            "\(error)".contains("no default model") && !"\(error)".contains("\n")
        }
        #expect(try DefaultModel.resolve("some/run").path.hasSuffix("some/run"))
    }

    /// Packing keeps every weight to float16 precision, the step, the prior and the split; the
    /// packed folder decodes what the run decodes (to float16's precision), and `pack` refuses
    /// a training run as its destination.
    @Test(.needsHydrogenKits)
    func packRoundTripsToFloat16() throws {
        let kit = try makeTestKit(perKit: 3, kits: TrainingTests.kits)
        let dir = TemporaryDirectory()
        let run = dir.file("run"), packed = dir.file("packed")
        try train(kit: kit.url, run: run, steps: 3, config: smallConfig(steps: 3))
        let original = try TrainedRun(run)
        let bytes = try original.pack(to: packed)
        let loaded = try TrainedRun(packed)
        #expect(loaded.step == 3 && loaded.config == original.config)
        #expect(bytes < original.model.parameterCount * 2 + 50_000 && bytes > original.model.parameterCount * 2)
        #expect(loaded.prior != nil && loaded.split?.train == original.split?.train)
        let theirs = Dictionary(uniqueKeysWithValues: loaded.model.namedParameters.map { ($0.name, $0.tensor) })
        for (name, tensor) in original.model.namedParameters {
            let a = try tensor.floats(), b = try #require(theirs[name]).floats()
            // float16: 11 significant bits (relative error at most 2^-11), subnormals below 6e-5.
            let worst = zip(a, b).map { abs($0 - $1) - abs($0) / 2048 }.max() ?? 0
            #expect(worst <= 6e-8, "\(name): float16 rounding exceeded by \(worst)")
        }
        let z = try original.sampleLatents(count: 2, temperature: 1, seed: 5)
        let x = try original.decode(z), y = try loaded.decode(z)
        for (p, q) in zip(x, y) {
            let error = zip(p, q).reduce(0.0) { $0 + Double($1.0 - $1.1) * Double($1.0 - $1.1) }
            let energy = p.reduce(0.0) { $0 + Double($1) * Double($1) }
            #expect(10 * log10(error / energy) < -30, "packed decode differs by \(10 * log10(error / energy)) dB")
        }
        #expect(throws: DrumVAEError.self) { try original.pack(to: run) }
    }

    /// `from`: the new run starts at step 0 with the source's weights and architecture, its own
    /// split and settings and a fresh optimiser; resuming it is exact; a contradicting
    /// architecture flag and a class the conditional source lacks are refused.
    @Test(.needsHydrogenKits)
    func fineTuningStartsFromTheSourceWeights() throws {
        let source = try makeTestKit(perKit: 3, kits: TrainingTests.kits)
        let mine = source
        let dir = TemporaryDirectory()
        var config = smallConfig(steps: 4)
        config.conditional = true
        try train(kit: source.url, run: dir.file("source"), steps: 4, config: config)
        let sourceRun = try TrainedRun(dir.file("source"))

        // The new run's own settings: another seed and learning rate, default architecture fields
        // (which the source's replace), a checkpoint every 2 steps.
        var settings = DrumVAEConfig()
        settings.seed = 9
        settings.learningRate = 5e-4
        settings.batchSize = 2
        settings.checkpointEvery = 2
        settings.klWarmupSteps = 0
        let request = { (run: URL, choice: ArchitectureChoice) in
            TrainingRequest(dataset: mine.url, run: run, steps: 4, minutes: nil, resume: false, config: settings,
                            from: dir.file("source"), architectureChoice: choice)
        }
        var sameLatent = ArchitectureChoice()
        sameLatent.latentSize = sourceRun.config.latentSize
        let trainer = try Trainer(request: request(dir.file("tuned"), sameLatent))
        #expect(trainer.step == 0)
        #expect(trainer.config.architecture == sourceRun.config.architecture)
        #expect(trainer.config.seed == 9 && trainer.config.learningRate == 5e-4 && trainer.config.batchSize == 2)
        #expect(trainer.config.initialWeights?.contains("source (step 4)") == true)
        #expect(trainer.dataset.split != nil)
        #expect(FileManager.default.fileExists(atPath: RunFolder(dir.file("tuned")).split.path))
        let theirs = Dictionary(uniqueKeysWithValues: sourceRun.model.namedParameters.map { ($0.name, $0.tensor) })
        for (name, tensor) in trainer.model.namedParameters {
            #expect(try tensor.floats() == theirs[name]!.floats(), "\(name) is not the source's")
        }
        let straight = try trainer.run(steps: 4, minutes: nil, progress: { _ in }, shouldStop: { false })
        #expect(straight.step == 4)

        // Stopped at 2 and resumed to 4: the same weights as straight through.
        let first = try Trainer(request: request(dir.file("resumed"), ArchitectureChoice()))
        _ = try first.run(steps: 2, minutes: nil, progress: { _ in }, shouldStop: { false })
        var resume = request(dir.file("resumed"), ArchitectureChoice())
        resume.resume = true
        resume.from = nil
        let second = try Trainer(request: resume)
        #expect(second.step == 2)
        _ = try second.run(steps: 4, minutes: nil, progress: { _ in }, shouldStop: { false })
        let names = trainer.model.namedParameters.map(\.name) + ["step"]
        let a = try checkpointValues(dir.file("tuned"), names: names), b = try checkpointValues(dir.file("resumed"), names: names)
        for name in names { #expect(a[name] == b[name], "\(name) differs after resuming a fine-tuned run") }

        var otherLatent = ArchitectureChoice()
        otherLatent.latentSize = sourceRun.config.latentSize + 1
        #expect {
            _ = try Trainer(request: request(dir.file("mismatch"), otherLatent))
        } throws: { error in
            "\(error)".contains("architecture does not match") && "\(error)".contains("--latent") && !"\(error)".contains("\n")
        }
        #expect(!FileManager.default.fileExists(atPath: dir.file("mismatch").path))
        var both = request(dir.file("both"), ArchitectureChoice())
        both.resume = true
        #expect(throws: DrumVAEError.self) { _ = try Trainer(request: both) }

        // A conditional source knows only its own classes: relabel a clip of a copy with one it lacks.
        let missing = try #require(DrumClass.allCases.first { !sourceRun.config.classes.contains($0.rawValue) })
        let relabelled = dir.file("relabelled")
        try FileManager.default.copyItem(at: mine.url, to: relabelled)
        let manifest = relabelled.appendingPathComponent("manifest.jsonl")
        var entries = try Manifest.read(manifest)
        entries[0].drumClass = missing
        try Data(entries.map { try $0.jsonLine() + "\n" }.joined().utf8).write(to: manifest)
        var unknown = request(dir.file("unknown"), ArchitectureChoice())
        unknown.dataset = relabelled
        #expect {
            _ = try Trainer(request: unknown)
        } throws: { error in
            "\(error)".contains("class '\(missing.rawValue)' is not one the source model was trained on")
        }
    }

    /// `--all-kits`: every clip trains, nothing is held out, the validation clips are training
    /// clips, and the configuration says so.
    @Test(.needsHydrogenKits)
    func allKitsTrainsOnEveryClip() throws {
        let kit = try makeTestKit(perKit: 3, kits: TrainingTests.kits)
        let dir = TemporaryDirectory()
        var config = smallConfig(steps: 1)
        config.allKits = true
        let trainer = try Trainer(request: TrainingRequest(dataset: kit.url, run: dir.file("all"), steps: 1, minutes: nil,
                                                           resume: false, config: config))
        let whole = try OneShotDataset(directory: kit.url, sampleRate: 44100, clipSamples: 88200, split: nil)
        #expect(trainer.dataset.training.count == whole.training.count + whole.validation.count)
        #expect(trainer.dataset.test.isEmpty && trainer.dataset.split == nil)
        #expect(Set(trainer.dataset.validation.map(\.path)).isSubset(of: trainer.dataset.training.map(\.path)))
        #expect(trainer.config.trainsOnAllKits && trainer.config.splitByKit == false)
        #expect(trainer.dataset.splitDescription.contains("every kit trains"))
    }
}

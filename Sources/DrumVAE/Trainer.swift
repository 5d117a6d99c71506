import DSP
import Dataset
import Foundation
import Torch

/// What `timbre train` asks for.
public struct TrainingRequest: Sendable {
    public var dataset: URL
    public var run: URL
    /// Stop at this step count (a total, so `--resume --steps N` continues to N).
    public var steps: Int?
    /// Stop after this much wall time in this session.
    public var minutes: Double?
    public var resume: Bool
    /// Architecture and settings for a new run (a resumed run keeps its own).
    public var config: DrumVAEConfig
    /// A trained run (or the shipped default's folder) whose weights a new run starts from:
    /// its architecture replaces `config`'s, its optimiser state and step are not taken.
    public var from: URL?
    /// The architecture flags given explicitly: with `from`, each must agree with the source.
    public var architectureChoice: ArchitectureChoice

    public init(dataset: URL, run: URL, steps: Int?, minutes: Double?, resume: Bool, config: DrumVAEConfig,
                from: URL? = nil, architectureChoice: ArchitectureChoice = ArchitectureChoice()) {
        self.dataset = dataset
        self.run = run
        self.steps = steps
        self.minutes = minutes
        self.resume = resume
        self.config = config
        self.from = from
        self.architectureChoice = architectureChoice
    }
}

/// A snapshot for the progress display.
public struct TrainingProgress: Sendable {
    public var step: Int
    /// 0…1 of the step or time budget.
    public var fraction: Double
    public var loss: Double
    public var stepsPerSecond: Double
    public var secondsLeft: Double
}

/// How a training session ended.
public struct TrainingSummary: Sendable, Codable {
    public var step: Int
    public var trainingClips: Int
    public var validationClips: Int
    public var validationLoss: Double
    /// Validation multi-scale spectral convergence (dB) of reconstructions from the posterior means.
    public var validationConvergenceDB: Double
    public var stepsPerSecond: Double
    public var interrupted: Bool
}

/// The files of a run folder.
public struct RunFolder: Sendable {
    public let url: URL
    public init(_ url: URL) { self.url = url }
    public var config: URL { url.appendingPathComponent("config.json") }
    public var checkpoint: URL { url.appendingPathComponent("checkpoint.pt") }
    public var log: URL { url.appendingPathComponent("log.jsonl") }
    public var split: URL { url.appendingPathComponent("split.json") }
    public var report: URL { url.appendingPathComponent("report.html") }
    public var prior: URL { url.appendingPathComponent("prior.json") }

    /// The run's kit split (RUN/split.json) when its configuration says it has one; nil for
    /// the path-hash split.
    public func kitSplit(_ config: DrumVAEConfig) throws -> KitSplit? {
        guard config.splitByKit == true else { return nil }
        do {
            return try KitSplit.read(from: split)
        } catch let error as PrepError {
            throw DrumVAEError(path: error.path, reason: error.reason)
        }
    }
}

/// The training loop: β-VAE with KL warm-up, AdamW, gradient clipping, a log, and
/// checkpoints that make a resumed run identical to an uninterrupted one.
///
/// Determinism: the batch at step s comes from a per-epoch shuffle seeded by (seed, epoch),
/// and libtorch's generator is seeded with (seed, s) before the step's noise is drawn; the
/// checkpoint holds the weights, AdamW's moments and the step. So resuming from step s
/// (after `kill -9` too) replays exactly what the lost process would have done.
public final class Trainer {
    public let folder: RunFolder
    public let config: DrumVAEConfig
    public let model: DrumVAEModel
    public let dataset: OneShotDataset
    let core: TrainingCore
    var optimizer: AdamOptimizer { core.optimizer }
    var spectrum: MultiScaleSpectrum { core.evaluation }
    public private(set) var step = 0
    private var permutations: [Int: [Int]] = [:]

    /// Opens a new run (refusing a folder that already holds one) or resumes one.
    public init(request: TrainingRequest) throws {
        Torch.applyDefaults()
        TrainingAllocator.configure()
        folder = RunFolder(request.run)
        let fm = FileManager.default
        var config = request.config
        // Fine-tuning: the source's architecture and weights; everything else is this run's.
        var source: TrainedRun?
        if let from = request.from {
            guard !request.resume else {
                throw DrumVAEError(path: from.path, reason: "--from starts a new run from trained weights; --resume continues a run (give one of them)")
            }
            let trained = try TrainedRun(from)
            if let conflict = request.architectureChoice.conflict(with: trained.config) {
                throw DrumVAEError(path: from.path, reason: "the architecture does not match: \(conflict); leave the flag out to take the source's")
            }
            config.adoptArchitecture(of: trained.config)
            config.initialWeights = "\(from.path) (step \(trained.step))"
            if config.representation != .complex && (config.magnitudeWarmup > 0 || config.phaseLossWeight > 0 || config.spectrumLossWeight > 0) {
                throw DrumVAEError(path: from.path, reason: "a \(config.representation.rawValue) model: --magnitude-warmup, --phase-weight and --spectrum-weight are for the complex model")
            }
            source = trained
        }
        if request.resume {
            guard fm.fileExists(atPath: folder.checkpoint.path) else {
                throw DrumVAEError(path: folder.checkpoint.path, reason: "nothing to resume (no checkpoint)")
            }
            config = try DrumVAEConfig.read(from: folder.config)
            if request.config.trainsOnAllKits && !config.trainsOnAllKits {
                throw DrumVAEError(path: folder.config.path, reason: "the run holds kits out; --all-kits cannot change a run's split on --resume")
            }
        } else if fm.fileExists(atPath: folder.checkpoint.path) || fm.fileExists(atPath: folder.config.path) {
            throw DrumVAEError(path: request.run.path, reason: "already holds a run; pass --resume to continue it, or choose another --out")
        }
        // A new run splits by kit when it can; a resumed run keeps the split it was made with.
        // --all-kits: every clip trains, no kit held out.
        let split: KitSplit?
        if request.resume {
            split = try folder.kitSplit(config)
        } else {
            split = config.trainsOnAllKits ? nil : try OneShotDataset.defaultSplit(directory: request.dataset)
            config.splitByKit = split != nil
        }
        dataset = try OneShotDataset(directory: request.dataset, sampleRate: config.sampleRate, clipSamples: config.clipSamples,
                                     split: split, allKits: config.trainsOnAllKits)
        if request.resume || (source != nil && config.conditional) {
            // The one-hot input's classes are fixed by the weights.
            if config.conditional, let missing = dataset.classes.first(where: { !config.classes.contains($0) }) {
                throw DrumVAEError(path: request.dataset.path, reason: "class '\(missing)' is not one the \(request.resume ? "run" : "source model") was trained on (it has: \(config.classes.joined(separator: ", ")))")
            }
        } else {
            config.classes = dataset.classes
        }
        if !request.resume { try fm.createDirectory(at: folder.url, withIntermediateDirectories: true) }
        self.config = config
        model = try DrumVAEModel(config: config)
        if let source { try model.copyWeights(from: source.model) }
        core = try TrainingCore(model: model)
        if request.resume {
            let archive = try TensorArchive(contentsOf: folder.checkpoint)
            try model.load(from: archive)
            try archive.read("optimizer", into: optimizer)
            step = Int(try archive.tensor("step").item())
            try truncateLog(after: step)
        } else {
            try config.write(to: folder.config)
            if let split {
                try writeJSON(split, to: folder.split, pretty: true)
            } else {
                let paths = ["training": dataset.training.map(\.path), "validation": dataset.validation.map(\.path)]
                try writeAtomically(try JSONSerialization.data(withJSONObject: paths, options: [.prettyPrinted, .sortedKeys]), to: folder.split)
            }
            try writeAtomically(Data(), to: folder.log)
        }
    }

    /// Saves weights, optimizer state and step atomically.
    public func saveCheckpoint() throws {
        let archive = try TensorArchive()
        try model.save(into: archive)
        try archive.write("optimizer", optimizer: optimizer)
        try archive.write("step", Tensor.indices([step]))
        try archive.save(to: folder.checkpoint)
    }

    /// Training-set indices for step s: a shuffle per epoch, seeded by (seed, epoch).
    func batchIndices(step s: Int) -> [Int] {
        let n = dataset.training.count, b = config.batchSize
        return (0..<b).map { j in
            let position = s * b + j
            let epoch = position / n
            if permutations[epoch] == nil {
                var rng = SplitMix64(seed: config.seed &* 0x9E37_79B9 &+ UInt64(epoch))
                permutations = [epoch: Array(0..<n).shuffled(using: &rng)]
            }
            return permutations[epoch]![position % n]
        }
    }

    func classIndex(_ name: String) -> Int { config.classes.firstIndex(of: name) ?? 0 }

    func reconstructionLoss(_ x: Tensor, _ z: Tensor, _ condition: Tensor?) throws -> Tensor {
        try core.reconstructionLoss(x, z, condition)
    }

    func beta(at s: Int) -> Double { core.beta(at: s) }

    /// One optimisation step on the step's batch (augmented, `Augmentation`); returns (loss,
    /// reconstruction, KL).
    func trainStep() throws -> (Double, Double, Double) {
        let clips = batchIndices(step: step).map { dataset.training[$0] }
        let augmentation = Augmentation(config: config)
        let rows = clips.enumerated().flatMap { j, clip in augmentation.apply(clip.samples, step: step, row: j) }
        let x = try Tensor(rows, shape: [clips.count, config.clipSamples])
        let condition = try model.condition(classes: clips.map { classIndex($0.className) })
        let result = try core.step(x, condition: condition, step: step)
        step += 1
        return result
    }

    /// Validation loss and multi-scale spectral convergence (dB) of reconstructions from μ.
    public func validate() throws -> (loss: Double, convergenceDB: Double, perClipDB: [Double]) {
        try Torch.withoutGradients {
            // The synth decoder's noise: the same draws at every validation (steps reseed).
            Torch.manualSeed(config.seed)
            var losses: [Double] = [], perClip: [Double] = []
            let clips = dataset.validation
            for start in stride(from: 0, to: clips.count, by: config.batchSize) {
                let chunk = Array(clips[start..<min(clips.count, start + config.batchSize)])
                let x = try Tensor(chunk.flatMap(\.samples), shape: [chunk.count, config.clipSamples])
                let condition = try model.condition(classes: chunk.map { classIndex($0.className) })
                let mean = try model.encode(x).mean
                losses.append(try reconstructionLoss(x, mean, condition).item() * Double(chunk.count))
                perClip += try spectrum.convergenceDB(x, model.decode(mean, condition: condition))
            }
            return (losses.reduce(0, +) / Double(clips.count), perClip.reduce(0, +) / Double(perClip.count), perClip)
        }
    }

    /// Trains until the step or time budget is spent or `shouldStop` says so (a signal);
    /// checkpoints every `checkpointEvery` steps and at the end.
    public func run(steps: Int?, minutes: Double?, progress: (TrainingProgress) -> Void,
                    shouldStop: () -> Bool) throws -> TrainingSummary {
        precondition(steps != nil || minutes != nil, "a step or time budget is needed")
        let start = Date()
        let firstStep = step
        var interrupted = false
        var lastCheckpoint = step
        var lastLogged: (Double, Double, Double)?
        let log = try FileHandle(forWritingTo: folder.log)
        defer { try? log.close() }
        try log.seekToEnd()
        func append(_ object: [String: Any]) throws {
            var line = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            line.append(0x0A)
            try log.write(contentsOf: line)
        }
        func rate() -> Double {
            let elapsed = Date().timeIntervalSince(start)
            return elapsed > 0 ? Double(step - firstStep) / elapsed : 0
        }
        while true {
            let elapsed = Date().timeIntervalSince(start)
            if let steps, step >= steps { break }
            if let minutes, elapsed >= minutes * 60 { break }
            if shouldStop() { interrupted = true; break }
            let (loss, reconstruction, kl) = try trainStep()
            guard loss.isFinite else {
                throw DrumVAEError(path: folder.url.path, reason: "the loss became \(loss) at step \(step); the last checkpoint (step \(lastCheckpoint)) is intact")
            }
            let sps = rate()
            lastLogged = (loss, reconstruction, kl)
            if step % 10 == 0 || step == 1 {
                try append(["step": step, "loss": loss, "reconstruction": reconstruction, "kl": kl, "beta": beta(at: step - 1),
                            "stepsPerSecond": sps, "seconds": Date().timeIntervalSince(start)])
            }
            if step % config.validateEvery == 0 {
                let v = try validate()
                try append(["step": step, "validationLoss": v.loss, "validationConvergenceDB": v.convergenceDB])
            }
            if step % config.checkpointEvery == 0 {
                try saveCheckpoint()
                lastCheckpoint = step
            }
            var fraction = 0.0, left = 0.0
            let now = Date().timeIntervalSince(start)
            if let steps {
                // Of the run's whole budget: a resumed run at step 24000 of 30000 is 80 % done.
                fraction = Double(step) / Double(max(1, steps))
                left = sps > 0 ? Double(steps - step) / sps : 0
            }
            if let minutes {
                let timeFraction = now / (minutes * 60)
                if timeFraction > fraction { fraction = timeFraction; left = minutes * 60 - now }
            }
            progress(TrainingProgress(step: step, fraction: min(1, fraction), loss: loss, stepsPerSecond: sps, secondsLeft: max(0, left)))
        }
        if let (loss, reconstruction, kl) = lastLogged, step % 10 != 0, step != 1 {
            try append(["step": step, "loss": loss, "reconstruction": reconstruction, "kl": kl, "beta": beta(at: step - 1),
                        "stepsPerSecond": rate(), "seconds": Date().timeIntervalSince(start)])
        }
        if step != lastCheckpoint || !FileManager.default.fileExists(atPath: folder.checkpoint.path) { try saveCheckpoint() }
        try fitPrior()
        let v = try validate()
        if step % config.validateEvery != 0 {
            try append(["step": step, "validationLoss": v.loss, "validationConvergenceDB": v.convergenceDB])
        }
        return TrainingSummary(step: step, trainingClips: dataset.training.count, validationClips: dataset.validation.count,
                               validationLoss: v.loss, validationConvergenceDB: v.convergenceDB, stepsPerSecond: rate(),
                               interrupted: interrupted)
    }

    /// Fits the generation prior (`LatentPrior`) to the training clips' posterior means, each
    /// kit weighing once per class, and writes RUN/prior.json.
    public func fitPrior() throws {
        let means: [[Float]] = try Torch.withoutGradients {
            var out: [[Float]] = []
            let clips = dataset.training
            let d = config.latentSize
            for start in stride(from: 0, to: clips.count, by: 16) {
                let chunk = Array(clips[start..<min(clips.count, start + 16)])
                let x = try Tensor(chunk.flatMap(\.samples), shape: [chunk.count, config.clipSamples])
                let mean = try model.encode(x).mean.floats()
                for r in 0..<chunk.count { out.append(Array(mean[r * d..<(r + 1) * d])) }
            }
            return out
        }
        // Every kit counts once in its class when the clips know their kits.
        let groups = dataset.training.compactMap(\.group)
        try LatentPrior.fit(latents: means, classes: dataset.training.map(\.className),
                            groups: groups.count == dataset.training.count ? groups : nil, step: step).write(to: folder.prior)
    }

    /// Drops log lines after the checkpoint's step (a killed process may have logged past it).
    func truncateLog(after checkpointStep: Int) throws {
        guard let data = FileManager.default.contents(atPath: folder.log.path) else {
            try writeAtomically(Data(), to: folder.log)
            return
        }
        let kept = String(decoding: data, as: UTF8.self).split(separator: "\n").filter { line in
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let s = object["step"] as? Int else { return false }
            return s <= checkpointStep
        }
        try writeAtomically(Data(kept.map { $0 + "\n" }.joined().utf8), to: folder.log)
    }
}

/// One optimisation step of the VAE, shared by the trainer and `timbre bench train`:
/// encode, reparameterise, decode, reconstruction + β·KL, backward, clip, AdamW.
public final class TrainingCore {
    public let model: DrumVAEModel
    let optimizer: AdamOptimizer
    /// The training loss's scales (`config.lossScales`).
    let spectrum: MultiScaleSpectrum
    /// The evaluation metric's scales (always 2048 … 128).
    let evaluation: MultiScaleSpectrum
    var config: DrumVAEConfig { model.config }

    public init(model: DrumVAEModel) throws {
        self.model = model
        optimizer = try AdamOptimizer(parameters: model.parameters, learningRate: model.config.learningRate,
                                      beta1: 0.9, beta2: 0.999, weightDecay: 1e-4, decoupled: true)
        spectrum = try MultiScaleSpectrum(sizes: model.config.lossScales)
        evaluation = try MultiScaleSpectrum.evaluation()
    }

    /// The reconstruction loss of the configured representation.
    /// `magnitudeOnly`: the magnitude baseline's loss on the decoder's magnitude maps (the
    /// complex model's warm-up).
    func reconstructionLoss(_ x: Tensor, _ z: Tensor, _ condition: Tensor?, magnitudeOnly: Bool = false) throws -> Tensor {
        switch (config.representation, magnitudeOnly) {
        case (.complex, false):
            let maps = try model.decoderMaps(z, condition: condition)
            let audio = try model.spectrum(fromMaps: maps).istft(nFFT: config.fftSize, hop: config.hop, window: model.window,
                                                                  length: config.clipSamples)
            let loss = try spectrum.loss(x, audio, logWeight: config.logMagnitudeWeight)
            guard config.spectrumLossWeight > 0 else { return loss }
            // Keep the decoder's own magnitudes on the clip's: the waveform loss alone lets the
            // spectrum drift into inconsistent energy that the overlap-add cancels.
            return try loss + spectrumLoss(x, maps: maps) * config.spectrumLossWeight
        case (.magnitude, _), (.complex, true):
            return try spectrumLoss(x, maps: model.decoderMaps(z, condition: condition))
        case (.synth, _):
            // The step's noise comes from the generator seeded for the step (`step`).
            return try spectrum.loss(x, model.decode(z, condition: condition), logWeight: config.logMagnitudeWeight)
        }
    }

    /// The loss on the decoder's maps at its own STFT resolution: spectral convergence and
    /// log-magnitude distance (the magnitude baseline's whole loss), plus for the complex model
    /// the supervised phase loss when `phaseWeight` > 0.
    func spectrumLoss(_ x: Tensor, maps: Tensor) throws -> Tensor {
        let spec = try x.stft(nFFT: config.fftSize, hop: config.hop, window: model.window)
        let target = try magnitude(spec)
        let f = config.bins
        let mag = try maps.narrow(1, start: 0, length: f).clamp(max: 8).exp()
        let convergence = try (target - mag).norm() / (target.norm() + 1e-7)
        let loss = try convergence + ((target + 1e-5).log() - (mag + 1e-5).log()).abs().mean() * config.logMagnitudeWeight
        guard config.representation == .complex, config.phaseLossWeight > 0 else { return loss }
        let (a, b) = try model.phaseDirection(maps)
        return try loss + phaseLoss(a, b, spec: spec, magnitude: target) * config.phaseLossWeight
    }

    /// Supervised phase loss for the complex decoder's phase direction (a, b) [B, bins,
    /// frames] in the STFT's frame (`DrumVAEModel.phaseDirection`) against the clip's own
    /// STFT: magnitude-weighted 1 − cos of the phase difference, of the phase itself, of its derivative along frequency (group delay: where in the frame
    /// the energy sits, what Griffin-Lim smears at onsets) and along time (instantaneous
    /// frequency). Derivatives are compared as unit complex ratios, so no phase is unwrapped.
    func phaseLoss(_ a: Tensor, _ b: Tensor, spec: Tensor, magnitude target: Tensor) throws -> Tensor {
        let norm = try (a.square() + b.square() + 1e-6).rsqrt()
        let pa = try a * norm, pb = try b * norm
        let (ta, tb, weight) = try Torch.withoutGradients {
            let last = spec.shape.count - 1
            let floor = try target + 1e-7
            return (try spec.narrow(last, start: 0, length: 1).squeeze(last) / floor,
                    try spec.narrow(last, start: 1, length: 1).squeeze(last) / floor,
                    target)
        }
        // 1 − cos(φ̂ − φ) weighted by w, normalised by Σw.
        func distance(_ c: Tensor, _ w: Tensor) throws -> Tensor {
            try ((c * -1.0 + 1.0) * w).sum() / (w.sum() + 1e-7)
        }
        // Unit ratio u[i+1]·conj(u[i]) along `dim`.
        func ratio(_ re: Tensor, _ im: Tensor, dim: Int) throws -> (Tensor, Tensor) {
            let n = re.shape[dim] - 1
            let r0 = try re.narrow(dim, start: 0, length: n), r1 = try re.narrow(dim, start: 1, length: n)
            let i0 = try im.narrow(dim, start: 0, length: n), i1 = try im.narrow(dim, start: 1, length: n)
            return (try r1 * r0 + i1 * i0, try i1 * r0 - r1 * i0)
        }
        var total = try distance(pa * ta + pb * tb, weight)
        for dim in [1, 2] {
            let (pr, pi) = try ratio(pa, pb, dim: dim)
            let (tr, ti) = try ratio(ta, tb, dim: dim)
            let n = weight.shape[dim] - 1
            let w = try Torch.withoutGradients {
                try (weight.narrow(dim, start: 0, length: n) * weight.narrow(dim, start: 1, length: n)).sqrt()
            }
            total = try total + distance(pr * tr + pi * ti, w)
        }
        return try total / 3.0
    }

    /// β at step s: linear warm-up from 0.
    func beta(at s: Int) -> Double {
        config.klWarmupSteps <= 0 ? config.beta : config.beta * min(1, Double(s) / Double(config.klWarmupSteps))
    }

    /// One step on the batch `x` [B, samples]; libtorch's generator is seeded from (seed, step)
    /// first, so the step's noise depends on nothing else. Returns (loss, reconstruction, KL).
    public func step(_ x: Tensor, condition: Tensor?, step: Int) throws -> (Double, Double, Double) {
        Torch.manualSeed(config.seed &* 1_000_003 &+ UInt64(step))
        let (mean, logVariance) = try model.encode(x)
        let z = try mean + (logVariance * 0.5).exp() * Tensor.randn(mean.shape)
        let reconstruction = try reconstructionLoss(x, z, condition, magnitudeOnly: step < config.magnitudeWarmup)
        let kl = try ((mean.square() + logVariance.exp() - logVariance - 1.0) * 0.5).sum([1]).mean()
        let loss = try reconstruction + kl * beta(at: step)
        try optimizer.zeroGrad()
        try loss.backward()
        try Torch.clipGradNorm(model.parameters, maxNorm: config.gradientClip)
        try optimizer.step()
        return (try loss.item(), try reconstruction.item(), try kl.item())
    }
}

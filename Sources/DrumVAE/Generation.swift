import AudioIO
import DSP
import Dataset
import Foundation
import Synchronization
import Torch

/// A trained run loaded for inference: generation, morphing, encoding, export.
public final class TrainedRun {
    public let folder: RunFolder
    public let config: DrumVAEConfig
    public let model: DrumVAEModel
    /// The step the checkpoint was saved at.
    public let step: Int
    /// The generation prior fitted when training ended (RUN/prior.json); nil for a run
    /// without one (then N(0, T²)). `fitPrior` replaces it in memory (never on disk).
    public private(set) var prior: LatentPrior?
    /// The groups the run trained, validated and was tested on; nil for a run on the
    /// path-hash split (made before kit splits, or on a single kit).
    public let split: KitSplit?

    /// Loads RUN/config.json and RUN/checkpoint.pt, or, in a packed folder without a
    /// checkpoint (the shipped default, `timbre pack`), its float16 RUN/weights.pt.
    public init(_ url: URL) throws {
        Torch.applyDefaults()
        folder = RunFolder(url)
        config = try DrumVAEConfig.read(from: folder.config)
        model = try DrumVAEModel(config: config)
        let fm = FileManager.default
        let weights = !fm.fileExists(atPath: folder.checkpoint.path) && fm.fileExists(atPath: folder.weights.path)
            ? folder.weights : folder.checkpoint
        let archive = try TensorArchive(contentsOf: weights)
        do {
            try model.load(from: archive)
        } catch let error as DrumVAEError {
            throw DrumVAEError(path: weights.path, reason: error.reason)
        }
        step = Int(try archive.tensor("step").item())
        prior = FileManager.default.fileExists(atPath: folder.prior.path) ? try LatentPrior.read(from: folder.prior) : nil
        split = try folder.kitSplit(config)
    }

    /// The class index for a name, or an error naming the ones the run knows.
    public func classIndex(_ name: String?) throws -> Int? {
        guard config.conditional else {
            if let name { throw DrumVAEError(path: folder.url.path, reason: "the run was trained without --conditional, so it cannot generate a '\(name)'") }
            return nil
        }
        guard let name else { return nil }
        guard let index = config.classes.firstIndex(of: name) else {
            throw DrumVAEError(path: folder.url.path, reason: "no class '\(name)' (the run has: \(config.classes.joined(separator: ", ")))")
        }
        return index
    }

    /// Decodes latents (rows of `latentSize`) to one-shots, in batches, without gradients.
    /// Straight from the decoder and the inverse STFT; `finish` then applies only a fixed
    /// fade over the last 10 ms and a constant gain when the peak would clip.
    ///
    /// The synth decoder's noise: libtorch's generator is seeded with `noiseSeed`, then each
    /// one-shot draws its own [1, bins, frames, 2] in order, so one-shot i gets the same noise
    /// however the rows are batched, and an export called after `torch.manual_seed(noiseSeed)`
    /// with the same latents in the same order draws the same.
    public func decode(_ latents: [[Float]], classes: [Int]? = nil, noiseSeed: UInt64 = 0) throws -> [[Float]] {
        try Torch.withoutGradients {
            Torch.manualSeed(noiseSeed)
            var out: [[Float]] = []
            for start in stride(from: 0, to: latents.count, by: 8) {
                let rows = Array(latents[start..<min(latents.count, start + 8)])
                let z = try Tensor(rows.flatMap { $0 }, shape: [rows.count, config.latentSize])
                let condition = try model.condition(classes: classes.map { Array($0[start..<start + rows.count]) } ?? Array(repeating: 0, count: rows.count))
                let audio = try model.decode(z, condition: condition).floats()
                for r in 0..<rows.count {
                    out.append(Array(audio[r * config.clipSamples..<(r + 1) * config.clipSamples]))
                }
            }
            return out
        }
    }

    /// Phase reconstruction iterations (PGHI, then Fast Griffin-Lim) for a magnitude run's
    /// one-shots in `render`.
    public static let magnitudeInversionIterations = 32

    /// One-shots as a listener gets them: `decode`, except that a magnitude run's spectra get
    /// a phase from PGHI followed by 32 iterations of Fast Griffin-Lim (the best phase
    /// reconstruction `timbre bench phase` measured) instead of zero phase. `generate`,
    /// `morph` and the drum evaluation's reconstructions use it; the magnitude baseline is
    /// "magnitude + phase reconstruction".
    public func render(_ latents: [[Float]], classes: [Int]? = nil, noiseSeed: UInt64 = 0) throws -> [[Float]] {
        guard config.representation == .magnitude else { return try decode(latents, classes: classes, noiseSeed: noiseSeed) }
        // One latent at a time through `decodeSpectrum`, so a one-shot is the same however many are rendered.
        let spectra = try latents.indices.map { i in try decodeSpectrum(latents[i], classIndex: classes?[i] ?? 0).magnitude }
        let results = Mutex([Int: Result<[Float], DSPError>]())
        let next = Atomic<Int>(0)
        let workers = max(1, min(ProcessInfo.processInfo.activeProcessorCount, spectra.count))
        let (frames, bins, length, fft, hop) = (config.frames, config.bins, config.clipSamples, config.fftSize, config.hop)
        DispatchQueue.concurrentPerform(iterations: workers) { _ in
            let stft = STFT(size: fft, hop: hop, window: .hann)  // an FFT plan's buffers are its own
            while true {
                let i = next.wrappingAdd(1, ordering: .relaxed).oldValue
                guard i < spectra.count else { break }
                let outcome = Result { () throws(DSPError) -> [Float] in
                    try PhaseReconstruction.reconstruct(magnitude: spectra[i], frames: frames, bins: bins, stft: stft, method: .pghiFGLA,
                                                        iterations: Self.magnitudeInversionIterations, length: length, seed: UInt64(i))
                }
                results.withLock { $0[i] = outcome }
            }
        }
        let all = results.withLock { $0 }
        return try spectra.indices.map { try all[$0]!.get() }
    }

    /// The decoder's STFT for one latent, frame-major (`frames × bins`, as `ComplexSpectrogram`):
    /// magnitudes and phases (radians; zero for a magnitude run).
    public func decodeSpectrum(_ latent: [Float], classIndex: Int = 0) throws -> (magnitude: [Float], phase: [Float]) {
        try Torch.withoutGradients {
            let z = try Tensor(latent, shape: [1, config.latentSize])
            let condition = try model.condition(classes: [classIndex])
            // [1, bins, frames, 2] → [frames, bins, 2]
            let spec = try model.decodeSpectrum(z, condition: condition).squeeze(0).transpose(0, 1).clone().floats()
            let cells = config.frames * config.bins
            var magnitude = [Float](repeating: 0, count: cells), phase = magnitude
            for i in 0..<cells {
                let re = spec[2 * i], im = spec[2 * i + 1]
                magnitude[i] = (re * re + im * im).squareRoot()
                phase[i] = atan2(im, re)
            }
            return (magnitude, phase)
        }
    }

    /// Applies the fixed end fade (10 ms) and, if needed, one constant gain so the peak is at most -0.1 dBFS.
    public func finish(_ samples: [Float]) -> [Float] {
        var x = samples
        let fade = config.sampleRate / 100
        for i in 0..<fade { x[x.count - fade + i] *= Float(fade - 1 - i) / Float(fade) }
        let peak = x.reduce(0) { max($0, Swift.abs($1)) }
        let ceiling: Float = 0.9886  // -0.1 dBFS
        if peak > ceiling { for i in x.indices { x[i] *= ceiling / peak } }
        return x
    }

    /// The peak level of a generated one-shot, dBFS: `timbre prep`'s default (`--normalize peak`),
    /// so new sounds come out at the level the corpus's samples have.
    public static let generatedPeakDBFS: Double = -1

    /// A generated one-shot brought to `generatedPeakDBFS` by one constant gain. Training spreads
    /// the clips' levels (gain augmentation) and the prior inherits that spread, so without this
    /// new sounds would come out anywhere from −30 to 0 dBFS. Output that is practically silent
    /// (peak under −80 dBFS) is left alone rather than raised to a hiss.
    public static func levelled(_ samples: [Float]) -> [Float] {
        let peak = samples.reduce(0) { max($0, Swift.abs($1)) }
        guard peak > 1e-4 else { return samples }
        let gain = Float(Foundation.pow(10, generatedPeakDBFS / 20)) / peak
        return samples.map { $0 * gain }
    }

    /// Whether the prior belongs to these weights: a run still training (or stopped
    /// without its end) has a checkpoint newer than its prior.json, or none at all.
    public var priorIsCurrent: Bool { prior?.step == step }

    /// Fits the prior to `clips` (the run's training clips, `clipSamples` each), their
    /// classes and kits with the weights loaded, as training does when it ends; kept in
    /// memory only.
    public func fitPrior(clips: [[Float]], classes: [String], groups: [String]? = nil) throws {
        let means = try encode(clips).map(\.mean)
        prior = try LatentPrior.fit(latents: means, classes: classes, groups: groups, step: step)
    }

    /// Latents drawn from the prior N(0, T²), seeded.
    public func sampleLatents(count: Int, temperature: Double, seed: UInt64) throws -> [[Float]] {
        Torch.manualSeed(seed)
        let z = try (Tensor.randn([count, config.latentSize]) * temperature).floats()
        return (0..<count).map { Array(z[$0 * config.latentSize..<($0 + 1) * config.latentSize]) }
    }

    /// New one-shots from the prior; for a conditional model, of `className` or of classes
    /// drawn in turn, each `finish`ed and `levelled` to −1 dBFS. Returns (class name or nil,
    /// samples) per one-shot.
    ///
    /// With a fitted prior (RUN/prior.json) the latents come from its class mixture
    /// (`className` picks one class's component; a conditional model is decoded with the
    /// class its latent was drawn for); without one, from N(0, T²).
    /// `among` keeps the draws to those classes of the prior (ignored without a prior).
    public func generate(count: Int, className: String?, temperature: Double, seed: UInt64,
                         among: Set<String>? = nil) throws -> [(String?, [Float])] {
        if let prior {
            let draws: [(latent: [Float], className: String)]
            do {
                draws = try prior.sample(count: count, temperature: temperature, seed: seed, className: className, among: among)
            } catch let error as DrumVAEError {
                throw DrumVAEError(path: folder.prior.path, reason: error.reason)
            }
            let classes: [Int]? = config.conditional ? draws.map { config.classes.firstIndex(of: $0.className) ?? 0 } : nil
            let audio = try render(draws.map(\.latent), classes: classes, noiseSeed: seed)
            return audio.enumerated().map { i, x in (config.conditional || className != nil ? draws[i].className : nil, Self.levelled(finish(x))) }
        }
        let index = try classIndex(className)
        let latents = try sampleLatents(count: count, temperature: temperature, seed: seed)
        let classes: [Int]? = config.conditional ? (0..<count).map { index ?? ($0 % config.classes.count) } : nil
        let audio = try render(latents, classes: classes, noiseSeed: seed)
        return audio.enumerated().map { i, x in (classes.map { config.classes[$0[i]] }, Self.levelled(finish(x))) }
    }

    /// Reads an audio file as the model's input: mono, resampled to the run's rate, cut or padded to the clip length.
    public func loadClip(_ url: URL) throws -> [Float] {
        var buffer = try AudioFile.read(url)
        if Int(buffer.sampleRate.rounded()) != config.sampleRate {
            buffer = try Resampler.resample(buffer, to: Double(config.sampleRate))
        }
        var mono = buffer.channels[0]
        for c in 1..<max(1, buffer.channelCount) { for i in mono.indices { mono[i] += buffer.channels[c][i] } }
        if buffer.channelCount > 1 { let s = 1 / Float(buffer.channelCount); for i in mono.indices { mono[i] *= s } }
        if mono.count > config.clipSamples { mono.removeLast(mono.count - config.clipSamples) }
        if mono.count < config.clipSamples { mono += [Float](repeating: 0, count: config.clipSamples - mono.count) }
        return mono
    }

    /// Posterior means (and log-variances) of clips.
    public func encode(_ clips: [[Float]]) throws -> [(mean: [Float], logVariance: [Float])] {
        try Torch.withoutGradients {
            var out: [([Float], [Float])] = []
            for start in stride(from: 0, to: clips.count, by: 8) {
                let rows = Array(clips[start..<min(clips.count, start + 8)])
                let (m, v) = try model.encode(Tensor(rows.flatMap { $0 }, shape: [rows.count, config.clipSamples]))
                let mean = try m.floats(), logVariance = try v.floats()
                let d = config.latentSize
                for r in 0..<rows.count { out.append((Array(mean[r * d..<(r + 1) * d]), Array(logVariance[r * d..<(r + 1) * d]))) }
            }
            return out
        }
    }

    /// Decodes `steps` points on the straight latent line from `a`'s mean to `b`'s.
    public func morph(_ a: [Float], _ b: [Float], steps: Int, className: String?) throws -> [[Float]] {
        let ends = try encode([a, b])
        let latents: [[Float]] = (0..<steps).map { k in
            let t = steps == 1 ? 0 : Float(k) / Float(steps - 1)
            return zip(ends[0].mean, ends[1].mean).map { (1 - t) * $0 + t * $1 }
        }
        let index = try classIndex(className) ?? 0
        return try render(latents, classes: config.conditional ? Array(repeating: index, count: steps) : nil).map(finish)
    }

    /// Writes one-shots as 24-bit WAVs (atomically).
    public func write(_ samples: [Float], to url: URL) throws {
        try AudioFile.write(AudioBuffer(sampleRate: Double(config.sampleRate), channels: [samples]), to: url, format: .pcm24)
    }
}

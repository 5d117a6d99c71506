import Foundation

/// What the decoder outputs.
public enum Representation: String, Codable, Sendable, CaseIterable {
    /// Complex STFT (log-magnitude + a phase direction per bin) through an inverse
    /// STFT, trained with a multi-scale spectral loss on the waveform.
    case complex
    /// Log-magnitude only (the baseline), trained on its own magnitudes; inverted
    /// with zero phase or with Griffin-Lim.
    case magnitude
    /// Differentiable synthesis (DDSP / Drumblender family, `SynthDecoder`): decaying,
    /// gliding sinusoids whose phase is synthesised, filtered noise and a short learned
    /// transient, summed, trained with the spectral loss on the waveform.
    case synth
}

/// A run's architecture and training settings, saved as RUN/config.json.
public struct DrumVAEConfig: Codable, Sendable, Equatable {
    public var sampleRate = 44100
    /// Samples per one-shot (2.0 s at 44.1 kHz).
    public var clipSamples = 88200
    public var fftSize = 1024
    public var hop = 256
    public var latentSize = 16
    /// Channels of the convolutional layers.
    public var channels = 96
    public var representation: Representation = .complex
    public var conditional = false
    /// Class names (sorted) for a conditional model, and for labels in the report.
    public var classes: [String] = []
    public var batchSize = 8
    public var learningRate = 1e-3
    /// The KL weight after warm-up (β-VAE).
    public var beta = 1e-4
    /// Steps over which β rises linearly from 0.
    public var klWarmupSteps = 1000
    public var gradientClip = 1.0
    public var seed: UInt64 = 1
    public var checkpointEvery = 200
    public var validateEvery = 200
    /// Weight of the log-magnitude term of the reconstruction loss against spectral
    /// convergence (nil in runs made before it existed: 1).
    public var logWeight: Double? = nil
    public var logMagnitudeWeight: Double { logWeight ?? 1 }
    /// Complex model: steps trained first on the magnitude maps alone, with the magnitude
    /// baseline's loss (cheap: no inverse STFT), before the waveform loss takes over.
    public var magnitudeWarmupSteps: Int? = nil
    public var magnitudeWarmup: Int { magnitudeWarmupSteps ?? 0 }
    /// Complex model, during the magnitude warm-up: weight of the supervised phase loss on
    /// the decoder's phase maps (nil in runs made before it existed: 0).
    public var phaseWeight: Double? = nil
    public var phaseLossWeight: Double { phaseWeight ?? 0 }
    /// Complex model, after the warm-up: weight of the magnitude loss on the decoder's own
    /// spectrum added to the waveform loss (nil in runs made before it existed: 0).
    public var spectrumWeight: Double? = nil
    public var spectrumLossWeight: Double { spectrumWeight ?? 0 }
    /// Complex model: the phase maps give the phase relative to each bin's own rotation
    /// (2π·k·hop/N per frame), so a steady partial or a click at a fixed place gives maps
    /// that do not change from frame to frame. On in new configurations; nil in runs made
    /// before it existed (read as false).
    public var demodulatedPhase: Bool? = true
    public var phaseDemodulated: Bool { representation == .complex && (demodulatedPhase ?? false) }
    /// FFT sizes of the multi-scale spectral loss and of the evaluation.
    public var lossScales = [1024]
    /// True when the run holds whole groups out (RUN/split.json is a `KitSplit`); nil or false
    /// in runs made before kit splits, and in runs on a folder with a single group: those
    /// validate on the path-hash split.
    public var splitByKit: Bool? = nil
    /// Synth model: sinusoids (nil in runs made before it existed).
    public var sinusoids: Int? = 32
    public var sinusoidCount: Int { sinusoids ?? 32 }
    /// Synth model: bands of the filtered noise.
    public var noiseBands: Int? = 64
    public var noiseBandCount: Int { noiseBands ?? 64 }
    /// Synth model: samples of the learned transient at the start of each one-shot.
    public var transientSamples: Int? = 2048
    public var transientLength: Int { transientSamples ?? 2048 }
    /// Synth model: the transient is a bank of this many damped sinusoids at fixed,
    /// mel-spaced frequencies, each with a per-clip log-gain and decay rate; 0 (and nil, in
    /// runs made before 2026-12-08): the transient's samples come straight from a linear head.
    public var transientBands: Int? = 64
    public var transientBandCount: Int { transientBands ?? 0 }
    /// Synth model: each noise band also gets a per-clip onset log-magnitude and decay rate
    /// (log M_b(t) = onset_b − decay_b·t + map_b(t)), as each sinusoid does; false (and nil, in
    /// runs made before it existed): the frame maps alone shape the noise.
    public var noiseEnvelope: Bool? = true
    public var hasNoiseEnvelope: Bool { representation == .synth && (noiseEnvelope ?? false) }
    /// Training augmentation: each clip's gain is drawn uniformly in ± this many dB
    /// (0 or nil: off; nil in runs made before it existed).
    public var gainAugmentation: Double? = 6
    public var gainAugmentationDB: Double { gainAugmentation ?? 0 }
    /// Training augmentation: each clip is shifted by up to ± this many milliseconds (never
    /// earlier than its onset; 0 or nil: off; nil in runs made before it existed).
    public var shiftAugmentation: Double? = 10
    public var shiftAugmentationMilliseconds: Double { shiftAugmentation ?? 0 }
    /// True when every clip of the folder trains, no kit held out (`timbre train --all-kits`,
    /// for a model to ship once its recipe has been evaluated on held-out kits); its validation
    /// passes re-measure the path-hash tenth of the training clips. nil in other runs.
    public var allKits: Bool? = nil
    public var trainsOnAllKits: Bool { allKits ?? false }
    /// The trained weights a fine-tuned run started from (`timbre train --from`): the source's
    /// path and step. nil for a run that started from a random initialisation.
    public var initialWeights: String? = nil

    public init() {}

    /// Frames of the decoder's STFT (centred frames: 1 + samples / hop).
    public var frames: Int { 1 + clipSamples / hop }
    public var bins: Int { fftSize / 2 + 1 }
    /// Number of 2× upsampling stages from the decoder's first frames to `frames`.
    public var upsamplings: Int { 4 }
    /// Frames the decoder starts from: enough that `upsamplings` doublings cover `frames`.
    public var seedFrames: Int { (frames + (1 << upsamplings) - 1) >> upsamplings }
    /// Extra decoder inputs: a one-hot class when conditional.
    public var conditionSize: Int { conditional ? classes.count : 0 }

    /// The settings that decide the weights' shapes and meaning: a run can start from another
    /// run's weights (`--from`) only when these agree.
    public var architecture: DrumVAEArchitecture {
        DrumVAEArchitecture(sampleRate: sampleRate, clipSamples: clipSamples, fftSize: fftSize, hop: hop,
                            latentSize: latentSize, channels: channels, representation: representation,
                            conditional: conditional, classes: conditional ? classes : [],
                            demodulatedPhase: phaseDemodulated,
                            sinusoids: representation == .synth ? sinusoidCount : nil,
                            noiseBands: representation == .synth ? noiseBandCount : nil,
                            transientSamples: representation == .synth ? transientLength : nil,
                            transientBands: representation == .synth ? transientBandCount : nil,
                            noiseEnvelope: representation == .synth ? hasNoiseEnvelope : nil)
    }

    /// Takes `source`'s architecture (`architecture`'s fields), keeping this configuration's
    /// training settings.
    public mutating func adoptArchitecture(of source: DrumVAEConfig) {
        sampleRate = source.sampleRate
        clipSamples = source.clipSamples
        fftSize = source.fftSize
        hop = source.hop
        latentSize = source.latentSize
        channels = source.channels
        representation = source.representation
        conditional = source.conditional
        if source.conditional { classes = source.classes }
        demodulatedPhase = source.phaseDemodulated
        sinusoids = source.sinusoidCount
        noiseBands = source.noiseBandCount
        transientSamples = source.transientLength
        transientBands = source.transientBandCount
        noiseEnvelope = source.hasNoiseEnvelope
    }

    public static func read(from url: URL) throws -> DrumVAEConfig {
        try readJSON(from: url, missing: "no such file (is this a run folder made by `timbre train`?)",
                     invalid: "not a run configuration")
    }

    public func write(to url: URL) throws { try writeJSON(self, to: url, pretty: true) }
}

/// The part of a configuration that decides the weights: shapes, the decoder's output and
/// the meaning of its inputs (a conditional model's class list). `timbre train --from` needs
/// the new run's to equal the source's.
public struct DrumVAEArchitecture: Equatable, Sendable {
    public var sampleRate: Int
    public var clipSamples: Int
    public var fftSize: Int
    public var hop: Int
    public var latentSize: Int
    public var channels: Int
    public var representation: Representation
    public var conditional: Bool
    /// A conditional model's classes (the one-hot input's order); empty otherwise.
    public var classes: [String]
    /// Whether the phase maps are demodulated (complex model; false for the others).
    public var demodulatedPhase: Bool
    /// The synth decoder's sizes (nil for the other representations).
    public var sinusoids: Int?
    public var noiseBands: Int?
    public var transientSamples: Int?
    public var transientBands: Int?
    public var noiseEnvelope: Bool?
}

/// Architecture flags a command line gave explicitly (nil: not given). A new run from scratch
/// takes the defaults for the rest; a run started `--from` another takes the source's
/// architecture and refuses a flag that contradicts it.
public struct ArchitectureChoice: Sendable {
    public var latentSize: Int?
    public var channels: Int?
    public var representation: Representation?
    /// Only `true` is a choice (`--conditional` is a flag without an inverse).
    public var conditional: Bool?
    public var demodulatedPhase: Bool?
    public var sinusoids: Int?
    public var noiseBands: Int?
    public var transientSamples: Int?
    public var transientBands: Int?
    public var noiseEnvelope: Bool?

    public init() {}

    /// Writes the given choices into a new run's configuration (the rest stay the defaults).
    public func apply(to config: inout DrumVAEConfig) {
        if let latentSize { config.latentSize = latentSize }
        if let channels { config.channels = channels }
        if let representation { config.representation = representation }
        if let conditional { config.conditional = conditional }
        if let demodulatedPhase { config.demodulatedPhase = demodulatedPhase }
        if let sinusoids { config.sinusoids = sinusoids }
        if let noiseBands { config.noiseBands = noiseBands }
        if let transientSamples { config.transientSamples = transientSamples }
        if let transientBands { config.transientBands = transientBands }
        if let noiseEnvelope { config.noiseEnvelope = noiseEnvelope }
    }

    /// The first given choice that differs from `source`'s architecture, as "--flag X (the
    /// source has Y)"; nil when every choice agrees.
    public func conflict(with source: DrumVAEConfig) -> String? {
        let a = source.architecture
        if let latentSize, latentSize != a.latentSize { return "--latent \(latentSize) (it has \(a.latentSize))" }
        if let channels, channels != a.channels { return "--channels \(channels) (it has \(a.channels))" }
        if let representation, representation != a.representation {
            return "--representation \(representation.rawValue) (it is \(a.representation.rawValue))"
        }
        if let conditional, conditional != a.conditional { return conditional ? "--conditional (it is not conditional)" : "no --conditional (it is conditional)" }
        if let demodulatedPhase, demodulatedPhase != a.demodulatedPhase {
            return demodulatedPhase ? "--demodulated-phase (it uses the STFT's own phase frame)" : "--no-demodulated-phase (its phase is demodulated)"
        }
        if let sinusoids, sinusoids != (a.sinusoids ?? sinusoids) { return "--sinusoids \(sinusoids) (it has \(a.sinusoids!))" }
        if let noiseBands, noiseBands != (a.noiseBands ?? noiseBands) { return "--noise-bands \(noiseBands) (it has \(a.noiseBands!))" }
        if let transientSamples, transientSamples != (a.transientSamples ?? transientSamples) {
            return "--transient-samples \(transientSamples) (it has \(a.transientSamples!))"
        }
        if let transientBands, transientBands != (a.transientBands ?? transientBands) {
            return "--transient-bands \(transientBands) (it has \(a.transientBands!))"
        }
        if let noiseEnvelope, let has = a.noiseEnvelope, noiseEnvelope != has {
            return has ? "--no-noise-envelope (its noise bands have an envelope)" : "--noise-envelope (its noise bands have none)"
        }
        return nil
    }
}

/// Decodes a run file, or throws one line naming it: `missing` when it is absent,
/// `invalid` (with the decoder's reason) when it does not decode.
func readJSON<T: Decodable>(_ type: T.Type = T.self, from url: URL, missing: String, invalid: String) throws -> T {
    guard let data = FileManager.default.contents(atPath: url.path) else {
        throw DrumVAEError(path: url.path, reason: missing)
    }
    do {
        return try JSONDecoder().decode(T.self, from: data)
    } catch {
        throw DrumVAEError(path: url.path, reason: "\(invalid) (\(error.localizedDescription))")
    }
}

/// Encodes with sorted keys and writes atomically.
func writeJSON<T: Encodable>(_ value: T, to url: URL, pretty: Bool) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = pretty ? [.prettyPrinted, .sortedKeys] : [.sortedKeys]
    try writeAtomically(try encoder.encode(value), to: url)
}

/// Writes data to a temporary file beside `url` and renames it into place.
func writeAtomically(_ data: Data, to url: URL) throws {
    let temp = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).\(getpid()).tmp")
    do {
        try data.write(to: temp)
    } catch {
        throw DrumVAEError(path: url.path, reason: "cannot write: \(error.localizedDescription)")
    }
    if rename(temp.path, url.path) != 0 {
        let reason = String(cString: strerror(errno))
        unlink(temp.path)
        throw DrumVAEError(path: url.path, reason: "cannot rename into place: \(reason)")
    }
}

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
    /// Training augmentation: each clip's gain is drawn uniformly in ± this many dB
    /// (0 or nil: off; nil in runs made before it existed).
    public var gainAugmentation: Double? = 6
    public var gainAugmentationDB: Double { gainAugmentation ?? 0 }
    /// Training augmentation: each clip is shifted by up to ± this many milliseconds (never
    /// earlier than its onset; 0 or nil: off; nil in runs made before it existed).
    public var shiftAugmentation: Double? = 10
    public var shiftAugmentationMilliseconds: Double { shiftAugmentation ?? 0 }

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

    public static func read(from url: URL) throws -> DrumVAEConfig {
        try readJSON(from: url, missing: "no such file (is this a run folder made by `timbre train`?)",
                     invalid: "not a run configuration")
    }

    public func write(to url: URL) throws { try writeJSON(self, to: url, pretty: true) }
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

import AudioIO
import Foundation

/// What `timbre prep` writes per one-shot: one channel or two.
public enum ChannelMode: String, Codable, Sendable, CaseIterable {
    /// Balanced, then downmixed to one channel.
    case mono
    /// Left and right balanced to equal RMS.
    case stereo
}

/// How each one-shot's level is set (the last stage).
public enum NormalizeMode: String, Codable, Sendable, CaseIterable {
    /// Sample peak at `target` dBFS.
    case peak
    /// Integrated loudness (BS.1770) at `target` LUFS, under the peak ceiling.
    case loudness
    /// Level left as it is.
    case none
}

/// Every choice `timbre prep` makes. Part of each journal entry: a rerun with different options
/// redoes the work.
public struct PrepOptions: Codable, Sendable, Equatable {
    /// Output length in seconds (every file is exactly this long).
    public var lengthSeconds: Double = 2.0
    /// Output sample rate.
    public var sampleRate: Int = 44100
    /// Mono or stereo output.
    public var channels: ChannelMode = .mono
    /// The level stage's mode.
    public var normalize: NormalizeMode = .peak
    /// dBFS (peak) or LUFS (loudness); nil means the mode's default (-1 dBFS, -20 LUFS).
    public var target: Double?
    /// Loudness mode never lets the sample peak exceed this (dBFS).
    public var peakCeilingDBFS: Double = -1.0
    /// Kept before each onset, in seconds.
    public var prerollSeconds: Double = 0.005
    /// Split recordings holding several hits at their onsets.
    public var slice: Bool = true
    /// High-pass corner for DC and rumble, in Hz (0 turns it off).
    public var highPassHz: Double = 20
    /// Spectral gating strength, 0 (off) to 1 (the gate's full 40 dB of reduction).
    public var denoise: Double = 0
    /// A recording of the noise alone; its SHA-256 stands in the options so a new profile redoes the work.
    public var noiseProfile: String?
    /// The noise profile file's content hash (filled in by the pipeline).
    public var noiseProfileHash: String?
    /// Output encoding.
    public var format: String = SampleFormat.float32.rawValue

    /// Defaults: 2 s, 44.1 kHz, mono, peak at -1 dBFS, 5 ms pre-roll, slicing on, 20 Hz high-pass, no denoise, float.
    public init() {}

    /// The level target with the mode's default filled in.
    public var resolvedTarget: Double {
        if let target { return target }
        switch normalize {
        case .peak: return -1
        case .loudness: return -20
        case .none: return 0
        }
    }

    /// Output frames per file.
    public var frameCount: Int { Int((lengthSeconds * Double(sampleRate)).rounded()) }

    /// The output encoding as AudioIO's type.
    public var sampleFormat: SampleFormat { SampleFormat(rawValue: format) ?? .float32 }

    /// A stable digest of the options (sorted-key JSON), stored in every journal entry.
    public var fingerprint: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return SHA256.hex((try? encoder.encode(self)) ?? Data())
    }

    /// Checks ranges; the message names the option.
    public func validate() throws {
        func fail(_ text: String) -> PrepError { PrepError(path: "options", reason: text) }
        guard lengthSeconds > 0, lengthSeconds <= 600 else { throw fail("--length must be between 0 and 600 seconds") }
        guard sampleRate >= 8000, sampleRate <= 384_000 else { throw fail("--rate must be between 8000 and 384000") }
        guard prerollSeconds >= 0, prerollSeconds < lengthSeconds else { throw fail("--preroll must be at least 0 and shorter than --length") }
        guard denoise >= 0, denoise <= 1 else { throw fail("--denoise must be between 0 and 1") }
        guard highPassHz >= 0, highPassHz < Double(sampleRate) / 2 else { throw fail("--highpass must be between 0 and half the rate") }
        guard resolvedTarget.isFinite, resolvedTarget <= 0 || normalize == .none else { throw fail("--target must be at most 0") }
        guard peakCeilingDBFS <= 0 else { throw fail("--peak-ceiling must be at most 0 dBFS") }
        guard SampleFormat(rawValue: format) != nil else { throw fail("--format must be 16, 24 or float") }
    }
}

/// A failure of one source or of the run, naming the file and the reason on one line.
public struct PrepError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The file concerned.
    public var path: String
    /// Why, on one line.
    public var reason: String

    /// Makes an error.
    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason.replacingOccurrences(of: "\n", with: " ")
    }

    /// `"<path>: <reason>"`.
    public var description: String { "\(path): \(reason)" }
}

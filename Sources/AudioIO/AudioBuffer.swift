import Foundation

/// Planar audio: one `[Float]` per channel, all the same length.
///
/// Samples are nominally in [-1, 1]; nothing enforces it (writing to an
/// integer file format clips out-of-range values).
public struct AudioBuffer: Sendable, Equatable {
    /// Frames per second.
    public var sampleRate: Double
    /// One array of samples per channel; every channel has `frameCount` samples.
    public var channels: [[Float]]

    /// Wraps existing planar samples. The channels should all have the same length.
    public init(sampleRate: Double, channels: [[Float]]) {
        self.sampleRate = sampleRate
        self.channels = channels
    }

    /// Silence: `channelCount` channels of `frameCount` zeros.
    public init(sampleRate: Double, channelCount: Int, frameCount: Int) {
        self.sampleRate = sampleRate
        self.channels = Array(repeating: [Float](repeating: 0, count: frameCount), count: channelCount)
    }

    /// The number of channels.
    public var channelCount: Int { channels.count }

    /// The number of frames (samples per channel); 0 when there are no channels.
    public var frameCount: Int { channels.first?.count ?? 0 }

    /// The length in seconds (0 when the sample rate is not positive).
    public var duration: Double { sampleRate > 0 ? Double(frameCount) / sampleRate : 0 }

    /// True when every channel has the same number of samples.
    public var isRectangular: Bool {
        let n = frameCount
        return channels.allSatisfy { $0.count == n }
    }
}

/// The sample encoding used when writing a file.
public enum SampleFormat: String, CaseIterable, Sendable {
    /// Signed 16-bit integer PCM.
    case pcm16
    /// Signed 24-bit integer PCM.
    case pcm24
    /// 32-bit IEEE float.
    case float32

    /// Parses a user-facing name: "16", "24", "float", "f32", "pcm16", "pcm24", "float32"
    /// (case-insensitive, surrounding spaces ignored).
    public init?(userName: String) {
        switch userName.trimmingCharacters(in: .whitespaces).lowercased() {
        case "16", "pcm16", "s16", "int16": self = .pcm16
        case "24", "pcm24", "s24", "int24": self = .pcm24
        case "float", "f32", "float32", "32f": self = .float32
        default: return nil
        }
    }

    /// Bits per sample.
    public var bitDepth: Int {
        switch self {
        case .pcm16: 16
        case .pcm24: 24
        case .float32: 32
        }
    }
}

/// A container type, chosen from a file name's extension.
public enum AudioFileType: String, CaseIterable, Sendable {
    /// RIFF WAVE (`.wav`, `.wave`).
    case wav
    /// Free Lossless Audio Codec (`.flac`); integer samples only.
    case flac
    /// Apple AIFF (`.aif`, `.aiff`, `.aifc`).
    case aiff
    /// Ogg Vorbis (`.ogg`, `.oga`); lossy.
    case ogg

    /// The type named by `url`'s extension (case-insensitive), or nil when it is not one of ours.
    public init?(url: URL) {
        self.init(fileExtension: url.pathExtension)
    }

    /// The type for a bare extension such as "wav" or "AIFF" (no dot), or nil.
    public init?(fileExtension: String) {
        switch fileExtension.lowercased() {
        case "wav", "wave": self = .wav
        case "flac": self = .flac
        case "aif", "aiff", "aifc": self = .aiff
        case "ogg", "oga": self = .ogg
        default: return nil
        }
    }
}

import CEbur128
import Foundation

/// A loudness measurement per ITU-R BS.1770 / EBU R128 (through libebur128).
public struct LoudnessMeasurement: Sendable, Equatable {
    /// Loudness in LUFS.
    public var lufs: Double
    /// True when the R128 gating applied (the clip holds at least one 400 ms block);
    /// false when the clip was shorter and the K-weighted mean over its whole length was taken.
    public var gated: Bool
}

/// The one place libebur128 is called.
public enum Loudness {
    /// The gating block of BS.1770: clips shorter than this have no gated measure.
    public static let gatingBlockSeconds = 0.4

    /// Integrated loudness of planar `channels` at `sampleRate`.
    ///
    /// Clips of at least 400 ms get the gated integrated loudness. Shorter clips (and clips the
    /// absolute gate silences entirely) get the ungated K-weighted loudness over their whole length
    /// (`ebur128_loudness_window` with the clip's duration). Returns nil for an empty or silent clip.
    public static func measure(_ channels: [[Float]], sampleRate: Double) -> LoudnessMeasurement? {
        let frames = channels.first?.count ?? 0
        guard frames > 0, !channels.isEmpty else { return nil }
        let durationMs = UInt(max(1, (Double(frames) / sampleRate * 1000).rounded(.down)))
        guard let created = ebur128_init(UInt32(channels.count), UInt(sampleRate), Int32(EBUR128_MODE_I.rawValue)) else { return nil }
        var owned: UnsafeMutablePointer<ebur128_state>? = created
        defer { ebur128_destroy(&owned) }
        let state = created
        if channels.count == 1 {
            // A mono file is played on both speakers: BS.1770 weights it as one front channel,
            // which is libebur128's default for channel 0.
            _ = ebur128_set_channel(state, 0, Int32(EBUR128_LEFT.rawValue))
        }
        // Mode I keeps a 400 ms window, enough for the ungated measure of any clip shorter than that.
        // (Raising it with ebur128_set_max_window zero-fills a buffer that costs far more than the measure.)
        var interleaved = [Float](repeating: 0, count: frames * channels.count)
        for (c, channel) in channels.enumerated() {
            for i in 0..<frames { interleaved[i * channels.count + c] = channel[i] }
        }
        let added = interleaved.withUnsafeBufferPointer { ebur128_add_frames_float(state, $0.baseAddress, frames) }
        guard added == EBUR128_SUCCESS.rawValue else { return nil }

        if Double(frames) / sampleRate >= gatingBlockSeconds {
            var gated = 0.0
            if ebur128_loudness_global(state, &gated) == EBUR128_SUCCESS.rawValue, gated.isFinite {
                return LoudnessMeasurement(lufs: gated, gated: true)
            }
        }
        var ungated = 0.0
        let window = min(durationMs, 400)
        guard ebur128_loudness_window(state, window, &ungated) == EBUR128_SUCCESS.rawValue, ungated.isFinite else {
            return nil
        }
        return LoudnessMeasurement(lufs: ungated, gated: false)
    }
}

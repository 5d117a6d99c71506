import DSP
import Foundation

/// Training augmentation: a random gain and a small time shift per clip and step.
///
/// The draws depend only on (seed, step, row in the batch), so a resumed run augments
/// exactly as an uninterrupted one. The gain is uniform in ±`gainAugmentation` dB; the
/// shift is uniform in ±`shiftAugmentation` ms, a delay padding the start with silence and
/// dropping the end, an advance dropping the start, but never more than the clip's onset
/// (the first sample at 10 % of its peak), so the attack stays whole and near the start.
struct Augmentation {
    let seed: UInt64
    let gainDB: Double
    let shiftSamples: Int

    init(config: DrumVAEConfig) {
        seed = config.seed
        gainDB = max(0, config.gainAugmentationDB)
        shiftSamples = max(0, Int((config.shiftAugmentationMilliseconds * Double(config.sampleRate) / 1000).rounded()))
    }

    var isOff: Bool { gainDB == 0 && shiftSamples == 0 }

    /// The gain (linear) and shift (samples, positive = later) for a row of a step's batch,
    /// before the onset limit.
    func draw(step: Int, row: Int) -> (gain: Float, shift: Int) {
        var rng = SplitMix64(seed: seed &* 0xD1B5_4A32_D192_ED03 &+ UInt64(step) &* 0x9E37_79B9_7F4A_7C15 &+ UInt64(row) &+ 0xA5A5)
        func uniform() -> Double { Double(rng.next() >> 11) / Double(1 << 53) * 2 - 1 }
        let db = uniform() * gainDB
        let shift = Int((uniform() * Double(shiftSamples)).rounded())
        return (Float(pow(10, db / 20)), shift)
    }

    /// The clip as augmented for this step and row (the clip itself when off).
    func apply(_ samples: [Float], step: Int, row: Int) -> [Float] {
        if isOff { return samples }
        var (gain, shift) = draw(step: step, row: row)
        if shift < 0 { shift = -min(-shift, Self.onset(samples)) }
        let n = samples.count
        var out = [Float](repeating: 0, count: n)
        for i in max(0, shift)..<min(n, n + shift) { out[i] = samples[i - shift] * gain }
        return out
    }

    /// The first sample whose magnitude reaches 10 % of the clip's peak (0 for silence).
    static func onset(_ samples: [Float]) -> Int {
        let peak = samples.reduce(0) { max($0, abs($1)) }
        guard peak > 0 else { return 0 }
        return samples.firstIndex { abs($0) >= 0.1 * peak } ?? 0
    }
}

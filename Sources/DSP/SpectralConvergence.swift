import Foundation

/// Spectral convergence, the standard measure of phase reconstruction (lower is better):
/// 20·log10(‖|S_rec| − |S_ref|‖_F / ‖|S_ref|‖_F) in dB.
///
/// Measured on the STFT of the reconstructed *audio*, never on the iterate inside an
/// algorithm: only what a listener gets counts. Random phase scores about −3 dB on drums.
public enum SpectralConvergence {
    /// Spectral convergence of one magnitude spectrogram against a reference of the same shape.
    public static func decibels(magnitude: [Float], reference: [Float]) -> Double {
        precondition(magnitude.count == reference.count, "spectrograms differ in size")
        var num = 0.0, den = 0.0
        for i in reference.indices {
            let d = Double(magnitude[i]) - Double(reference[i])
            num += d * d
            den += Double(reference[i]) * Double(reference[i])
        }
        guard den > 0 else { return num > 0 ? .infinity : -.infinity }
        return 10 * log10(num / den)
    }

    /// Spectral convergence of `audio` against a reference magnitude (`frames × bins`, made with
    /// the same STFT settings). Frames the audio lacks count as silence; extra frames are ignored.
    public static func decibels(audio: [Float], referenceMagnitude: [Float], stft: STFT) -> Double {
        let magnitude = stft.analyze(audio).magnitude
        let n = referenceMagnitude.count
        var m = [Float](repeating: 0, count: n)
        for i in 0..<min(n, magnitude.count) { m[i] = magnitude[i] }
        return decibels(magnitude: m, reference: referenceMagnitude)
    }

    /// Spectral convergence of `audio` against `reference` audio, both analysed with `stft`.
    public static func decibels(audio: [Float], reference: [Float], stft: STFT) -> Double {
        decibels(audio: audio, referenceMagnitude: stft.analyze(reference).magnitude, stft: stft)
    }
}

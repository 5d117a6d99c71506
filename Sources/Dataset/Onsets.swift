import CAubio
import Foundation
import Synchronization

/// Onset detection through aubio.
///
/// aubio plans its FFTs with FFTW, whose planner is not thread-safe; DSP's STFT plans under a lock
/// of its own. Every aubio object is therefore made and freed under `plannerLock`, and the pipeline
/// makes its STFTs before the parallel section, so no two plans are ever made at once.
public enum Onsets {
    static let plannerLock = Mutex(())

    /// aubio's detection functions that were compared (see docs/BENCHMARKS.md).
    public enum Method: String, Sendable, CaseIterable {
        case hfc, complex, specflux, energy, phase, kl, mkl
    }

    /// Onset times (in frames) of a mono signal: aubio's detection function `method` over
    /// `windowSize`-sample frames every `hop` samples, peak-picked with `threshold`, with at least
    /// `minimumGapSeconds` between onsets and a silence gate at `silenceDB` dBFS.
    public static func detect(
        _ signal: [Float], sampleRate: Double, method: Method = .hfc, windowSize: Int = 1024, hop: Int = 256,
        threshold: Double = 0.3, minimumGapSeconds: Double = 0.05, silenceDB: Double = -60
    ) -> [Int] {
        guard signal.count > 0 else { return [] }
        nonisolated(unsafe) var detector: OpaquePointer?
        plannerLock.withLock { _ in
            detector = new_aubio_onset(method.rawValue, UInt32(windowSize), UInt32(hop), UInt32(sampleRate))
        }
        guard let detector else { return [] }
        defer { plannerLock.withLock { _ in del_aubio_onset(detector) } }
        aubio_onset_set_threshold(detector, Float(threshold))
        aubio_onset_set_minioi_s(detector, Float(minimumGapSeconds))
        aubio_onset_set_silence(detector, Float(silenceDB))

        let input = new_fvec(UInt32(hop))!, output = new_fvec(1)!
        defer { del_fvec(input); del_fvec(output) }
        let data = fvec_get_data(input)!
        var onsets = [Int]()
        var position = 0
        // Feed one extra window of zeros so an onset near the end is still reported.
        let total = signal.count + windowSize
        while position < total {
            for i in 0..<hop {
                let j = position + i
                data[i] = j < signal.count ? signal[j] : 0
            }
            aubio_onset_do(detector, input, output)
            if fvec_get_data(output)![0] > 0 {
                let at = Int(aubio_onset_get_last(detector))
                if at < signal.count, onsets.last.map({ at > $0 }) ?? true { onsets.append(at) }
            }
            position += hop
        }
        return onsets
    }
}

import DSP
import Foundation

/// One clip's log-mel spectrogram and the frame-wise measures the features are built from.
///
/// One STFT (FFT 1024, hop 256, Hann) at the clip's rate; 64 Slaney mel bands in dB
/// (absolute: clips are loudness-normalised by prep, so level is part of the sound), floored at −80 dB:
/// below that a tail is inaudible, and a floor any lower would weigh a model's faint noise floor
/// against the digital silence of padded clips far above anything a listener hears.
public struct ClipAnalysis: Sendable {
    public static let fftSize = 1024
    public static let hop = 256
    public static let bands = 64
    public static let floorDB: Float = -80

    public var frames: Int
    /// `frames × bands`, frame-major, dB.
    public var logMel: [Float]
    /// Frame energy in dB (sum of squared magnitudes), floored.
    public var energyDB: [Float]
    /// Spectral centroid per frame, Hz.
    public var centroidHz: [Float]
    /// Spectral flatness per frame (geometric over arithmetic mean of the power), 0…1.
    public var flatness: [Float]
    public var frameSeconds: Double
    /// The drum descriptors the classifier names classes from (`DrumDescriptors`).
    public var descriptors: [Float]

    /// Analyses clips on all cores (one STFT per worker: an FFT plan's buffers are its own).
    public static func analyse(_ clips: [[Float]], sampleRate: Double) -> [ClipAnalysis] {
        let out = ResultSlots<ClipAnalysis>(count: clips.count)
        let mel = SparseMel(sampleRate: sampleRate)
        let workers = max(1, min(ProcessInfo.processInfo.activeProcessorCount, clips.count))
        let next = NextIndex()
        DispatchQueue.concurrentPerform(iterations: workers) { _ in
            let stft = STFT(size: fftSize, hop: hop, window: .hann)
            while let i = next.take(below: clips.count) {
                out.set(i, ClipAnalysis(clips[i], stft: stft, mel: mel, sampleRate: sampleRate))
            }
        }
        return out.values
    }

    init(_ samples: [Float], stft: STFT, mel: SparseMel, sampleRate: Double) {
        let spectrum = stft.analyze(samples)
        let bins = spectrum.bins
        frames = spectrum.frames
        frameSeconds = Double(Self.hop) / sampleRate
        var logMel = [Float](repeating: Self.floorDB, count: frames * Self.bands)
        var energy = [Float](repeating: Self.floorDB, count: frames)
        var centroid = [Float](repeating: 0, count: frames), flat = [Float](repeating: 1, count: frames)
        var power = [Float](repeating: 0, count: bins)
        let binHz = sampleRate / Double(Self.fftSize)
        var frameMeasures = DrumDescriptors.Frames(frames: frames, sampleRate: sampleRate)
        for t in 0..<frames {
            var total = 0.0, weighted = 0.0, logSum = 0.0
            for k in 0..<bins {
                let re = spectrum.real[t * bins + k], im = spectrum.imag[t * bins + k]
                let p = re * re + im * im
                power[k] = p
                total += Double(p)
                weighted += Double(p) * Double(k) * binHz
                logSum += Foundation.log(Double(p) + 1e-12)
            }
            frameMeasures.measure(power, frame: t)
            energy[t] = Swift.max(Self.floorDB, Float(10 * log10(total + 1e-20)))
            centroid[t] = total > 0 ? Float(weighted / total) : 0
            let arithmetic = total / Double(bins) + 1e-12
            flat[t] = Float(Swift.min(1, Foundation.exp(logSum / Double(bins)) / arithmetic))
            mel.apply(power, into: &logMel, offset: t * Self.bands)
        }
        self.logMel = logMel
        energyDB = energy
        centroidHz = centroid
        flatness = flat
        descriptors = []
        descriptors = DrumDescriptors.compute(self, frames: frameMeasures, samples: samples, sampleRate: sampleRate)
    }

    /// The first frame whose energy comes within 20 dB of the clip's loudest frame: the onset.
    public var onsetFrame: Int {
        let peak = energyDB.max() ?? Self.floorDB
        return energyDB.firstIndex { $0 >= peak - 20 } ?? 0
    }

    /// The loudest frame at or after the onset.
    public var peakFrame: Int {
        let start = onsetFrame
        var best = start
        for t in start..<frames where energyDB[t] > energyDB[best] { best = t }
        return best
    }

    /// Seconds from the onset to the loudest frame.
    public var attackSeconds: Double { Double(peakFrame - onsetFrame) * frameSeconds }

    /// Seconds from the loudest frame until the energy stays `drop` dB below it (the clip's end if never).
    public func decaySeconds(drop: Float = 30) -> Double {
        let p = peakFrame
        let level = energyDB[p] - drop
        var last = p
        for t in p..<frames where energyDB[t] > level { last = t }
        return Double(last - p + 1) * frameSeconds
    }
}

/// Mel filters applied as sparse rows (each band touches a few bins), power in, dB out.
struct SparseMel: Sendable {
    let rows: [(start: Int, weights: [Float])]

    init(sampleRate: Double) {
        let bank = MelFilterbank(sampleRate: sampleRate, fftSize: ClipAnalysis.fftSize, bands: ClipAnalysis.bands, minimumHz: 20)
        rows = (0..<bank.bands).map { b in
            let row = Array(bank.weights[b * bank.bins..<(b + 1) * bank.bins])
            let first = row.firstIndex { $0 > 0 } ?? 0, last = row.lastIndex { $0 > 0 } ?? 0
            return (first, Array(row[first...last]))
        }
    }

    func apply(_ power: [Float], into out: inout [Float], offset: Int) {
        for (b, row) in rows.enumerated() {
            var s: Float = 0
            for (i, w) in row.weights.enumerated() { s += w * power[row.start + i] }
            out[offset + b] = Swift.max(ClipAnalysis.floorDB, 10 * log10(s + 1e-20))
        }
    }
}

/// Results written by workers into their own slots, under a lock.
final class ResultSlots<T>: @unchecked Sendable {
    private var slots: [T?]
    private let lock = NSLock()
    init(count: Int) { slots = Array(repeating: nil, count: count) }
    func set(_ i: Int, _ value: T) { lock.lock(); slots[i] = value; lock.unlock() }
    var values: [T] { lock.lock(); defer { lock.unlock() }; return slots.map { $0! } }
}

/// A shared counter handing out indices to workers.
final class NextIndex: @unchecked Sendable {
    private var value = 0
    private let lock = NSLock()
    func take(below limit: Int) -> Int? {
        lock.lock(); defer { lock.unlock() }
        guard value < limit else { return nil }
        value += 1
        return value - 1
    }
}

/// The handcrafted, onset-aligned feature space.
///
/// From the onset (the first frame within 20 dB of the peak): mean log-mel in three windows
/// — attack (0–23 ms), body (23–150 ms), tail (150–800 ms) — over 16 bands (the 64 averaged in
/// fours), spectral centroid (log Hz) and flatness in each window, attack time and decay times
/// to −20 and −40 dB (log seconds). 57 values, standardised on the training clips by the caller.
public enum HandcraftedFeatures {
    public static let windowsSeconds: [(Double, Double)] = [(0, 0.023), (0.023, 0.15), (0.15, 0.8)]
    public static let bandGroups = 4

    public static func features(_ a: ClipAnalysis) -> [Double] {
        let onset = a.onsetFrame
        let coarse = ClipAnalysis.bands / bandGroups
        var out: [Double] = []
        for (from, to) in windowsSeconds {
            let first = min(a.frames - 1, onset + Int((from / a.frameSeconds).rounded()))
            let last = min(a.frames, max(first + 1, onset + Int((to / a.frameSeconds).rounded())))
            let n = Double(last - first)
            var mel = [Double](repeating: 0, count: coarse)
            var centroid = 0.0, flatness = 0.0
            for t in first..<last {
                for b in 0..<ClipAnalysis.bands { mel[b / bandGroups] += Double(a.logMel[t * ClipAnalysis.bands + b]) }
                centroid += Foundation.log(Double(a.centroidHz[t]) + 20)
                flatness += Double(a.flatness[t])
            }
            out += mel.map { $0 / (n * Double(bandGroups)) }
            out += [centroid / n, flatness / n]
        }
        out += [Foundation.log(a.attackSeconds + 0.001),
                Foundation.log(a.decaySeconds(drop: 20)), Foundation.log(a.decaySeconds(drop: 40))]
        return out
    }

    /// The features' names, in `features`' order: "body mel 5" is the body window's sixth
    /// band of 16 (lowest first), "tail centroid", "decay 40 dB".
    public static var names: [String] {
        var out: [String] = []
        for window in ["attack", "body", "tail"] {
            out += (0..<(ClipAnalysis.bands / bandGroups)).map { "\(window) mel \($0)" }
            out += ["\(window) centroid", "\(window) flatness"]
        }
        return out + ["attack time", "decay 20 dB", "decay 40 dB"]
    }

    public static func matrix(_ analyses: [ClipAnalysis]) -> FeatureMatrix {
        FeatureMatrix(rows: analyses.map(features))
    }
}

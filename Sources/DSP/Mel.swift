import Foundation

/// The mel scale of Slaney's Auditory Toolbox (librosa's default, `htk=False`): linear
/// below 1 kHz (3 mels per 200 Hz), logarithmic above.
public enum MelScale {
    private static let linearStep = 200.0 / 3
    private static let breakHz = 1000.0
    private static let breakMel = breakHz / linearStep
    private static let logStep = log(6.4) / 27

    /// Hertz to mels.
    public static func mel(hertz: Double) -> Double {
        hertz < breakHz ? hertz / linearStep : breakMel + log(hertz / breakHz) / logStep
    }

    /// Mels to hertz.
    public static func hertz(mel: Double) -> Double {
        mel < breakMel ? mel * linearStep : breakHz * exp(logStep * (mel - breakMel))
    }
}

/// Triangular mel filters over the bins of a real FFT, area-normalised as librosa's
/// `norm="slaney"`, and their Moore-Penrose pseudo-inverse (for going back from a mel
/// spectrogram to a linear-frequency magnitude).
public struct MelFilterbank: Sendable {
    /// Number of mel bands (rows of `weights`).
    public let bands: Int
    /// Number of FFT bins (`fftSize / 2 + 1`, columns of `weights`).
    public let bins: Int
    public let sampleRate: Double
    public let fftSize: Int
    /// Band edges: lowest and highest frequency covered, in hertz.
    public let minimumHz: Double, maximumHz: Double
    /// `bands × bins`, row-major.
    public let weights: [Float]
    /// `bins × bands`, row-major: the pseudo-inverse of `weights`.
    public let pseudoInverse: [Float]

    /// Centre frequency of each band in hertz.
    public var centreHz: [Double] {
        let lo = MelScale.mel(hertz: minimumHz), hi = MelScale.mel(hertz: maximumHz)
        return (1...bands).map { MelScale.hertz(mel: lo + (hi - lo) * Double($0) / Double(bands + 1)) }
    }

    /// Filters for `bands` bands between `minimumHz` and `maximumHz` (default: Nyquist).
    public init(sampleRate: Double, fftSize: Int, bands: Int = 128, minimumHz: Double = 0, maximumHz: Double? = nil) {
        precondition(bands >= 1 && fftSize >= 2 && sampleRate > 0)
        let top = min(maximumHz ?? sampleRate / 2, sampleRate / 2)
        precondition(minimumHz >= 0 && minimumHz < top, "mel bands need 0 ≤ minimumHz < maximumHz ≤ Nyquist")
        self.bands = bands
        self.bins = fftSize / 2 + 1
        self.sampleRate = sampleRate
        self.fftSize = fftSize
        self.minimumHz = minimumHz
        self.maximumHz = top
        let lo = MelScale.mel(hertz: minimumHz), hi = MelScale.mel(hertz: top)
        let edges = (0...(bands + 1)).map { MelScale.hertz(mel: lo + (hi - lo) * Double($0) / Double(bands + 1)) }
        var w = [Float](repeating: 0, count: bands * bins)
        for b in 0..<bands {
            let (left, centre, right) = (edges[b], edges[b + 1], edges[b + 2])
            let norm = 2 / (right - left)
            for k in 0..<bins {
                let f = Double(k) * sampleRate / Double(fftSize)
                let rising = (f - left) / (centre - left), falling = (right - f) / (right - centre)
                let v = max(0, min(rising, falling))
                if v > 0 { w[b * bins + k] = Float(v * norm) }
            }
        }
        weights = w
        pseudoInverse = Self.pseudoInverse(of: w, rows: bands, columns: bins)
    }

    /// The mel spectrogram (`frames × bands`) of a magnitude or power spectrogram (`frames × bins`).
    public func apply(_ spectrogram: [Float], frames: Int) -> [Float] {
        precondition(spectrogram.count == frames * bins, "expected \(frames) × \(bins) values")
        return Self.multiply(spectrogram, frames: frames, inner: bins, by: weights, transposedRows: bands)
    }

    /// The least-squares linear spectrogram (`frames × bins`) whose mel spectrogram is closest to
    /// `mel` (`frames × bands`), through the pseudo-inverse; negative values (which a magnitude
    /// cannot have) are set to zero unless `clampNegative` is false.
    public func invert(_ mel: [Float], frames: Int, clampNegative: Bool = true) -> [Float] {
        precondition(mel.count == frames * bands, "expected \(frames) × \(bands) values")
        var out = Self.multiply(mel, frames: frames, inner: bands, by: pseudoInverse, transposedRows: bins)
        if clampNegative { for i in out.indices where out[i] < 0 { out[i] = 0 } }
        return out
    }

    /// `x (frames × inner) · Mᵀ`, with M given as `transposedRows × inner` row-major.
    private static func multiply(_ x: [Float], frames: Int, inner: Int, by m: [Float], transposedRows rows: Int) -> [Float] {
        var out = [Float](repeating: 0, count: frames * rows)
        x.withUnsafeBufferPointer { xp in
            m.withUnsafeBufferPointer { mp in
                out.withUnsafeMutableBufferPointer { op in
                    for t in 0..<frames {
                        let xrow = xp.baseAddress! + t * inner
                        for r in 0..<rows {
                            let mrow = mp.baseAddress! + r * inner
                            var s: Float = 0
                            for i in 0..<inner { s += xrow[i] * mrow[i] }
                            op[t * rows + r] = s
                        }
                    }
                }
            }
        }
        return out
    }

    /// Moore-Penrose pseudo-inverse of a wide matrix A (`rows × columns`, rows ≤ columns):
    /// Aᵀ (A Aᵀ)⁺, with (A Aᵀ)⁺ from a Jacobi eigen-decomposition that drops eigenvalues
    /// below 1e-10 of the largest. Bands narrower than one FFT bin make A Aᵀ singular,
    /// so a plain inverse would not do.
    static func pseudoInverse(of a: [Float], rows n: Int, columns m: Int) -> [Float] {
        var g = [Double](repeating: 0, count: n * n)
        for i in 0..<n {
            for j in i..<n {
                var s = 0.0
                for k in 0..<m { s += Double(a[i * m + k]) * Double(a[j * m + k]) }
                g[i * n + j] = s
                g[j * n + i] = s
            }
        }
        let (values, vectors) = symmetricEigen(g, n: n)
        let largest = values.max() ?? 0
        // (A Aᵀ)⁺ = V diag(1/λ) Vᵀ over the kept eigenvalues.
        var ginv = [Double](repeating: 0, count: n * n)
        for e in 0..<n where values[e] > largest * 1e-10 {
            let inv = 1 / values[e]
            for i in 0..<n {
                let vi = vectors[i * n + e] * inv
                if vi == 0 { continue }
                for j in 0..<n { ginv[i * n + j] += vi * vectors[j * n + e] }
            }
        }
        var out = [Float](repeating: 0, count: m * n)
        for k in 0..<m {
            for j in 0..<n {
                var s = 0.0
                for i in 0..<n { s += Double(a[i * m + k]) * ginv[i * n + j] }
                out[k * n + j] = Float(s)
            }
        }
        return out
    }

    /// Eigenvalues and eigenvectors (columns of an `n × n` row-major matrix) of a symmetric
    /// matrix by cyclic Jacobi rotations.
    static func symmetricEigen(_ matrix: [Double], n: Int) -> (values: [Double], vectors: [Double]) {
        var a = matrix
        var v = [Double](repeating: 0, count: n * n)
        for i in 0..<n { v[i * n + i] = 1 }
        for _ in 0..<100 {
            var off = 0.0, diag = 0.0
            for i in 0..<n {
                diag += a[i * n + i] * a[i * n + i]
                for j in (i + 1)..<max(i + 1, n) { off += a[i * n + j] * a[i * n + j] }
            }
            if off <= 1e-30 * max(diag, 1e-300) { break }
            for p in 0..<n {
                for q in (p + 1)..<max(p + 1, n) {
                    let apq = a[p * n + q]
                    if abs(apq) < 1e-300 { continue }
                    let theta = (a[q * n + q] - a[p * n + p]) / (2 * apq)
                    let t = (theta >= 0 ? 1.0 : -1.0) / (abs(theta) + (theta * theta + 1).squareRoot())
                    let c = 1 / (t * t + 1).squareRoot(), s = t * c
                    for k in 0..<n {
                        let akp = a[k * n + p], akq = a[k * n + q]
                        a[k * n + p] = c * akp - s * akq
                        a[k * n + q] = s * akp + c * akq
                    }
                    for k in 0..<n {
                        let apk = a[p * n + k], aqk = a[q * n + k]
                        a[p * n + k] = c * apk - s * aqk
                        a[q * n + k] = s * apk + c * aqk
                    }
                    for k in 0..<n {
                        let vkp = v[k * n + p], vkq = v[k * n + q]
                        v[k * n + p] = c * vkp - s * vkq
                        v[k * n + q] = s * vkp + c * vkq
                    }
                }
            }
        }
        return ((0..<n).map { a[$0 * n + $0] }, v)
    }
}

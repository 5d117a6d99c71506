import Foundation

/// Kinds of second-order filter (Robert Bristow-Johnson's Audio EQ Cookbook).
public enum BiquadKind: String, Sendable, CaseIterable, Codable {
    case lowPass = "lowpass", highPass = "highpass", bandPass = "bandpass"
    case peak, lowShelf = "lowshelf", highShelf = "highshelf", notch
}

/// Normalised biquad coefficients (a0 = 1).
public struct BiquadCoefficients: Sendable, Equatable {
    public var b0: Float, b1: Float, b2: Float, a1: Float, a2: Float

    /// Passes everything unchanged.
    public static let identity = BiquadCoefficients(b0: 1, b1: 0, b2: 0, a1: 0, a2: 0)

    public init(b0: Float, b1: Float, b2: Float, a1: Float, a2: Float) {
        (self.b0, self.b1, self.b2, self.a1, self.a2) = (b0, b1, b2, a1, a2)
    }

    /// Cookbook coefficients. `frequency` in Hz, `q` the quality factor, `gainDB` for peak and shelves.
    public init(_ kind: BiquadKind, frequency: Double, q: Double = 0.7071, gainDB: Double = 0, sampleRate: Double) {
        let f = min(max(frequency, 1), sampleRate * 0.499)
        let w0 = 2 * Double.pi * f / sampleRate
        let cosw = cos(w0), sinw = sin(w0)
        let alpha = sinw / (2 * max(q, 1e-4))
        let A = pow(10, gainDB / 40)
        var b0 = 1.0, b1 = 0.0, b2 = 0.0, a0 = 1.0, a1 = 0.0, a2 = 0.0
        switch kind {
        case .lowPass:
            b0 = (1 - cosw) / 2; b1 = 1 - cosw; b2 = (1 - cosw) / 2
            a0 = 1 + alpha; a1 = -2 * cosw; a2 = 1 - alpha
        case .highPass:
            b0 = (1 + cosw) / 2; b1 = -(1 + cosw); b2 = (1 + cosw) / 2
            a0 = 1 + alpha; a1 = -2 * cosw; a2 = 1 - alpha
        case .bandPass:  // constant 0 dB peak gain
            b0 = alpha; b1 = 0; b2 = -alpha
            a0 = 1 + alpha; a1 = -2 * cosw; a2 = 1 - alpha
        case .notch:
            b0 = 1; b1 = -2 * cosw; b2 = 1
            a0 = 1 + alpha; a1 = -2 * cosw; a2 = 1 - alpha
        case .peak:
            b0 = 1 + alpha * A; b1 = -2 * cosw; b2 = 1 - alpha * A
            a0 = 1 + alpha / A; a1 = -2 * cosw; a2 = 1 - alpha / A
        case .lowShelf:
            let s = 2 * A.squareRoot() * alpha
            b0 = A * ((A + 1) - (A - 1) * cosw + s); b1 = 2 * A * ((A - 1) - (A + 1) * cosw); b2 = A * ((A + 1) - (A - 1) * cosw - s)
            a0 = (A + 1) + (A - 1) * cosw + s; a1 = -2 * ((A - 1) + (A + 1) * cosw); a2 = (A + 1) + (A - 1) * cosw - s
        case .highShelf:
            let s = 2 * A.squareRoot() * alpha
            b0 = A * ((A + 1) + (A - 1) * cosw + s); b1 = -2 * A * ((A - 1) + (A + 1) * cosw); b2 = A * ((A + 1) + (A - 1) * cosw - s)
            a0 = (A + 1) - (A - 1) * cosw + s; a1 = 2 * ((A - 1) - (A + 1) * cosw); a2 = (A + 1) - (A - 1) * cosw - s
        }
        self.init(b0: Float(b0 / a0), b1: Float(b1 / a0), b2: Float(b2 / a0), a1: Float(a1 / a0), a2: Float(a2 / a0))
    }

    /// Magnitude response in dB at `frequency`.
    public func responseDB(at frequency: Double, sampleRate: Double) -> Double {
        let w = 2 * Double.pi * frequency / sampleRate
        let (c1, s1, c2, s2) = (cos(w), sin(w), cos(2 * w), sin(2 * w))
        let nr = Double(b0) + Double(b1) * c1 + Double(b2) * c2, ni = -(Double(b1) * s1 + Double(b2) * s2)
        let dr = 1 + Double(a1) * c1 + Double(a2) * c2, di = -(Double(a1) * s1 + Double(a2) * s2)
        return 10 * log10((nr * nr + ni * ni) / max(dr * dr + di * di, 1e-300))
    }
}

/// One biquad section with its state (transposed direct form II). A value type with
/// no allocation: safe in a real-time callback.
public struct Biquad: Sendable {
    public var coefficients: BiquadCoefficients
    private var z1: Float = 0
    private var z2: Float = 0

    public init(_ coefficients: BiquadCoefficients = .identity) { self.coefficients = coefficients }

    /// Clears the filter's memory.
    public mutating func reset() { z1 = 0; z2 = 0 }

    /// Filters one sample.
    @inlinable @inline(__always)
    public mutating func process(_ x: Float) -> Float {
        let c = coefficients
        let y = c.b0 * x + z1Value
        z1Value = c.b1 * x - c.a1 * y + z2Value
        z2Value = c.b2 * x - c.a2 * y
        return y
    }

    @usableFromInline var z1Value: Float { get { z1 } set { z1 = newValue } }
    @usableFromInline var z2Value: Float { get { z2 } set { z2 = newValue } }

    /// Filters a buffer in place.
    public mutating func process(_ buffer: UnsafeMutableBufferPointer<Float>) {
        for i in buffer.indices { buffer[i] = process(buffer[i]) }
    }

    /// Filters an array in place.
    public mutating func process(_ samples: inout [Float]) {
        samples.withUnsafeMutableBufferPointer { process($0) }
    }
}

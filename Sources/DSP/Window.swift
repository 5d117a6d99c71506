import Foundation

/// Analysis and synthesis windows.
public enum Window: Sendable, Equatable {
    /// Periodic Hann (the DFT-even form used for STFTs): 0.5 − 0.5·cos(2πn/N).
    case hann
    /// Gaussian exp(−π (n − N/2)² / λ), with λ the time-frequency ratio in samples²
    /// (Průša's convention: for a Hann window of length N, the equivalent λ is about 0.25645·N²).
    case gaussian(lambda: Double)

    /// The window's samples for a given length.
    public func samples(_ size: Int) -> [Float] {
        switch self {
        case .hann:
            return (0..<size).map { n in Float(0.5 - 0.5 * cos(2 * Double.pi * Double(n) / Double(size))) }
        case .gaussian(let lambda):
            let centre = Double(size) / 2
            return (0..<size).map { n in
                let d = Double(n) - centre
                return Float(exp(-Double.pi * d * d / lambda))
            }
        }
    }

    /// The time-frequency ratio λ (samples²) of the Gaussian that best matches this window
    /// at length `size`: Průša et al. (2017) give 0.25645·N² for Hann; a Gaussian is its own.
    /// Phase-gradient heap integration needs it to turn magnitude slopes into phase slopes.
    public func gaussianLambda(size: Int) -> Double {
        switch self {
        case .hann: return 0.25645 * Double(size) * Double(size)
        case .gaussian(let lambda): return lambda
        }
    }
}

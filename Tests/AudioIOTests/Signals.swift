import AudioIO
import Foundation

/// A small deterministic random generator (SplitMix64), so failures reproduce.
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

enum Signals {
    /// `frames` samples of a sine at `frequency` Hz.
    static func sine(frequency: Double, sampleRate: Double, frames: Int, amplitude: Double = 0.5, phase: Double = 0) -> [Float] {
        (0..<frames).map { Float(amplitude * sin(2 * Double.pi * frequency * Double($0) / sampleRate + phase)) }
    }

    /// A distinct, deterministic test signal per channel: a sine (a different pitch per channel)
    /// plus low-level noise, peaking below 0.9 so integer formats do not clip.
    static func buffer(channelCount: Int, frames: Int, sampleRate: Double, seed: UInt64 = 1) -> AudioBuffer {
        var random = SeededGenerator(seed: seed)
        let channels = (0..<channelCount).map { c -> [Float] in
            let tone = sine(frequency: 220 * Double(c + 1), sampleRate: sampleRate, frames: frames, amplitude: 0.6)
            return tone.map { $0 + Float.random(in: -0.2...0.2, using: &random) }
        }
        return AudioBuffer(sampleRate: sampleRate, channels: channels)
    }

    /// The largest absolute difference between two equally long arrays (infinity when lengths differ).
    static func maxDifference(_ a: [Float], _ b: [Float]) -> Float {
        guard a.count == b.count else { return .infinity }
        return zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1)) }
    }

    /// Pearson correlation over the common prefix of two arrays.
    static func correlation(_ a: [Float], _ b: [Float]) -> Double {
        let n = min(a.count, b.count)
        guard n > 1 else { return 0 }
        let x = a.prefix(n).map(Double.init), y = b.prefix(n).map(Double.init)
        let mx = x.reduce(0, +) / Double(n), my = y.reduce(0, +) / Double(n)
        var sxy = 0.0, sxx = 0.0, syy = 0.0
        for i in 0..<n {
            sxy += (x[i] - mx) * (y[i] - my)
            sxx += (x[i] - mx) * (x[i] - mx)
            syy += (y[i] - my) * (y[i] - my)
        }
        return sxy / (sxx * syy).squareRoot()
    }

    /// Root-mean-square level.
    static func rms(_ a: [Float]) -> Double {
        guard !a.isEmpty else { return 0 }
        return (a.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(a.count)).squareRoot()
    }
}

/// True when an error's printed form is one line and mentions `path`.
func isOneLineNaming(_ error: any Error, _ path: String) -> Bool {
    let text = String(describing: error)
    return text.contains(path) && !text.contains(where: \.isNewline)
}

import Foundation
import Torch

/// The basic checks of generated one-shots: no NaN, no clipping, an onset in the first 20 ms,
/// decaying energy. Realism and copying are measured against held-out kits by
/// `timbre bench drums` (DrumEval), which replaced the copy checks once made here.
public struct GenerationCheck: Codable, Sendable {
    public struct Shot: Codable, Sendable {
        public var finite: Bool
        public var peak: Double
        public var onsetMilliseconds: Double
        /// RMS of the first 200 ms over RMS of 1.4…1.95 s, in dB.
        public var decayDB: Double
    }

    public var shots: [Shot]
    public var allFinite: Bool { shots.allSatisfy(\.finite) }
    public var noClipping: Bool { shots.allSatisfy { $0.peak < 1 } }
    public var onsetsEarly: Bool { shots.allSatisfy { $0.onsetMilliseconds <= 20 } }
    public var allDecay: Bool { shots.allSatisfy { $0.decayDB >= GenerationCheck.minimumDecayDB } }
    public var passes: Bool { allFinite && noClipping && onsetsEarly && allDecay }

    /// "Decays rather than stationary noise": the tail is at least this much below the attack.
    public static let minimumDecayDB = 6.0

    /// Generates `count` one-shots from the prior and measures each.
    public static func run(_ run: TrainedRun, count: Int, seed: UInt64, temperature: Double = 1) throws -> (GenerationCheck, [[Float]]) {
        let generated = try run.generate(count: count, className: nil, temperature: temperature, seed: seed).map(\.1)
        let rate = Double(run.config.sampleRate)
        let shots = generated.map { x in
            let peak = Double(x.reduce(0) { max($0, Swift.abs($1)) })
            let onset = x.firstIndex { Double(Swift.abs($0)) >= 0.1 * peak } ?? x.count
            func rms(_ from: Double, _ to: Double) -> Double {
                let slice = x[Int(from * rate)..<min(x.count, Int(to * rate))]
                return (slice.reduce(0) { $0 + Double($1) * Double($1) } / Double(max(1, slice.count))).squareRoot()
            }
            return Shot(finite: x.allSatisfy(\.isFinite), peak: peak, onsetMilliseconds: Double(onset) / rate * 1000,
                        decayDB: 20 * log10(max(rms(0, 0.2), 1e-12) / max(rms(1.4, 1.95), 1e-12)))
        }
        return (GenerationCheck(shots: shots), generated)
    }
}

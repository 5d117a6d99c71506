import DSP
import Foundation

/// Seeds for fuzz tests: a fixed default, overridden by `TIMBRE_FUZZ_SEED`, always printed,
/// so a failing run can be replayed exactly.
public enum FuzzSeed {
    /// The seed used when `TIMBRE_FUZZ_SEED` is not set.
    public static let defaultSeed: UInt64 = 0x7469_6D62_7265  // "timbre"

    /// The seed of this run (printed with `name`).
    public static func seed(for name: String) -> UInt64 {
        let text = ProcessInfo.processInfo.environment["TIMBRE_FUZZ_SEED"]
        let seed = text.flatMap { UInt64($0) } ?? defaultSeed
        print("fuzz \(name): seed \(seed) (TIMBRE_FUZZ_SEED=\(seed) replays it)")
        return seed
    }

    /// A generator seeded for `name`.
    public static func generator(for name: String) -> SeededGenerator { SeededGenerator(seed: seed(for: name)) }
}

/// The fuzz tests' generator: DSP's SplitMix64, the same sequence on every machine for a seed.
public typealias SeededGenerator = SplitMix64

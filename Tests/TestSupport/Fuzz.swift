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

/// SplitMix64: small, fast, and the same sequence on every machine for a seed.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

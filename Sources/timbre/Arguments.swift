import ArgumentParser
import AudioIO
import Dataset
import DrumVAE

// Option values ArgumentParser parses itself: a bad value is its one-line error naming the
// option, and nothing is unwrapped by hand.

extension SampleFormat: ExpressibleByArgument {
    /// "16", "24" or "float" (and the other names `SampleFormat(userName:)` knows).
    public init?(argument: String) { self.init(userName: argument) }
    public static var allValueStrings: [String] { ["16", "24", "float"] }
    public var defaultValueDescription: String {
        switch self {
        case .pcm16: "16"
        case .pcm24: "24"
        case .float32: "float"
        }
    }
}

extension ChannelMode: ExpressibleByArgument {}
extension NormalizeMode: ExpressibleByArgument {}

extension Representation: ExpressibleByArgument {}

/// `--loss-scales`: FFT sizes, comma-separated, each a power of two from 16 up.
struct LossScales: ExpressibleByArgument {
    var sizes: [Int]

    init(sizes: [Int]) { self.sizes = sizes }

    init?(argument: String) {
        var sizes = [Int]()
        for part in argument.split(separator: ",", omittingEmptySubsequences: false) {
            guard let n = Int(part.trimmingCharacters(in: .whitespaces)), n >= 16, n & (n - 1) == 0 else { return nil }
            sizes.append(n)
        }
        guard !sizes.isEmpty else { return nil }
        self.sizes = sizes
    }

    var defaultValueDescription: String { sizes.map(String.init).joined(separator: ",") }
}


/// A comma-separated list of counts, each at least 1 (`--iterations 32,100`).
struct CountList: ExpressibleByArgument {
    var counts: [Int]

    init(_ counts: [Int]) { self.counts = counts }

    init?(argument: String) {
        var counts = [Int]()
        for part in argument.split(separator: ",", omittingEmptySubsequences: false) {
            guard let n = Int(part.trimmingCharacters(in: .whitespaces)), n >= 1 else { return nil }
            counts.append(n)
        }
        guard !counts.isEmpty else { return nil }
        self.counts = counts
    }

    var defaultValueDescription: String { counts.map(String.init).joined(separator: ",") }
}

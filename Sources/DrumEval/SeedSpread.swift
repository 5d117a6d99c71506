import Foundation

/// The evaluation repeated with several seeds (`timbre bench drums --seeds N`): each seed draws
/// other sounds, trains its own classifier and resamples the bootstrap, so the spread of a
/// number over seeds is what one run of the bench can tell apart. The shipped default scored
/// three times gave handcrafted recall 0.22–0.33 and classifier precision 0.31–0.58
/// (docs/DRUMVAE.md): a bar near its threshold is decided by the seed unless it is read over
/// several.
public struct SeedSpread: Codable, Sendable {
    public struct Metric: Codable, Sendable, Equatable {
        public var name: String
        /// One value per seed, in seed order.
        public var values: [Double]
        public var mean: Double
        public var min: Double
        public var max: Double

        public init(name: String, values: [Double]) {
            self.name = name
            self.values = values
            mean = values.reduce(0, +) / Double(Swift.max(1, values.count))
            min = values.min() ?? .nan
            max = values.max() ?? .nan
        }
    }

    public struct Row: Codable, Sendable {
        public var name: String
        public var metrics: [Metric]
        /// Model rows: per bar of issue 15, in how many seeds it passed.
        public var barPasses: [String: Int]?
        /// Model rows: in how many seeds every bar passed.
        public var allBarsPass: Int?
    }

    public var seeds: [UInt64]
    public var rows: [Row]

    /// The numbers each row is summarised by.
    static func metrics(_ row: DrumBenchRow) -> [(String, Double)] {
        var out: [(String, Double)] = []
        for (space, s) in [("handcrafted", row.handcrafted), ("classifier", row.classifier)] {
            guard let s else { continue }
            out += [("\(space) precision", s.precision), ("\(space) recall", s.recall), ("\(space) KID upper", s.kidHigh)]
            if let close = s.closePairShare { out.append(("\(space) close pairs", close)) }
        }
        if let copy = row.copyShare, let z = row.meehanZ { out += [("copy share", copy), ("meehanZ", z)] }
        for (c, v) in (row.namedAsItsClass ?? [:]).sorted(by: { $0.key < $1.key }) { out.append(("named \(c)", v)) }
        return out
    }

    /// Summarises results of the same rows under different seeds.
    public static func summarise(_ results: [DrumBenchResult]) -> SeedSpread {
        let order = results.first?.order ?? []
        var rows: [Row] = []
        for name in order {
            let present = results.compactMap { $0.rows[name] }
            guard present.count == results.count, let first = present.first else { continue }
            let names = metrics(first).map(\.0)
            let perSeed = present.map { Dictionary(metrics($0), uniquingKeysWith: { a, _ in a }) }
            let summary = names.compactMap { metric -> Metric? in
                let values = perSeed.compactMap { $0[metric] }
                return values.count == present.count ? Metric(name: metric, values: values) : nil
            }
            var row = Row(name: name, metrics: summary)
            if first.kind == "model" {
                var passes: [String: Int] = [:]
                var all = 0
                for r in present {
                    let bars = r.bars ?? []
                    for bar in bars { passes[bar.name, default: 0] += bar.passes ? 1 : 0 }
                    if !bars.isEmpty && bars.allSatisfy(\.passes) { all += 1 }
                }
                row.barPasses = passes
                row.allBarsPass = all
            }
            if !summary.isEmpty { rows.append(row) }
        }
        return SeedSpread(seeds: results.map(\.setup.seed), rows: rows)
    }

    /// One line per row and number: mean [min – max] over the seeds; then each model's bars.
    public func table() -> [String] {
        var lines = ["over \(seeds.count) seeds (\(seeds.map(String.init).joined(separator: ", "))): mean [min – max]"]
        for row in rows {
            lines.append(DrumBenchReport.short(row.name) + ":")
            for m in row.metrics {
                let format = m.name == "meehanZ" ? "%.1f" : m.name.hasSuffix("KID upper") ? "%.3f" : "%.2f"
                lines.append("  " + m.name.padding(toLength: 24, withPad: " ", startingAt: 0)
                             + String(format: "\(format) [\(format) – \(format)]", m.mean, m.min, m.max))
            }
            if let passes = row.barPasses, let all = row.allBarsPass {
                lines.append("  issue 15's bars passed in: " + passes.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)/\(seeds.count)" }.joined(separator: ", ")
                             + "; all of them in \(all)/\(seeds.count)")
            }
        }
        return lines
    }
}

extension DrumBench {
    /// The evaluation once per seed (`options.seed`, +1, …), each in OUT/seed-S, and their
    /// spread in OUT/seeds.json.
    public static func runSeeds(_ options: DrumBenchOptions, count: Int, log: (String) -> Void = { _ in },
                                progress: (String, Double) -> Void = { _, _ in }) throws -> (results: [DrumBenchResult], spread: SeedSpread) {
        var results: [DrumBenchResult] = []
        for k in 0..<count {
            var o = options
            o.seed = options.seed &+ UInt64(k)
            o.out = options.out.appendingPathComponent("seed-\(o.seed)")
            log("seed \(o.seed) (\(k + 1) of \(count)): \(o.out.path)")
            results.append(try run(o, log: log) { name, fraction in progress("seed \(o.seed): \(name)", fraction) })
        }
        let spread = SeedSpread.summarise(results)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try DrumBenchReport.atomicWrite(try encoder.encode(spread), to: options.out.appendingPathComponent("seeds.json"))
        return (results, spread)
    }
}

import ArgumentParser
import DrumEval
import DrumVAE
import Foundation

struct BenchDrums: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "drums",
        abstract: "Drum evaluation: runs against held-out kits, with reference rows and controls computed in the same run.",
        discussion: """
        Rows: each RUN, retrieval, realVsReal (training kits against the reference, the ceiling), the \
        controls randomPhase, noiseBursts and jittered, and calibration (validation kits scored as if \
        generated). Writes OUT/result.json, OUT/report.html and its pictures; the drum classifier is \
        cached in OUT/cache. See docs/DRUMVAE.md.
        """)

    @Argument(help: "Run folders made by `timbre train`, or `default` for the shipped model (none: reference rows and controls only).")
    var runs: [String] = []

    @Option(help: "The prepared corpus the runs were trained on (default: the one the run records).")
    var dataset: String?

    @Option(help: "Real clips to compare against, any prepared folder (default: the corpus's held-out test kits).")
    var reference: String?

    @Option(help: "Sounds generated per run and per control.")
    var count: Int = 500

    @Option(help: "Sampling temperature of the runs' priors.")
    var temperature: Double = 1

    @Option(help: "Seed for generation, controls, bootstrap and the classifier.")
    var seed: UInt64 = 1

    @Option(help: "Run the whole evaluation this many times, with seeds --seed, --seed + 1, …, each in OUT/seed-S, and print each number's mean and range and how often each bar passed (OUT/seeds.json).")
    var seeds: Int = 1

    @Option(help: "Folder for result.json, report.html and the classifier cache.")
    var out: String = "bench-drums"

    @Option(help: "Training steps of the drum classifier (cached per corpus, split, seed and steps).")
    var classifierSteps: Int = 800

    @Option(help: "Bootstrap draws of KID's 95 % interval.")
    var bootstrap: Int = 1000

    @Flag(help: "Print result.json (with --seeds: seeds.json) on stdout instead of the table.")
    var json = false

    @OptionGroup var torch: TorchOptions

    func validate() throws {
        if count < 10 { throw ValidationError("--count must be at least 10") }
        if seeds < 1 { throw ValidationError("--seeds must be at least 1") }
        if classifierSteps < 1 || bootstrap < 1 { throw ValidationError("--classifier-steps and --bootstrap must be at least 1") }
        if runs.isEmpty && dataset == nil && reference == nil { throw ValidationError("give a RUN, --dataset or --reference") }
    }

    func run() throws {
        torch.apply()
        var options = DrumBenchOptions(runs: try runs.map(DefaultModel.resolve), dataset: dataset.map { URL(fileURLWithPath: $0) },
                                       reference: reference.map { URL(fileURLWithPath: $0) }, out: URL(fileURLWithPath: out))
        options.count = count
        options.temperature = temperature
        options.seed = seed
        options.classifierSteps = classifierSteps
        options.bootstrapDraws = bootstrap
        var reporter: ProgressReporter?
        var stage = ""
        let started = Date()
        let log: (String) -> Void = { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }
        let progress: (String, Double) -> Void = { name, fraction in
            if name != stage { stage = name; reporter = ProgressReporter(String(format: "[%3.0fs] %@", Date().timeIntervalSince(started), name)) }
            reporter?.update(fraction)
        }
        if seeds > 1 {
            let (results, spread) = try DrumBench.runSeeds(options, count: seeds, log: log, progress: progress)
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                print(String(decoding: try encoder.encode(spread), as: UTF8.self))
                return
            }
            for line in spread.table() { print(line) }
            print(String(format: "wrote %@/seeds.json and %@ (%.0f s)", out, results.map { "seed-\($0.setup.seed)/" }.joined(separator: ", "),
                         Date().timeIntervalSince(started)))
            return
        }
        let result = try DrumBench.run(options, log: log, progress: progress)
        if json {
            print(String(decoding: try result.json(), as: UTF8.self))
            return
        }
        for line in DrumBenchReport.table(result) { print(line) }
        print(String(format: "wrote %@/result.json and report.html (%.0f s)", out, result.setup.seconds))
    }
}

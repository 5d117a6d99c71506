import ArgumentParser
import DrumEval
import Foundation

struct BenchClassifier: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "classifier",
        abstract: "Drum evaluation's classifier: accuracy per class on kits it never saw, leave-one-kit-out and on the test kits.",
        discussion: """
        Leave-one-kit-out over the training and validation kits (each fold trains on every other \
        kit for --steps steps and names the held-out kit's drums), then the classifier `timbre bench \
        drums` uses (training kits, early stopping on the validation kits) on the test kits, in the \
        same run. Each is printed for the classifier (network and descriptor trees), the network \
        alone, the trees alone, three blends and a control (trees on labels shuffled within each \
        kit, which must fall toward chance); pooled over every kit, every kit but the largest \
        group, and that group alone. See docs/DRUMVAE.md.
        """)

    @Argument(help: "A prepared corpus with groups (`timbre corpus` or `timbre prep`).")
    var dataset: String

    @Option(help: "Training steps of each classifier.")
    var steps: Int = 800

    @Option(help: "Seed of every classifier.")
    var seed: UInt64 = 1

    @Flag(help: "Print the result as JSON on stdout.")
    var json = false

    @OptionGroup var torch: TorchOptions

    func validate() throws {
        if steps < 1 { throw ValidationError("--steps must be at least 1") }
    }

    func run() throws {
        torch.apply()
        let corpus = try EvalCorpus(directory: URL(fileURLWithPath: dataset), sampleRate: DrumBench.sampleRate,
                                    clipSamples: DrumBench.clipSamples)
        let log: (String) -> Void = { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }
        var reporter: ProgressReporter?
        var stage = ""
        let result = try ClassifierValidation.run(corpus: corpus, steps: steps, seed: seed, log: log) { name, fraction in
            if name != stage { stage = name; reporter = ProgressReporter(name) }
            reporter?.update(fraction)
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(result), as: UTF8.self))
            return
        }
        func line(_ accuracy: [ClassAccuracy]) -> String {
            accuracy.filter { $0.clips > 0 }.map { String(format: "%@ %.0f%% (%d)", $0.className, $0.accuracy * 100, $0.clips) }
                .joined(separator: ", ")
        }
        print("classifier v\(DrumClassifier.version), \(steps) steps, seed \(seed); rows: the classifier (network and trees), " +
              "the log-mel network alone, the descriptor trees alone, the control (trees on labels shuffled within each kit: must fall to chance)")
        let largest = result.largestGroup
        let parts: [(String, KeyPath<ClassifierValidation.Fold, [ClassAccuracy]>)] =
            [("classifier", \.accuracy), ("network", \.networkAccuracy), ("trees", \.treesAccuracy), ("control", \.shuffledAccuracy)]
        let scopes: [(String, (String) -> Bool)] = [
            ("leave one kit out, \(result.folds.count) kits", { _ in true }),
            ("leave one kit out, every kit but \(largest ?? "-")", { $0 != largest }),
            ("\(largest ?? "-") held out", { $0 == largest }),
        ]
        for (scope, keep) in scopes {
            print(scope + ":")
            for (name, part) in parts { print("  \(name.padding(toLength: 10, withPad: " ", startingAt: 0)) " + line(result.pooled(part, where: keep))) }
            for (i, w) in ClassifierValidation.blendWeights.enumerated() {
                let rows = result.folds.filter { keep($0.group) }.map { $0.blendAccuracy[i] }
                print("  " + String(format: "blend %.2f", w) + " " + line(ClassifierValidation.pool(rows, classes: result.classes)))
            }
        }
        print("test kits (\(result.testGroups.joined(separator: ", "))), the classifier `bench drums` uses:")
        for (name, row) in [("classifier", result.testKits), ("network", result.testKitsNetwork), ("trees", result.testKitsTrees)] {
            print("  \(name.padding(toLength: 10, withPad: " ", startingAt: 0)) " + line(row))
        }
        print(String(format: "%.0f s", result.seconds))
    }
}

import ArgumentParser
import Benchmarks
import Foundation
import ModelHost
import Torch

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Benchmarks that report ratios against a baseline measured in the same run.",
        subcommands: [
            BenchInference.self,

            // bench prep (add here).
            BenchPrep.self,

            // bench phase.
            BenchPhase.self,

            // bench training / generation (add here).
            BenchTrain.self, BenchReconstruction.self, BenchDrums.self, BenchClassifier.self,

            // bench capacity (add here).
            BenchCapacity.self,
        ])
}

struct BenchInference: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inference",
        abstract: "Time per block of the host against a bare libtorch loop on the same module, interleaved.")

    @Option(help: "The model (.ts).")
    var model: String

    @Option(help: "Samples per block (a multiple of the model's minimum block).")
    var block: Int = 2048

    @Option(help: "The method to time.")
    var method: String = "forward"

    @Option(help: "Timed calls of each kind.")
    var iterations: Int = 200

    @Flag(help: "Print the result as JSON.")
    var json = false

    @OptionGroup var torch: TorchOptions

    func run() throws {
        torch.apply()
        let nnModel = try NNModel(contentsOf: URL(fileURLWithPath: model))
        let progress = ProgressReporter("bench inference")
        let result = try InferenceBenchmark.run(model: nnModel, method: method, block: block,
                                                iterations: iterations, progress: progress.update)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(result), as: UTF8.self))
            return
        }
        func cell(_ text: String, _ width: Int) -> String {
            String(repeating: " ", count: max(0, width - text.count)) + text
        }
        func row(_ name: String, _ s: TimingStats) -> String {
            name.padding(toLength: 20, withPad: " ", startingAt: 0)
                + cell(String(format: "%.3f", s.medianMilliseconds), 11)
                + cell(String(format: "%.3f", s.p99Milliseconds), 11)
                + cell(String(format: "%.3f", s.meanMilliseconds), 11)
                + cell(String(format: "%.1fx", s.realTimeFactor), 11)
        }
        print("\(result.model): \(result.method), block \(result.block) at \(result.sampleRate) Hz, \(result.threads) thread(s), \(result.host.count) calls each, interleaved")
        print(String(repeating: " ", count: 20) + cell("median ms", 11) + cell("p99 ms", 11) + cell("mean ms", 11) + cell("RT factor", 11))
        print(row("timbre host", result.host))
        print(row("bare libtorch loop", result.baseline))
        print(String(format: "host / baseline (median): %.3f", result.overheadRatio))
    }
}

import ArgumentParser
import Benchmarks
import DrumVAE
import Foundation
import Torch

struct BenchTrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Drum VAE: training steps/s against the same model in PyTorch (same run), and generation speed.")

    @Option(help: "Clips per step.")
    var batch: Int = 8

    @Option(help: "Convolution channels.")
    var channels: Int = 96

    @Option(help: "Latent dimensions.")
    var latent: Int = 16

    @Option(help: "Decoder: complex or synth (the same trunk; PyTorch runs the same decoder).")
    var representation: String = "complex"

    @Option(help: "Timed steps per round.")
    var steps: Int = 10

    @Option(help: "Rounds (timbre then PyTorch, alternating).")
    var rounds: Int = 3

    @Option(help: "Python with torch (Debian's python3-torch).")
    var python: String = "/usr/bin/python3"

    @Flag(help: "Print the result as JSON.")
    var json = false

    @OptionGroup var torch: TorchOptions

    func run() throws {
        torch.apply()
        var config = DrumVAEConfig()
        config.batchSize = batch
        config.channels = channels
        config.latentSize = latent
        guard let chosen = Representation(rawValue: representation), chosen != .magnitude else {
            throw ValidationError("--representation is complex or synth")
        }
        config.representation = chosen
        let progress = ProgressReporter("bench train")
        let r = try TrainingBenchmark.run(config: config, steps: steps, rounds: rounds,
                                          python: URL(fileURLWithPath: python), progress: progress.update)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(r), as: UTF8.self))
            return
        }
        print("drum VAE, \(config.representation.rawValue) decoder, \(r.parameters) parameters, batch \(r.batch), \(r.threads) thread(s), \(steps) steps x \(rounds) rounds, interleaved")
        print(String(format: "training   timbre (Swift) %.3f steps/s   PyTorch %.3f steps/s   timbre / PyTorch %.3f",
                     r.timbreStepsPerSecond, r.pytorchStepsPerSecond, r.ratio))
        print("           rounds: timbre " + r.timbreRounds.map { String(format: "%.3f", $0) }.joined(separator: " ")
              + "  PyTorch " + r.pytorchRounds.map { String(format: "%.3f", $0) }.joined(separator: " "))
        print(String(format: "generation one 2 s one-shot: median %.1f ms, %.1fx real time", r.generationMedianSeconds * 1000, r.generationRealTimeFactor))
    }
}

struct BenchReconstruction: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reconstruction",
        abstract: "Drum VAE: validation multi-scale spectral convergence (FFT 2048..128) of runs; magnitude-only runs with zero phase and Griffin-Lim; each run's true-phase ceiling; the bar's margins.")

    @Argument(help: "Run folders made by `timbre train`.")
    var runs: [String]

    @Option(help: "The dataset the runs were trained on (its validation split is measured).")
    var dataset: String

    @Option(help: "Griffin-Lim iterations for magnitude-only runs.")
    var iterations: Int = 32

    @Flag(help: "Print the result as JSON.")
    var json = false

    @Flag(help: "Also print each row's mean per drum class of the validation split.")
    var byClass = false

    @OptionGroup var torch: TorchOptions

    func run() throws {
        torch.apply()
        var rows: [ReconstructionEvaluation.Row] = []
        var countByClass: [String: Int] = [:]
        for path in runs {
            let trained = try TrainedRun(URL(fileURLWithPath: path))
            let data = try OneShotDataset(directory: URL(fileURLWithPath: dataset), sampleRate: trained.config.sampleRate,
                                          clipSamples: trained.config.clipSamples, split: trained.split)
            rows += try ReconstructionEvaluation.run(trained, dataset: data, griffinLimIterations: iterations)
            // Every run is measured on the validation split of the same --dataset.
            countByClass = Dictionary(grouping: data.validation, by: \.className).mapValues(\.count)
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(rows), as: UTF8.self))
            return
        }
        print("run".padding(toLength: 24, withPad: " ", startingAt: 0) + "representation  inversion                    step  clips  spectral convergence")
        for r in rows {
            print(r.run.padding(toLength: 24, withPad: " ", startingAt: 0)
                  + r.representation.padding(toLength: 16, withPad: " ", startingAt: 0)
                  + r.inversion.padding(toLength: 27, withPad: " ", startingAt: 0)
                  + String(format: "%6d %6d  %8.2f dB", r.step, r.clips, r.convergenceDB))
        }
        if byClass {
            let classes = Set(rows.flatMap(\.byClass.keys)).sorted()
            print("\nper class (dB; clips: " + classes.map { c in "\(c) \(countByClass[c] ?? 0)" }.joined(separator: ", ") + ")")
            print("run".padding(toLength: 24, withPad: " ", startingAt: 0) + "inversion".padding(toLength: 27, withPad: " ", startingAt: 0)
                  + classes.map { $0.padding(toLength: 8, withPad: " ", startingAt: 0) }.joined())
            for r in rows {
                print(r.run.padding(toLength: 24, withPad: " ", startingAt: 0) + r.inversion.padding(toLength: 27, withPad: " ", startingAt: 0)
                      + classes.map { c in r.byClass[c].map { String(format: "%6.2f  ", $0) } ?? "     -  " }.joined())
            }
        }
    }
}

import ArgumentParser
import DrumVAE
import Foundation

struct Encode: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the latent coordinates (posterior means and log-variances) of sounds as JSON.")

    @Argument(help: "Audio files.")
    var files: [String]

    @Option(name: .customLong("run"), help: ArgumentHelp("The run folder made by `timbre train` (default: the shipped model).", valueName: "run"))
    var runFolder: String?

    @OptionGroup var torch: TorchOptions

    func run() throws {
        torch.apply()
        let trained = try TrainedRun(DefaultModel.resolve(runFolder))
        let clips = try files.map { try trained.loadClip(URL(fileURLWithPath: $0)) }
        let codes = try trained.encode(clips)
        let entries: [[String: Any]] = zip(files, codes).map { file, code in
            ["file": file, "latent": code.mean.map(Double.init), "logVariance": code.logVariance.map(Double.init)]
        }
        let data = try JSONSerialization.data(withJSONObject: entries, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        print(String(decoding: data, as: UTF8.self))
    }
}

import ArgumentParser
import DrumVAE
import Foundation

struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Generate new drum one-shots from a trained run's prior, as WAV files.")

    @Argument(help: ArgumentHelp("The run folder made by `timbre train`.", valueName: "run"))
    var runFolder: String

    @Option(help: "How many one-shots.")
    var count: Int = 12

    @Option(name: .customLong("class"), help: "The drum class (a run trained with --conditional).")
    var className: String?

    @Option(help: "Scale of the prior's standard deviation (lower: tamer, higher: wilder).")
    var temperature: Double = 1.0

    @Option(help: "Seed for the latent draws.")
    var seed: UInt64 = 1

    @Option(help: "Folder for the WAV files.")
    var out: String

    @OptionGroup var torch: TorchOptions

    func validate() throws {
        if count < 1 { throw ValidationError("--count must be at least 1") }
        if !(temperature > 0) { throw ValidationError("--temperature must be above 0") }
    }

    func run() throws {
        torch.apply()
        let trained = try TrainedRun(URL(fileURLWithPath: runFolder))
        let outURL = URL(fileURLWithPath: out)
        try FileManager.default.createDirectory(at: outURL, withIntermediateDirectories: true)
        let shots = try trained.generate(count: count, className: className, temperature: temperature, seed: seed)
        for (i, shot) in shots.enumerated() {
            let url = outURL.appendingPathComponent(String(format: "%@-%03d.wav", shot.0 ?? "oneshot", i + 1))
            try trained.write(shot.1, to: url)
            print(url.path)
        }
    }
}

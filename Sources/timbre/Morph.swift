import ArgumentParser
import DrumVAE
import Foundation

struct Morph: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Encode two sounds, walk the latent line between them, decode each step to a WAV.")

    @Argument(help: "The first sound.")
    var a: String

    @Argument(help: "The second sound.")
    var b: String

    @Option(name: .customLong("run"), help: ArgumentHelp("The run folder made by `timbre train` (default: the shipped model).", valueName: "run"))
    var runFolder: String?

    @Option(help: "Points on the line, both ends included.")
    var steps: Int = 8

    @Option(name: .customLong("class"), help: "The drum class to decode with (a conditional run; default its first class).")
    var className: String?

    @Option(help: "Folder for the WAV files.")
    var out: String

    @OptionGroup var torch: TorchOptions

    func validate() throws {
        if steps < 2 { throw ValidationError("--steps must be at least 2") }
    }

    func run() throws {
        torch.apply()
        let trained = try TrainedRun(DefaultModel.resolve(runFolder))
        let first = try trained.loadClip(URL(fileURLWithPath: a)), second = try trained.loadClip(URL(fileURLWithPath: b))
        let outURL = URL(fileURLWithPath: out)
        try FileManager.default.createDirectory(at: outURL, withIntermediateDirectories: true)
        for (k, shot) in try trained.morph(first, second, steps: steps, className: className).enumerated() {
            let url = outURL.appendingPathComponent(String(format: "morph-%02d.wav", k))
            try trained.write(shot, to: url)
            print(url.path)
        }
    }
}

import ArgumentParser
import DrumVAE
import Foundation

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Export a trained run as a TorchScript model for nn~/nn.ar, PyTorch and timbre.",
        discussion: """
        decode [D+1, R, 1, 1]: channel 0 is a trigger (a one-shot starts where it rises above 0.5, \
        from that frame's latent in channels 1..D; one-shots overlap and ring across calls). \
        encode [1, 1, D+1, R]: a trigger and the latent of each detected hit. \
        forward [1, 1, 1, 1]: each hit re-synthesised from its own latent.
        """)

    @Argument(help: ArgumentHelp("The run folder made by `timbre train`, or `default` for the shipped model.", valueName: "run"))
    var runFolder: String

    @Argument(help: "The TorchScript file to write (.ts).")
    var model: String

    @Option(help: "Samples per latent frame: a power of two from 512 to 4096.")
    var block: Int = 2048

    @Option(name: .customLong("class"), help: "For a conditional run: the class one-shots are decoded as (default its first).")
    var className: String?

    func run() throws {
        let trained = try TrainedRun(DefaultModel.resolve(runFolder))
        try TorchScriptExport(run: trained, block: block, className: className).write(to: URL(fileURLWithPath: model))
        print("\(model): \(trained.config.latentSize) latent dimensions + trigger, \(block) samples per frame, \(trained.config.sampleRate) Hz (step \(trained.step))")
    }
}

import ArgumentParser
import DrumVAE
import Foundation

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Export a trained run as a TorchScript model for nn~/nn.ar, PyTorch and timbre.",
        discussion: """
        Trigger contract 2 (the default, a drum machine): decode [K+D, R, 1, 1] has one velocity \
        channel per class, then D latent offsets from the class mean; every frame where a velocity \
        channel is above 0 starts a one-shot of that class at that gain (at most 1); all hits of a \
        frame sound and ring across calls. encode [1, 1, K+D, R]: velocity 1 on the likeliest class \
        and the offsets of each detected hit. forward [1, 1, 1, 1]: each hit re-synthesised. \
        Contract 1 (--contract 1, and exports made before contract 2): decode [D+1, R, 1, 1], \
        channel 0 a trigger (a one-shot starts where it rises above 0.5) and channels 1..D the latent.
        """)

    @Argument(help: ArgumentHelp("The run folder made by `timbre train`, or `default` for the shipped model.", valueName: "run"))
    var runFolder: String

    @Argument(help: "The TorchScript file to write (.ts).")
    var model: String

    @Option(help: "Samples per latent frame: a power of two from 512 to 4096.")
    var block: Int = 2048

    @Option(help: "The trigger contract: 2 (a velocity channel per class) or 1 (one trigger channel above 0.5).")
    var contract: Int = 2

    @Option(name: .customLong("class"), help: "Contract 1, a conditional run: the class one-shots are decoded as (default its first).")
    var className: String?

    func run() throws {
        let trained = try TrainedRun(DefaultModel.resolve(runFolder))
        let export = try TorchScriptExport(run: trained, block: block, className: className, contract: contract)
        try export.write(to: URL(fileURLWithPath: model))
        let inputs = contract == 2
            ? "velocity channels \(export.hitClasses.map(\.name).joined(separator: ", ")) + \(trained.config.latentSize) latent offsets"
            : "trigger + \(trained.config.latentSize) latent dimensions"
        print("\(model): trigger contract \(contract), \(inputs), \(block) samples per frame, \(trained.config.sampleRate) Hz (step \(trained.step))")
    }
}

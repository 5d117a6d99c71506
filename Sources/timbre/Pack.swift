import ArgumentParser
import DrumVAE
import Foundation

struct Pack: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Pack a trained run for shipping: float16 weights, config, prior and split, no optimiser state.",
        discussion: """
        Writes FOLDER/weights.pt, config.json, prior.json and split.json (other files, such as a \
        model card, are kept). `generate`, `morph`, `encode`, `export` and `train --from` read the \
        folder as they read a run. `make train-default` packs into Resources/default.
        """)

    @Argument(help: ArgumentHelp("The run folder made by `timbre train`.", valueName: "run"))
    var runFolder: String

    @Argument(help: "The folder to write.")
    var folder: String

    func run() throws {
        let trained = try TrainedRun(URL(fileURLWithPath: runFolder))
        let bytes = try trained.pack(to: URL(fileURLWithPath: folder))
        print("\(folder): step \(trained.step), \(trained.model.parameterCount) parameters, weights.pt \(bytes) bytes")
    }
}

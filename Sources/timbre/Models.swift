import ArgumentParser
import ClientCommands
import Foundation
import ModelStore
import Torch

/// `timbre models`: the model library (`list`, `remove` and `fetch` also run in the light front end).
struct Models: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The model library: list, add, fetch and remove models in the models folder.",
        discussion: """
        One folder, $XDG_DATA_HOME/timbre/models (default ~/.local/share/timbre/models), which \
        `serve` and `render` search after their --models-dir folders. `list` shows the catalogue \
        of published RAVE models (ACIDS-IRCAM, Intelligent Instruments Lab) and what is installed; \
        see docs/MODELS.md.
        """,
        subcommands: [ModelsList.self, ModelsAdd.self, ModelsRemove.self, ModelsFetch.self])
}

/// `timbre models add FILE`: describes the model (as `timbre info`) and copies it in.
struct ModelsAdd: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add",
        abstract: "Describe a model file (rate, methods, latent size) and copy it into the models folder.")

    @Argument(help: "A TorchScript model (.ts) with the nn~ interface.")
    var file: String

    @Option(help: "Install under this name (default: the file's name).")
    var name: String?

    @Flag(help: "Replace an installed model of the same name.")
    var force = false

    func run() throws {
        Torch.applyDefaults()
        let source = URL(fileURLWithPath: file)
        let description = try NNModel(contentsOf: source).describe()
        guard !description.methods.isEmpty else {
            throw UserError("\(file): not an nn~ model (no method with <name>_params); not added")
        }
        print(Info.render(description))
        let installed = try ModelsFolder.standard().install(copying: source, as: name ?? source.lastPathComponent, replace: force)
        print("installed \(installed.path)")
    }
}

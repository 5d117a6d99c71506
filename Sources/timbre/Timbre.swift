import ArgumentParser
import AudioIO
import ClientCommands
import Control
import DrumVAE
import Engine
import Dataset
import Errors
import Foundation
import Torch

/// The `timbre` command as `timbre-core` runs it (the `timbre` front end hands it every
/// command line but `send` and `status`): each subcommand parses, calls one library entry
/// point, and prints.
@main
struct Timbre: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "timbre",
        abstract: "Neural audio on Linux: run RAVE models, offline and live.",
        version: "0.1.0",
        subcommands: [
            // Any nn~ / RAVE model, offline.
            Info.self, Process.self,

            // Dataset preparation (add here).
            Prep.self, Corpus.self, Groups.self,

            // Spectra and phase reconstruction.
            Invert.self, Spectrogram.self,

            // The drum VAE (add here).
            Train.self, Generate.self, Morph.self, Encode.self, Export.self, Pack.self,

            // The live engine (add here).
            Serve.self, Render.self, Send.self, Status.self, Repl.self,

            // Benchmarks.
            Bench.self,

            // The model library (issue 18).
            Models.self,
        ]
    )

    /// Runs the command line; any error becomes one line on stderr and an exit status
    /// (`ErrorReport`, shared with the light front end).
    static func main() {
        ErrorReport.main(Timbre.self)
    }
}

/// An error in what the user asked for, reported as one line.
struct UserError: TimbreError {
    var description: String
    init(_ description: String) { self.description = description }

    var operation: String { "command line" }
    var location: String? { nil }
    var reason: String { description }
}

/// Options every command that runs a model shares.
struct TorchOptions: ParsableArguments {
    @Option(help: "libtorch intra-op threads (1 is fastest for audio blocks on a busy machine).")
    var threads: Int = 1

    func apply() {
        Torch.applyDefaults()
        Torch.intraOpThreads = threads
    }
}

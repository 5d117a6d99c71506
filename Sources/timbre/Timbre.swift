import ArgumentParser
import AudioIO
import Control
import DrumVAE
import Engine
import Dataset
import Foundation
import Torch

/// The `timbre` command: each subcommand parses, calls one library entry point, and prints.
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
            Prep.self, Corpus.self,

            // Spectra and phase reconstruction.
            Invert.self, Spectrogram.self,

            // The drum VAE (add here).
            Train.self, Generate.self, Morph.self, Encode.self, Export.self,

            // The live engine (add here).
            Serve.self, Render.self, Send.self, Status.self,

            // Benchmarks.
            Bench.self,
        ]
    )

    /// Runs the command line; errors of timbre's own become one line on stderr and exit status 1.
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch let error as TorchError {
            fail(error.description)
        } catch let error as AudioFileError {
            fail(error.description)
        } catch let error as NpyError {
            fail(error.description)
        } catch let error as ResamplerError {
            fail(error.description)
        } catch let error as PrepError {
            fail(error.description)
        } catch let error as DrumVAEError {
            fail(error.description)
        } catch let error as UserError {
            fail(error.description)
        } catch let error as EngineError {
            fail(error.description)
        } catch let error as CommandError {
            fail(error.description)
        } catch {
            exit(withError: error)
        }
    }

    static func fail(_ message: String) -> Never {
        let line = message.replacingOccurrences(of: "\n", with: " ")
        FileHandle.standardError.write(Data("timbre: error: \(line)\n".utf8))
        Foundation.exit(1)
    }
}

/// An error in what the user asked for, reported as one line.
struct UserError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
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

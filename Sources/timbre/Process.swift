import ArgumentParser
import AudioIO
import Foundation
import ModelHost
import Torch

struct Process: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Stream a file through a model block by block, as a live host would.",
        discussion: """
        Audio is resampled to the model's rate and back. A mono model on a stereo file runs one \
        instance per channel (each keeps its own streaming state). `--method encode` writes the \
        latent trajectory as .npy (frames × dimensions, float32) plus a .json sidecar; \
        `--method decode` reads such a file and writes audio of the original rate and length. \
        The output has the input's length; offline the host adds no latency (block k out answers \
        block k in), and a model's own internal delay is left as the model makes it.
        """)

    @Option(help: "The model (.ts).")
    var model: String

    @Option(help: "The method to run: any the model has.")
    var method: String = "forward"

    @Option(help: "Samples per block at the model's rate (a multiple of its minimum block; default 2048 or the minimum block).")
    var block: Int?

    @Option(help: "Seed libtorch's random generator once before the first block (RAVE decoders draw noise).")
    var seed: UInt64?

    @Option(help: "Output sample format for audio: 16, 24 or float.")
    var format: String = "float"

    @OptionGroup var torch: TorchOptions

    @Argument(help: "Input: audio file (or .npy latents for --method decode).")
    var input: String

    @Argument(help: "Output: audio file (.wav/.flac) or .npy latents.")
    var output: String

    func run() throws {
        torch.apply()
        guard let sampleFormat = SampleFormat(userName: format) else {
            throw ValidationError("--format must be 16, 24 or float")
        }
        let nnModel = try NNModel(contentsOf: URL(fileURLWithPath: model))
        let progress = ProgressReporter("process")
        let report = try OfflineProcessor.process(
            model: nnModel, input: URL(fileURLWithPath: input), output: URL(fileURLWithPath: output),
            options: ProcessOptions(method: method, block: block, seed: seed, format: sampleFormat),
            progress: progress.update)
        print("""
        \(report.outputs.joined(separator: "\n"))
          method \(report.method), block \(report.block) samples at \(report.modelRate) Hz, \(report.blocks) blocks; \
        source \(report.sourceRate) Hz
          channels: \(report.channelMapping)
          latency: host adds \(report.hostLatencySamples) samples (the model's own delay is left in)
          \(String(format: "%.2f s, %.1fx real time", report.seconds, report.realTimeFactor))
        """)
    }
}

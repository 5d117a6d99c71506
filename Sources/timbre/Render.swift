import ArgumentParser
import Control
import Foundation
import ModelStore

struct Render: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a session offline over an input file through the live engine's graph.",
        discussion: """
        The same graph as `timbre serve` (conditioning, fades, latency, mixing) without JACK and \
        faster than real time: each node's model runs as soon as its block is complete, so a render \
        is exact and repeatable. Writes OUT/<label>.wav for every node's bus (stereo, silent where \
        the node was absent) and OUT/master.wav. A session file holds engine commands, one per line, \
        each optionally at a time: `@1.5 /timbre/toggle drums drums.ts` (see docs/OSC.md).
        """)

    @Option(help: "The session file (engine commands, one per line).")
    var session: String

    @Option(help: "The input audio (its first two channels are the engine's in_1 and in_2; mono feeds both).")
    var input: String

    @Option(help: "Folder for the rendered files.")
    var out: String

    @Option(name: .customLong("models-dir"), help: "A folder models may be loaded from (repeatable; default: the current folder).")
    var modelsDirs: [String] = []

    @Option(name: .customLong("files-dir"), help: "A folder /timbre/seq/encode may read and /timbre/session/save may write in (repeatable; default: read from the models folders, write nowhere).")
    var filesDirs: [String] = []

    @Option(help: "Seconds to render (default: the input's length).")
    var seconds: Double?

    @Option(help: "Default block in samples at the model's rate (raised to a model's minimum block).")
    var block: Int = 2048

    @Option(name: .customLong("inference-allowance"), help: "Time allowed for inference, in blocks (part of the latency).")
    var inferenceAllowance: Double = 1

    @Option(help: "Samples per cycle, as JACK's buffer size.")
    var period: Int = 512

    @OptionGroup var torch: TorchOptions

    func run() throws {
        torch.apply()
        guard block > 0, period > 0, period <= 8192, inferenceAllowance >= 0 else {
            throw ValidationError("--block and --period must be positive (period at most 8192), --inference-allowance not negative")
        }
        var options = SessionRender.Options(
            session: URL(fileURLWithPath: session), input: URL(fileURLWithPath: input),
            outputDirectory: URL(fileURLWithPath: out), modelsDirectories: modelsDirectories(modelsDirs))
        options.seconds = seconds
        options.block = block
        options.inferenceAllowance = inferenceAllowance
        options.period = period
        options.filesDirectories = filesDirs.isEmpty ? nil : filesDirs.map { URL(fileURLWithPath: $0) }
        let progress = ProgressReporter("render")
        let report = try SessionRender.run(options, progress: progress.update)
        for file in report.files { print(file.path) }
        for (label, latency) in report.latencies.sorted(by: { $0.key < $1.key }) {
            print("  \(label): latency \(latency) samples")
        }
        let audio = Double(report.frames) / Double(report.sampleRate)
        print(String(format: "  %.2f s of audio in %.2f s (%.1fx real time)", audio, report.seconds, audio / max(report.seconds, 1e-9)))
    }
}

/// The `--models-dir` folders (or the current folder when none is given), then the user's
/// models folder (`timbre models`), searched last.
func modelsDirectories(_ paths: [String]) -> [URL] {
    (paths.isEmpty ? ["."] : paths).map { URL(fileURLWithPath: $0) } + [ModelsFolder.standard().url]
}

import ArgumentParser
import AudioIO
import Dataset
import Foundation
import Synchronization

struct Prep: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Turn folders of drum recordings into a uniform one-shot training set.",
        discussion: """
        Stages per file: decode (resampled to --rate), 20 Hz high-pass, slice at onsets, balance \
        and downmix, trim (peak-based, the onset put at --preroll), denoise, fix the length with \
        a fade, normalise last (see docs/PREP.md). Writes \
        DIR/<class>/<name>.wav, DIR/manifest.jsonl (one line per one-shot, sorted by path, with \
        its kit and group), DIR/groups.json and DIR/errors.jsonl. A kit is the first folder below \
        each input; kits sharing identical or near-identical one-shots form one group. A rerun (after an interruption, even kill -9) skips sources already \
        done and ends with the same files. Exit status: 0 when every input succeeded, \
        3 when some sources failed (listed in errors.jsonl), 1 for a usage or output error.
        """)

    @Argument(help: "Audio files and folders (searched recursively).")
    var inputs: [String]

    @Option(help: "The dataset folder to write.")
    var out: String

    @Option(help: "Seconds per one-shot.")
    var length: Double = 2.0

    @Option(help: "Output sample rate.")
    var rate: Int = 44100

    @Option(help: "mono or stereo.")
    var channels: String = "mono"

    @Option(help: "peak, loudness or none.")
    var normalize: String = "peak"

    // `.unconditional`: the value is negative, and `--target -1` must not read "-1" as a flag.
    @Option(parsing: .unconditional, help: "dBFS for peak (default -1), LUFS for loudness (default -20).")
    var target: Double?

    @Option(name: .customLong("peak-ceiling"), parsing: .unconditional, help: "Loudness mode keeps the sample peak at or under this (dBFS).")
    var peakCeiling: Double = -1

    @Option(help: "Milliseconds kept before each onset.")
    var preroll: Double = 5

    @Flag(name: .customLong("no-slice"), help: "Keep each file whole (no splitting at onsets).")
    var noSlice = false

    @Option(help: "High-pass corner for DC and rumble, Hz (0: off).")
    var highpass: Double = 20

    @Option(help: "Spectral gating strength, 0 (off) to 1.")
    var denoise: Double = 0

    @Option(name: .customLong("noise-profile"), help: "A recording of the noise alone (default: each file's quietest frames).")
    var noiseProfile: String?

    @Option(help: "Output sample format: 16, 24 or float.")
    var format: String = "float"

    @Option(help: "Parallel workers (the default is the number of cores).")
    var jobs: Int = ProcessInfo.processInfo.activeProcessorCount

    func run() throws {
        var options = PrepOptions()
        options.lengthSeconds = length
        options.sampleRate = rate
        guard let channelMode = ChannelMode(rawValue: channels) else { throw UserError("--channels must be mono or stereo") }
        options.channels = channelMode
        guard let mode = NormalizeMode(rawValue: normalize) else { throw UserError("--normalize must be peak, loudness or none") }
        options.normalize = mode
        options.target = target
        options.peakCeilingDBFS = peakCeiling
        options.prerollSeconds = preroll / 1000
        options.slice = !noSlice
        options.highPassHz = highpass
        options.denoise = denoise
        options.noiseProfile = noiseProfile.map { URL(fileURLWithPath: $0).standardizedFileURL.path }
        guard let sampleFormat = SampleFormat(userName: format) else { throw UserError("--format must be 16, 24 or float") }
        options.format = sampleFormat.rawValue

        let reporter = Mutex(ProgressReporter("prep"))
        let summary = try Pipeline.run(
            inputs: inputs.map { URL(fileURLWithPath: $0) }, output: URL(fileURLWithPath: out), options: options,
            workers: max(1, jobs), progress: { fraction in reporter.withLock { $0.update(fraction) } })
        print(Self.render(summary, out: out))
        if !summary.failures.isEmpty { throw ExitCode(3) }
    }

    static func render(_ s: PrepSummary, out: String) -> String {
        var lines = [String]()
        lines.append("\(out): \(s.oneShotsWritten) one-shots from \(s.filesRead) files read"
                     + (s.resumed > 0 ? " (\(s.resumed) already done by an earlier run)" : "")
                     + String(format: " in %.1f s", s.seconds))
        lines.append("  groups: \(s.groups) (\(s.mergedGroups) merging kits that share sounds; see groups.json)")
        let skipped = s.skipped.filter { $0.value > 0 }.sorted { $0.key < $1.key }
        lines.append("  skipped: " + (skipped.isEmpty ? "none" : skipped.map { "\($0.value) \($0.key)" }.joined(separator: ", ")))
        if s.failures.isEmpty {
            lines.append("  failed: none")
        } else {
            lines.append("  failed: \(s.failures.count) (see errors.jsonl)")
            for (reason, count) in s.failedByReason.sorted(by: { $0.key < $1.key }) { lines.append("    \(count) × \(reason)") }
            for f in s.failures { lines.append("    \(f.source): \(f.reason)") }
        }
        return lines.joined(separator: "\n")
    }
}

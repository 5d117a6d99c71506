import ArgumentParser
import Benchmarks
import Dataset
import Foundation
import Synchronization

struct BenchPrep: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prep",
        abstract: "timbre prep against an FFmpeg pipeline doing the same steps file by file, on the same files.",
        discussion: "The FFmpeg filter chain: \(PrepBenchmark.ffmpegFilter) (with -ac 1 -ar 44100).")

    @Argument(help: "Audio files and folders.")
    var inputs: [String]

    @Option(help: "FFmpeg processes at a time.")
    var ffmpegJobs: Int = 2

    @Option(help: "The ffmpeg executable.")
    var ffmpeg: String = "/usr/bin/ffmpeg"

    @Flag(help: "Print the result as JSON.")
    var json = false

    func run() throws {
        let reporter = Mutex(ProgressReporter("bench prep"))
        let r = try PrepBenchmark.run(inputs: inputs.map { URL(fileURLWithPath: $0) }, ffmpeg: URL(fileURLWithPath: ffmpeg),
                                      ffmpegJobs: ffmpegJobs,
                                      progress: { f in reporter.withLock { $0.update(f) } })
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            var object = try JSONSerialization.jsonObject(with: encoder.encode(r)) as! [String: Any]
            object["ratio"] = r.ratio
            print(String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys]), as: UTF8.self))
            return
        }
        print("\(r.files) audio files")
        print(String(format: "timbre prep (%d workers):      %8.2f s  (%d one-shots)", r.timbreWorkers, r.timbreSeconds, r.timbreOneShots))
        print(String(format: "ffmpeg per file (%d at once):  %8.2f s  (%d failed)", r.ffmpegJobs, r.ffmpegSeconds, r.ffmpegFailures))
        print(String(format: "timbre is %.1fx faster", r.ratio))
    }
}

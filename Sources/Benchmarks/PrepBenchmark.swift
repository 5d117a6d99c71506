import AudioIO
import DSP
import Dataset
import Foundation
import Synchronization

/// `timbre bench prep`: timbre's pipeline against an FFmpeg pipeline doing the original's steps
/// file by file, on the same files in the same run.
public enum PrepBenchmark {
    /// The FFmpeg filter chain of the baseline: peak-detected leading-silence removal, 20 Hz
    /// high-pass, FFT denoiser, EBU R128 loudness (-16 LUFS, -1 dBTP), resample to 44.1 kHz,
    /// pad and trim to 2 s with a 20 ms fade-out; `-ac 1` downmixes.
    public static let ffmpegFilter =
        "silenceremove=start_periods=1:start_threshold=-50dB:start_silence=0.005:detection=peak,"
        + "highpass=f=20,afftdn=nr=12,loudnorm=I=-16:TP=-1:LRA=11,aresample=44100,"
        + "apad=whole_dur=2,atrim=end=2,afade=t=out:st=1.98:d=0.02"

    /// The full FFmpeg command line for one file.
    public static func ffmpegArguments(input: String, output: String) -> [String] {
        ["-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-i", input, "-af", ffmpegFilter,
         "-ac", "1", "-ar", "44100", "-c:a", "pcm_f32le", output]
    }

    /// The options timbre runs with in the benchmark: the same steps (loudness -16 LUFS under a
    /// -1 dBFS ceiling, denoise, 20 Hz high-pass, 2 s at 44.1 kHz mono), slicing on.
    public static var timbreOptions: PrepOptions {
        var o = PrepOptions()
        o.normalize = .loudness
        o.target = -16
        o.denoise = 0.5
        return o
    }

    /// What was measured.
    public struct Result: Sendable, Codable {
        public var files: Int
        public var timbreSeconds: Double
        public var timbreOneShots: Int
        public var ffmpegSeconds: Double
        public var ffmpegFailures: Int
        public var ffmpegJobs: Int
        public var timbreWorkers: Int
        /// FFmpeg's time over timbre's: how many times faster timbre is.
        public var ratio: Double { ffmpegSeconds / max(timbreSeconds, 1e-9) }
    }

    /// Runs both over the audio files under `inputs` (timbre first, then FFmpeg with `ffmpegJobs`
    /// files at a time), each writing into its own temporary folder, removed afterwards.
    public static func run(inputs: [URL], ffmpeg: URL = URL(fileURLWithPath: "/usr/bin/ffmpeg"),
                           ffmpegJobs: Int = 2, workers: Int = ProcessInfo.processInfo.activeProcessorCount,
                           progress: @escaping @Sendable (Double) -> Void = { _ in }) throws -> Result {
        guard FileManager.default.isExecutableFile(atPath: ffmpeg.path) else {
            throw PrepError(path: ffmpeg.path, reason: "ffmpeg is not installed (scripts/bootstrap installs it)")
        }
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("timbre-bench-prep-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let timbreOut = scratch.appendingPathComponent("timbre"), ffmpegOut = scratch.appendingPathComponent("ffmpeg")
        try FileManager.default.createDirectory(at: ffmpegOut, withIntermediateDirectories: true)
        let sources = Pipeline.scan(inputs).sources

        let t0 = Date()
        let summary = try Pipeline.run(inputs: inputs, output: timbreOut, options: timbreOptions, workers: workers,
                                       progress: { progress($0 * 0.5) })
        let timbreSeconds = Date().timeIntervalSince(t0)

        let next = Atomic<Int>(0), done = Atomic<Int>(0), failures = Atomic<Int>(0)
        let t1 = Date()
        DispatchQueue.concurrentPerform(iterations: max(1, ffmpegJobs)) { _ in
            while true {
                let i = next.wrappingAdd(1, ordering: .relaxed).oldValue
                guard i < sources.count else { break }
                let process = Process()
                process.executableURL = ffmpeg
                process.arguments = ffmpegArguments(input: sources[i].url.path,
                                                    output: ffmpegOut.appendingPathComponent("\(i).wav").path)
                process.standardInput = FileHandle.nullDevice
                process.standardOutput = FileHandle.nullDevice
                process.standardError = FileHandle.nullDevice
                do {
                    try process.run()
                    process.waitUntilExit()
                    if process.terminationStatus != 0 { failures.wrappingAdd(1, ordering: .relaxed) }
                } catch {
                    failures.wrappingAdd(1, ordering: .relaxed)
                }
                let n = done.wrappingAdd(1, ordering: .relaxed).newValue
                progress(0.5 + 0.5 * Double(n) / Double(max(1, sources.count)))
            }
        }
        let ffmpegSeconds = Date().timeIntervalSince(t1)
        return Result(files: sources.count, timbreSeconds: timbreSeconds, timbreOneShots: summary.oneShotsWritten,
                      ffmpegSeconds: ffmpegSeconds, ffmpegFailures: failures.load(ordering: .relaxed),
                      ffmpegJobs: ffmpegJobs, timbreWorkers: workers)
    }
}

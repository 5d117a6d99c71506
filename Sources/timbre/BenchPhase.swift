import ArgumentParser
import Benchmarks
import AudioIO
import DSP
import Foundation

struct BenchPhase: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "phase",
        abstract: "Phase reconstruction on one-shots: every method and librosa.griffinlim, same clips, same run.",
        discussion: """
        DIR is a folder made by `timbre prep` (DIR/<class>/*.wav), or any folder of audio files \
        (searched recursively). The files are sorted by path and --limit of them are taken evenly \
        spaced through that list (so every class is in), mixed to mono, resampled to 44.1 kHz and \
        cut or zero-padded to --seconds. Each clip's STFT magnitude (Hann, --fft, --hop, centred) \
        is reconstructed by random phase, GLA, FGLA, PGHI and PGHI+FGLA at each --iterations count, \
        and by librosa.griffinlim (momentum 0.99) at the same counts, in a virtual environment with \
        librosa from PyPI (made on first use). Spectral convergence is measured by timbre on the \
        STFT of every reconstruction, librosa's included.
        """)

    @Argument(help: "Folder of one-shots.")
    var directory: String

    @Option(help: "Clips to use.")
    var limit: Int = 50

    @Option(help: "Clip length in seconds.")
    var seconds: Double = 2

    @Option(help: "Iteration counts, comma-separated.")
    var iterations: CountList = CountList([32, 100])

    @Option(help: "FFT size.")
    var fft: Int = 1024

    @Option(help: "Hop in samples.")
    var hop: Int = 128

    @Option(help: "PGHI's tolerance: bins quieter than this fraction of the loudest get random phase.")
    var tolerance: Float = 1e-3

    @Flag(help: "Skip the librosa baseline.")
    var noLibrosa = false

    @Option(help: "Virtual environment for librosa (default: $XDG_CACHE_HOME/timbre/bench-venv).")
    var venv: String?

    @Option(help: "The baseline script (default: scripts/bench-phase-librosa.py found beside the executable or the working directory).")
    var script: String?

    @Flag(help: "Print the rows as JSON.")
    var json = false

    static let audioExtensions: Set<String> = ["wav", "flac", "aif", "aiff", "ogg"]
    static let rate = 44100.0

    func run() throws {
        let counts = iterations.counts
        guard limit >= 1, seconds > 0, fft >= 16, fft % 2 == 0, hop >= 1, hop <= fft / 2 else {
            throw UserError("need --limit ≥ 1, --seconds > 0, an even --fft ≥ 16 and 1 ≤ --hop ≤ fft/2")
        }
        let (all, picks) = try Self.pick(from: directory, limit: limit)
        let length = Int((seconds * Self.rate).rounded())
        // A silent clip has no spectral convergence (0 / 0): it is replaced by the next file
        // in sorted order (before the next pick), and said so.
        var clips: [[Float]] = [], silent: [String] = []
        for (n, first) in picks.enumerated() {
            let end = n + 1 < picks.count ? picks[n + 1] : all.count
            for i in first..<end {
                let clip = try Self.clip(all[i], length: length)
                if clip.contains(where: { $0 != 0 }) {
                    clips.append(clip)
                    break
                }
                silent.append(all[i].lastPathComponent)
            }
        }
        if !silent.isEmpty {
            FileHandle.standardError.write(Data("bench phase: passed over \(silent.count) silent file(s): \(silent.joined(separator: ", "))\n".utf8))
        }
        guard !clips.isEmpty else { throw UserError("\(directory): every clip is silent") }
        let stft = STFT(size: fft, hop: hop)
        let progress = ProgressReporter("bench phase")
        var rows = PhaseBenchmark.run(clips: clips, stft: stft, cases: PhaseBenchmark.cases(iterations: counts), tolerance: tolerance,
                                      progress: { progress.update($0 * (noLibrosa ? 1 : 0.5)) })
        var librosaVersion: String?
        if !noLibrosa {
            let (version, baseline) = try runLibrosa(clips: clips, length: length, counts: counts, stft: stft)
            librosaVersion = version
            rows += baseline
            progress.update(1)
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(rows), as: UTF8.self))
            return
        }
        print("phase reconstruction: \(clips.count) clips of \(seconds) s at 44100 Hz from \(directory)")
        print("STFT: n_fft \(fft), hop \(hop), Hann, centred; spectral convergence on the reconstructed audio (lower is better)"
              + (librosaVersion.map { "; librosa \($0)" } ?? ""))
        print(Self.table(rows))
    }

    /// The audio files of a folder, sorted, and the indices of `limit` of them evenly spaced.
    static func pick(from directory: String, limit: Int) throws -> (all: [URL], picks: [Int]) {
        let root = URL(fileURLWithPath: directory)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: root.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw UserError("\(directory): not a folder")
        }
        let all = (FileManager.default.enumerator(at: root, includingPropertiesForKeys: nil)?.allObjects as? [URL] ?? [])
            .filter { audioExtensions.contains($0.pathExtension.lowercased()) && !$0.lastPathComponent.hasPrefix(".") }
            .sorted { $0.path < $1.path }
        guard !all.isEmpty else { throw UserError("\(directory): no audio files (.wav, .flac, .aif, .ogg) in it") }
        if all.count <= limit { return (all, Array(all.indices)) }
        return (all, (0..<limit).map { $0 * all.count / limit })
    }

    /// A file as a mono 44.1 kHz clip of exactly `length` samples.
    static func clip(_ url: URL, length: Int) throws -> [Float] {
        var audio = try AudioFile.read(url)
        guard audio.frameCount > 0 else { throw UserError("\(url.path): the file has no samples") }
        if audio.sampleRate != rate { audio = try Resampler.resample(audio, to: rate) }
        var mono = [Float](repeating: 0, count: length)
        for channel in audio.channels {
            for i in 0..<min(length, channel.count) { mono[i] += channel[i] / Float(audio.channelCount) }
        }
        return mono
    }

    /// librosa.griffinlim on the same clips, in its own virtual environment; scored here.
    func runLibrosa(clips: [[Float]], length: Int, counts: [Int], stft: STFT) throws -> (String, [PhaseBenchmark.Row]) {
        let python = try Self.librosaPython(venv: venv)
        let scriptURL = try Self.baselineScript(script)
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("timbre-bench-phase-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: work) }
        let clipsFile = work.appendingPathComponent("clips.npy")
        try Npy.write(clips.flatMap { $0 }, shape: [clips.count, length], to: clipsFile)
        let out = work.appendingPathComponent("out.npy"), timings = work.appendingPathComponent("timings.json")
        let status = try Self.run(python, [scriptURL.path, clipsFile.path, out.path, timings.path, "--fft", "\(stft.size)",
                                           "--hop", "\(stft.hop)", "--iterations", counts.map(String.init).joined(separator: ",")])
        guard status.code == 0 else {
            throw UserError("librosa baseline failed: \(status.stderr.split(separator: "\n").last ?? "exit \(status.code)")")
        }
        struct Timings: Decodable { var librosa: String; var iterations: [Int]; var seconds: [[Double]] }
        let t = try JSONDecoder().decode(Timings.self, from: Data(contentsOf: timings))
        let (_, values) = try Npy.read(out)
        var rows: [PhaseBenchmark.Row] = []
        for (j, iterations) in t.iterations.enumerated() {
            var scores: [Double] = []
            for (i, clip) in clips.enumerated() {
                let start = (j * clips.count + i) * length
                let audio = Array(values[start..<(start + length)])
                scores.append(SpectralConvergence.decibels(audio: audio, reference: clip, stft: stft))
            }
            rows.append(PhaseBenchmark.Row(name: "librosa.griffinlim", iterations: iterations, spectralConvergenceDB: scores, seconds: t.seconds[j]))
        }
        return (t.librosa, rows)
    }

    /// The virtual environment's python, with librosa installed on first use.
    static func librosaPython(venv: String?) throws -> URL {
        let env = ProcessInfo.processInfo.environment
        let cache = env["XDG_CACHE_HOME"].map { URL(fileURLWithPath: $0) }
            ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache")
        let dir = venv.map { URL(fileURLWithPath: $0) } ?? cache.appendingPathComponent("timbre/bench-venv")
        let python = dir.appendingPathComponent("bin/python")
        if FileManager.default.fileExists(atPath: python.path), (try? run(python, ["-c", "import librosa"]))?.code == 0 {
            return python
        }
        FileHandle.standardError.write(Data("bench phase: installing librosa from PyPI into \(dir.path) (once)\n".utf8))
        try FileManager.default.createDirectory(at: dir.deletingLastPathComponent(), withIntermediateDirectories: true)
        let made = try run(URL(fileURLWithPath: "/usr/bin/python3"), ["-m", "venv", dir.path])
        guard made.code == 0 else { throw UserError("\(dir.path): cannot make a virtual environment: \(made.stderr.split(separator: "\n").last ?? "")") }
        let pip = try run(dir.appendingPathComponent("bin/pip"), ["install", "--quiet", "librosa"])
        guard pip.code == 0 else { throw UserError("\(dir.path): pip install librosa failed: \(pip.stderr.split(separator: "\n").last ?? "")") }
        return python
    }

    /// scripts/bench-phase-librosa.py: given, or found above the executable or in the working directory.
    static func baselineScript(_ given: String?) throws -> URL {
        if let given {
            guard FileManager.default.fileExists(atPath: given) else { throw UserError("\(given): no such script") }
            return URL(fileURLWithPath: given)
        }
        let name = "scripts/bench-phase-librosa.py"
        var dir = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<6 {
            let candidate = dir.appendingPathComponent(name)
            if FileManager.default.fileExists(atPath: candidate.path) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        let here = URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent(name)
        if FileManager.default.fileExists(atPath: here.path) { return here }
        throw UserError("cannot find \(name) above the executable or in the working directory; pass --script")
    }

    static func run(_ executable: URL, _ arguments: [String]) throws -> (code: Int32, stderr: String) {
        let process = Foundation.Process()
        process.executableURL = executable
        process.arguments = arguments
        let err = Pipe()
        process.standardError = err
        process.standardOutput = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let data = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// The table: mean spectral convergence, ms per clip, and speed against librosa.
    static func table(_ rows: [PhaseBenchmark.Row]) -> String {
        func cell(_ s: String, _ w: Int) -> String { String(repeating: " ", count: max(0, w - s.count)) + s }
        let librosa = Dictionary(rows.filter { $0.name == "librosa.griffinlim" }.map { ($0.iterations, $0.meanMilliseconds) },
                                 uniquingKeysWith: { a, _ in a })
        let smallest = librosa.keys.min()
        var lines = ["method".padding(toLength: 20, withPad: " ", startingAt: 0) + cell("iterations", 11) + cell("SC dB", 9)
                     + cell("ms/clip", 10) + cell("librosa ms / ms", 17)]
        for r in rows {
            let isIterative = r.name != "pghi" && r.name != "random phase"
            // Non-iterative methods are compared with librosa's smallest count (the bar: PGHI vs 32 iterations).
            let reference = isIterative ? librosa[r.iterations] : smallest.flatMap { librosa[$0] }
            let ratio = r.name == "random phase" ? "-"
                : reference.map { String(format: "%.1fx", $0 / max(r.meanMilliseconds, 1e-9)) } ?? "-"
            let against = (r.name == "pghi" && reference != nil) ? " (vs \(smallest!))" : ""
            lines.append(r.name.padding(toLength: 20, withPad: " ", startingAt: 0)
                         + cell(isIterative ? "\(r.iterations)" : "-", 11)
                         + cell(String(format: "%.2f", r.meanSpectralConvergenceDB), 9)
                         + cell(String(format: "%.1f", r.meanMilliseconds), 10)
                         + cell(ratio + against, 17))
        }
        return lines.joined(separator: "\n")
    }
}

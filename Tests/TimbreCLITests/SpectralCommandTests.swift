import AudioIO
import Foundation
import Testing
import TestSupport

/// `timbre invert`, `timbre spectrogram` and `timbre bench phase`, end to end.
@Suite(.serialized)
struct SpectralCommandTests {
    /// A short decaying noise-and-tone hit.
    static func hit(_ n: Int = 8000) -> [Float] {
        var s: UInt64 = 7
        return (0..<n).map { i in
            s = s &* 6364136223846793005 &+ 1442695040888963407
            let noise = Float(Int64(bitPattern: s) >> 40) / Float(1 << 23)
            let t = Double(i) / 44100
            return Float(exp(-t / 0.03)) * (0.3 * noise + Float(0.5 * sin(2 * .pi * 180 * t)))
        }
    }

    static func expectOneLineError(_ r: ProcessResult, mentioning text: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(r.status != 0, sourceLocation: sourceLocation)
        let lines = r.stderr.split(separator: "\n")
        #expect(lines.count == 1, "\(r.stderr)", sourceLocation: sourceLocation)
        #expect(r.stderr.hasPrefix("timbre: error: "), "\(r.stderr)", sourceLocation: sourceLocation)
        #expect(r.stderr.contains(text), "\(r.stderr)", sourceLocation: sourceLocation)
    }

    @Test(arguments: [["spectrogram"], ["invert"], ["bench", "phase"]])
    func hasHelp(_ path: [String]) throws {
        let r = try runTimbre(path + ["--help"])
        #expect(r.status == 0)
        #expect(r.stdout.contains("USAGE"))
    }

    @Test(arguments: ["gla", "fgla", "pghi", "pghi+fgla"])
    func invertWritesAudioAndReportsSpectralConvergence(method: String) throws {
        let dir = TemporaryDirectory()
        let input = dir.file("in.wav"), output = dir.file("out.wav")
        try AudioFile.write(AudioBuffer(sampleRate: 44100, channels: [Self.hit()]), to: input)
        let r = try runTimbre(["invert", input.path, output.path, "--method", method, "--iterations", "10", "--fft", "512", "--hop", "128"])
        #expect(r.status == 0, "\(r.stderr)")
        let out = try AudioFile.read(output)
        #expect(out.frameCount == 8000 && out.sampleRate == 44100)
        // "  pghi, fft 512, hop 128: spectral convergence -19.30 dB, 12.3 ms"
        let db = r.stdout.split(separator: "convergence ").last.flatMap { Double($0.split(separator: " ").first ?? "") }
        #expect(db != nil && db! < -6, "\(r.stdout)")
        #expect(r.stdout.contains(" ms"))
    }

    @Test func invertsAMagnitudeArray() throws {
        let dir = TemporaryDirectory()
        // A magnitude made elsewhere: frames × 513 from a smooth, decaying spectrum.
        let frames = 60, bins = 513
        var m = [Float](repeating: 0, count: frames * bins)
        for t in 0..<frames { for k in 0..<bins { m[t * bins + k] = Float(exp(-Double(t) / 15) * exp(-Double(k) / 80)) * 10 } }
        try Npy.write(m, shape: [frames, bins], to: dir.file("m.npy"))
        let r = try runTimbre(["invert", "--magnitude", dir.file("m.npy").path, dir.file("out.wav").path, "--method", "pghi+fgla", "--iterations", "5"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(try AudioFile.read(dir.file("out.wav")).frameCount == (frames - 1) * 128)
    }

    @Test func invertRefusesBadInputWithOneLine() throws {
        let dir = TemporaryDirectory()
        // An empty file (no bytes), and a WAV with no samples.
        try Data().write(to: dir.file("empty.wav"))
        Self.expectOneLineError(try runTimbre(["invert", dir.file("empty.wav").path, dir.file("o.wav").path]), mentioning: "empty.wav")
        try AudioFile.write(AudioBuffer(sampleRate: 44100, channels: [[]]), to: dir.file("silent.wav"))
        if FileManager.default.fileExists(atPath: dir.file("silent.wav").path) {
            Self.expectOneLineError(try runTimbre(["invert", dir.file("silent.wav").path, dir.file("o.wav").path]), mentioning: "silent.wav")
        }
        // A magnitude with NaN.
        var m = [Float](repeating: 1, count: 10 * 513)
        m[3 * 513 + 5] = .nan
        try Npy.write(m, shape: [10, 513], to: dir.file("nan.npy"))
        Self.expectOneLineError(try runTimbre(["invert", "--magnitude", dir.file("nan.npy").path, dir.file("o.wav").path]), mentioning: "NaN")
        // Mismatched FFT settings: 257 bins is an FFT of 512, not the 1024 asked for.
        try Npy.write([Float](repeating: 1, count: 10 * 257), shape: [10, 257], to: dir.file("small.npy"))
        Self.expectOneLineError(try runTimbre(["invert", "--magnitude", dir.file("small.npy").path, dir.file("o.wav").path, "--fft", "1024"]),
                                mentioning: "257 bins")
        // A 1-D array.
        try Npy.write([Float](repeating: 1, count: 513), shape: [513], to: dir.file("flat.npy"))
        Self.expectOneLineError(try runTimbre(["invert", "--magnitude", dir.file("flat.npy").path, dir.file("o.wav").path]), mentioning: "2-D")
        // Nothing half-written.
        #expect(!FileManager.default.fileExists(atPath: dir.file("o.wav").path))
    }

    @Test func spectrogramWritesAPNG() throws {
        let dir = TemporaryDirectory()
        let input = dir.file("hit.wav")
        try AudioFile.write(AudioBuffer(sampleRate: 44100, channels: [Self.hit(), Self.hit()]), to: input)
        for extra in [[], ["--mel", "--range", "60", "--colors", "viridis"]] {
            let out = dir.file("hit\(extra.count).png")
            let r = try runTimbre(["spectrogram", input.path, out.path, "--size", "640x360"] + extra)
            #expect(r.status == 0, "\(r.stderr)")
            let bytes = try Data(contentsOf: out)
            #expect(bytes.starts(with: [0x89, 0x50, 0x4E, 0x47]))
            // IHDR width and height.
            #expect(bytes[16..<24].elementsEqual([0, 0, 2, 0x80, 0, 0, 1, 0x68]))
        }
        try Data().write(to: dir.file("empty.wav"))
        Self.expectOneLineError(try runTimbre(["spectrogram", dir.file("empty.wav").path, dir.file("x.png").path]), mentioning: "empty.wav")
        Self.expectOneLineError(try runTimbre(["spectrogram", input.path, dir.file("x.png").path, "--range", "0"]), mentioning: "--range")
    }

    @Test func benchPhasePrintsATable() throws {
        let dir = TemporaryDirectory()
        for (i, cls) in ["kick", "snare", "hat"].enumerated() {
            try FileManager.default.createDirectory(at: dir.file(cls), withIntermediateDirectories: true)
            try AudioFile.write(AudioBuffer(sampleRate: 22050, channels: [Array(Self.hit(3000 + 500 * i))]), to: dir.file("\(cls)/a.wav"))
        }
        try Data("{}\n".utf8).write(to: dir.file("manifest.jsonl"))
        let r = try runTimbre(["bench", "phase", dir.url.path, "--limit", "2", "--seconds", "0.25", "--iterations", "2,4", "--no-librosa"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("2 clips of 0.25 s"))
        for name in ["random phase", "gla", "fgla", "pghi", "pghi+fgla"] { #expect(r.stdout.contains(name)) }
        #expect(r.stdout.split(separator: "\n").count == 2 + 1 + 8)
        Self.expectOneLineError(try runTimbre(["bench", "phase", dir.file("nope").path]), mentioning: "not a folder")
    }

    /// The benchmark's virtual environment's python (it makes it on first use from PyPI).
    static let librosaPython: URL = {
        let env = ProcessInfo.processInfo.environment
        let cache = env["XDG_CACHE_HOME"] ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache").path
        return URL(fileURLWithPath: cache).appendingPathComponent("timbre/bench-venv/bin/python")
    }()
    static let hasLibrosa = FileManager.default.fileExists(atPath: librosaPython.path)
        && (try? runProcess(librosaPython, ["-c", "import librosa"]))?.status == 0

    /// The librosa baseline end to end, when its virtual environment exists (tests do not install it).
    @Test(.enabled(if: hasLibrosa, "needs librosa in the bench venv (`timbre bench phase` makes it on first use)"))
    func benchPhaseRunsLibrosaWhenInstalled() throws {
        let dir = TemporaryDirectory()
        for i in 0..<2 { try AudioFile.write(AudioBuffer(sampleRate: 44100, channels: [Self.hit(6000 + 1000 * i)]), to: dir.file("\(i).wav")) }
        let r = try runTimbre(["bench", "phase", dir.url.path, "--seconds", "0.2", "--iterations", "3", "--script",
                               TestPaths.packageRoot.appendingPathComponent("scripts/bench-phase-librosa.py").path])
        #expect(r.status == 0, "\(r.stderr)")
        let row = r.stdout.split(separator: "\n").first { $0.hasPrefix("librosa.griffinlim") }
        #expect(row != nil, "\(r.stdout)")
        // librosa's FGLA scores near timbre's FGLA (the same algorithm from another random start).
        func db(_ line: Substring?) -> Double? { line.flatMap { Double($0.split(separator: " ").dropFirst(2).first ?? "") } }
        let fgla = r.stdout.split(separator: "\n").first { $0.hasPrefix("fgla ") }
        #expect(db(row) != nil && db(fgla) != nil && abs(db(row)! - db(fgla)!) < 4, "\(r.stdout)")
    }
}

import AudioIO
import Foundation
import Testing
import TestSupport

/// `timbre prep` and `timbre bench prep` run as a user would.
@Suite(.serialized)
struct PrepCommandTests {
    static let hydrogen = TestPaths.hydrogenKits

    @Test(arguments: [["prep"], ["bench", "prep"]])
    func hasHelp(_ path: [String]) throws {
        let result = try runTimbre(path + ["--help"])
        #expect(result.status == 0)
        #expect(result.stdout.contains("USAGE"))
    }

    /// A folder of symlinks to a fixed, sorted selection of hydrogen's files (tests using it are
    /// `.needsHydrogenKits`).
    static func sampleFolder(_ dir: TemporaryDirectory, count: Int) throws -> URL {
        var all = [URL]()
        let walker = FileManager.default.enumerator(at: hydrogen, includingPropertiesForKeys: nil)!
        for case let url as URL in walker where ["wav", "flac", "aiff"].contains(url.pathExtension.lowercased()) {
            all.append(url)
        }
        all.sort { $0.path < $1.path }
        let stride = max(1, all.count / count)
        let folder = dir.file("in")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        for i in 0..<min(count, all.count) {
            let src = all[i * stride]
            try FileManager.default.createSymbolicLink(
                at: folder.appendingPathComponent(String(format: "%03d-", i) + src.lastPathComponent), withDestinationURL: src)
        }
        return folder
    }

    /// Every file under `root` (hidden ones too) with the SHA-256 of its bytes.
    static func tree(_ root: URL) throws -> [String: String] {
        var out = [String: String]()
        let walker = FileManager.default.enumerator(at: root, includingPropertiesForKeys: [.isRegularFileKey])!
        for case let url as URL in walker where (try url.resourceValues(forKeys: [.isRegularFileKey])).isRegularFile == true {
            let relative = String(url.standardizedFileURL.path.dropFirst(root.standardizedFileURL.path.count))
            out[relative] = try sha256File(url)
        }
        return out
    }

    static func sha256File(_ url: URL) throws -> String {
        let r = try runProcess(URL(fileURLWithPath: "/usr/bin/sha256sum"), [url.path])
        return String(r.stdout.prefix(64))
    }

    /// The bar: kill -9 in the middle of a run, rerun, and the folder is identical (names and
    /// hashes of every file) to the one an uninterrupted run makes.
    @Test(.needsHydrogenKits)
    func killNineThenRerunGivesIdenticalOutput() throws {
        let dir = TemporaryDirectory()
        let folder = try Self.sampleFolder(dir, count: 150)
        let reference = dir.file("reference"), interrupted = dir.file("interrupted")
        let full = try runTimbre(["prep", folder.path, "--out", reference.path, "--denoise", "0.3"])
        #expect(full.status == 0, "\(full.stderr)")

        let process = Process()
        process.executableURL = TestPaths.timbreExecutable
        process.arguments = ["prep", folder.path, "--out", interrupted.path, "--denoise", "0.3"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let journal = interrupted.appendingPathComponent(".prep")
        var done = 0
        while process.isRunning {
            done = ((try? FileManager.default.contentsOfDirectory(atPath: journal.path)) ?? []).filter { $0.hasSuffix(".json") }.count
            if done >= 40 { break }
            usleep(2000)
        }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        #expect(process.terminationReason == .uncaughtSignal, "the run finished before it could be killed")
        #expect(!FileManager.default.fileExists(atPath: interrupted.appendingPathComponent("manifest.jsonl").path))
        print("killed after \(done) of 150 sources were journaled")

        let rerun = try runTimbre(["prep", folder.path, "--out", interrupted.path, "--denoise", "0.3"])
        #expect(rerun.status == 0, "\(rerun.stderr)")
        #expect(rerun.stdout.contains("already done by an earlier run"))
        let a = try Self.tree(reference), b = try Self.tree(interrupted)
        #expect(a.count > 150)
        let missing = Set(a.keys).symmetricDifference(b.keys).sorted()
        let differing = a.keys.filter { b[$0] != nil && b[$0] != a[$0] }.sorted()
        #expect(missing.isEmpty, "in one folder only: \(missing.prefix(10))")
        #expect(differing.isEmpty, "\(differing.count) files differ, e.g. \(differing.prefix(10))")
    }

    /// A broken file among good ones: exit status 3, the file named with its reason on stdout and in errors.jsonl.
    @Test func brokenInputGivesExitStatusThreeAndIsReported() throws {
        let dir = TemporaryDirectory()
        let folder = dir.file("in")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let hit = (0..<20000).map { Float(sin(Double($0) * 0.03) * exp(-Double($0) / 3000)) * 0.5 }
        try AudioFile.write(AudioBuffer(sampleRate: 44100, channels: [hit]), to: folder.appendingPathComponent("snare.wav"))
        try Data([1, 2, 3, 4, 5]).write(to: folder.appendingPathComponent("broken.wav"))
        try Data("notes".utf8).write(to: folder.appendingPathComponent("notes.txt"))
        let out = dir.file("out")
        let result = try runTimbre(["prep", folder.path, "--out", out.path, "--format", "16"])
        #expect(result.status == 3)
        #expect(result.stdout.contains("broken.wav"))
        #expect(result.stdout.contains("1 one-shots from 1 files read"))
        #expect(result.stdout.contains("1 not audio"))
        let errors = try String(contentsOf: out.appendingPathComponent("errors.jsonl"), encoding: .utf8)
        #expect(errors.contains("broken.wav"))
        let written = try AudioFile.info(out.appendingPathComponent("snare/snare.wav"))
        #expect(written.format == "WAV 16-bit PCM" && written.frameCount == 88200)
        // A bad option value is a usage error: ArgumentParser's error line naming the option
        // and the value (then its usage lines), status 64.
        let bad = try runTimbre(["prep", folder.path, "--out", out.path, "--normalize", "loud"])
        #expect(bad.status == 64)
        let first = bad.stderr.split(separator: "\n").first.map(String.init) ?? ""
        #expect(first.hasPrefix("Error:") && first.contains("--normalize") && first.contains("'loud'"))
    }

    /// Negative targets read as values (`--target -6`), and peak mode puts the peak there.
    @Test func negativeTargetParsesAndIsMet() throws {
        let dir = TemporaryDirectory()
        let input = dir.file("tom.wav")
        let hit = (0..<30000).map { Float(sin(Double($0) * 0.02) * exp(-Double($0) / 5000)) * 0.3 }
        try AudioFile.write(AudioBuffer(sampleRate: 48000, channels: [hit, hit]), to: input, format: .pcm24)
        let out = dir.file("out")
        let result = try runTimbre(["prep", input.path, "--out", out.path, "--target", "-6", "--channels", "stereo"])
        #expect(result.status == 0, "\(result.stderr)")
        let audio = try AudioFile.read(out.appendingPathComponent("tom/tom.wav"))
        #expect(audio.channelCount == 2 && audio.sampleRate == 44100 && audio.frameCount == 88200)
        let peak = audio.channels.flatMap { $0 }.map { abs($0) }.max() ?? 0
        #expect(abs(20 * log10(Double(peak)) + 6) < 0.1)
    }

    @Test(.needsHydrogenKits)
    func benchPrepReportsBothTimesAndTheRatio() throws {
        let dir = TemporaryDirectory()
        let folder = try Self.sampleFolder(dir, count: 6)
        let result = try runTimbre(["bench", "prep", folder.path, "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        #expect(object?["files"] as? Int == 6)
        #expect(object?["ffmpegFailures"] as? Int == 0)
        #expect((object?["timbreSeconds"] as? Double ?? 0) > 0)
        #expect((object?["ratio"] as? Double ?? 0) > 0)
    }
}

import AudioIO
import Foundation
import ModelStore
import Testing
import TestSupport

/// `timbre models ...` as a user types it: the light front end (list, remove, fetch) and the
/// core (add), over a models folder and a downloads folder set by XDG_DATA_HOME and XDG_CACHE_HOME.
@Suite(.serialized)
struct ModelsCommandTests {
    let directory = TemporaryDirectory()
    var environment: [String: String] {
        ProcessInfo.processInfo.environment.merging(
            ["XDG_DATA_HOME": directory.file("data").path, "XDG_CACHE_HOME": directory.file("cache").path]) { $1 }
    }
    var folder: URL { directory.file("data/timbre/models") }

    func timbre(_ arguments: [String]) throws -> ProcessResult {
        try runProcess(TestPaths.timbreExecutable, arguments, environment: environment)
    }

    /// The one-line error a failing command prints.
    func expectOneLineError(_ result: ProcessResult, mentioning words: [String]) {
        #expect(result.status != 0)
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.count == 1 && lines[0].hasPrefix("timbre: error: "), "\(result.stderr)")
        for word in words { #expect(result.stderr.contains(word), "\(word) in \(result.stderr)") }
    }

    @Test func listAddRemove() throws {
        var list = try timbre(["models", "list"])
        #expect(list.status == 0, "\(list.stderr)")
        var lines = list.stdout.split(separator: "\n")
        // A header, one line per catalogue entry, a header for local files (none yet).
        #expect(lines.count == Catalogue.entries.count + 2)
        #expect(lines.dropFirst().prefix(Catalogue.entries.count).allSatisfy { $0.hasPrefix("-  ") })
        #expect(list.stdout.contains("guitar_iil_b2048_r48000_z16") && list.stdout.contains("percussion"))

        let add = try timbre(["models", "add", TestPaths.fixture("models/tiny-drum.ts").path])
        #expect(add.status == 0, "\(add.stderr)")
        #expect(add.stdout.contains("sample rate") && add.stdout.contains("methods") && add.stdout.contains("decode"))
        #expect(FileManager.default.fileExists(atPath: folder.appendingPathComponent("tiny-drum.ts").path))
        // Installed under a catalogue name, the entry is marked installed.
        let entry = Catalogue.entries[0]
        #expect(try timbre(["models", "add", TestPaths.fixture("models/tiny-drum.ts").path, "--name", entry.name]).status == 0)
        list = try timbre(["models", "list"])
        lines = list.stdout.split(separator: "\n")
        #expect(lines.contains { $0.hasPrefix("installed  \(entry.name) ") }, "\(list.stdout)")
        #expect(lines.last == "local  tiny-drum.ts  22688 bytes")

        expectOneLineError(try timbre(["models", "add", TestPaths.fixture("models/tiny-drum.ts").path]), mentioning: ["tiny-drum.ts", "already installed"])
        expectOneLineError(try timbre(["models", "add", TestPaths.fixture("models/plain.ts").path]), mentioning: ["plain.ts", "not an nn~ model"])
        expectOneLineError(try timbre(["models", "add", directory.file("missing.ts").path]), mentioning: ["missing.ts"])

        #expect(try timbre(["models", "remove", "tiny-drum"]).status == 0)
        expectOneLineError(try timbre(["models", "remove", "tiny-drum"]), mentioning: ["tiny-drum", "no model file"])
        expectOneLineError(try timbre(["models", "remove", "../x"]), mentioning: ["../x"])
        expectOneLineError(try timbre(["models", "fetch", "no-such-model"]), mentioning: ["no-such-model", "not in the catalogue"])
    }

    @Test func fetchFromALocalServer() throws {
        let fixture = TestPaths.fixture("models/tiny-batched.ts")
        let sha = try ModelFetch.sha256(of: fixture)
        // Corrupt: refused with one line, nothing in the models folder.
        let corrupt = try RangeServer(file: fixture, options: ["--corrupt-at", "80000"], directory: directory)
        expectOneLineError(try timbre(["models", "fetch", corrupt.url, "--sha256", sha]), mentioning: ["tiny-batched", "SHA-256", "nothing installed"])
        corrupt.stop()
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []).isEmpty)
        // Cut once, resumed within the same fetch; installed with the right checksum.
        let server = try RangeServer(file: fixture, options: ["--cut-after", "50000", "--cut-requests", "1"], directory: directory)
        defer { server.stop() }
        let fetched = try timbre(["models", "fetch", server.url, "--sha256", sha, "--name", "tiny"])
        #expect(fetched.status == 0, "\(fetched.stderr)")
        #expect(fetched.stdout.contains("(matches)") && fetched.stderr.contains("resuming"), "\(fetched.stdout) \(fetched.stderr)")
        #expect(try ModelFetch.sha256(of: folder.appendingPathComponent("tiny.ts")) == sha)
        #expect(server.requests.contains("GET /tiny-batched.ts range=bytes=50000-"), "\(server.requests)")
        // The fetched model is one serve and render can load from the models folder.
        let list = try timbre(["models", "list"])
        #expect(list.stdout.contains("local  tiny.ts  155948 bytes"))
    }

    /// `render` (as `serve`) searches the models folder after its --models-dir folders; a name
    /// that resolves outside both is still refused.
    @Test func renderFindsModelsInTheModelsFolder() throws {
        #expect(try timbre(["models", "add", TestPaths.fixture("models/tiny-deterministic.ts").path, "--name", "mine"]).status == 0)
        let input = (0..<22050).map { Float(sin(Double($0) * 0.03)) * 0.4 }
        try AudioFile.write(AudioBuffer(sampleRate: 44100, channels: [input]), to: directory.file("in.wav"))
        let empty = directory.file("empty")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        try "toggle a mine.ts\n".write(to: directory.file("s.txt"), atomically: true, encoding: .utf8)
        let render = try timbre(["render", "--session", directory.file("s.txt").path, "--input", directory.file("in.wav").path,
                                 "--out", directory.file("out").path, "--models-dir", empty.path])
        #expect(render.status == 0, "\(render.stderr)")
        #expect(try AudioFile.read(directory.file("out/a.wav")).channels[0].contains { $0 != 0 })
        try "toggle a ../in.wav\n".write(to: directory.file("s.txt"), atomically: true, encoding: .utf8)
        let outside = try timbre(["render", "--session", directory.file("s.txt").path, "--input", directory.file("in.wav").path,
                                  "--out", directory.file("out2").path, "--models-dir", empty.path])
        expectOneLineError(outside, mentioning: ["outside the models folders"])
    }

    /// `models fetch` runs in the light front end: while curl waits on a server that never
    /// answers, the front end's memory map holds no libtorch (and `timbre-core` never ran).
    @Test func fetchRunsInTheFrontEndWithoutLibtorch() throws {
        // A TCP socket that listens and never accepts: the kernel completes curl's connection, nothing answers.
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        try #require(bound && listen(fd, 4) == 0)
        let port = Int(UInt16(bigEndian: address.sin_port))
        let process = Process()
        process.executableURL = TestPaths.timbreExecutable
        process.arguments = ["models", "fetch", "http://127.0.0.1:\(port)/x.ts", "--attempts", "1"]
        process.environment = environment
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let pid = process.processIdentifier
        func children() -> [Int32] {
            let text = (try? runProcess(URL(fileURLWithPath: "/bin/cat"), ["/proc/\(pid)/task/\(pid)/children"]).stdout) ?? ""
            return text.split(separator: " ").compactMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        }
        defer {
            for child in children() { kill(child, SIGKILL) }
            if process.isRunning { kill(pid, SIGKILL) }
            process.waitUntilExit()
        }
        // Once curl runs, the front end has loaded everything it will load.
        #expect(waitUntil(20, interval: 0.05) { !children().isEmpty }, "curl never started")
        let maps = try runProcess(URL(fileURLWithPath: "/bin/cat"), ["/proc/\(pid)/maps"]).stdout
        #expect(maps.contains("/timbre\n"), "the map is the front end's own")
        // Nor Foundation's NSString layer and ICU: the front end links FoundationEssentials only.
        for library in ["libtorch", "libc10", "libjack", "libsndfile", "timbre-core", "libFoundation.so", "lib_FoundationICU"] {
            #expect(!maps.contains(library), "models fetch maps \(library)")
        }
    }
}

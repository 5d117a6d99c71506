import Foundation
import Testing
import TestSupport

/// The `timbre` a user types is a light front end: `send` and `status` run in it without
/// libtorch; every other command line goes unchanged to `timbre-core`.
@Suite(.serialized)
struct FrontEndTests {
    /// A UDP socket on 127.0.0.1 that receives and never answers, so a client waits.
    final class SilentPort {
        let fd: Int32
        let port: Int

        init() throws {
            let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
            self.fd = fd
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let bound = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                    bind(fd, pointer, length) == 0 && getsockname(fd, pointer, &length) == 0
                }
            }
            guard fd >= 0, bound else { throw POSIXError(.EADDRINUSE) }
            port = Int(UInt16(bigEndian: address.sin_port))
        }

        /// Waits up to `seconds` for one datagram; its size, or nil.
        func receive(within seconds: Double) -> Int? {
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, Int32(seconds * 1000)) > 0 else { return nil }
            var buffer = [UInt8](repeating: 0, count: 65536)
            let count = recv(fd, &buffer, buffer.count, 0)
            return count >= 0 ? count : nil
        }

        deinit { close(fd) }
    }

    /// Starts `executable` with `arguments` against a silent port, waits for its request to
    /// arrive (by then it has loaded every library it will load), and returns its memory map.
    static func mapsWhileWaiting(_ executable: URL, _ arguments: (Int) -> [String]) throws -> String {
        let silent = try SilentPort()
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments(silent.port)
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer {
            // SIGKILL: under the test runner, SIGTERM left each waiting client to run out its timeout.
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
        }
        let size = silent.receive(within: 60)
        try #require(size != nil, "\(executable.lastPathComponent) \(arguments(silent.port)) sent nothing")
        #expect(process.isRunning, "the client must still be waiting for its reply")
        // `cat`, not Foundation's file reading: /proc files report size 0 and read in pieces.
        let maps = try runProcess(URL(fileURLWithPath: "/bin/cat"), ["/proc/\(process.processIdentifier)/maps"])
        #expect(maps.status == 0)
        #expect(maps.stdout.split(separator: "\n").count > 20, "a whole memory map")
        return maps.stdout
    }

    static let clientCommands: [[String]] = [["status"], ["status", "--json"], ["send", "toggle", "a", "m.ts"], ["send", "set", "a", "wet", "0.5"]]

    /// The bar of issue 16: a `timbre send` or `timbre status` process never maps libtorch.
    @Test(arguments: clientCommands)
    func clientsNeverMapLibtorch(_ words: [String]) throws {
        let maps = try Self.mapsWhileWaiting(TestPaths.timbreExecutable) { port in
            [words[0], "--port", String(port), "--timeout", "30"] + words.dropFirst()
        }
        #expect(maps.contains("/timbre\n"), "the map is the front end's own")
        for library in ["libtorch", "libc10", "libjack", "libsndfile", "timbre-core"] {
            #expect(!maps.contains(library), "\(words) maps \(library)")
        }
    }

    /// The control that must fail: the same request from `timbre-core` maps libtorch, so the
    /// check above would see it.
    @Test func theCoreMapsLibtorch() throws {
        let maps = try Self.mapsWhileWaiting(TestPaths.timbreCoreExecutable) { port in
            ["status", "--port", String(port), "--timeout", "30"]
        }
        #expect(maps.contains("libtorch"))
    }

    @Test func helpAndVersionComeFromTheCore() throws {
        let help = try runTimbre(["--help"])
        #expect(help.status == 0)
        for command in ["serve", "render", "send", "status", "info", "bench"] {
            #expect(help.stdout.contains(command), "help lists \(command)")
        }
        let core = try runProcess(TestPaths.timbreCoreExecutable, ["--help"])
        #expect(help.stdout == core.stdout)
        let version = try runTimbre(["--version"])
        #expect(version.status == 0)
        #expect(version.stdout == (try runProcess(TestPaths.timbreCoreExecutable, ["--version"])).stdout)
    }

    /// Errors and exit statuses through the front end are the core's own.
    @Test func errorsKeepTheirLineAndStatus() throws {
        let missing = try runTimbre(["info", "/nonexistent/model.ts"])
        #expect(missing.status == 1)
        #expect(missing.stderr.hasPrefix("timbre: error: "))
        #expect(missing.stderr.filter { $0 == "\n" }.count == 1, "one line: \(missing.stderr)")
        #expect(missing.stderr.contains("/nonexistent/model.ts"))
        let unknown = try runTimbre(["dance"])
        let coreUnknown = try runProcess(TestPaths.timbreCoreExecutable, ["dance"])
        #expect(unknown.status == 64)
        #expect(unknown.status == coreUnknown.status)
        #expect(unknown.stderr == coreUnknown.stderr)
    }

    /// A torch-backed command runs through the front end.
    @Test func torchCommandsRunThroughTheFrontEnd() throws {
        let result = try runTimbre(["info", "--json", TestPaths.fixture("models/tiny-streaming.ts").path])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("\"sampleRate\""))
    }

    /// The front end checks a command with the server's parser before sending it: a bad one
    /// fails in one line without a server, and a client without a server says so in one line.
    @Test func clientErrorsAreOneLine() throws {
        let bad = try runTimbre(["send", "--port", "9", "set", "a", "wet", "nan"])
        #expect(bad.status == 1)
        #expect(bad.stderr.contains("not a finite number"), "\(bad.stderr)")
        #expect(bad.stderr.filter { $0 == "\n" }.count == 1)
        let silent = try SilentPort()
        let late = try runTimbre(["status", "--port", String(silent.port), "--timeout", "0.3"])
        #expect(late.status == 1)
        #expect(late.stderr.contains("no reply"), "\(late.stderr)")
        #expect(late.stderr.filter { $0 == "\n" }.count == 1)
    }
}

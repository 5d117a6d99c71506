import Foundation

/// `Tests/Fixtures/range_server.py` on 127.0.0.1: serves one file over HTTP/1.1 with Range,
/// and can cut transfers, corrupt a byte or ignore Range (see the script). `stop()` ends it.
public final class RangeServer: @unchecked Sendable {
    public let process: Process
    public let port: Int
    public let log: URL
    public let file: URL

    /// Starts the server for `file`; `options` are the script's flags (`--cut-after`, ...).
    public init(file: URL, options: [String] = [], directory: TemporaryDirectory) throws {
        self.file = file
        log = directory.file("requests-\(UUID().uuidString).log")
        FileManager.default.createFile(atPath: log.path, contents: nil)
        process = Process()
        process.executableURL = TestPaths.python
        process.arguments = [TestPaths.fixture("range_server.py").path, "--file", file.path, "--log", log.path] + options
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        // The first line is `PORT <n>`, written once the socket listens.
        var line = Data()
        while !line.contains(UInt8(ascii: "\n")) {
            let byte = out.fileHandleForReading.readData(ofLength: 1)
            if byte.isEmpty { break }
            line.append(byte)
        }
        let text = String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard text.hasPrefix("PORT "), let port = Int(text.dropFirst(5)) else {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            throw POSIXError(.ECONNREFUSED)
        }
        self.port = port
    }

    /// The file's address (https when started with `--tls`).
    public var url: String { "\(https ? "https" : "http")://127.0.0.1:\(port)/\(file.lastPathComponent)" }
    public var https: Bool { process.arguments?.contains("--tls") == true }

    /// The requests so far, one `GET PATH range=...` line each.
    public var requests: [String] {
        ((try? String(contentsOf: log, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    public func stop() {
        // SIGKILL: under the test runner a child may start with SIGTERM blocked.
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    deinit { stop() }
}

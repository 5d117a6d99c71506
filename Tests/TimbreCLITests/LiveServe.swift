import Engine
import Foundation
import JackTestSupport
import Testing
import TestSupport

/// A `timbre serve` on its own dummy jackd, for clients that talk to it as a user's would
/// (the SuperCollider quark, the REPL). `stop()` quits it and its jackd.
final class LiveServe: @unchecked Sendable {
    let jack: JackServer
    let process: Process
    let port: Int
    let log: URL

    /// - Parameter options: more `serve` options (`--midi`, ...).
    init(models: URL = TestPaths.fixture("models"), directory: TemporaryDirectory, options: [String] = []) throws {
        jack = try JackServer(name: "timbre-client-\(getpid())-\(Int.random(in: 0...1_000_000))")
        port = Int.random(in: 50000...59000)
        log = directory.file("serve.log")
        FileManager.default.createFile(atPath: log.path, contents: nil)
        process = Process()
        process.executableURL = TestPaths.timbreExecutable
        process.arguments = ["serve", "--models-dir", models.path, "--port", String(port)] + options
        process.environment = ProcessInfo.processInfo.environment.merging(["JACK_DEFAULT_SERVER": jack.name]) { $1 }
        let handle = try FileHandle(forWritingTo: log)
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        do { try process.run() } catch { jack.stop(); throw error }
        let up = waitUntil(30, interval: 0.2) { (try? OSCClient.status(port: port, timeout: 0.5)) != nil || !process.isRunning }
        guard up, process.isRunning else {
            stop()
            throw EngineError("timbre serve did not start: \((try? String(contentsOf: log, encoding: .utf8)) ?? "")")
        }
    }

    func status() throws -> EngineStatus { try OSCClient.status(port: port, timeout: 5).status }

    func stop() {
        if process.isRunning {
            _ = try? OSCClient.request(.quit, port: port, timeout: 5)
            _ = waitUntil(10, interval: 0.05) { !process.isRunning }
            if process.isRunning { process.terminate() }
        }
        process.waitUntilExit()
        jack.stop()
    }
}

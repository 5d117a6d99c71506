import Foundation

/// Locations and helpers shared by every test target.
public enum TestPaths {
    /// The package root, found from this source file's location.
    public static let packageRoot: URL = {
        URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent()  // TestSupport
            .deletingLastPathComponent()  // Tests
            .deletingLastPathComponent()
    }()

    /// The committed fixtures: `Tests/Fixtures`.
    public static let fixtures = packageRoot.appendingPathComponent("Tests/Fixtures")

    public static func fixture(_ name: String) -> URL { fixtures.appendingPathComponent(name) }

    /// `../shared/models` beside the checkout, or nil (with a visible message) when absent.
    public static func sharedModels(for test: String = #function) -> URL? {
        let dir = packageRoot.deletingLastPathComponent().appendingPathComponent("shared/models")
        if FileManager.default.fileExists(atPath: dir.appendingPathComponent("README.md").path) {
            return dir
        }
        print("SKIPPED (\(test)): ../shared/models is not beside this checkout")
        return nil
    }

    /// Every `.ts` in ../shared/models (empty, with a message, when the folder is absent).
    public static func sharedModelFiles(for test: String = #function) -> [URL] {
        guard let dir = sharedModels(for: test) else { return [] }
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
        return names.filter { $0.hasSuffix(".ts") }.sorted().map { dir.appendingPathComponent($0) }
    }

    /// The `timbre` executable built beside the test bundle (`make test` builds it first):
    /// the light front end, which hands every command but `send` and `status` to `timbre-core`.
    public static var timbreExecutable: URL { builtExecutable("timbre") }

    /// `timbre-core`, the executable with every command (and libtorch), beside `timbre`.
    public static var timbreCoreExecutable: URL { builtExecutable("timbre-core") }

    private static func builtExecutable(_ name: String) -> URL {
        let exe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        return exe.deletingLastPathComponent().appendingPathComponent(name)
    }

    /// Debian's interpreter, which has python3-torch (the first `python3` on PATH may not).
    public static let python = URL(fileURLWithPath: "/usr/bin/python3")
}

/// A fresh temporary directory, removed when the value is released.
public final class TemporaryDirectory: @unchecked Sendable {
    public let url: URL
    public init(_ prefix: String = "timbre-test") {
        url = FileManager.default.temporaryDirectory
            .appendingPathComponent("\(prefix)-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    public func file(_ name: String) -> URL { url.appendingPathComponent(name) }
    deinit { try? FileManager.default.removeItem(at: url) }
}

/// The result of running a program to completion.
public struct ProcessResult: Sendable {
    public var status: Int32
    public var stdout: String
    public var stderr: String
}

/// Runs a program with arguments and collects its exit status and output.
@discardableResult
public func runProcess(_ executable: URL, _ arguments: [String], environment: [String: String]? = nil) throws -> ProcessResult {
    let process = Process()
    process.executableURL = executable
    process.arguments = arguments
    if let environment { process.environment = environment }
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = FileHandle.nullDevice
    try process.run()
    // Read both pipes concurrently so a chatty child never blocks on a full pipe.
    nonisolated(unsafe) var errData = Data()
    let group = DispatchGroup()
    group.enter()
    DispatchQueue.global().async {
        errData = err.fileHandleForReading.readDataToEndOfFile()
        group.leave()
    }
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    group.wait()
    process.waitUntilExit()
    return ProcessResult(
        status: process.terminationStatus,
        stdout: String(decoding: outData, as: UTF8.self),
        stderr: String(decoding: errData, as: UTF8.self))
}

/// Runs `timbre` with arguments.
@discardableResult
public func runTimbre(_ arguments: [String]) throws -> ProcessResult {
    try runProcess(TestPaths.timbreExecutable, arguments)
}

/// Runs Debian's python3 (with torch) on a script; a failure to import torch is a failure, not a skip.
@discardableResult
public func runPython(_ script: URL, _ arguments: [String]) throws -> ProcessResult {
    try runProcess(TestPaths.python, [script.path] + arguments)
}

/// Polls `condition` every `interval` seconds until it holds, up to `seconds`; the last answer.
public func waitUntil(_ seconds: Double, interval: Double = 0.02, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if condition() { return true }
        usleep(useconds_t(interval * 1_000_000))
    }
    return condition()
}

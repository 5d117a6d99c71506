import Foundation
import Testing

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

    /// `../shared/models` beside the checkout. Tests that use it are
    /// `.enabled(if: Available.sharedModels, Available.sharedModelsReason)`.
    public static let sharedModels = packageRoot.deletingLastPathComponent().appendingPathComponent("shared/models")

    /// Every `.ts` in ../shared/models (empty when the folder is absent).
    public static var sharedModelFiles: [URL] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: sharedModels.path)) ?? []
        return names.filter { $0.hasSuffix(".ts") }.sorted().map { sharedModels.appendingPathComponent($0) }
    }

    /// Debian's hydrogen-drumkits (and hydrogen-drumkits-effects) install here.
    public static let hydrogenKits = URL(fileURLWithPath: "/usr/share/hydrogen/data/drumkits")
    /// sonic-pi-samples installs here.
    public static let sonicPiSamples = URL(fileURLWithPath: "/usr/share/sonic-pi/samples")
    /// fluid-soundfont-gm's SoundFont.
    public static let generalMIDISoundFont = URL(fileURLWithPath: "/usr/share/sounds/sf2/FluidR3_GM.sf2")

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

/// What a test needs from outside the repository, for `.enabled(if:)` traits, so a test that
/// cannot run shows as skipped with its reason instead of passing silently.
public enum Available {
    private static func exists(_ url: URL) -> Bool { FileManager.default.fileExists(atPath: url.path) }

    /// ../shared/models (the real RAVE models) is beside this checkout.
    public static let sharedModels = exists(TestPaths.sharedModels.appendingPathComponent("README.md"))
    public static let sharedModelsReason: Comment = "needs ../shared/models beside the checkout"

    /// Debian's hydrogen-drumkits is installed.
    public static let hydrogenKits = exists(TestPaths.hydrogenKits.appendingPathComponent("HardElectro1"))
    public static let hydrogenKitsReason: Comment = "needs Debian's hydrogen-drumkits (scripts/bootstrap)"

    /// Debian's sonic-pi-samples is installed.
    public static let sonicPiSamples = exists(TestPaths.sonicPiSamples.appendingPathComponent("loop_amen.flac"))
    public static let sonicPiSamplesReason: Comment = "needs Debian's sonic-pi-samples (scripts/bootstrap)"

    /// Everything the drum corpus is built from: hydrogen-drumkits, hydrogen-drumkits-effects,
    /// fluid-soundfont-gm and the fluidsynth program.
    public static let drumCorpusSources = hydrogenKits
        && exists(TestPaths.hydrogenKits.appendingPathComponent("belofilms_GuitarStrums"))
        && exists(TestPaths.generalMIDISoundFont) && exists(URL(fileURLWithPath: "/usr/bin/fluidsynth"))
    public static let drumCorpusSourcesReason: Comment =
        "needs Debian's hydrogen-drumkits, hydrogen-drumkits-effects, fluid-soundfont-gm and fluidsynth (scripts/bootstrap)"
}

extension Trait where Self == ConditionTrait {
    /// Runs the test only with ../shared/models beside the checkout; skipped, with the reason, otherwise.
    public static var needsSharedModels: Self { .enabled(if: Available.sharedModels, Available.sharedModelsReason) }
    /// Runs the test only with Debian's hydrogen-drumkits installed.
    public static var needsHydrogenKits: Self { .enabled(if: Available.hydrogenKits, Available.hydrogenKitsReason) }
    /// Runs the test only with Debian's sonic-pi-samples installed.
    public static var needsSonicPiSamples: Self { .enabled(if: Available.sonicPiSamples, Available.sonicPiSamplesReason) }
    /// Runs the test only with every source of the drum corpus installed.
    public static var needsDrumCorpusSources: Self {
        .enabled(if: Available.drumCorpusSources, Available.drumCorpusSourcesReason)
    }
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

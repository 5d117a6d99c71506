import Engine
import Foundation
import JackTestSupport
import Testing
import TestSupport

/// `timbre serve --session FILE --watch` on a dummy jackd: saving the file applies what changed
/// (nodes gone freed, new ones created, a changed setting sent, a changed seed re-creates the
/// node under its label, a changed model alone swaps it, a save that does not parse is refused).
@Suite(.serialized)
struct SessionWatchTests {
    static let first = """
        new keep tiny-deterministic.ts
        new gone tiny-deterministic.ts
        set keep gain 0.5

        """
    static let second = """
        # keep is unchanged but for its input; gone is gone; added is new
        new keep tiny-deterministic.ts
        set keep gain 0.5
        set keep input in2
        new added tiny-streaming.ts

        """

    /// Writes `text` the way many editors save: a new file renamed over the old one.
    static func save(_ text: String, to url: URL) throws {
        let temporary = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).swp")
        try Data(text.utf8).write(to: temporary)
        #expect(rename(temporary.path, url.path) == 0)
    }

    @Test func savingTheSessionAppliesOnlyWhatChanged() throws {
        let directory = TemporaryDirectory()
        let session = directory.file("live.session")
        try Data(Self.first.utf8).write(to: session)
        let jack = try JackServer(name: "timbre-watch-\(getpid())-\(Int.random(in: 0...1_000_000))")
        defer { jack.stop() }
        let port = Int.random(in: 50000...59000)
        let log = directory.file("serve.log")
        FileManager.default.createFile(atPath: log.path, contents: nil)
        let process = Process()
        process.executableURL = TestPaths.timbreExecutable
        process.arguments = ["serve", "--session", session.path, "--watch", "--models-dir", TestPaths.fixture("models").path,
                             "--port", String(port), "--no-connect"]
        process.environment = ProcessInfo.processInfo.environment.merging(["JACK_DEFAULT_SERVER": jack.name]) { $1 }
        let handle = try FileHandle(forWritingTo: log)
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        try process.run()
        defer {
            if process.isRunning {
                _ = try? OSCClient.request(.quit, port: port, timeout: 5)
                _ = waitUntil(10, interval: 0.05) { !process.isRunning }
                if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            }
            process.waitUntilExit()
        }
        func status() -> EngineStatus? { try? OSCClient.status(port: port, timeout: 1).status }
        func logText() -> String { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }

        // Started from the file: both nodes play; let `keep` run some blocks.
        let started = waitUntil(60, interval: 0.2) {
            (status()?.nodes.first { $0.label == "keep" }?.blocks ?? 0) >= 20 || !process.isRunning
        }
        try #require(started && process.isRunning, "serve did not start: \(logText())")
        let before = try #require(status())
        #expect(Set(before.nodes.map(\.label)) == ["keep", "gone"])
        let keepBefore = try #require(before.nodes.first { $0.label == "keep" })
        #expect(keepBefore.input == "in1")

        try Self.save(Self.second, to: session)
        let applied = waitUntil(30, interval: 0.2) {
            guard let s = status() else { return false }
            return Set(s.nodes.map(\.label)) == ["keep", "added"] && s.nodes.first { $0.label == "keep" }?.input == "in2"
        }
        #expect(applied, "the change never showed in status: \(logText())")
        let after = try #require(status())
        let keepAfter = try #require(after.nodes.first { $0.label == "keep" })
        // A node made again would count its blocks from 0; this one kept counting.
        #expect(keepAfter.blocks > keepBefore.blocks, "keep: \(keepBefore.blocks) blocks before, \(keepAfter.blocks) after")
        let text = logText()
        #expect(text.contains("session reload: /timbre/free gone"), "\(text)")
        #expect(text.contains("session reload: /timbre/new added tiny-streaming.ts"), "\(text)")
        #expect(text.contains("session reload: /timbre/set keep input in2"), "\(text)")
        #expect(!text.contains("session reload: /timbre/new keep"), "keep is not reloaded")
        #expect(!text.contains("session reload: /timbre/set keep gain"), "an unchanged setting is not sent again")

        // The same label with another seed: the node is freed and created again under that label
        // (its block count starts again); `keep` is untouched.
        _ = waitUntil(30, interval: 0.2) { (status()?.nodes.first { $0.label == "added" }?.blocks ?? 0) >= 20 }
        let addedBefore = try #require(status()?.nodes.first { $0.label == "added" })
        try Self.save(Self.second.replacingOccurrences(of: "new added tiny-streaming.ts", with: "new added tiny-streaming.ts seed 9"), to: session)
        let recreated = waitUntil(30, interval: 0.2) {
            status()?.nodes.first { $0.label == "added" }?.seed == 9 && logText().contains("session reload: /timbre/new added")
                && (status()?.nodes.first { $0.label == "added" }?.blocks ?? 0) > 0
        }
        #expect(recreated, "added was not made again with seed 9: \(logText())")
        let third = try #require(status())
        let addedAgain = try #require(third.nodes.first { $0.label == "added" })
        let keepThird = try #require(third.nodes.first { $0.label == "keep" })
        print("re-created 'added': \(addedBefore.blocks) blocks before (seed \(addedBefore.seed.map(String.init) ?? "none")), \(addedAgain.blocks) after (seed 9); keep \(keepAfter.blocks) -> \(keepThird.blocks)")
        #expect(addedBefore.seed != 9)
        #expect(addedBefore.blocks >= 20 && addedAgain.blocks < addedBefore.blocks, "a new node counts from 0: \(addedBefore.blocks) then \(addedAgain.blocks)")
        #expect(keepThird.blocks > keepAfter.blocks && keepThird.model == "tiny-deterministic.ts")
        #expect(Set(third.nodes.map(\.label)) == ["keep", "added"])
        #expect(logText().contains("session reload: /timbre/free added"), "\(logText())")

        // Only the model of `keep` changes: a swap (a crossfade on the same bus), not a free and
        // new; the node keeps its settings. (Its block count is the new model's instance's.)
        try Self.save(Self.second.replacingOccurrences(of: "new added tiny-streaming.ts", with: "new added tiny-streaming.ts seed 9")
            .replacingOccurrences(of: "new keep tiny-deterministic.ts", with: "new keep tiny-streaming.ts"), to: session)
        let swapped = waitUntil(30, interval: 0.2) {
            logText().contains("session reload: /timbre/swap keep tiny-streaming.ts -> /timbre/done /timbre/swap keep")
        }
        #expect(swapped, "keep was not swapped: \(logText())")
        let fourth = try #require(status())
        let keepSwapped = try #require(fourth.nodes.first { $0.label == "keep" })
        #expect(keepSwapped.model == "tiny-streaming.ts" && keepSwapped.input == "in2" && keepSwapped.errors == 0)
        #expect(!logText().contains("/timbre/free keep") && !logText().contains("/timbre/new keep"), "\(logText())")
        #expect(Set(fourth.nodes.map(\.label)) == ["keep", "added"])

        // A save that does not parse changes nothing (written in place this time).
        try Data("new keep tiny-deterministic.ts\nset keep wet 7\n".utf8).write(to: session)
        let refused = waitUntil(10, interval: 0.2) { logText().contains("session reload refused") }
        #expect(refused, "\(logText())")
        #expect(Set(status()?.nodes.map(\.label) ?? []) == ["keep", "added"])
    }
}

import Engine
import Foundation
import Testing
import TestSupport

/// The SuperCollider quark (`supercollider/Timbre`) in real sclang, headless, against a real
/// `timbre serve` on a dummy jackd: it toggles nodes, sets parameters, reads the status, and
/// the nodes play. sclang is part of `make test` (scripts/bootstrap installs Debian's
/// supercollider-language), so a missing sclang fails here with the reason, never skips.
@Suite(.serialized)
struct SuperColliderTests {
    static let sclang = URL(fileURLWithPath: "/usr/bin/sclang")
    static let quark = TestPaths.packageRoot.appendingPathComponent("supercollider/Timbre")
    static let script = TestPaths.fixture("supercollider/serve-test.scd")

    /// The lines the script reports (`TIMBRE-TEST word...`), as words.
    static func reports(_ output: String) -> [[String]] {
        output.split(separator: "\n").compactMap { line in
            guard line.hasPrefix("TIMBRE-TEST ") else { return nil }
            return line.dropFirst("TIMBRE-TEST ".count).split(separator: " ").map(String.init)
        }
    }

    @Test func theQuarkDrivesServeFromSclang() throws {
        guard FileManager.default.isExecutableFile(atPath: Self.sclang.path) else {
            Issue.record("sclang is missing: run scripts/bootstrap (it installs Debian's supercollider-language)")
            return
        }
        let directory = TemporaryDirectory("timbre-sclang")
        let serve = try LiveServe(directory: directory)
        defer { serve.stop() }

        // The quark on sclang's include path; the home folder is the test's own, so no user
        // extension or startup file takes part.
        let config = directory.file("sclang_conf.yaml")
        try """
        includePaths:
            - \(Self.quark.path)
        excludePaths:
            []
        postInlineWarnings: false
        excludeDefaultPaths: false

        """.write(to: config, atomically: true, encoding: .utf8)
        let home = directory.file("home")
        try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
        var environment = ProcessInfo.processInfo.environment
        environment["HOME"] = home.path
        environment["XDG_CONFIG_HOME"] = home.appendingPathComponent(".config").path
        environment["XDG_DATA_HOME"] = home.appendingPathComponent(".local/share").path
        environment["QT_QPA_PLATFORM"] = "offscreen"
        environment["QTWEBENGINE_DISABLE_SANDBOX"] = "1"
        environment["TIMBRE_PORT"] = String(serve.port)
        // A hung sclang fails the test after two minutes instead of holding `make test`.
        let result = try runProcess(URL(fileURLWithPath: "/usr/bin/timeout"),
                                    ["--kill-after=5", "120", Self.sclang.path, "-D", "-l", config.path, Self.script.path],
                                    environment: environment)
        let output = result.stdout + result.stderr
        let transcript = "sclang exited \(result.status):\n\(output.suffix(6000))"
        #expect(result.status == 0, "\(transcript)")
        #expect(!output.contains("ERROR: Class not defined"), "the quark compiled: \(transcript)")
        let reports = Self.reports(result.stdout)
        print("sclang reported:\n" + reports.map { $0.joined(separator: " ") }.joined(separator: "\n"))
        #expect(reports.contains(["done"]), "the script ran to its end: \(transcript)")
        #expect(!reports.contains(["watchdog"]))

        // Models: exactly the fixture folder's .ts files.
        let models = reports.first { $0.first == "models" }.map { Array($0.dropFirst()) }
        let onDisk = try FileManager.default.contentsOfDirectory(atPath: TestPaths.fixture("models").path).filter { $0.hasSuffix(".ts") }.sorted()
        #expect(models == onDisk, "\(transcript)")

        // Toggles answered through the actions: both created, then drums switched off by its label alone.
        let replies = reports.filter { $0.first == "reply" }.map { Array($0.dropFirst()) }
        #expect(replies.count == 3, "\(transcript)")
        #expect(replies.first == ["/timbre/toggle", "drums", "created", "4096"])
        #expect(replies.dropFirst().first?.prefix(3) == ["/timbre/toggle", "hit", "created"])
        #expect(replies.last == ["/timbre/toggle", "drums", "freed"])

        // The status read in sclang: both nodes played (blocks ran, no model errors, sound came
        // out: the encode node with a bias on its latents, the decode node on its trigger).
        let nodes = reports.filter { $0.first == "node" }
        func node(_ label: String, in rows: ArraySlice<[String]>) -> [String: String]? {
            guard let row = rows.first(where: { $0.count > 1 && $0[1] == label }) else { return nil }
            // node LABEL MODEL METHOD blocks N peak P errors E
            var fields: [String: String] = ["model": row[2], "method": row[3]]
            for index in stride(from: 4, to: row.count - 1, by: 2) { fields[row[index]] = row[index + 1] }
            return fields
        }
        let counts = reports.filter { $0.first == "nodes" }.compactMap { $0.count > 1 ? Int($0[1]) : nil }
        #expect(counts == [2, 1], "two nodes, then one after the switch-off: \(transcript)")
        let statusRows = nodes.prefix(2)
        let drums = node("drums", in: statusRows), hit = node("hit", in: statusRows)
        #expect(drums?["method"] == "encode" && hit?["method"] == "decode", "\(nodes)")
        for (label, fields) in [("drums", drums), ("hit", hit)] {
            let blocks = Int(fields?["blocks"] ?? "") ?? 0
            let peak = Double(fields?["peak"] ?? "") ?? -.infinity
            #expect(blocks > 0, "\(label) ran blocks: \(nodes)")
            #expect(peak > -40, "\(label) made sound: peak \(peak) dBFS")
            #expect(fields?["errors"] == "0", "\(label): \(nodes)")
        }
        #expect(node("hit", in: nodes.dropFirst(2)) != nil, "hit still plays after drums was switched off")
        #expect(node("drums", in: nodes.dropFirst(2)) == nil)

        // Errors are posted in sclang: the unknown parameter and the switch-off of a node that is gone.
        #expect(output.contains("ERROR: Timbre: /timbre/set failed:") && output.contains("unknown parameter 'loudness'"), "\(transcript)")
        #expect(output.contains("ERROR: Timbre: /timbre/toggle failed:") && output.contains("no node 'drums' to switch off"), "\(transcript)")
        #expect(reports.contains(["pending", "0"]), "every command got its reply")

        // The server agrees: only `hit` is left, and it keeps playing.
        let status = try serve.status()
        #expect(status.nodes.map(\.label) == ["hit"])
        #expect((status.nodes.first?.blocks ?? 0) > 0)
    }
}

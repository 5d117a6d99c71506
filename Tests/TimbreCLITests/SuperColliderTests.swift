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

    /// Runs `script` in headless sclang with the quark on its include path, against `serve`.
    /// Returns sclang's output (stdout + stderr), its reports, and a transcript for failures.
    static func run(_ script: URL, against serve: LiveServe, in directory: TemporaryDirectory) throws
        -> (status: Int32, output: String, reports: [[String]], transcript: String) {
        // The quark on sclang's include path; the home folder is the test's own, so no user
        // extension or startup file takes part.
        let config = directory.file("sclang_conf.yaml")
        try """
        includePaths:
            - \(quark.path)
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
                                    ["--kill-after=5", "120", sclang.path, "-D", "-l", config.path, script.path],
                                    environment: environment)
        let output = result.stdout + result.stderr
        let reports = reports(result.stdout)
        print("sclang reported:\n" + reports.map { $0.joined(separator: " ") }.joined(separator: "\n"))
        return (result.status, output, reports, "sclang exited \(result.status):\n\(output.suffix(6000))")
    }

    @Test func theQuarkDrivesServeFromSclang() throws {
        guard FileManager.default.isExecutableFile(atPath: Self.sclang.path) else {
            Issue.record("sclang is missing: run scripts/bootstrap (it installs Debian's supercollider-language)")
            return
        }
        let directory = TemporaryDirectory("timbre-sclang")
        let serve = try LiveServe(directory: directory)
        defer { serve.stop() }
        let (status, output, reports, transcript) = try Self.run(Self.script, against: serve, in: directory)
        #expect(status == 0, "\(transcript)")
        #expect(!output.contains("ERROR: Class not defined"), "the quark compiled: \(transcript)")
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
        let server = try serve.status()
        #expect(server.nodes.map(\.label) == ["hit"])
        #expect((server.nodes.first?.blocks ?? 0) > 0)
    }

    /// The quark's MIDI mappings, step sequencer and swap in real sclang: `midiMap` (a CC to a
    /// parameter and to a latent, a pad to a latent point and to a drum-machine class), a
    /// refused mapping, `Timbre.midiList`, `seq`/`step`/`play`/`stop` on a drum-machine export
    /// (a refused step), and `swap` while the pattern plays. Every command gets its reply or its
    /// posted error; the server's status agrees.
    static let midiScript = TestPaths.fixture("supercollider/midi-seq-swap-test.scd")

    @Test func theQuarkMapsSequencesAndSwaps() throws {
        guard FileManager.default.isExecutableFile(atPath: Self.sclang.path) else {
            Issue.record("sclang is missing: run scripts/bootstrap (it installs Debian's supercollider-language)")
            return
        }
        let directory = TemporaryDirectory("timbre-sclang-midi")
        let serve = try LiveServe(directory: directory)
        defer { serve.stop() }
        let (status, output, reports, transcript) = try Self.run(Self.midiScript, against: serve, in: directory)
        #expect(status == 0, "\(transcript)")
        #expect(!output.contains("ERROR: Class not defined"), "the quark compiled: \(transcript)")
        #expect(reports.contains(["done"]), "the script ran to its end: \(transcript)")
        #expect(!reports.contains(["watchdog"]))

        let replies = reports.filter { $0.first == "reply" }.map { Array($0.dropFirst()) }
        #expect(replies.count == 14, "\(transcript)")
        #expect(replies.prefix(3).map { Array($0.prefix(3)) } == [
            ["/timbre/toggle", "kit", "created"], ["/timbre/toggle", "drum", "created"], ["/timbre/toggle", "fx", "created"],
        ])
        // Mapping replies carry the mapping with its defaults filled in.
        let maps = replies.filter { $0.first == "/timbre/midi/map" }.map { $0.dropFirst().joined(separator: " ") }
        #expect(maps.count == 4, "\(replies)")
        // (The reply's numbers are OSC float32s, so sclang prints 0.05 as 0.050000000745058.)
        #expect(maps.first?.hasPrefix("fx gain cc 7 chan 2 range 0.05") == true && maps.first?.hasSuffix("curve exp") == true, "\(maps)")
        #expect(maps.dropFirst().first?.hasPrefix("drum latent 1 cc 21") == true, "\(maps)")
        #expect(maps.dropFirst(2).first?.hasPrefix("drum trigger note 36") == true, "\(maps)")
        #expect(maps.last?.hasPrefix("kit trigger note 42 class hat") == true, "\(maps)")
        // midiList: the same four, in the order made.
        let listed = reports.filter { $0.first == "mapping" }.map { $0.dropFirst().joined(separator: " ") }
        #expect(reports.contains(["list", "4"]), "\(transcript)")
        #expect(listed == ["/timbre/midi/map fx gain cc 7 chan 2 range 0.05 2 curve exp",
                           "/timbre/midi/map drum latent 1 cc 21 range -2 2 curve lin",
                           "/timbre/midi/map drum trigger note 36 latents 0 0.2 -0.5 1",
                           "/timbre/midi/map kit trigger note 42 class hat"], "\(listed)")
        // The sequencer's and the swap's replies, in order.
        let rest = replies.dropFirst(7).map { Array($0.prefix(2)) }
        #expect(rest == [["/timbre/seq", "kit"], ["/timbre/seq/step", "kit"], ["/timbre/seq/step", "kit"],
                         ["/timbre/seq/step", "kit"], ["/timbre/seq/play", "kit"], ["/timbre/swap", "fx"],
                         ["/timbre/seq/stop", "kit"]], "\(replies)")

        // The refused commands are posted in sclang.
        #expect(output.contains("ERROR: Timbre: /timbre/midi/map failed:"), "\(transcript)")
        #expect(output.contains("ERROR: Timbre: /timbre/seq/step failed:"), "\(transcript)")
        #expect(reports.contains(["pending", "0"]), "every command got its reply")

        // The status read in sclang while the pattern played, then after the swap and stop.
        func rows(_ r: ArraySlice<[String]>) -> [String: [String: String]] {
            var out = [String: [String: String]]()
            for row in r where row.first == "node" && row.count > 2 {
                var fields = ["model": row[2]]
                for index in stride(from: 3, to: row.count - 1, by: 2) { fields[row[index]] = row[index + 1] }
                out[row[1]] = fields
            }
            return out
        }
        let nodeRows = reports.filter { $0.first == "node" }
        #expect(nodeRows.count == 6, "\(transcript)")
        let playing = rows(nodeRows.prefix(3)), after = rows(nodeRows.dropFirst(3))
        #expect(playing["kit"]?["playing"] == "true", "\(nodeRows)")
        let started = Int(playing["kit"]?["started"] ?? "") ?? 0
        #expect(started >= 8, "the 8-step pattern at 240 bpm ran through at least once in 1.5 s: \(started) steps")
        #expect((Double(playing["kit"]?["peak"] ?? "") ?? -.infinity) > -40, "the kit's hits sound: \(nodeRows)")
        #expect(playing["fx"]?["model"] == "tiny-streaming.ts")
        #expect(after["fx"]?["model"] == "tiny-deterministic.ts", "the swap ended on the new model: \(nodeRows)")
        #expect(after["kit"]?["playing"] == "false")
        #expect(["kit", "drum", "fx"].allSatisfy { playing[$0]?["errors"] == "0" && after[$0]?["errors"] == "0" }, "\(nodeRows)")
        #expect(reports.filter { $0.first == "mappings" }.map { $0.last } == ["4", "4"])

        // The server agrees.
        let server = try serve.status()
        #expect(server.nodes.first { $0.label == "fx" }?.model == "tiny-deterministic.ts")
        #expect(server.midi?.mappings.count == 4)
    }
}

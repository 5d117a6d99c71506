import AudioIO
import Engine
import Foundation
import JackTestSupport
import Testing
import TestSupport

/// `timbre serve / render / send / status` as a user runs them.
@Suite(.serialized)
struct EngineCommandTests {
    static var models: URL { TestPaths.fixture("models") }

    @Test(arguments: [["serve"], ["render"], ["send"], ["status"], ["bench", "capacity"]])
    func helpIsThere(_ path: [String]) throws {
        let result = try runTimbre(path + ["--help"])
        #expect(result.status == 0)
        #expect(result.stdout.contains("USAGE"))
    }

    @Test func renderWritesABusPerNodeAndTheMaster() throws {
        let dir = TemporaryDirectory()
        let input = (0..<44100).map { Float(sin(Double($0) * 0.03)) * 0.4 }
        try AudioFile.write(AudioBuffer(sampleRate: 44100, channels: [input, input]), to: dir.file("in.wav"))
        try """
        /timbre/toggle a tiny-deterministic.ts
        @0.3 toggle b tiny-stereo.ts input stereo
        @0.5 set a eq 0 lowshelf 200 0.7 6
        @0.8 toggle a tiny-deterministic.ts
        """.write(to: dir.file("s.txt"), atomically: true, encoding: .utf8)
        let result = try runTimbre(["render", "--session", dir.file("s.txt").path, "--input", dir.file("in.wav").path,
                                    "--out", dir.file("out").path, "--models-dir", Self.models.path])
        #expect(result.status == 0, "\(result.stderr)")
        for name in ["a", "b", "master"] {
            let buffer = try AudioFile.read(dir.file("out/\(name).wav"))
            #expect(buffer.channelCount == 2)
            #expect(buffer.frameCount == 44100)
            #expect(buffer.channels[0].contains { $0 != 0 })
        }
        #expect(result.stdout.contains("a: latency 4096 samples"))
    }

    @Test func renderErrorsNameTheLine() throws {
        let dir = TemporaryDirectory()
        try AudioFile.write(AudioBuffer(sampleRate: 44100, channels: [[Float](repeating: 0, count: 4410)]), to: dir.file("in.wav"))
        try "\n@0.01 toggle a missing.ts\n".write(to: dir.file("s.txt"), atomically: true, encoding: .utf8)
        let result = try runTimbre(["render", "--session", dir.file("s.txt").path, "--input", dir.file("in.wav").path,
                                    "--out", dir.file("out").path, "--models-dir", Self.models.path])
        #expect(result.status == 1)
        #expect(result.stderr.contains("s.txt:2"))
        #expect(result.stderr.contains("no model 'missing.ts'"))
        #expect(!FileManager.default.fileExists(atPath: dir.file("out/master.wav").path))
    }

    @Test func sendAndStatusTalkToServe() throws {
        let jack = try JackServer(name: "timbre-cli-\(getpid())-\(Int.random(in: 0...1_000_000))")
        defer { jack.stop() }
        let server = jack.name

        let port = String(Int.random(in: 50000...59000))
        let serve = Process()
        serve.executableURL = TestPaths.timbreExecutable
        serve.arguments = ["serve", "--models-dir", Self.models.path, "--port", port]
        serve.environment = ProcessInfo.processInfo.environment.merging(["JACK_DEFAULT_SERVER": server]) { $1 }
        serve.standardOutput = FileHandle.nullDevice
        serve.standardError = FileHandle.nullDevice
        try serve.run()
        defer { if serve.isRunning { serve.terminate() }; serve.waitUntilExit() }

        var status = try runTimbre(["status", "--port", port])
        for _ in 0..<50 where status.status != 0 {
            usleep(200_000)
            status = try runTimbre(["status", "--port", port])
        }
        #expect(status.stdout.contains("0 node(s)"), "\(status.stderr)")
        var reply = try runTimbre(["send", "--port", port, "toggle", "drums", "tiny-streaming.ts", "encode", "seed", "4"])
        #expect(reply.stdout == "/timbre/done /timbre/toggle drums created 4096\n", "\(reply.stderr)")
        reply = try runTimbre(["send", "--port", port, "/timbre/set", "drums", "bias", "0", "0.5"])
        #expect(reply.status == 0)
        reply = try runTimbre(["send", "--port", port, "set", "drums", "volume", "1"])
        #expect(reply.status == 1)
        #expect(reply.stderr.contains("unknown parameter 'volume'"))
        status = try runTimbre(["status", "--port", port, "--json"])
        let object = try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any]
        let nodes = object?["nodes"] as? [[String: Any]]
        #expect(nodes?.first?["label"] as? String == "drums")
        #expect(nodes?.first?["latencySamples"] as? Int == 4096)
        #expect(nodes?.first?["seed"] as? Int == 4)
        status = try runTimbre(["status", "--port", port])
        #expect(status.stdout.contains("drums"))
        reply = try runTimbre(["send", "--port", port, "quit"])
        #expect(reply.status == 0)
        for _ in 0..<100 where serve.isRunning { usleep(50_000) }
        #expect(!serve.isRunning)
        #expect(serve.terminationStatus == 0)
    }

    @Test func serveSaysWhenNoServerRuns() throws {
        let result = try runProcess(TestPaths.timbreExecutable, ["serve", "--server", "none-\(getpid())", "--port", "0"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("no JACK server"))
    }
}

import AudioIO
import Foundation
import Testing
import TestSupport

/// End-to-end: whole command lines run as a user would, through the built `timbre`.
@Suite(.serialized)
struct CommandLineTests {
    @Test(arguments: [[], ["info"], ["process"], ["bench"], ["bench", "inference"]])
    func everySubcommandHasHelp(_ path: [String]) throws {
        let result = try runTimbre(path + ["--help"])
        #expect(result.status == 0)
        #expect(result.stdout.contains("USAGE"))
    }

    @Test func infoPrintsJSON() throws {
        let result = try runTimbre(["info", "--json", TestPaths.fixture("models/tiny-streaming.ts").path])
        #expect(result.status == 0)
        let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        #expect(object?["sampleRate"] as? Int == 44100)
        #expect(object?["minimumBlock"] as? Int == 256)
        #expect((object?["methods"] as? [[String: Any]])?.count == 3)
    }

    @Test(.needsSharedModels)
    func infoOnSharedModelsReportsTheirInterface() throws {
        let models = TestPaths.sharedModelFiles
        #expect(!models.isEmpty, "no .ts in ../shared/models")
        for url in models {
            let result = try runTimbre(["info", url.path])
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stdout.contains("44100 Hz"))
            #expect(result.stdout.contains("minimum block  512 samples"))
            #expect(result.stdout.contains("(full 128)"))
        }
    }

    @Test func processWritesAFileOfTheInputsLength() throws {
        let dir = TemporaryDirectory()
        let input = dir.file("in.wav"), output = dir.file("out.wav")
        try AudioFile.write(AudioBuffer(sampleRate: 44100, channels: [(0..<10000).map { Float(sin(Double($0) * 0.05)) * 0.5 }]), to: input)
        let result = try runTimbre(["process", "--model", TestPaths.fixture("models/tiny-streaming.ts").path, "--seed", "3", input.path, output.path])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try AudioFile.read(output).frameCount == 10000)
    }

    /// Each bad input: exit status 1, one line on stderr naming the file, no crash.
    @Test func badInputsGiveOneLineErrors() throws {
        let dir = TemporaryDirectory()
        let model = TestPaths.fixture("models/tiny-deterministic.ts")
        let good = try Data(contentsOf: model)
        let truncated = dir.file("truncated.ts"), random = dir.file("random.ts"), empty = dir.file("empty.wav")
        let broken = dir.file("broken.wav"), wav = dir.file("ok.wav"), threeChannels = dir.file("three.wav")
        try good.prefix(good.count / 3).write(to: truncated)
        try Data((0..<5000).map { UInt8(truncatingIfNeeded: $0 &* 7919 &+ 13) }).write(to: random)
        try Data().write(to: empty)
        let signal = (0..<4096).map { Float($0 % 100) / 200 }
        try AudioFile.write(AudioBuffer(sampleRate: 44100, channels: [signal]), to: wav, format: .pcm16)
        var bytes = try Data(contentsOf: wav)
        bytes.replaceSubrange(8..<16, with: Data("JUNKJUNK".utf8))
        try bytes.write(to: broken)
        try AudioFile.write(AudioBuffer(sampleRate: 44100, channels: [signal, signal, signal]), to: threeChannels)
        let out = dir.file("out.wav").path
        let cases: [(args: [String], names: String, says: String)] = [
            (["info", truncated.path], truncated.path, "TorchScript"),
            (["info", random.path], random.path, "TorchScript"),
            (["process", "--model", truncated.path, wav.path, out], truncated.path, "TorchScript"),
            (["process", "--model", TestPaths.fixture("models/plain.ts").path, wav.path, out], "plain.ts", "no method 'forward'"),
            (["process", "--model", model.path, "--method", "prior", wav.path, out], model.path, "no method 'prior'"),
            (["process", "--model", TestPaths.fixture("models/tiny-stereo.ts").path, threeChannels.path, out], threeChannels.path, "3 channels"),
            (["process", "--model", model.path, broken.path, out], broken.path, ""),
            (["process", "--model", model.path, empty.path, out], empty.path, ""),
            (["process", "--model", model.path, dir.file("missing.wav").path, out], "missing.wav", ""),
            (["info", dir.file("missing.ts").path], "missing.ts", "no such file"),
        ]
        for c in cases {
            let result = try runTimbre(c.args)
            #expect(result.status == 1, "\(c.args): status \(result.status)")
            let lines = result.stderr.split(separator: "\n")
            #expect(lines.count == 1, "\(c.args): \(result.stderr)")
            #expect(result.stderr.hasPrefix("timbre: error: "))
            #expect(result.stderr.contains(c.names), "\(c.args): \(result.stderr)")
            #expect(c.says.isEmpty || result.stderr.contains(c.says), "\(c.args): \(result.stderr)")
            #expect(!FileManager.default.fileExists(atPath: out))
        }
    }

    @Test func benchInferencePrintsBothSeries() throws {
        let result = try runTimbre(["bench", "inference", "--model", TestPaths.fixture("models/tiny-deterministic.ts").path,
                                    "--block", "2048", "--iterations", "10"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("timbre host"))
        #expect(result.stdout.contains("bare libtorch loop"))
        #expect(result.stdout.contains("host / baseline"))
    }
}

import AudioIO
import Control
import Engine
import Foundation
import ModelHost
import Synchronization
import Testing
import TestSupport
import Torch

/// The latent step sequencer and `session/save` (issue 17), through `timbre render`'s code
/// (`SessionRender`) on the committed fixtures: tiny-drum.ts is a trigger-driven drum export
/// (decode channel 0 a trigger, one-shots of 1024 samples from channels 1...3, ratio 256).
@Suite(.serialized)
struct SequencerTests {
    static let rate = 44100

    /// A 16-step pattern at 120 bpm (sixteenths: 5512.5 samples a step) with hits on these steps,
    /// each with its own latent point.
    static let hits = [0, 3, 4, 6, 8, 10, 11, 14]

    /// Where `play` arrives (0.2 s: after the node's fade-in, which would soften the first hit).
    static let playSample = 8820

    static func pattern(label: String = "drum", swing: Float = 0, playAt: String = "@0.2 ") -> String {
        var lines = ["toggle \(label) tiny-drum.ts decode block 512",
                     "seq \(label) steps 16 bpm 120" + (swing != 0 ? " swing \(swing)" : "")]
        for step in hits {
            let a = 0.2 + 0.05 * Float(step % 5)
            lines.append("seq/step \(label) \(step) latents 0 \(a) \(-0.3 + 0.04 * Float(step)) 0.25 trigger")
        }
        lines.append("\(playAt)seq/play \(label)")
        return lines.joined(separator: "\n") + "\n"
    }

    struct Rendered {
        var buses: [String: [Float]]
        var latencies: [String: Int]
        var dir: TemporaryDirectory
    }

    /// Renders `session` over `seconds` of silence (models: the fixtures; files: the temp folder).
    static func render(_ session: String, seconds: Double = 4.5, in existing: TemporaryDirectory? = nil,
                       name: String = "session.txt") throws -> Rendered {
        let dir = existing ?? TemporaryDirectory("sequencer")
        let sessionURL = dir.file(name)
        try session.write(to: sessionURL, atomically: true, encoding: .utf8)
        let input = dir.file("silence.wav")
        if !FileManager.default.fileExists(atPath: input.path) {
            try AudioFile.write(AudioBuffer(sampleRate: Double(rate), channelCount: 1, frameCount: Int(seconds * Double(rate))), to: input)
        }
        let out = dir.file("out-\(name)")
        var options = SessionRender.Options(session: sessionURL, input: input, outputDirectory: out,
                                            modelsDirectories: [TestPaths.fixture("models")])
        options.filesDirectories = [dir.url]
        options.seconds = seconds
        let report = try SessionRender.run(options)
        var buses: [String: [Float]] = [:]
        for file in report.files {
            let buffer = try AudioFile.read(file)
            buses[file.deletingPathExtension().lastPathComponent] = buffer.channels[0] + buffer.channels[1]
        }
        return Rendered(buses: buses, latencies: report.latencies, dir: dir)
    }

    /// Onsets: the first sample above `threshold` after at least `gap` samples below it.
    static func onsets(_ x: [Float], threshold: Float = 0.01, gap: Int = 1500) -> [Int] {
        var found: [Int] = []
        var quiet = gap
        for (i, v) in x.enumerated() {
            if abs(v) > threshold {
                if quiet >= gap { found.append(i) }
                quiet = 0
            } else {
                quiet += 1
            }
        }
        return found
    }

    /// Where the pattern's hits should sound: step k starts at (k + swing if odd) × 5512.5 samples
    /// after `play` (`playSample` here), heard the node's latency later.
    static func grid(latency: Int, frames: Int, swing: Double = 0) -> [Int] {
        let step = Double(rate) * 60 / (120 * 4)
        var times: [Int] = []
        for k in 0..<1000 {
            let start = (Double(k) + (k % 2 == 1 ? swing : 0)) * step
            let t = Int(start.rounded()) + playSample + latency
            if t >= frames - 2048 { break }
            if hits.contains(k % 16) { times.append(t) }
        }
        return times
    }

    /// The bar: a sequenced session renders bit-identically twice.
    @Test func sequencedRenderIsBitIdenticalTwice() throws {
        let session = Self.pattern() + "@1.1 seq drum steps 16 bpm 132\n@2.3 seq/step drum 1 latents 0 0.5 0.5 0.5 trigger 0.9 glide 0.5\n"
        let first = try Self.render(session)
        let second = try Self.render(session)
        let drum = try #require(first.buses["drum"])
        #expect(drum.contains { $0 != 0 }, "the sequenced node plays")
        #expect(first.buses == second.buses)
        print("sequenced render: \(drum.count / 2) samples per channel, \(Self.onsets(Array(drum.prefix(drum.count / 2))).count) onsets, identical twice")
    }

    /// The bar: the onsets of a 16-step pattern at 120 bpm fall within 12 ms of the grid (detected
    /// from the rendered audio), none missed and none extra; with swing 1/3 the odd steps move off
    /// the straight grid by more than 12 ms (the control: the check sees a displacement) and onto
    /// the swung one.
    @Test func drumPatternOnsetsFallOnTheGrid() throws {
        let tolerance = Int(0.012 * Double(Self.rate))
        func errors(_ detected: [Int], _ expected: [Int]) -> [Int] {
            expected.map { e in detected.map { abs($0 - e) }.min() ?? Int.max }
        }
        let straight = try Self.render(Self.pattern())
        let audio = Array(try #require(straight.buses["drum"]).prefix(Int(4.5 * Double(Self.rate))))
        let latency = try #require(straight.latencies["drum"])
        let expected = Self.grid(latency: latency, frames: audio.count)
        let detected = Self.onsets(audio).filter { $0 < audio.count - 2048 }
        let straightErrors = errors(detected, expected)
        print("onsets (straight): \(detected.count) detected, \(expected.count) expected; largest error \(straightErrors.max() ?? -1) samples (\(String(format: "%.2f", Double(straightErrors.max() ?? 0) / 44.1)) ms), latency \(latency)")
        #expect(expected.count >= 16)
        #expect(detected.count == expected.count, "detected \(detected), expected \(expected)")
        #expect(straightErrors.allSatisfy { $0 <= tolerance }, "errors \(straightErrors)")

        let swung = try Self.render(Self.pattern(swing: Float(1.0 / 3.0)))
        let swungAudio = Array(try #require(swung.buses["drum"]).prefix(audio.count))
        let swungDetected = Self.onsets(swungAudio).filter { $0 < audio.count - 2048 }
        let offGrid = errors(swungDetected, expected)
        let onSwungGrid = errors(swungDetected, Self.grid(latency: latency, frames: audio.count, swing: 1.0 / 3.0))
        print("onsets (swing 1/3): largest error against the straight grid \(offGrid.max() ?? -1), against the swung grid \(onSwungGrid.max() ?? -1) samples")
        #expect(offGrid.contains { $0 > tolerance }, "swing moves the odd steps off the straight grid")
        #expect(onSwungGrid.allSatisfy { $0 <= tolerance }, "errors \(onSwungGrid)")
    }

    /// `status` shows the sequence and where it stands (the step the node computed last).
    @Test func statusShowsTheSequencersPosition() throws {
        let configuration = Instrument.Configuration(sampleRate: Self.rate, period: 512, modelsDirectories: [TestPaths.fixture("models")])
        let seen = Mutex<[SequenceStatus?]>([])
        let frames = 3 * Self.rate
        _ = try OfflineRenderer.render(
            input: AudioBuffer(sampleRate: Double(Self.rate), channelCount: 1, frameCount: frames), frames: frames,
            configuration: configuration,
            events: [
                RenderEvent(frame: 0) { instrument in
                    try instrument.createNow(NodeSpec(label: "drum", model: "tiny-drum.ts", method: .decode, block: 512))
                    try instrument.sequence("drum", .configure(SequenceSettings(steps: 16, bpm: 120)))
                    seen.withLock { $0.append(instrument.status().nodes.first?.sequence) }
                    try instrument.sequence("drum", .play)
                },
                RenderEvent(frame: 44100) { instrument in seen.withLock { $0.append(instrument.status().nodes.first?.sequence) } },
                RenderEvent(frame: 88200) { instrument in
                    seen.withLock { $0.append(instrument.status().nodes.first?.sequence) }
                    try instrument.sequence("drum", .stop)
                    seen.withLock { $0.append(instrument.status().nodes.first?.sequence) }
                },
            ])
        let statuses = seen.withLock { $0 }
        #expect(statuses.count == 4)
        #expect(statuses[0]?.playing == false && statuses[0]?.steps == 16 && statuses[0]?.step == nil)
        // At 1 s the node has computed blocks up to 1 s: step 7 (steps of 0.125 s) or 8.
        let atOne = try #require(statuses[1])
        #expect(atOne.playing && atOne.transport == "internal" && atOne.bpm == 120)
        #expect(atOne.step.map { (7...8).contains($0) } == true, "\(atOne)")
        #expect((8...9).contains(atOne.stepsStarted), "\(atOne)")
        let atTwo = try #require(statuses[2])
        #expect(atTwo.step.map { (15...16).contains($0) || $0 == 0 } == true, "\(atTwo)")
        #expect(statuses[3]?.playing == false)
        // The JSON reply carries it (an additive field).
        var status = EngineStatus(sampleRate: 1, period: 1, workers: 0, realtimeWorkers: 0, xruns: 0, cycles: 0, nodes: [], loading: [])
        var node = NodeStatus(label: "d", model: "m", method: "decode", block: 512, modelSampleRate: 44100, latencySamples: 1,
                              phaseSamples: 0, latencyMilliseconds: 0, load: 0, dropouts: 0, skippedBlocks: 0, blocks: 0,
                              errors: 0, lastError: nil, peakDBFS: [], input: "in1", seed: nil, lane: nil)
        node.sequence = atOne
        status.nodes = [node]
        let json = try status.json()
        #expect(json.contains("\"sequence\":{") && json.contains("\"stepsStarted\""))
        #expect(try EngineStatus.decode(json) == status)
    }

    /// The bar: malformed sequencer messages (unknown label, NaN, wrong latent count, a file
    /// outside the allowed folders, a step out of range, ...) get a one-line `/timbre/fail` and
    /// change nothing: the render equals the render without them, sample for sample.
    @Test func malformedSequencerMessagesChangeNothing() throws {
        let dir = TemporaryDirectory("sequencer-malformed")
        let outside = TemporaryDirectory("sequencer-outside")
        try AudioFile.write(AudioBuffer(sampleRate: 44100, channels: [Drums.kick()]), to: outside.file("kick.wav"))
        try "not a sound".write(to: dir.file("notes.txt"), atomically: true, encoding: .utf8)
        try FileManager.default.createSymbolicLink(at: dir.file("link.wav"), withDestinationURL: outside.file("kick.wav"))
        let malformed: [OSCMessage] = [
            OSCMessage("/timbre/seq", [.string("nobody"), .string("steps"), .int(16), .string("bpm"), .int(120)]),
            OSCMessage("/timbre/seq", [.string("drum"), .string("steps"), .int(16), .string("bpm"), .float(.nan)]),
            OSCMessage("/timbre/seq", [.string("drum"), .string("steps"), .int(300), .string("bpm"), .int(120)]),
            OSCMessage("/timbre/seq", [.string("drum"), .string("steps"), .int(16)]),
            OSCMessage("/timbre/seq", [.string("drum"), .string("steps"), .int(16), .string("bpm"), .int(120), .string("transport"), .string("ltc")]),
            OSCMessage("/timbre/seq/step", [.string("drum"), .int(1), .string("latents"), .float(0), .float(1)]),
            OSCMessage("/timbre/seq/step", [.string("drum"), .int(16), .string("latents"), .float(0), .float(1), .float(1), .float(1)]),
            OSCMessage("/timbre/seq/step", [.string("drum"), .int(2), .string("latents"), .float(0), .float(.nan), .float(1), .float(1)]),
            OSCMessage("/timbre/seq/step", [.string("drum"), .int(2), .string("latents"), .float(0), .float(1), .float(1), .float(1), .string("trigger"), .float(1.5)]),
            OSCMessage("/timbre/seq/step", [.string("nobody"), .int(2), .string("latents"), .float(0)]),
            OSCMessage("/timbre/seq/step", [.string("fwd"), .int(2), .string("latents"), .float(0)]),
            OSCMessage("/timbre/seq/play", [.string("nobody")]),
            OSCMessage("/timbre/seq/play", [.string("fwd")]),
            OSCMessage("/timbre/seq/stop", [.string("drum"), .int(1)]),
            OSCMessage("/timbre/seq/encode", [.string("drum"), .string(outside.file("kick.wav").path)]),
            OSCMessage("/timbre/seq/encode", [.string("drum"), .string("../\(outside.url.lastPathComponent)/kick.wav")]),
            OSCMessage("/timbre/seq/encode", [.string("drum"), .string("link.wav")]),
            OSCMessage("/timbre/seq/encode", [.string("drum"), .string("/etc/hostname")]),
            OSCMessage("/timbre/seq/encode", [.string("drum"), .string("missing.wav")]),
            OSCMessage("/timbre/seq/encode", [.string("drum"), .string("notes.txt")]),
            OSCMessage("/timbre/session/save", [.string(outside.file("saved.txt").path)]),
            OSCMessage("/timbre/session/save", [.string("no/such/folder/saved.txt")]),
            OSCMessage("/timbre/session/save", []),
        ]
        let replies = Mutex<[OSCMessage]>([])
        func render(sprinkled: Bool) throws -> [[Float]] {
            let configuration = Instrument.Configuration(sampleRate: Self.rate, period: 512, modelsDirectories: [TestPaths.fixture("models")])
            var withFiles = configuration
            withFiles.filesDirectories = [dir.url]
            let send: (Instrument) -> Void = { instrument in
                guard sprinkled else { return }
                let executor = CommandExecutor(instrument: instrument)
                for message in malformed { executor.handle(message) { reply in replies.withLock { $0.append(reply) } } }
            }
            let frames = 2 * Self.rate
            let result = try OfflineRenderer.render(
                input: AudioBuffer(sampleRate: Double(Self.rate), channels: [Drums.noise(frames, seed: 4).map { $0 * 0.2 }]),
                frames: frames, configuration: withFiles,
                events: [
                    RenderEvent(frame: 0) { instrument in
                        try instrument.createNow(NodeSpec(label: "drum", model: "tiny-drum.ts", method: .decode, block: 512))
                        try instrument.createNow(NodeSpec(label: "fwd", model: "tiny-deterministic.ts"))
                        send(instrument)
                        try instrument.sequence("drum", .configure(SequenceSettings(steps: 8, bpm: 150)))
                        try instrument.sequence("drum", .step(index: 0, SequenceStep(latents: [0, 0.4, 0.2, -0.3], velocity: 1)))
                        try instrument.sequence("drum", .step(index: 5, SequenceStep(latents: [0, -0.2, 0.5, 0.3], velocity: 1)))
                        try instrument.sequence("drum", .play)
                        send(instrument)
                    },
                    RenderEvent(frame: 30000) { instrument in send(instrument) },
                ])
            return result.buses.map { $0.buffer.channels[0] } + [result.master.channels[0]]
        }
        let plain = try render(sprinkled: false)
        let sprinkled = try render(sprinkled: true)
        #expect(plain == sprinkled)
        #expect(plain[0].contains { $0 != 0 })
        let all = replies.withLock { $0 }
        #expect(all.count == 3 * malformed.count)
        for reply in all {
            #expect(reply.address == "/timbre/fail", "\(reply)")
            #expect(reply.arguments.count == 2 && !reply.arguments.map(\.text).joined().contains("\n"), "\(reply)")
        }
        let texts = all.map { $0.arguments.last?.text ?? "" }
        for expected in ["no node 'nobody'", "not a finite number", "'latents' takes 4 values", "out of range 0..<8",
                         "outside the allowed folders", "runs 'forward'", "no file 'missing.wav'", "has no sequence"] {
            #expect(texts.contains { $0.contains(expected) }, "no reply says '\(expected)': \(Set(texts))")
        }
        #expect(!FileManager.default.fileExists(atPath: outside.file("saved.txt").path))
    }

    /// `seq/encode` fills the steps from a sound file's encoding through the node's own model: each
    /// step gets the encoder's latent frame where the step starts (the file at the sequence's tempo),
    /// compared here with the same model's `encode` run independently.
    @Test func encodeFillsStepsFromASoundFile() throws {
        let dir = TemporaryDirectory("sequencer-encode")
        // Four bursts of different colour, one per 0.25 s.
        var audio: [Float] = []
        for (index, part) in [Drums.kick(seconds: 0.25), Drums.snare(seconds: 0.25), Drums.hat(seconds: 0.25), Drums.kick(seconds: 0.25)].enumerated() {
            audio += part.map { $0 * Float(1 + index) * 0.4 }
        }
        try AudioFile.write(AudioBuffer(sampleRate: 44100, channels: [audio]), to: dir.file("loop.wav"))
        let replies = Mutex<[OSCMessage]>([])
        let commands = Mutex<[ControlCommand]>([])
        var configuration = Instrument.Configuration(sampleRate: Self.rate, period: 512, modelsDirectories: [TestPaths.fixture("models")])
        configuration.filesDirectories = [dir.url]
        _ = try OfflineRenderer.render(
            input: AudioBuffer(sampleRate: Double(Self.rate), channelCount: 1, frameCount: 4096), frames: 4096,
            configuration: configuration,
            events: [RenderEvent(frame: 0) { instrument in
                try instrument.createNow(NodeSpec(label: "z", model: "tiny-deterministic.ts", method: .decode, block: 512))
                let executor = CommandExecutor(instrument: instrument)
                for line in ["seq z steps 8 bpm 120", "seq/encode z loop.wav"] {
                    executor.execute(try ControlCommand(words: try Session.tokens(line))) { reply in replies.withLock { $0.append(reply) } }
                }
                commands.withLock { $0 = instrument.sessionCommands() }
            }])
        let all = replies.withLock { $0 }
        #expect(all.map(\.address) == ["/timbre/done", "/timbre/done"], "\(all)")
        #expect(all.last?.arguments.map(\.text) == ["/timbre/seq/encode", "z", "steps", "8"])
        var steps: [Int: [Float]] = [:]
        for command in commands.withLock({ $0 }) {
            if case .sequencer(_, .step(let index, let step)) = command {
                steps[index] = step.latents
                #expect(step.velocity == nil, "a model without a trigger channel gets no triggers")
            }
        }
        #expect(steps.keys.sorted() == Array(0..<8))
        // The reference: the model's encode, block by block on a fresh instance.
        let model = try NNModel(contentsOf: TestPaths.fixture("models/tiny-deterministic.ts"))
        let runner = try BlockRunner(model: model, method: "encode", block: 512)
        var frames: [[Float]] = []
        var offset = 0
        while offset < audio.count {
            var chunk = [Float](repeating: 0, count: 512)
            for i in 0..<min(512, audio.count - offset) { chunk[i] = audio[offset + i] }
            let out = try runner.run(stream: 0, [chunk])
            for f in 0..<runner.outputFrames { frames.append(out.map { $0[f] }) }
            offset += 512
        }
        for i in 0..<8 {
            let frame = Int(Double(i) * 5512.5) / 256
            #expect(steps[i] == frames[frame], "step \(i)")
        }
        #expect(Set(steps.values.map { $0.map(\.bitPattern) }).count == 8, "the steps differ from one another")
    }

    /// `session/save` writes the running state (nodes, parameters, sequences) as a session that
    /// renders exactly as the session that built it; it goes through a temporary file (none left).
    @Test func savedSessionRendersLikeTheOriginal() throws {
        let dir = TemporaryDirectory("sequencer-save")
        let original = Self.pattern(playAt: "") + """
            toggle fwd tiny-deterministic.ts input drum
            set fwd gain 0.7
            set fwd eq 0 lowpass 3000
            midi/map fwd gain cc 7 range 0 2
            set drum wet 0.9
            set drum latent 2 0.5
            set drum latents 0 0.1 0.2 0.3
            toggle gone tiny-deterministic.ts
            set gone gain 0.1
            free gone
            seq/stop drum
            seq drum steps 16 bpm 126 swing 0.2
            seq/play drum
            session/save \(dir.file("saved.txt").path)

            """
        let first = try Self.render(original, in: dir, name: "original.txt")
        let saved = try String(contentsOf: dir.file("saved.txt"), encoding: .utf8)
        print("saved session:\n\(saved)")
        let lines = saved.split(separator: "\n").map(String.init)
        #expect(lines.first?.hasPrefix("#") == true)
        #expect(lines.contains("/timbre/new drum tiny-drum.ts decode block 512"))
        #expect(lines.contains("/timbre/seq drum steps 16 bpm 126 swing 0.2"))
        #expect(lines.contains("/timbre/set fwd eq 0 lowpass 3000 0.7071 0"))
        #expect(lines.contains("/timbre/set drum latents 0 0.1 0.2 0.3") && !lines.contains { $0.contains("latent 2") })
        #expect(!lines.contains { $0.contains("gone") })
        #expect(lines.last == "/timbre/seq/play drum")
        // The MIDI mapping (a `SessionRecord` part) comes after the nodes, before the play line.
        let mapLine = try #require(lines.firstIndex(of: "/timbre/midi/map fwd gain cc 7 range 0 2 curve lin"), "\(lines)")
        #expect(mapLine > (lines.lastIndex { $0.hasPrefix("/timbre/new ") } ?? lines.count) && mapLine < lines.count - 1)
        #expect(lines.filter { $0.hasPrefix("/timbre/seq/step drum") }.count == Self.hits.count)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir.url.path).filter { $0.hasSuffix(".tmp") }
        #expect(leftovers.isEmpty)

        let again = try Self.render(saved, in: dir, name: "saved-render.txt")
        #expect(Set(first.buses.keys).subtracting(["gone"]) == Set(again.buses.keys))
        for (label, samples) in again.buses {
            if label == "master" { continue }
            #expect(first.buses[label] == samples, "bus \(label)")
        }
        // The master differs only by the node freed before the save.
        #expect(try #require(again.buses["drum"]).contains { $0 != 0 })
    }
}

import Control
import Engine
import Foundation
import JackTestSupport
import Synchronization
import Testing
import TestSupport

/// MIDI through JACK: a second client (`JackTap` with a `midi_out`) plays control changes and
/// notes into `timbre:midi_in` on a dummy jackd of its own. Times are counted in JACK frames
/// (each tap records JACK's frame count at its first cycle), never in wall-clock time, so a
/// loaded machine only makes the tests slower.
@Suite(.serialized)
struct MIDITests {
    static var models: URL { TestPaths.fixture("models") }
    /// The drum fixture's latent frame (`RATIO` in Tests/Fixtures/make_models.py: decode_params [4, 256, 1, 1]).
    static let drumRatio = 256

    struct Timeout: Error, CustomStringConvertible {
        var line: String
        var description: String { "no reply to '\(line)'" }
    }

    /// Runs a command line on the executor and waits for its one reply.
    static func run(_ executor: CommandExecutor, _ line: String, timeout: Double = 60) throws -> OSCMessage {
        try wait(for: line, timeout: timeout) { reply in executor.execute(try ControlCommand(words: try Session.tokens(line)), reply: reply) }
    }

    static func wait(for line: String, timeout: Double, _ start: (@escaping @Sendable (OSCMessage) -> Void) throws -> Void) throws -> OSCMessage {
        let box = Mutex<OSCMessage?>(nil)
        let done = DispatchSemaphore(value: 0)
        try start { reply in
            box.withLock { $0 = $0 ?? reply }
            done.signal()
        }
        guard done.wait(timeout: .now() + timeout) == .success else { throw Timeout(line: line) }
        return box.withLock { $0! }
    }

    /// timbre on a fresh dummy jackd with its MIDI input; a generous inference allowance (two
    /// blocks) so a busy machine does not turn into dropouts (the tests use the reported latency).
    static func live(period: Int = 512) throws -> (JackServer, JackDriver, CommandExecutor) {
        let server = try JackServer(sampleRate: 44100, period: period)
        let driver = try JackDriver.open(clientName: "timbre", server: server.name, midi: true) { configuration in
            configuration.modelsDirectories = [models]
            configuration.inferenceAllowance = 2
        }
        try driver.start(connect: false)
        return (server, driver, CommandExecutor(instrument: driver.instrument))
    }

    static func rms(_ x: ArraySlice<Float>) -> Double {
        (x.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(max(1, x.count))).squareRoot()
    }

    static func peak(_ x: ArraySlice<Float>) -> Float { x.reduce(0) { max($0, abs($1)) } }

    /// A CC mapped to a node's gain silences and restores its output; a CC mapped to a drum
    /// node's latent decides whether the same note is heard (latent 0 decodes to silence,
    /// latent 1 to a hit). The gain mapping is made while its node still loads, and kept.
    @Test func controllersMoveAGainAndALatent() throws {
        let (server, driver, executor) = try Self.live()
        defer {
            driver.stop()
            server.stop()
        }
        let toggled = DispatchSemaphore(value: 0)
        executor.execute(.toggle(NodeSpec(label: "n", model: "tiny-deterministic.ts"))) { _ in toggled.signal() }
        var reply = try Self.run(executor, "midi/map n gain cc 7 chan 1")
        #expect(reply.address == "/timbre/done", "\(reply)")
        #expect(toggled.wait(timeout: .now() + 60) == .success)
        reply = try Self.run(executor, "toggle drum tiny-drum.ts decode")
        #expect(reply.address == "/timbre/done", "\(reply)")
        for line in ["midi/map drum latent 1 cc 20 range 0 1", "midi/map drum trigger note any"] {
            reply = try Self.run(executor, line)
            #expect(reply.address == "/timbre/done", "\(line): \(reply)")
        }
        let mappings = try #require(driver.instrument.status().midi?.mappings)
        #expect(mappings.count == 3 && mappings.allSatisfy(\.active), "\(mappings)")

        // Frames from the tap's start: gain to 0, a note at latent 0, latent to 1, the same
        // note, gain back to 1. The same controller on another channel must change nothing.
        let midi: [JackTap.MIDIMessage] = [
            .controlChange(frame: 0, channel: 1, controller: 7, value: 0),
            .controlChange(frame: 0, channel: 1, controller: 20, value: 0),
            .noteOn(frame: 22050, note: 40, velocity: 100),
            .controlChange(frame: 33075, channel: 2, controller: 7, value: 127),
            .controlChange(frame: 44100, channel: 5, controller: 20, value: 127),
            .noteOn(frame: 66150, note: 41, velocity: 100),
            .controlChange(frame: 88200, channel: 1, controller: 7, value: 127),
        ]
        let noise = Drums.noise(44100, seed: 5).map { $0 * 0.25 }
        let frames = 132_300
        let tap = try JackTap(name: "tap", server: server.name, playing: [noise], loop: true, recordChannels: 2,
                              recordFrames: frames, midi: midi)
        try tap.client.connect(tap.outputName(0), "timbre:in_1")
        try tap.client.connect(tap.midiOutputName, "timbre:midi_in")
        try tap.client.connect("timbre:n_out_1", tap.inputName(0))
        try tap.client.connect("timbre:drum_out_1", tap.inputName(1))
        tap.start()
        #expect(waitUntil(120, interval: 0.1) { tap.frames.load(ordering: .acquiring) >= frames })
        let recorded = tap.recording()
        let n = recorded[0], drum = recorded[1]
        let latency = try #require(driver.instrument.latency(of: "drum"))
        // Margins of more than a block around every change: where JACK puts the loop's cycle does not matter.
        let silenced = Self.rms(n[30_000..<85_000]), restored = Self.rms(n[95_000..<130_000])
        print("MIDI CC: gain-mapped node RMS \(silenced) at CC 0, \(restored) at CC 127; drum latency \(latency)")
        #expect(restored > 1e-3)
        #expect(silenced < restored * 1e-3)
        let quietHit = Self.peak(drum[22_050..<44_100]), loudHit = Self.peak(drum[66_150..<88_200])
        print("MIDI CC: drum peak \(quietHit) at latent 0, \(loudHit) at latent 1")
        #expect(quietHit < 1e-6)
        #expect(loudHit > 0.3)
        #expect(latency + 4096 < 22_050, "the hits fall in their windows")
        let status = try #require(driver.instrument.status().midi)
        #expect(status.received >= midi.count && status.applied >= 5 && status.dropped == 0, "\(status)")
    }

    /// 100 mapped note-ons on a trigger-driven drum export (tiny-drum.ts), two notes with their
    /// own latent points, at seeded random gaps: each starts a hit at the note's frame plus the
    /// node's reported latency, within one latent frame (256 samples), none missed; notes nobody
    /// mapped (the control) start nothing, and each hit has its note's loudness.
    @Test func mappedNotesStartHitsAtTheirFramePlusTheLatency() throws {
        let (server, driver, executor) = try Self.live()
        defer {
            driver.stop()
            server.stop()
        }
        var reply = try Self.run(executor, "toggle drum tiny-drum.ts decode")
        #expect(reply.address == "/timbre/done", "\(reply)")
        for line in ["midi/map drum trigger note 36 latents 0 0.2 0 0", "midi/map drum trigger note 38 latents 0 0.9 0 0"] {
            reply = try Self.run(executor, line)
            #expect(reply.address == "/timbre/done", "\(line): \(reply)")
        }
        let latency = try #require(driver.instrument.latency(of: "drum"))

        var generator = FuzzSeed.generator(for: "MIDI notes")
        var notes: [(frame: Int, note: Int)] = []
        var messages: [JackTap.MIDIMessage] = []
        var frame = 8000
        while notes.count < 100 {
            // Unmapped notes, now and then, between the mapped ones.
            if Int.random(in: 0..<8, using: &generator) == 0 {
                messages.append(.noteOn(frame: frame, channel: Int.random(in: 1...16, using: &generator), note: 40, velocity: 127))
                frame += Int.random(in: 2500...4000, using: &generator)
            }
            let note = Bool.random(using: &generator) ? 36 : 38
            notes.append((frame, note))
            // A velocity above 63 is a trigger value above the export's 0.5 threshold.
            messages.append(.noteOn(frame: frame, channel: Int.random(in: 1...16, using: &generator), note: note,
                                    velocity: Int.random(in: 64...127, using: &generator)))
            frame += Int.random(in: 2500...4000, using: &generator)
        }
        let total = frame + latency + 8192
        // Both clients connected first; the recorder starts, then the sender (some cycles later:
        // `offset`, read from JACK's frame counts, not assumed).
        let capacity = total + 20 * 44100
        let recorder = try JackTap(name: "recorder", server: server.name, playing: [], recordChannels: 1, recordFrames: capacity)
        try recorder.client.connect("timbre:drum_out_1", recorder.inputName(0))
        let sender = try JackTap(name: "sender", server: server.name, playing: [], recordChannels: 0, recordFrames: 0, midi: messages)
        try sender.client.connect(sender.midiOutputName, "timbre:midi_in")
        recorder.start()
        try #require(waitUntil(60) { recorder.startFrame.load(ordering: .acquiring) >= 0 })
        sender.start()
        try #require(waitUntil(60) { sender.startFrame.load(ordering: .acquiring) >= 0 })
        let offset = sender.startFrame.load(ordering: .acquiring) - recorder.startFrame.load(ordering: .acquiring)
        try #require(offset >= 0 && offset + total <= capacity, "the sender started \(offset) frames after the recorder")
        #expect(waitUntil(300, interval: 0.1) { recorder.frames.load(ordering: .acquiring) >= offset + total })
        #expect(sender.midiPlayed.load(ordering: .acquiring) == messages.count)
        let y = recorder.recording()[0]

        // Onsets: the first non-silent sample after at least 512 silent ones (a hit lasts 1024).
        var onsets: [Int] = []
        var quiet = 512
        for (t, v) in y.enumerated() {
            if abs(v) > 1e-4 {
                if quiet >= 512 { onsets.append(t) }
                quiet = 0
            } else {
                quiet += 1
            }
        }
        var errors: [Int] = []
        var missed = 0, wrongLevel = 0
        for (frame, note) in notes {
            let expected = offset + frame + latency
            guard let onset = onsets.first(where: { $0 >= expected - Self.drumRatio && $0 <= expected + 2 * Self.drumRatio }) else {
                missed += 1
                continue
            }
            errors.append(onset - expected)
            let level = Self.peak(y[onset..<min(y.count, onset + 1024)])
            if note == 36 ? level > 0.3 : level < 0.45 { wrongLevel += 1 }
        }
        print("MIDI notes: latency \(latency), sender-recorder offset \(offset) frames, \(onsets.count) onsets for \(notes.count) notes; onset - (note + latency) from \(errors.min() ?? 0) to \(errors.max() ?? 0) samples; seed \(FuzzSeed.seed(for: "MIDI notes"))")
        #expect(missed == 0)
        #expect(onsets.count == notes.count, "onsets only where mapped notes were")
        #expect(errors.allSatisfy { $0 >= 0 && $0 <= Self.drumRatio }, "\(errors)")
        #expect(wrongLevel == 0)
        let node = try #require(driver.instrument.status().nodes.first)
        print("MIDI notes: drum node \(node.blocks) blocks, \(node.dropouts) dropouts, \(node.skippedBlocks) skipped; xruns \(driver.instrument.xruns.load(ordering: .relaxed))")
        #expect(driver.instrument.status().midi?.dropped == 0)
    }

    /// `learn` maps the next controller moved (its number and channel), `list` and the session
    /// lines show it in the syntax of `map`, `unmap` removes it.
    @Test func learnListAndUnmap() throws {
        let (server, driver, executor) = try Self.live()
        defer {
            driver.stop()
            server.stop()
        }
        var reply = try Self.run(executor, "toggle n tiny-deterministic.ts")
        #expect(reply.address == "/timbre/done", "\(reply)")
        reply = try Self.run(executor, "midi/learn ghost wet")
        #expect(reply.address == "/timbre/fail" && reply.arguments.last?.text.contains("no node 'ghost'") == true, "\(reply)")
        let learned = Mutex<OSCMessage?>(nil)
        let done = DispatchSemaphore(value: 0)
        executor.execute(.midi(.learn(label: "n", .wet))) { message in
            learned.withLock { $0 = message }
            done.signal()
        }
        #expect(driver.instrument.status().midi?.learning == ["n wet"])
        let tap = try JackTap(name: "tap", server: server.name, playing: [], recordChannels: 0, recordFrames: 0,
                              midi: [.controlChange(frame: 100, channel: 3, controller: 21, value: 100)])
        try tap.client.connect(tap.midiOutputName, "timbre:midi_in")
        tap.start()
        #expect(done.wait(timeout: .now() + 60) == .success)
        let line = "/timbre/midi/map n wet cc 21 chan 3 range 0 1 curve lin"
        let mapping = try ControlCommand(words: try Session.tokens(line))
        #expect(learned.withLock { $0 } == OSCMessage("/timbre/done", [.string("/timbre/midi/learn")] + mapping.arguments))
        reply = try Self.run(executor, "midi/list")
        #expect(reply == OSCMessage("/timbre/done", [.string("/timbre/midi/list"), .string(line)]))
        #expect(driver.instrument.midiSessionLines() == [line])
        #expect(driver.instrument.status().midi?.learning == [])
        reply = try Self.run(executor, "midi/unmap n wet")
        #expect(reply == OSCMessage("/timbre/done", [.string("/timbre/midi/unmap"), .string("n"), .string("wet")]))
        reply = try Self.run(executor, "midi/list")
        #expect(reply == OSCMessage("/timbre/done", [.string("/timbre/midi/list")]))
        reply = try Self.run(executor, "midi/unmap n wet")
        #expect(reply.address == "/timbre/fail" && reply.arguments.last?.text.contains("no MIDI mapping") == true, "\(reply)")
    }
}

/// Mappings without JACK: malformed ones refused in one line and changing nothing, and the
/// session lines that save them reading back to the same mappings.
@Suite struct MIDIMappingTests {
    static func instrument() throws -> Instrument {
        var configuration = Instrument.Configuration(sampleRate: 44100, period: 512, modelsDirectories: [MIDITests.models])
        configuration.offline = true
        let instrument = Instrument(configuration: configuration)
        try instrument.createNow(NodeSpec(label: "drum", model: "tiny-drum.ts", method: .decode))
        try instrument.createNow(NodeSpec(label: "fwd", model: "tiny-deterministic.ts"))
        return instrument
    }

    @Test func malformedMappingsChangeNothing() throws {
        let instrument = try Self.instrument()
        let executor = CommandExecutor(instrument: instrument)
        for line in ["midi/map drum trigger note 36 latents 0 0.5 0.25 0", "midi/map fwd gain cc 7 chan 2 range 0 2"] {
            let reply = try MIDITests.run(executor, line)
            #expect(reply.address == "/timbre/done", "\(line): \(reply)")
        }
        let before = instrument.midiMappings
        let statusBefore = instrument.status().midi
        let refused: [(OSCMessage, String)] = [
            (OSCMessage("/timbre/midi/map", [.string("ghost"), .string("gain"), .string("cc"), .int(7)]), "no node 'ghost'"),
            (OSCMessage("/timbre/midi/map", [.string("fwd"), .string("gain"), .string("cc"), .int(7), .string("chan"), .int(17)]), "channel 17 is out of range"),
            (OSCMessage("/timbre/midi/map", [.string("fwd"), .string("gain"), .string("cc"), .int(200)]), "CC 200 is out of range"),
            (OSCMessage("/timbre/midi/map", [.string("fwd"), .string("gain"), .string("cc"), .int(7), .string("range"), .float(.nan), .float(1)]), "not a finite number"),
            (OSCMessage("/timbre/midi/map", [.string("drum"), .string("trigger"), .string("note"), .int(36), .string("latents"), .float(0), .float(1)]), "'latents' takes 4 values"),
            (OSCMessage("/timbre/midi/map", [.string("drum"), .string("trigger"), .string("note"), .int(36), .string("latents"), .float(0), .double(.nan), .float(0), .float(0)]), "not a finite number"),
            (OSCMessage("/timbre/midi/map", [.string("drum"), .string("latent"), .int(9), .string("cc"), .int(1)]), "out of range 0..<4"),
            (OSCMessage("/timbre/midi/map", [.string("fwd"), .string("bias"), .int(0), .string("cc"), .int(1)]), "latent parameters need"),
            (OSCMessage("/timbre/midi/map", [.string("fwd"), .string("trigger"), .string("note"), .string("any")]), "needs a trigger-driven model"),
            (OSCMessage("/timbre/midi/learn", [.string("fwd"), .string("gain")]), "no MIDI input"),
            (OSCMessage("/timbre/midi/unmap", [.string("fwd"), .string("wet")]), "no MIDI mapping of 'fwd' for wet"),
            (OSCMessage("/timbre/midi/unmap", [.string("drum"), .string("trigger"), .string("note"), .int(38)]), "no MIDI mapping"),
        ]
        for (message, expected) in refused {
            let reply = try MIDITests.wait(for: message.address, timeout: 10) { reply in executor.handle(message, reply: reply) }
            let text = reply.arguments.last?.text ?? ""
            #expect(reply.address == "/timbre/fail" && text.contains(expected) && !text.contains("\n"), "\(message): \(reply)")
            #expect(instrument.midiMappings == before, "\(message) changed the mappings")
        }
        #expect(instrument.status().midi == statusBefore)
    }

    /// `session/save` keeps the mappings (a `SessionRecord` part): after the nodes and their
    /// sequences, before the sequences' `seq/play`; a mapping of a freed node (kept, inactive)
    /// is left out, since its line would fail. The saved lines, run on a fresh instrument
    /// without nodes, rebuild the same mappings.
    @Test func savedSessionKeepsTheMappings() throws {
        let instrument = try Self.instrument()
        let executor = CommandExecutor(instrument: instrument)
        for line in ["seq drum steps 4 bpm 120", "seq/step drum 0 latents 0 0.5 0.25 0 trigger", "seq/play drum",
                     "midi/map drum trigger note 36 latents 0 0.5 0.25 0", "midi/map fwd gain cc 7 chan 2 range 0 2",
                     "toggle gone tiny-deterministic.ts", "midi/map gone wet cc 9", "free gone"] {
            let reply = try MIDITests.run(executor, line)
            #expect(reply.address == "/timbre/done", "\(line): \(reply)")
        }
        let kept = instrument.midiMappings.filter { $0.label != "gone" }
        #expect(kept.count == 2 && instrument.midiMappings.count == 3)
        let text = Session.text(of: instrument.sessionCommands(), comment: "test")
        print("saved session:\n\(text)")
        let lines = text.split(separator: "\n").map(String.init)
        let maps = lines.filter { $0.hasPrefix("/timbre/midi/map") }
        #expect(maps == kept.map(\.line))
        let firstMap = try #require(lines.firstIndex { $0.hasPrefix("/timbre/midi/map") })
        let lastMap = try #require(lines.lastIndex { $0.hasPrefix("/timbre/midi/map") })
        #expect(lines[..<firstMap].contains { $0.hasPrefix("/timbre/seq/step drum 0 ") })
        #expect(lines[..<firstMap].contains { $0.hasPrefix("/timbre/new fwd ") })
        #expect(lines.last == "/timbre/seq/play drum" && lastMap < lines.count - 1)

        var configuration = Instrument.Configuration(sampleRate: 44100, period: 512, modelsDirectories: [MIDITests.models])
        configuration.offline = true
        let replay = Instrument(configuration: configuration)
        let replayExecutor = CommandExecutor(instrument: replay)
        for entry in try Session(text: text).entries {
            let reply = try MIDITests.wait(for: entry.command.line, timeout: 30) { replayExecutor.execute(entry.command, reply: $0) }
            #expect(reply.address == "/timbre/done", "\(entry.command.line): \(reply)")
        }
        #expect(replay.midiMappings == kept)
        #expect(try #require(replay.status().midi).mappings.allSatisfy(\.active))
    }

    /// What a session save writes for the mappings reads back, in a session, to the same mappings.
    @Test func sessionLinesReadBackToTheSameMappings() throws {
        let instrument = try Self.instrument()
        let executor = CommandExecutor(instrument: instrument)
        for line in ["midi/map drum trigger note 36 latents 0 0.5 0.25 0", "midi/map drum trigger note any",
                     "midi/map fwd gain cc 7 chan 2 range 0 2", "midi/map fwd eq 0 freq cc 74", "midi/map drum latent 2 cc 1 curve exp range 0.5 4",
                     "midi/map fwd gain cc 8"] {
            let reply = try MIDITests.run(executor, line)
            #expect(reply.address == "/timbre/done", "\(line): \(reply)")
        }
        let lines = instrument.midiSessionLines()
        #expect(lines.count == 5, "a second map of fwd gain replaces the first: \(lines)")
        #expect(lines.contains("/timbre/midi/map fwd gain cc 8 range 0 1 curve lin"))
        let session = try Session(text: (["toggle drum tiny-drum.ts decode", "toggle fwd tiny-deterministic.ts"] + lines).joined(separator: "\n"))
        let replay = try Self.instrument()
        let replayExecutor = CommandExecutor(instrument: replay)
        for entry in session.entries.dropFirst(2) {
            let reply = try MIDITests.wait(for: entry.command.line, timeout: 10) { replayExecutor.execute(entry.command, reply: $0) }
            #expect(reply.address == "/timbre/done", "\(entry.command.line): \(reply)")
        }
        #expect(replay.midiMappings == instrument.midiMappings)
        let status = try #require(replay.status().midi)
        #expect(status.mappings.map(\.line) == lines && status.mappings.allSatisfy(\.active) && status.port == nil)
    }
}

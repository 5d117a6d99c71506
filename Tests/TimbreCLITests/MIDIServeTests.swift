import Engine
import Foundation
import JackTestSupport
import Testing
import TestSupport

/// `timbre serve --midi` end to end, as a user runs it: the real server process on its own
/// dummy jackd, mappings made with `timbre send` over real UDP OSC, JACK MIDI played into
/// `timbre:midi_in` by a second JACK client (`JackTap` with a `midi_out`, in this process),
/// the server's outputs recorded by that client, and `timbre status` / `/timbre/midi/list`
/// reading back what the server holds. Times are JACK frames from the tap's first cycle.
@Suite(.serialized)
struct MIDIServeTests {
    static func rms(_ x: ArraySlice<Float>) -> Double {
        (x.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(max(1, x.count))).squareRoot()
    }

    static func peak(_ x: ArraySlice<Float>) -> Float { x.reduce(0) { max($0, abs($1)) } }

    /// A CC mapped to a node's gain silences and restores it, a CC mapped to a drum node's
    /// latent decides whether the same note is heard (the fixture decodes latent 0 to silence),
    /// a CC on another channel changes nothing; the mappings list and `timbre status` show the
    /// port, the mappings and the events received and applied.
    @Test func serveMidiMapsControllersAndNotesFromAJackClient() throws {
        let dir = TemporaryDirectory()
        let serve = try LiveServe(directory: dir, options: ["--midi", "--inference-allowance", "2"])
        defer { serve.stop() }
        let port = String(serve.port)
        func send(_ words: [String]) throws -> ProcessResult {
            let result = try runTimbre(["send", "--port", port, "--timeout", "60"] + words)
            #expect(result.status == 0, "timbre send \(words.joined(separator: " ")): \(result.stdout) \(result.stderr)")
            return result
        }
        _ = try send(["toggle", "n", "tiny-deterministic.ts"])
        _ = try send(["toggle", "drum", "tiny-drum.ts", "decode"])
        _ = try send(["midi/map", "n", "gain", "cc", "7", "chan", "1"])
        _ = try send(["midi/map", "drum", "latent", "1", "cc", "20", "range", "0", "1"])
        _ = try send(["/timbre/midi/map", "drum", "trigger", "note", "any"])
        // Refused, one line each, and nothing changes: an unknown label, channel 17, CC 200.
        for words in [["midi/map", "nobody", "gain", "cc", "7"], ["midi/map", "n", "gain", "cc", "7", "chan", "17"],
                      ["midi/map", "n", "gain", "cc", "200"]] {
            let result = try runTimbre(["send", "--port", port] + words)
            print("timbre send \(words.joined(separator: " ")): exit \(result.status), \(result.stderr.trimmingCharacters(in: .whitespacesAndNewlines))")
            #expect(result.status != 0 && result.stderr.split(separator: "\n").count == 1, "\(words): \(result.stderr)")
        }
        // The same over raw OSC, past `timbre send`'s own parser: the server refuses them too.
        for arguments: [OSCValue] in [[.string("n"), .string("gain"), .string("cc"), .int(7), .string("chan"), .int(17)],
                                      [.string("n"), .string("gain"), .string("cc"), .int(200)],
                                      [.string("n"), .string("gain"), .string("cc"), .float(.nan)]] {
            let reply = try OSCClient.request(OSCMessage("/timbre/midi/map", arguments), port: serve.port, timeout: 10)
            #expect(reply.address == "/timbre/fail" && !reply.arguments.map(\.text).joined().contains("\n"), "\(reply)")
        }
        let list = try OSCClient.request(OSCMessage("/timbre/midi/list", []), port: serve.port, timeout: 10)
        let lines = list.arguments.dropFirst().map(\.text)
        print("timbre serve --midi: /timbre/midi/list replies \(lines)")
        #expect(list.address == "/timbre/done")
        // One reply string per mapping, in the syntax of `map` (defaults filled in), in the order made.
        #expect(lines == ["/timbre/midi/map n gain cc 7 chan 1 range 0 1 curve lin", "/timbre/midi/map drum latent 1 cc 20 range 0 1 curve lin",
                          "/timbre/midi/map drum trigger note any"])

        // Frames from the tap's start: gain to 0, a note at latent 0, the gain's CC on channel 2
        // (unmapped), latent to 1 (on any channel), the same note, gain back to 1.
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
        let tap = try JackTap(name: "tap", server: serve.jack.name, playing: [noise], loop: true, recordChannels: 2,
                              recordFrames: frames, midi: midi)
        try tap.client.connect(tap.outputName(0), "timbre:in_1")
        try tap.client.connect(tap.midiOutputName, "timbre:midi_in")
        try tap.client.connect("timbre:n_out_1", tap.inputName(0))
        try tap.client.connect("timbre:drum_out_1", tap.inputName(1))
        tap.start()
        #expect(waitUntil(120, interval: 0.1) { tap.frames.load(ordering: .acquiring) >= frames })
        let recorded = tap.recording()
        let n = recorded[0], drum = recorded[1]
        let status = try serve.status()
        let latency = try #require(status.nodes.first { $0.label == "drum" }?.latencySamples)
        let silenced = Self.rms(n[30_000..<85_000]), restored = Self.rms(n[95_000..<130_000])
        let quietHit = Self.peak(drum[22_050..<44_100]), loudHit = Self.peak(drum[66_150..<88_200])
        let text = try runTimbre(["status", "--port", port])
        let midiLines = text.stdout.split(separator: "\n").filter { $0.contains("midi") || $0.hasPrefix("  ") && $0.contains(" cc ") || $0.contains("trigger") }
        print("""
            timbre serve --midi: gain-mapped node RMS \(silenced) at CC 0, \(restored) at CC 127; \
            drum peak \(quietHit) at latent 0, \(loudHit) at latent 1 (latency \(latency)); \
            timbre status: \(midiLines.joined(separator: " | "))
            """)
        #expect(restored > 1e-3)
        #expect(silenced < restored * 1e-3, "CC 7 at 0 silences the gain-mapped node, CC 7 on channel 2 does not restore it")
        #expect(quietHit < 1e-6, "the note at latent 0 is silent")
        #expect(loudHit > 0.3, "the note after the latent's CC is heard")
        #expect(latency + 4096 < 22_050, "the hits fall in their windows")
        let midiStatus = try #require(status.midi)
        #expect(midiStatus.port == "timbre:midi_in")
        #expect(midiStatus.received >= midi.count && midiStatus.applied >= 5 && midiStatus.dropped == 0, "\(midiStatus)")
        #expect(midiStatus.mappings.count == 3 && midiStatus.mappings.allSatisfy(\.active), "\(midiStatus.mappings)")
        #expect(text.status == 0 && text.stdout.contains("midi: timbre:midi_in, \(midiStatus.received) received"), "\(text.stdout)")
        for line in lines { #expect(text.stdout.contains(line), "status lists \(line)") }
    }
}

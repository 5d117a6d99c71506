import Foundation
import Protocol
import Testing
import TestSupport

@Suite struct CommandTests {
    /// One sample of every command and every parameter (the test below checks none is missing).
    static let samples: [ControlCommand] = [
        .toggle(NodeSpec(label: "drums", model: "drums-v2small-causal.ts")),
        .toggle(NodeSpec(label: "t", model: "my models/v2.ts", method: .encode, block: 4096, seed: 7, input: .node("drums"))),
        .toggle(NodeSpec(label: "p", model: "m.ts", method: .prior, seed: UInt64.max, input: .stereo)),
        .new(NodeSpec(label: "a.b-c_1", model: "/abs/m.ts", method: .decode, block: 512, input: .channel(1))),
        .new(NodeSpec(label: "m", model: "m.ts", input: .mix)),
        .free(label: "drums"),
        .set(label: "a", .gain(0.5)),
        .set(label: "a", .inputGain(2)),
        .set(label: "a", .wet(1)),
        .set(label: "a", .mute(true)),
        .set(label: "a", .mute(false)),
        .set(label: "a", .input(.channel(1))),
        .set(label: "a", .input(.node("b"))),
        .set(label: "a", .eq(band: 0, .band(kind: .bandpass, frequency: 800, q: 2, gainDB: 0))),
        .set(label: "a", .eq(band: 3, .band(kind: .highshelf, frequency: 6000, q: 0.7071, gainDB: -4.5))),
        .set(label: "a", .eq(band: 2, .off)),
        .set(label: "a", .bias(1, -0.75)),
        .set(label: "a", .scale(0, 1.5)),
        .set(label: "a", .noise(0.3)),
        .set(label: "a", .latent(4, 0.125)),
        .set(label: "a", .latents([0.5, -0.5, 0.3, 0.1])),
        .set(label: "a", .trigger),
        .set(label: "a", .temperature(0.8)),
        .set(label: "a", .seed(42)),
        .set(label: "a", .seed(1 << 40)),
        // Nodes without input (issue 18).
        .set(label: "p", .listen(true)),
        .set(label: "p", .listen(false)),
        .set(label: "p", .reset),
        .set(label: "d", .walk(rate: 0.5, depth: 1.25)),
        .set(label: "d", .walk(rate: 0, depth: 0)),
        .status,
        .quit,
        // sc: a label alone switches a node off; the model list.
        .toggleOff(label: "drums"),
        .models,
        // Sequencer and session (issue 17).
        .sequencer(label: "drums", .configure(SequenceSettings(steps: 16, bpm: 120))),
        .sequencer(label: "d", .configure(SequenceSettings(steps: 7, bpm: 92.5, division: 3, swing: 0.25, followsTransport: true))),
        .sequencer(label: "d", .configure(SequenceSettings(steps: 256, bpm: 999, division: 64, swing: 0.9))),
        .sequencer(label: "d", .step(index: 0, SequenceStep(latents: [0, 0.5, -0.25, 1]))),
        .sequencer(label: "d", .step(index: 255, SequenceStep(latents: [0.1], velocity: 0.8, glide: 0.5))),
        .sequencer(label: "d", .step(index: 3, SequenceStep(latents: [0, 1], velocity: 1))),
        .sequencer(label: "d", .step(index: 4, SequenceStep(latents: [2, -3], glide: 1))),
        // Trigger contract 2: the class a step's trigger plays.
        .sequencer(label: "d", .step(index: 5, SequenceStep(latents: [0, 0, 0.5], velocity: 0.25, className: "kick"))),
        .sequencer(label: "d", .step(index: 6, SequenceStep(latents: [0, 0, 1], velocity: 1, glide: 0.5, className: "hat"))),
        .sequencer(label: "d", .play),
        .sequencer(label: "d", .stop),
        .sequencer(label: "d", .encode(file: "loops/amen break.wav")),
        .saveSession(file: "sets/live.txt"),
        .swap(label: "drums", model: "v2small-noncausal.ts", fade: nil),
        .swap(label: "a.b-c_1", model: "my models/v2.ts", fade: 0.5),
        .swap(label: "t", model: "/abs/m.ts", fade: 0),
        .swap(label: "x", model: "m.ts", fade: 12.125),
        // MIDI mappings (every parameter a controller can move, both curves, channels, triggers).
        .midi(.map(MIDIMapping(label: "a", binding: .control(.gain, cc: 7, channel: nil, low: 0, high: 1, curve: .lin)))),
        .midi(.map(MIDIMapping(label: "a", binding: .control(.inputGain, cc: 8, channel: 1, low: 0.25, high: 2, curve: .lin)))),
        .midi(.map(MIDIMapping(label: "a", binding: .control(.wet, cc: 0, channel: 16, low: 1, high: 0, curve: .lin)))),
        .midi(.map(MIDIMapping(label: "a", binding: .control(.temperature, cc: 127, channel: nil, low: 0.1, high: 3, curve: .exp)))),
        .midi(.map(MIDIMapping(label: "a", binding: .control(.noise, cc: 21, channel: 2, low: 0, high: 0.5, curve: .lin)))),
        .midi(.map(MIDIMapping(label: "a", binding: .control(.bias(0), cc: 22, channel: nil, low: -1.5, high: 2.25, curve: .lin)))),
        .midi(.map(MIDIMapping(label: "a", binding: .control(.scale(3), cc: 23, channel: nil, low: 0, high: 2, curve: .lin)))),
        .midi(.map(MIDIMapping(label: "a", binding: .control(.latent(15), cc: 24, channel: 10, low: -3, high: 3, curve: .lin)))),
        .midi(.map(MIDIMapping(label: "a", binding: .control(.eq(band: 0, .freq), cc: 74, channel: nil, low: 20, high: 20000, curve: .exp)))),
        .midi(.map(MIDIMapping(label: "a", binding: .control(.eq(band: 2, .q), cc: 71, channel: nil, low: 0.5, high: 8, curve: .exp)))),
        .midi(.map(MIDIMapping(label: "a", binding: .control(.eq(band: 1, .gain), cc: 72, channel: 3, low: -24, high: 12, curve: .lin)))),
        .midi(.map(MIDIMapping(label: "drums", binding: .trigger(.number(36), latents: [0, 0.5, -1, 2])))),
        .midi(.map(MIDIMapping(label: "drums", binding: .trigger(.number(0), latents: nil)))),
        .midi(.map(MIDIMapping(label: "drums", binding: .trigger(.any, latents: nil)))),
        .midi(.map(MIDIMapping(label: "drums", binding: .trigger(.number(38), latents: nil, className: "snare")))),
        .midi(.map(MIDIMapping(label: "drums", binding: .trigger(.number(42), latents: [0, 0, 0.5], className: "hat")))),
        .midi(.learn(label: "a", .gain)),
        .midi(.learn(label: "a", .bias(2))),
        .midi(.learn(label: "a", .eq(band: 0, .gain))),
        .midi(.unmap(label: "a", .parameter(.gain))),
        .midi(.unmap(label: "a", .parameter(.eq(band: 4, .q)))),
        .midi(.unmap(label: "drums", .trigger(nil))),
        .midi(.unmap(label: "drums", .trigger(.number(36)))),
        .midi(.unmap(label: "drums", .trigger(.any))),
        .midi(.list),
    ]

    @Test func samplesCoverEveryCommandAndParameter() {
        #expect(Set(Self.samples.map(\.name)) == Set(ControlCommand.syntax.map(\.name)))
        let parameters = Self.samples.compactMap { command -> String? in
            if case .set(_, let parameter) = command { return parameter.name }
            return nil
        }
        #expect(Set(parameters) == Set(NodeParameter.names))
        let mapped = Self.samples.compactMap { command -> String? in
            if case .midi(.map(let mapping)) = command, case .control(let parameter, _, _, _, _, _) = mapping.binding { return parameter.words[0].text }
            return nil
        }
        #expect(Set(mapped) == Set(MIDIParameter.names))
    }

    /// A mapping prints itself as the session line that reads back to it (how sessions save them),
    /// with the defaults of a short `map` filled in.
    @Test func mappingsPrintTheirSessionLine() throws {
        let short = try ControlCommand(words: ["midi/map", "drums", "eq", "0", "freq", "cc", "74"])
        guard case .midi(.map(let mapping)) = short else { Issue.record("not a map: \(short)"); return }
        #expect(mapping.line == "/timbre/midi/map drums eq 0 freq cc 74 range 20 20000 curve exp")
        #expect(try Session(text: mapping.line).entries.map(\.command) == [short])
        #expect(mapping.value(controller: 0) == 20)
        #expect(abs(mapping.value(controller: 127)! - 20000) < 0.01)
        #expect(abs(Double(mapping.value(controller: 64)!) - 20 * pow(1000.0, 64.0 / 127.0)) < 0.01)
        let trigger = MIDIMapping(label: "d", binding: .trigger(.any, latents: [0, 1.5]))
        #expect(trigger.line == "/timbre/midi/map d trigger note any latents 0 1.5")
        let classed = MIDIMapping(label: "d", binding: .trigger(.number(36), latents: [0, 1.5], className: "kick"))
        #expect(classed.line == "/timbre/midi/map d trigger note 36 class kick latents 0 1.5")
        #expect(try Session(text: classed.line).entries.map(\.command) == [.midi(.map(classed))])
        #expect(trigger.value(controller: 3) == nil)
    }

    /// parse → typed → encode → parse, as an OSC message, a session line and typed words.
    @Test(arguments: samples)
    func everyCommandRoundTrips(_ command: ControlCommand) throws {
        let message = command.message
        #expect(try ControlCommand(message) == command)
        #expect(try ControlCommand(OSCMessage(message.address, message.arguments.map { .string($0.text) })) == command, "as text")
        let bytes = OSCCodec.encode(message)
        guard case .message(let decoded) = try OSCCodec.decode(bytes) else { Issue.record("not a message"); return }
        #expect(try ControlCommand(decoded) == command, "through the codec")
        let session = try Session(text: "@1.5 " + command.line)
        #expect(session.entries == [Session.Entry(time: 1.5, command: command, line: 1)], "\(command.line)")
        #expect(try ControlCommand(words: try Session.tokens(command.line)) == command)
        let bare = String(command.line.dropFirst(ControlCommand.prefix.count))
        #expect(try ControlCommand(words: try Session.tokens(bare)) == command, "without /timbre/")
    }

    /// sclang sends `1` as an int and `0.5` as a float; everything is accepted where a number is.
    @Test func numbersAcceptEveryNumericType() throws {
        for value: OSCValue in [.int(3), .float(3), .double(3), .int64(3), .string("3")] {
            let command = try ControlCommand(OSCMessage("/timbre/toggle", [.string("a"), .string("m.ts"), .string("encode"), .string("seed"), value]))
            #expect(command == .toggle(NodeSpec(label: "a", model: "m.ts", method: .encode, seed: 3)))
            #expect(try ControlCommand(OSCMessage("/timbre/set", [.string("a"), .string("gain"), value])) == .set(label: "a", .gain(3)))
        }
        #expect(try ControlCommand(OSCMessage("/timbre/set", [.string("a"), .string("wet"), .double(0.25)])) == .set(label: "a", .wet(0.25)))
        #expect(try ControlCommand(OSCMessage("/timbre/set", [.string("a"), .string("mute"), .bool(true)])) == .set(label: "a", .mute(true)))
        #expect(try ControlCommand(OSCMessage("/timbre/set", [.symbol("a"), .symbol("eq"), .int(0), .symbol("low_pass"), .int(800)]))
                == .set(label: "a", .eq(band: 0, .band(kind: .lowpass, frequency: 800, q: EQSetting.defaultQ, gainDB: 0))))
    }

    /// Malformed lines: one line saying what was wrong, naming the command.
    @Test(arguments: [
        ("dance", "unknown command"),
        ("toggle", "missing LABEL"),
        ("toggle a \"\"", "empty model name"),
        ("toggle a m.ts fast", "neither a method"),
        ("toggle a m.ts block", "missing block"),
        ("toggle a m.ts block x", "not an integer"),
        ("toggle a m.ts block 0", "out of range"),
        ("toggle a m.ts block 1.5", "not an integer"),
        ("toggle a m.ts seed -1", "non-negative"),
        ("toggle a m.ts input in3", "out of range"),
        ("toggle a m.ts input 7", "out of range"),
        ("toggle master m.ts", "invalid node label"),
        ("new a/b m.ts", "invalid node label"),
        ("free", "missing LABEL"),
        ("free a b", "unexpected argument"),
        ("set a", "missing parameter"),
        ("set a loudness 1", "unknown parameter 'loudness'"),
        ("set a gain", "missing gain"),
        ("set a gain nan", "not a finite number"),
        ("set a gain inf", "not a finite number"),
        ("set a gain -infinity", "not a finite number"),
        ("set a gain 1e39", "not a finite number"),
        ("set a gain loud", "not a number"),
        ("set a gain 1 2", "unexpected argument"),
        ("set a wet 1.5", "out of range"),
        ("set a wet -0.1", "out of range"),
        ("set a mute 2", "must be 0 or 1"),
        ("set a input in3", "out of range"),
        ("set a input a/b", "neither in1"),
        ("set a eq -1 peak 100", "out of range"),
        ("set a eq 100000 peak 100", "out of range"),
        ("set a eq 0 wobble 100", "unknown EQ kind"),
        ("set a eq 0 peak 0", "must be positive"),
        ("set a eq 0 peak 100 0", "must be positive"),
        ("set a eq 0 peak 100 1 nan", "not a finite number"),
        ("set a eq 0 peak", "missing EQ frequency"),
        ("set a bias 1.5 1", "not an integer"),
        ("set a bias -1 1", "out of range"),
        ("set a bias 0 nan", "not a finite number"),
        ("set a scale 0", "missing scale"),
        ("set a noise -1", "out of range"),
        ("set a latent 100000 1", "out of range"),
        ("set a latents", "needs one value"),
        ("set a latents 1 x", "not a number"),
        ("set a trigger 1", "unexpected argument"),
        ("set a temperature -1", "out of range"),
        ("set a seed 1.5", "non-negative integer"),
        ("set a seed -3", "non-negative integer"),
        ("set p listen 2", "0 or 1"),
        ("set p reset 1", "unexpected argument"),
        ("set d walk 1", "missing walk depth"),
        ("set d walk -1 1", "out of range"),
        ("set d walk 1 -0.5", "out of range"),
        ("status now", "unexpected argument"),
        ("seq a", "missing 'steps N'"),
        ("seq a steps 16", "missing 'bpm B'"),
        ("seq a bpm 120", "missing 'steps N'"),
        ("seq a steps 0 bpm 120", "out of range"),
        ("seq a steps 257 bpm 120", "out of range"),
        ("seq a steps 1.5 bpm 120", "not an integer"),
        ("seq a steps 16 bpm nan", "not a finite number"),
        ("seq a steps 16 bpm 0", "out of range"),
        ("seq a steps 16 bpm 120 div 0", "out of range"),
        ("seq a steps 16 bpm 120 swing 1", "out of range"),
        ("seq a steps 16 bpm 120 swing -0.1", "out of range"),
        ("seq a steps 16 bpm 120 transport midi", "not 'jack'"),
        ("seq a steps 16 bpm 120 steps 8", "given twice"),
        ("seq a steps 16 bpm 120 tempo 3", "unknown option 'tempo'"),
        ("seq master steps 16 bpm 120", "invalid node label"),
        ("seq/step a 0", "missing 'latents'"),
        ("seq/step a 0 values 1", "expected 'latents'"),
        ("seq/step a 256 latents 1", "out of range"),
        ("seq/step a -1 latents 1", "out of range"),
        ("seq/step a x latents 1", "not an integer"),
        ("seq/step a 0 latents", "needs one value"),
        ("seq/step a 0 latents trigger", "needs one value"),
        ("seq/step a 0 latents 1 nan", "not a finite number"),
        ("seq/step a 0 latents 1 inf", "not a finite number"),
        ("seq/step a 0 latents 1 trigger 2", "out of range"),
        ("seq/step a 0 latents 1 trigger -1", "out of range"),
        ("seq/step a 0 latents 1 glide 1.5", "out of range"),
        ("seq/step a 0 latents 1 glide", "missing glide"),
        ("seq/step a 0 latents 1 trigger trigger", "not a number"),
        ("seq/step a 0 latents 1 glide 0.5 glide 0.5", "given twice"),
        ("seq/step a 0 latents 1 class kick", "give 'trigger' too"),
        ("seq/step a 0 latents 1 trigger 0.5 class", "missing class"),
        ("seq/step a 0 latents 1 trigger class kick class hat", "given twice"),
        ("midi/map d trigger note 36 class", "missing class"),
        ("midi/map d trigger note 36 class kick velocity 3", "latents"),
        ("seq/play", "missing LABEL"),
        ("seq/play a b", "unexpected argument"),
        ("seq/stop master", "invalid node label"),
        ("seq/encode a", "missing FILE"),
        ("seq/encode a b.wav c", "unexpected argument"),
        ("session/save", "missing FILE"),
        ("session/save a b", "unexpected argument"),
        ("quit 1", "unexpected argument"),
        ("toggle master", "invalid node label"),
        ("models x", "unexpected argument"),
        ("swap", "missing LABEL"),
        ("swap a", "missing MODEL"),
        ("swap master m.ts", "invalid node label"),
        ("swap a m.ts fade", "missing fade"),
        ("swap a m.ts fade nan", "not a finite number"),
        ("swap a m.ts fade -0.1", "out of range"),
        ("swap a m.ts fade 61", "out of range"),
        ("swap a m.ts fade slow", "not a number"),
        ("swap a m.ts encode", "not an option of swap"),
        ("midi/map", "missing LABEL"),
        ("midi/map a gain", "missing 'cc'"),
        ("midi/map a gain note 7", "expected 'cc', got 'note'"),
        ("midi/map a gain cc 200", "CC 200 is out of range 0...127"),
        ("midi/map a gain cc -1", "out of range"),
        ("midi/map a gain cc 7.5", "not an integer"),
        ("midi/map a gain cc 7 chan 17", "channel 17 is out of range 1...16"),
        ("midi/map a gain cc 7 chan 0", "out of range"),
        ("midi/map a gain cc 7 range nan 1", "not a finite number"),
        ("midi/map a gain cc 7 range 0 inf", "not a finite number"),
        ("midi/map a gain cc 7 range 0", "missing range high"),
        ("midi/map a wet cc 1 range 0 2", "out of range"),
        ("midi/map a noise cc 1 range -1 1", "out of range"),
        ("midi/map a eq 0 freq cc 1 range 0 100", "must be positive"),
        ("midi/map a eq 0 width cc 1", "unknown EQ field"),
        ("midi/map a gain cc 1 curve exp", "curve exp needs a positive range"),
        ("midi/map a bias 0 cc 1 range -1 1 curve exp", "curve exp needs a positive range"),
        ("midi/map a gain cc 1 curve log", "unknown curve"),
        ("midi/map a gain cc 1 speed 2", "not an option of a mapping"),
        ("midi/map a mute cc 7", "not a parameter a controller can move"),
        ("midi/map a latents cc 7", "not a parameter a controller can move"),
        ("midi/map a latent cc 7", "not an integer"),
        ("midi/map a trigger 36", "expected 'note', got '36'"),
        ("midi/map a trigger note 128", "out of range"),
        ("midi/map a trigger note", "missing note"),
        ("midi/map a trigger note any 3", "expected 'latents'"),
        ("midi/map a trigger note any latents", "needs one value"),
        ("midi/map a trigger note 36 latents 1 nan", "not a finite number"),
        ("midi/map master gain cc 7", "invalid node label"),
        ("midi/learn a", "missing parameter"),
        ("midi/learn a gain cc 7", "unexpected argument"),
        ("midi/unmap a", "missing parameter"),
        ("midi/unmap a trigger note", "missing note"),
        ("midi/unmap a trigger 36", "expected 'note'"),
        ("midi/list all", "unexpected argument"),
    ])
    func malformedLinesSayWhyInOneLine(_ line: String, _ expected: String) throws {
        #expect {
            _ = try ControlCommand(words: try Session.tokens(line))
        } throws: { error in
            let text = "\(error)"
            return error is CommandError && text.contains(expected) && !text.contains("\n")
                && (text.contains("/timbre/") || text.contains("unknown command"))
        }
        // In a session, the error names the file's line and nothing of the session is kept.
        #expect {
            _ = try Session(text: "toggle ok m.ts\n\(line)\nfree ok", name: "set.txt")
        } throws: { "\($0)".hasPrefix("set.txt:2: ") && !"\($0)".contains("\n") }
    }

    /// `toggle LABEL` alone is the switch-off a SuperCollider user sends (`sendMsg("/timbre/toggle", \\a)`),
    /// over OSC (as a symbol or a string), in a session line and typed; with a model it stays the full toggle.
    @Test func toggleWithALabelAloneSwitchesOff() throws {
        #expect(try ControlCommand(OSCMessage("/timbre/toggle", [.symbol("a")])) == .toggleOff(label: "a"))
        #expect(try ControlCommand(OSCMessage("/timbre/toggle", [.string("a")])) == .toggleOff(label: "a"))
        #expect(try ControlCommand(words: ["toggle", "a"]) == .toggleOff(label: "a"))
        #expect(try Session(text: "@2 toggle drums").entries.map(\.command) == [.toggleOff(label: "drums")])
        #expect(try ControlCommand(words: ["toggle", "a", "m.ts"]) == .toggle(NodeSpec(label: "a", model: "m.ts")))
        #expect(ControlCommand.toggleOff(label: "a").line == "/timbre/toggle a")
        #expect(ControlCommand.toggleOff(label: "a").address == "/timbre/toggle")
    }

    @Test func sessionsParseTimesQuotesAndComments() throws {
        let session = try Session(text: """
        # a set
        /timbre/toggle drums "my models/drums.ts"   # quoted path
        @2.5 set drums wet 0.5
        @1 toggle bass bass.ts decode block 4096

        """)
        #expect(session.entries.map(\.time) == [0, 1, 2.5])
        #expect(session.entries[0].command == .toggle(NodeSpec(label: "drums", model: "my models/drums.ts")))
        #expect(session.entries[1].command == .toggle(NodeSpec(label: "bass", model: "bass.ts", method: .decode, block: 4096)))
        #expect(session.entries[2].command == .set(label: "drums", .wet(0.5)))
        #expect(session.entries[2].line == 3)
        #expect { try Session(text: "@x toggle a b.ts") } throws: { "\($0)".contains("session:1") }
        #expect { try Session(text: "@-1 toggle a b.ts") } throws: { "\($0)".contains("session:1") }
        #expect { try Session(text: "\n/timbre/nope") } throws: { "\($0)".contains("session:2") }
        #expect { try Session(text: "toggle a \"b.ts") } throws: { "\($0)".contains("unterminated quote") }
    }

    /// Random argument lists for every address: the parser either gives a command that
    /// round-trips or a one-line `CommandError`; it never crashes or accepts NaN/inf.
    @Test func fuzzEveryAddress() throws {
        var generator = FuzzSeed.generator(for: "command parser")
        let words = ["a", "b", "drums", "m.ts", "master", "in1", "in2", "in3", "mix", "stereo", "off", "block", "seed", "input",
                     "peak", "lowpass", "notch", "x", "", "#", "a b",
                     "steps", "bpm", "div", "swing", "transport", "jack", "latents", "trigger", "glide", "fade",
                     "cc", "chan", "range", "curve", "lin", "exp", "note", "any", "freq", "q"]
            + NodeParameter.names + NodeMethod.allCases.map(\.rawValue) + MIDIParameter.names
        let numbers: [Double] = [0, 1, -1, 0.5, 2, 3, 4096, 99_999, 100_000, 1e39, -1e39, .nan, .infinity, -.infinity, 1.5, 0x1p53, 0x1p64]
        func randomValue() -> OSCValue {
            let number = numbers.randomElement(using: &generator)!
            switch Int.random(in: 0..<10, using: &generator) {
            case 0: return .int(Int32.random(in: -3...5000, using: &generator))
            case 1: return .float(Float(number))
            case 2: return .double(number)
            case 3: return .int64(Int64.random(in: Int64.min...Int64.max, using: &generator))
            case 4: return .string(String(number))
            case 5: return .bool(Bool.random(using: &generator))
            case 6: return [.null, .impulse, .blob([1, 2]), .timeTag(1), .char(65), .midi(0)].randomElement(using: &generator)!
            default: return .string(words.randomElement(using: &generator)!)
            }
        }
        var parsed: [String: Int] = [:], refused: [String: Int] = [:]
        for row in ControlCommand.syntax {
            for _ in 0..<3000 {
                var arguments = (0..<Int.random(in: 0...7, using: &generator)).map { _ in randomValue() }
                // Half the time, a plausible start (a label and a parameter or model), to reach deeper.
                if Bool.random(using: &generator) {
                    let second = row.name == "set" ? NodeParameter.names.randomElement(using: &generator)!
                        : row.name == "seq" ? "steps" : row.name == "seq/step" ? "3"
                        : row.name.hasPrefix("midi/") ? (MIDIParameter.names + ["trigger"]).randomElement(using: &generator)! : "m.ts"
                    arguments = [.string("a"), .string(second)] + arguments
                }
                let message = OSCMessage(Bool.random(using: &generator) ? row.address : row.name, arguments)
                do {
                    let command = try ControlCommand(message)
                    parsed[row.name, default: 0] += 1
                    #expect(try ControlCommand(command.message) == command, "\(message)")
                    // No command carries a number that is not finite (the sequencer's too).
                    #expect(command.arguments.allSatisfy { value in
                        if case .float(let v) = value { return v.isFinite }
                        return true
                    }, "\(command.line)")
                    if case .set(_, let parameter) = command {
                        #expect(parameter.values.allSatisfy { value in
                            if case .float(let v) = value { return v.isFinite }
                            return true
                        }, "\(command.line)")
                    }
                    if case .midi(let midi) = command {
                        #expect(midi.arguments.allSatisfy { value in
                            if case .float(let v) = value { return v.isFinite }
                            return true
                        }, "\(command.line)")
                    }
                } catch {
                    refused[row.name, default: 0] += 1
                    #expect(!"\(error)".contains("\n"), "\(error)")
                }
            }
        }
        print("fuzz command parser: parsed \(parsed.sorted { $0.key < $1.key }), refused \(refused.sorted { $0.key < $1.key })")
        for row in ControlCommand.syntax {
            #expect(refused[row.name, default: 0] > 0, "\(row.name) refused something")
        }
        #expect(parsed["set", default: 0] > 0 && parsed["toggle", default: 0] > 0 && parsed["status", default: 0] > 0)
    }
}

// MARK: serve --session --watch (issue 18): the diff between two versions of a session.

@Suite struct SessionDiffTests {
    static func changes(_ old: String, _ new: String) throws -> [String] {
        SessionState.changes(from: SessionState(try Session(text: old)), to: SessionState(try Session(text: new))).map(\.line)
    }

    @Test func onlyWhatChangedIsApplied() throws {
        let old = """
            new a m.ts
            set a gain 0.5
            set a bias 3 1
            toggle b m.ts encode
            new c m.ts block 4096
            midi/map a gain cc 7
            @4 set a gain 0.1
            """
        let new = """
            new a m.ts
            set a gain 0.5
            set a bias 3 2
            set a bias 4 1
            new c m.ts block 2048
            new d n.ts decode
            set d latent 0 0.5
            midi/map a gain cc 7
            """
        #expect(try Self.changes(old, new) == [
            "/timbre/free b",
            "/timbre/set a bias 3 2", "/timbre/set a bias 4 1",
            "/timbre/free c", "/timbre/new c m.ts block 2048",
            "/timbre/new d n.ts decode", "/timbre/set d latent 0 0.5",
        ])
    }

    @Test func aChangedModelIsSwappedAndIdenticalSessionsChangeNothing() throws {
        let old = "new a m.ts encode\nset a gain 0.5\n"
        #expect(try Self.changes(old, old).isEmpty)
        #expect(try Self.changes(old, "# a comment\n\n" + old).isEmpty)
        #expect(try Self.changes(old, "new a other.ts encode\nset a gain 0.5\n") == ["/timbre/swap a other.ts"])
        // A later line of the same parameter wins; toggling twice leaves nothing.
        #expect(try Self.changes(old, old + "set a gain 0.25\ntoggle z m.ts\ntoggle z m.ts\n") == ["/timbre/set a gain 0.25"])
        #expect(try Self.changes("", old) == ["/timbre/new a m.ts encode", "/timbre/set a gain 0.5"])
        #expect(try Self.changes(old, "") == ["/timbre/free a"])
    }
}

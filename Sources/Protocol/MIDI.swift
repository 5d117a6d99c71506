#if canImport(Glibc)
import Glibc
#endif

/// MIDI mappings, the same over OSC, in session files and from `timbre send`:
///
///     /timbre/midi/map LABEL PARAM... cc N [chan C] [range LO HI] [curve lin|exp]
///     /timbre/midi/map LABEL trigger note N|any [class NAME] [latents V...]
///     /timbre/midi/learn LABEL PARAM...
///     /timbre/midi/unmap LABEL PARAM...          (PARAM... may be `trigger [note N|any]`)
///     /timbre/midi/list
///
/// One `ControlCommand` case (`.midi`) carries them all; the rows are in `MIDICommand.syntax`.

/// A numeric node parameter a MIDI controller can move (every numeric `set` parameter).
public enum MIDIParameter: Sendable, Hashable, CustomStringConvertible {
    case gain, inputGain, wet, temperature, noise
    case bias(LatentIndex)
    case scale(LatentIndex)
    case latent(LatentIndex)
    /// One field of an EQ band that `set LABEL eq I KIND ...` switched on.
    case eq(band: Int, EQField)

    /// The part of an EQ band a controller moves.
    public enum EQField: String, Sendable, CaseIterable {
        case freq, q, gain
    }

    /// Names a mapping accepts, in the reference's order.
    public static let names = ["gain", "input_gain", "wet", "temperature", "noise", "bias", "scale", "latent", "eq"]

    /// Reads `gain`, `bias D`, `eq I freq`, ...
    static func read(_ r: inout ArgumentReader) throws(CommandError) -> MIDIParameter {
        let name = try r.text("parameter")
        switch name {
        case "gain": return .gain
        case "input_gain": return .inputGain
        case "wet": return .wet
        case "temperature": return .temperature
        case "noise": return .noise
        case "bias": return .bias(try r.integer("latent dimension", in: 0...NodeParameter.maximumIndex))
        case "scale": return .scale(try r.integer("latent dimension", in: 0...NodeParameter.maximumIndex))
        case "latent": return .latent(try r.integer("latent dimension", in: 0...NodeParameter.maximumIndex))
        case "eq":
            let band = try r.integer("EQ band", in: 0...NodeParameter.maximumIndex)
            let text = try r.text("EQ field")
            guard let field = EQField(rawValue: text.lowercased()) else {
                throw r.error("unknown EQ field '\(text)' (\(EQField.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            return .eq(band: band, field)
        default:
            throw r.error("'\(name)' is not a parameter a controller can move (\(names.joined(separator: ", ")); notes map with 'trigger')")
        }
    }

    /// The words that name it (`bias 3`, `eq 0 freq`).
    public var words: [OSCValue] {
        switch self {
        case .gain: [.string("gain")]
        case .inputGain: [.string("input_gain")]
        case .wet: [.string("wet")]
        case .temperature: [.string("temperature")]
        case .noise: [.string("noise")]
        case .bias(let d): [.string("bias"), .int(Int32(d))]
        case .scale(let d): [.string("scale"), .int(Int32(d))]
        case .latent(let d): [.string("latent"), .int(Int32(d))]
        case .eq(let band, let field): [.string("eq"), .int(Int32(band)), .string(field.rawValue)]
        }
    }

    /// The words as text (`eq 0 freq`), for replies and errors.
    public var description: String { words.map(\.text).joined(separator: " ") }

    /// What `range` may span: the values `set` accepts for the parameter.
    public var bounds: ClosedRange<Float> {
        switch self {
        case .wet: 0...1
        case .temperature, .noise: 0...Float.greatestFiniteMagnitude
        case .eq(_, .freq): Float.leastNonzeroMagnitude...1_000_000
        case .eq(_, .q): Float.leastNonzeroMagnitude...1000
        case .eq(_, .gain): -120...120
        default: -Float.greatestFiniteMagnitude...Float.greatestFiniteMagnitude
        }
    }

    /// The range and curve of a mapping that names none (and of a learned one).
    public var defaults: (low: Float, high: Float, curve: MIDICurve) {
        switch self {
        case .gain, .inputGain, .wet, .noise: (0, 1, .lin)
        case .temperature, .scale: (0, 2, .lin)
        case .bias, .latent: (-2, 2, .lin)
        case .eq(_, .freq): (20, 20000, .exp)
        case .eq(_, .q): (0.1, 10, .exp)
        case .eq(_, .gain): (-24, 24, .lin)
        }
    }

    /// The `set` parameter this value gives (nil for an EQ field, which `set` changes only as a whole band).
    public func parameter(_ value: Float) -> NodeParameter? {
        switch self {
        case .gain: .gain(value)
        case .inputGain: .inputGain(value)
        case .wet: .wet(value)
        case .temperature: .temperature(value)
        case .noise: .noise(value)
        case .bias(let d): .bias(d, value)
        case .scale(let d): .scale(d, value)
        case .latent(let d): .latent(d, value)
        case .eq: nil
        }
    }

    /// The latent dimension it names, if any.
    public var latentDimension: LatentIndex? {
        switch self {
        case .bias(let d), .scale(let d), .latent(let d): d
        default: nil
        }
    }
}

/// How a controller's 0...127 spreads over a mapping's range.
public enum MIDICurve: String, Sendable, CaseIterable {
    /// Evenly: LO + (HI - LO) · v / 127.
    case lin
    /// Evenly in ratio: LO · (HI / LO)^(v / 127); LO and HI positive (frequencies, Q).
    case exp
}

/// Which notes a trigger mapping answers.
public enum MIDINote: Sendable, Hashable {
    case any
    case number(Int)

    /// `36` or `any`.
    public var word: OSCValue {
        switch self {
        case .any: .string("any")
        case .number(let n): .int(Int32(n))
        }
    }

    static func read(_ r: inout ArgumentReader) throws(CommandError) -> MIDINote {
        if r.peek()?.text.lowercased() == "any" {
            _ = try r.text("note")
            return .any
        }
        return .number(try r.integer("note", in: 0...127))
    }
}

/// What a mapping does with its MIDI messages.
public enum MIDIBinding: Sendable, Equatable {
    /// Control change `cc` (on `channel` 1...16, or any when nil) moves `parameter` over LO...HI.
    case control(MIDIParameter, cc: Int, channel: Int?, low: Float, high: Float, curve: MIDICurve)
    /// A note-on starts a one-shot (a trigger of velocity / 127 on the decode's trigger channel),
    /// with the node's latents set to `latents` at the same frame when given; on a drum export of
    /// trigger contract 2, of class `className` (its velocity channel; nil: the first class).
    case trigger(MIDINote, latents: [Float]?, className: String? = nil)
}

/// What a mapping of a label is keyed by: one mapping per label and parameter, or per label and note.
public enum MIDITarget: Sendable, Hashable {
    case parameter(MIDIParameter)
    case trigger(MIDINote)

    /// The words after the label (`gain`, `trigger note 36`).
    public var words: [OSCValue] {
        switch self {
        case .parameter(let p): p.words
        case .trigger(let note): [.string("trigger"), .string("note"), note.word]
        }
    }
}

/// One mapping: a label and what MIDI does to it. `line` prints it as a session line
/// (`/timbre/midi/map ...`), which is also how `/timbre/midi/list` and session saving show it.
public struct MIDIMapping: Sendable, Equatable {
    public var label: String
    public var binding: MIDIBinding

    public init(label: String, binding: MIDIBinding) {
        self.label = label
        self.binding = binding
    }

    /// What the mapping is keyed by: mapping the same label and target again replaces it.
    public var target: MIDITarget {
        switch binding {
        case .control(let parameter, _, _, _, _, _): .parameter(parameter)
        case .trigger(let note, _, _): .trigger(note)
        }
    }

    /// The `map` arguments that parse back to this mapping (range and curve always written).
    public var arguments: [OSCValue] {
        var out: [OSCValue] = [.string(label)]
        switch binding {
        case .control(let parameter, let cc, let channel, let low, let high, let curve):
            out += parameter.words + [.string("cc"), .int(Int32(cc))]
            if let channel { out += [.string("chan"), .int(Int32(channel))] }
            out += [.string("range"), .float(low), .float(high), .string("curve"), .string(curve.rawValue)]
        case .trigger(let note, let latents, let className):
            out += [.string("trigger"), .string("note"), note.word]
            if let className { out += [.string("class"), .string(className)] }
            if let latents { out += [.string("latents")] + latents.map { .float($0) } }
        }
        return out
    }

    /// The mapping as a session line: `/timbre/midi/map drums gain cc 7 chan 1 range 0 1 curve lin`.
    public var line: String { ControlCommand.midi(.map(self)).line }

    /// The value a controller at `value` (0...127) gives (control mappings; nil for triggers).
    public func value(controller value: Int) -> Float? {
        guard case .control(_, _, _, let low, let high, let curve) = binding else { return nil }
        return MIDIMapping.value(controller: value, low: low, high: high, curve: curve)
    }

    /// LO...HI at `value` / 127 on the curve.
    public static func value(controller value: Int, low: Float, high: Float, curve: MIDICurve) -> Float {
        let x = Float(min(max(value, 0), 127)) / 127
        switch curve {
        case .lin: return low + (high - low) * x
        case .exp: return low * Float(pow(Double(high / low), Double(x)))
        }
    }
}

/// The MIDI commands (`/timbre/midi/...`): one family of `ControlCommand`.
public enum MIDICommand: Sendable, Equatable {
    /// Adds a mapping, replacing the label's mapping of the same parameter (or note).
    case map(MIDIMapping)
    /// Maps the next control change that arrives to the parameter (default range and curve).
    case learn(label: String, MIDIParameter)
    /// Removes the label's mapping of the parameter, or its trigger mappings (all of them, or one note's).
    case unmap(label: String, MIDIUnmapTarget)
    /// Every mapping, one reply string each, in the syntax of `map`.
    case list

    /// What `unmap` removes.
    public enum MIDIUnmapTarget: Sendable, Equatable {
        case parameter(MIDIParameter)
        /// The trigger mapping of one note (or of `any`), or every trigger mapping of the label (nil).
        case trigger(MIDINote?)

        var words: [OSCValue] {
            switch self {
            case .parameter(let p): p.words
            case .trigger(nil): [.string("trigger")]
            case .trigger(let note?): [.string("trigger"), .string("note"), note.word]
            }
        }
    }

    /// The address's last part (`midi/map`).
    public var name: String {
        switch self {
        case .map: "midi/map"
        case .learn: "midi/learn"
        case .unmap: "midi/unmap"
        case .list: "midi/list"
        }
    }

    /// The arguments that parse back to this command.
    public var arguments: [OSCValue] {
        switch self {
        case .map(let mapping): mapping.arguments
        case .learn(let label, let parameter): [.string(label)] + parameter.words
        case .unmap(let label, let target): [.string(label)] + target.words
        case .list: []
        }
    }

    /// The rows `ControlCommand.syntax` appends.
    static let syntax: [ControlCommand.Syntax] = [
        ControlCommand.Syntax(name: "midi/map", usage: "LABEL PARAM... cc N [chan C] [range LO HI] [curve lin|exp] | LABEL trigger note N|any [class NAME] [latents V...]") { r throws(CommandError) in
            .midi(.map(try MIDICommand.readMapping(&r)))
        },
        ControlCommand.Syntax(name: "midi/learn", usage: "LABEL PARAM...") { r throws(CommandError) in
            let label = try r.label()
            let parameter = try MIDIParameter.read(&r)
            try r.finish()
            return .midi(.learn(label: label, parameter))
        },
        ControlCommand.Syntax(name: "midi/unmap", usage: "LABEL PARAM... | LABEL trigger [note N|any]") { r throws(CommandError) in
            let label = try r.label()
            let target: MIDICommand.MIDIUnmapTarget
            if r.peek()?.text == "trigger" {
                _ = try r.text("trigger")
                if r.isAtEnd {
                    target = .trigger(nil)
                } else {
                    try r.keyword("note")
                    target = .trigger(try MIDINote.read(&r))
                }
            } else {
                target = .parameter(try MIDIParameter.read(&r))
            }
            try r.finish()
            return .midi(.unmap(label: label, target))
        },
        ControlCommand.Syntax(name: "midi/list", usage: "") { r throws(CommandError) in
            try r.finish()
            return .midi(.list)
        },
    ]

    /// Reads `LABEL PARAM... cc N [chan C] [range LO HI] [curve lin|exp]` or `LABEL trigger note N|any [class NAME] [latents V...]`.
    static func readMapping(_ r: inout ArgumentReader) throws(CommandError) -> MIDIMapping {
        let label = try r.label()
        if r.peek()?.text == "trigger" {
            _ = try r.text("trigger")
            try r.keyword("note")
            let note = try MIDINote.read(&r)
            var className: String?
            if r.peek()?.text == "class" {
                _ = try r.text("class")
                let name = try r.text("class")
                guard !name.isEmpty else { throw r.error("empty class name") }
                className = name
            }
            var latents: [Float]?
            if !r.isAtEnd {
                try r.keyword("latents")
                guard !r.isAtEnd else { throw r.error("'latents' needs one value per latent dimension") }
                guard r.remaining <= NodeParameter.maximumLatents else {
                    throw r.error("'latents' takes at most \(NodeParameter.maximumLatents) values, got \(r.remaining)")
                }
                var values: [Float] = []
                while !r.isAtEnd { values.append(try r.float("latent value \(values.count)")) }
                latents = values
            }
            return MIDIMapping(label: label, binding: .trigger(note, latents: latents, className: className))
        }
        let parameter = try MIDIParameter.read(&r)
        try r.keyword("cc")
        let cc = try r.integer("CC", in: 0...127)
        var channel: Int?
        var (low, high, curve) = parameter.defaults
        var rangeGiven = false
        while !r.isAtEnd {
            let option = try r.text("option")
            switch option {
            case "chan": channel = try r.integer("channel", in: 1...16)
            case "range":
                low = try r.float("range low", in: parameter.bounds)
                high = try r.float("range high", in: parameter.bounds)
                rangeGiven = true
            case "curve":
                let text = try r.text("curve")
                guard let value = MIDICurve(rawValue: text.lowercased()) else {
                    throw r.error("unknown curve '\(text)' (lin, exp)")
                }
                curve = value
            default:
                throw r.error("'\(option)' is not an option of a mapping (chan, range, curve)")
            }
        }
        if curve == .exp, !(low > 0 && high > 0) {
            throw r.error(rangeGiven || parameter.defaults.curve == .lin
                          ? "curve exp needs a positive range, got \(ArgumentReader.format(low)) \(ArgumentReader.format(high))"
                          : "curve exp needs a positive range")
        }
        return MIDIMapping(label: label, binding: .control(parameter, cc: cc, channel: channel, low: low, high: high, curve: curve))
    }
}

extension ArgumentReader {
    /// The next argument must be `word` (`cc`, `note`, `latents`).
    mutating func keyword(_ word: String) throws(CommandError) {
        let text = try self.text("'\(word)'")
        guard text == word else { throw error("expected '\(word)', got '\(text)'") }
    }
}

/// MIDI in `timbre status` (the key `midi`; every field documented in docs/OSC.md).
public struct MIDIStatus: Codable, Sendable, Equatable {
    /// Whether the server has its MIDI input port (`serve --midi`), e.g. `timbre:midi_in`.
    public var port: String?
    /// MIDI messages received since the start, and those that moved something.
    public var received: Int
    public var applied: Int
    /// Messages a full queue made the engine drop (a node's controls, or a cycle's events).
    public var dropped: Int
    /// Every mapping, in the syntax of `/timbre/midi/map`, with whether it acts now.
    public var mappings: [MIDIMappingStatus]
    /// Parameters waiting for a controller (`/timbre/midi/learn`), as `LABEL PARAM...`.
    public var learning: [String]

    public init(port: String?, received: Int, applied: Int, dropped: Int, mappings: [MIDIMappingStatus], learning: [String]) {
        self.port = port
        self.received = received
        self.applied = applied
        self.dropped = dropped
        self.mappings = mappings
        self.learning = learning
    }
}

/// One mapping in `timbre status`.
public struct MIDIMappingStatus: Codable, Sendable, Equatable {
    /// The mapping as a session line (`/timbre/midi/map ...`).
    public var line: String
    /// Whether its node plays now and fits it (false while the label loads, after it was freed,
    /// or when the model does not fit the mapping: `reason` says which).
    public var active: Bool
    public var reason: String?

    public init(line: String, active: Bool, reason: String?) {
        self.line = line
        self.active = active
        self.reason = reason
    }
}

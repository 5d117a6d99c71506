/// The engine's command set, the same over OSC, in session files and from `timbre send`:
/// parsed once, at the protocol edge, into typed and range-checked values.
///
/// Adding a flat command (`/timbre/swap`, `/timbre/seq`, ...) is one case here, one row in
/// `syntax` (its name, usage and argument reader), one arm in `arguments` (the compiler
/// asks for it), and one arm in Control's `CommandExecutor` that calls the engine.
public enum ControlCommand: Sendable, Equatable {
    /// Create the node if its label is absent, free it if present.
    case toggle(NodeSpec)
    /// `toggle LABEL` alone: switch an existing node off (as the original `createNode(label)`);
    /// an error when there is no such node, since there is no model to create one from.
    case toggleOff(label: String)
    /// Create a node; fails when the label exists.
    case new(NodeSpec)
    /// Fade a node out and free it.
    case free(label: String)
    /// Change one parameter of a node.
    case set(label: String, NodeParameter)
    /// Ask for the engine's status (`EngineStatus` as JSON).
    case status
    /// Stop the server.
    case quit
    /// List the model files the server may load (`/timbre/models NAME...`).
    case models
    // Sequencer and session commands (issue 17; rows in Sequencer.swift).
    /// A node's latent step sequencer (`/timbre/seq`, `/timbre/seq/step`, ...).
    case sequencer(label: String, SequencerCommand)
    /// Write the running state as a session file (`/timbre/session/save FILE`).
    case saveSession(file: String)
    /// Replace a node's model in place: the new model loads and warms up in the background,
    /// then crossfades with the old one on the node's bus over `fade` seconds (nil: the
    /// default, `defaultSwapFade`), keeping the node's settings.
    case swap(label: String, model: String, fade: Float?)

    /// MIDI mappings: `/timbre/midi/map`, `learn`, `unmap`, `list` (Protocol/MIDI.swift).
    case midi(MIDICommand)

    /// The crossfade of a swap that names none, in seconds.
    public static let defaultSwapFade: Float = 0.25
    /// The longest crossfade a swap may ask for, in seconds.
    public static let maximumSwapFade: Float = 60

    /// The prefix every address carries over OSC (`timbre send` and session lines add it).
    public static let prefix = "/timbre/"

    /// How one command reads its arguments.
    public struct Syntax: Sendable {
        /// The address's last part (`toggle`).
        public let name: String
        /// The arguments, for usage lines and errors.
        public let usage: String
        let read: @Sendable (inout ArgumentReader) throws(CommandError) -> ControlCommand

        /// The full address (`/timbre/toggle`).
        public var address: String { ControlCommand.prefix + name }
    }

    /// Every command: the one table to extend.
    public static let syntax: [Syntax] = [
        Syntax(name: "toggle", usage: "LABEL [MODEL [METHOD] [block N] [seed S] [input SOURCE]]") { r throws(CommandError) in
            // A label alone switches a playing node off; with a model it is the full toggle.
            if r.remaining == 1 {
                let label = try r.label()
                return .toggleOff(label: label)
            }
            return .toggle(try NodeSpec.read(&r))
        },
        Syntax(name: "new", usage: "LABEL MODEL [METHOD] [block N] [seed S] [input SOURCE]") { r throws(CommandError) in
            .new(try NodeSpec.read(&r))
        },
        Syntax(name: "free", usage: "LABEL") { r throws(CommandError) in
            let label = try r.label()
            try r.finish()
            return .free(label: label)
        },
        Syntax(name: "set", usage: "LABEL PARAM VALUE...") { r throws(CommandError) in
            let label = try r.label()
            return .set(label: label, try NodeParameter.read(&r))
        },
        Syntax(name: "status", usage: "") { r throws(CommandError) in
            try r.finish()
            return .status
        },
        Syntax(name: "quit", usage: "") { r throws(CommandError) in
            try r.finish()
            return .quit
        },
        Syntax(name: "models", usage: "") { r throws(CommandError) in
            try r.finish()
            return .models
        },
        Syntax(name: "swap", usage: "LABEL MODEL [fade SECONDS]") { r throws(CommandError) in
            let label = try r.label()
            let model = try r.text("MODEL")
            guard !model.isEmpty else { throw r.error("empty model name") }
            var fade: Float?
            while !r.isAtEnd {
                let key = try r.text("option")
                guard key == "fade" else { throw r.error("'\(key)' is not an option of swap (fade)") }
                fade = try r.float("fade", in: 0...ControlCommand.maximumSwapFade)
            }
            return .swap(label: label, model: model, fade: fade)
        },
    ] + SequencerCommand.syntax + MIDICommand.syntax

    /// Every address, for help and errors.
    public static var addresses: [String] { syntax.map(\.address) }

    /// Parses a message (the address with or without `/timbre/`). Errors are one line
    /// naming the address and what was wrong, with the usage.
    public init(_ message: OSCMessage) throws(CommandError) {
        let address = Self.normalise(message.address)
        guard let row = Self.syntax.first(where: { $0.address == address }) else {
            throw CommandError("unknown command '\(message.address)' (\(Self.addresses.joined(separator: ", ")))")
        }
        var reader = ArgumentReader(address: address, values: message.arguments)
        do {
            self = try row.read(&reader)
        } catch {
            throw CommandError("\(error) (usage: \(address)\(row.usage.isEmpty ? "" : " " + row.usage))")
        }
    }

    /// Parses a command typed as words (`timbre send`, a session line): `set drums wet 0.5`.
    public init(words: [String]) throws(CommandError) {
        guard let first = words.first else { throw CommandError("no command (\(Self.addresses.joined(separator: ", ")))") }
        try self.init(OSCMessage(first, words.dropFirst().map { .string($0) }))
    }

    /// `toggle`, `/toggle` and `/timbre/toggle` all mean `/timbre/toggle`.
    public static func normalise(_ address: String) -> String {
        if address.hasPrefix(prefix) { return address }
        let bare = address.hasPrefix("/") ? String(address.dropFirst()) : address
        return prefix + bare
    }

    /// The command's name (`toggle`).
    public var name: String {
        switch self {
        case .toggle, .toggleOff: "toggle"
        case .new: "new"
        case .free: "free"
        case .set: "set"
        case .status: "status"
        case .quit: "quit"
        case .models: "models"
        case .sequencer(_, let command): command.name
        case .saveSession: "session/save"
        case .swap: "swap"
        case .midi(let command): command.name
        }
    }

    /// The command's full address (`/timbre/toggle`).
    public var address: String { Self.prefix + name }

    /// The arguments that parse back to this command.
    public var arguments: [OSCValue] {
        switch self {
        case .toggle(let spec), .new(let spec): spec.arguments
        case .free(let label), .toggleOff(let label): [.string(label)]
        case .set(let label, let parameter): [.string(label), .string(parameter.name)] + parameter.values
        case .status, .quit, .models: []
        case .sequencer(let label, let command): [.string(label)] + command.values
        case .saveSession(let file): [.string(file)]
        case .swap(let label, let model, let fade):
            [.string(label), .string(model)] + (fade.map { [.string("fade"), .float($0)] } ?? [])
        case .midi(let command): command.arguments
        }
    }

    /// The command as an OSC message.
    public var message: OSCMessage { OSCMessage(address, arguments) }

    /// The command as a session line (quoted where an argument holds spaces).
    public var line: String {
        ([address] + arguments.map { value in
            let text = value.text
            return text.isEmpty || text.contains(where: { $0.isWhitespace || $0 == "#" || $0 == "\"" }) ? "\"\(text)\"" : text
        }).joined(separator: " ")
    }
}

extension ArgumentReader {
    /// The next argument as a node label (checked: it must be able to name JACK ports).
    mutating func label() throws(CommandError) -> String {
        let label = try text("LABEL")
        do { try NodeSpec.validate(label: label) } catch { throw self.error("\(error)") }
        return label
    }
}

extension NodeSpec {
    /// Reads `LABEL MODEL [METHOD] [block N] [seed S] [input SOURCE]`.
    static func read(_ r: inout ArgumentReader) throws(CommandError) -> NodeSpec {
        let label = try r.label()
        let model = try r.text("MODEL")
        guard !model.isEmpty else { throw r.error("empty model name") }
        var spec = NodeSpec(label: label, model: model)
        if let method = r.word(NodeMethod.self) { spec.method = method }
        while !r.isAtEnd {
            let key = try r.text("option")
            switch key {
            case "block": spec.block = try r.integer("block", in: 1...maximumBlock)
            case "seed": spec.seed = try r.unsigned("seed")
            case "input":
                let text = try r.text("input")
                do { spec.input = try NodeInput(parsing: text) } catch { throw r.error("\(error)") }
            default:
                let methods = NodeMethod.allCases.map(\.rawValue).joined(separator: ", ")
                throw r.error("'\(key)' is neither a method (\(methods)) nor an option (block, seed, input)")
            }
        }
        return spec
    }

    /// The arguments that read back to this spec (defaults left out).
    var arguments: [OSCValue] {
        var out: [OSCValue] = [.string(label), .string(model)]
        if method != .forward { out.append(.string(method.rawValue)) }
        if let block { out += [.string("block"), .int(Int32(block))] }
        if let seed { out += [.string("seed"), OSCValue(seed)] }
        if input != .channel(0) { out += [.string("input"), .string(input.description)] }
        return out
    }
}

import Engine
import Foundation

/// The engine's command set, the same over OSC and in session files.
public enum ControlCommand: Sendable, Equatable {
    /// Create the node if its label is absent, free it if present.
    case toggle(NodeSpec)
    case new(NodeSpec)
    case free(String)
    case set(label: String, parameter: String, values: [String])
    case status
    case quit

    /// Every address, for help and errors.
    public static let addresses = ["/timbre/toggle", "/timbre/new", "/timbre/free", "/timbre/set", "/timbre/status", "/timbre/quit"]

    /// Parses a message. Numbers may come as int, float, double or text (sclang sends `1` as an int).
    public init(_ message: OSCMessage) throws {
        let address = Self.normalise(message.address)
        let args = message.arguments.map(\.text)
        func need(_ count: Int, _ usage: String) throws {
            guard args.count >= count else { throw CommandError("\(address): usage: \(address) \(usage)") }
        }
        switch address {
        case "/timbre/toggle", "/timbre/new":
            try need(2, "LABEL MODEL [METHOD] [block N] [seed S] [input SOURCE]")
            let spec = try Self.spec(args, address: address)
            self = address == "/timbre/toggle" ? .toggle(spec) : .new(spec)
        case "/timbre/free":
            try need(1, "LABEL")
            self = .free(args[0])
        case "/timbre/set":
            try need(2, "LABEL PARAM VALUE...")
            self = .set(label: args[0], parameter: args[1], values: Array(args.dropFirst(2)))
        case "/timbre/status": self = .status
        case "/timbre/quit": self = .quit
        default:
            throw CommandError("unknown command '\(message.address)' (\(Self.addresses.joined(separator: ", ")))")
        }
    }

    /// `toggle`, `/toggle` and `/timbre/toggle` all mean `/timbre/toggle`.
    public static func normalise(_ address: String) -> String {
        if address.hasPrefix("/timbre/") { return address }
        let bare = address.hasPrefix("/") ? String(address.dropFirst()) : address
        return "/timbre/" + bare
    }

    private static func spec(_ args: [String], address: String) throws -> NodeSpec {
        var spec = NodeSpec(label: args[0], model: args[1])
        var rest = Array(args.dropFirst(2))
        if let first = rest.first, let method = NodeMethod(rawValue: first) {
            spec.method = method
            rest.removeFirst()
        }
        guard rest.count % 2 == 0 else {
            throw CommandError("\(address): options come in pairs (block N, seed S, input SOURCE); got '\(rest.joined(separator: " "))'")
        }
        for i in stride(from: 0, to: rest.count, by: 2) {
            let (key, value) = (rest[i], rest[i + 1])
            switch key {
            case "block":
                guard let block = Int(value) ?? Double(value).flatMap({ $0 == $0.rounded() ? Int($0) : nil }), block > 0 else {
                    throw CommandError("\(address): block '\(value)' is not a positive integer")
                }
                spec.block = block
            case "seed":
                guard let seed = UInt64(value) ?? Double(value).flatMap({ $0 >= 0 && $0 == $0.rounded() ? UInt64($0) : nil }) else {
                    throw CommandError("\(address): seed '\(value)' is not a non-negative integer")
                }
                spec.seed = seed
            case "input": spec.input = NodeInput(parsing: value)
            default:
                let methods = NodeMethod.allCases.map(\.rawValue).joined(separator: ", ")
                throw CommandError("\(address): '\(key)' is neither a method (\(methods)) nor an option (block, seed, input)")
            }
        }
        return spec
    }
}

/// A command that could not be understood, reported as one line.
public struct CommandError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Runs commands on an instrument and answers each with one OSC message:
/// `/timbre/done ADDRESS ...` or `/timbre/fail ADDRESS MESSAGE`, and
/// `/timbre/status JSON` for a status request.
public final class CommandExecutor: @unchecked Sendable {
    public let instrument: Instrument
    private let onQuit: @Sendable () -> Void

    public init(instrument: Instrument, onQuit: @escaping @Sendable () -> Void = {}) {
        self.instrument = instrument
        self.onQuit = onQuit
    }

    /// Parses and runs a message; `reply` is called once, possibly later (after a model loads).
    public func handle(_ message: OSCMessage, reply: @escaping @Sendable (OSCMessage) -> Void) {
        let address = ControlCommand.normalise(message.address)
        do {
            execute(try ControlCommand(message), address: address, reply: reply)
        } catch {
            reply(Self.fail(address, error))
        }
    }

    public func execute(_ command: ControlCommand, address: String, reply: @escaping @Sendable (OSCMessage) -> Void) {
        let respond: @Sendable (Result<NodeEvent, Error>) -> Void = { result in
            switch result {
            case .success(.created(let label, let latency)):
                reply(OSCMessage("/timbre/done", [.string(address), .string(label), .string("created"), .int(Int32(clamping: latency))]))
            case .success(.freed(let label)):
                reply(OSCMessage("/timbre/done", [.string(address), .string(label), .string("freed")]))
            case .failure(let error):
                reply(Self.fail(address, error))
            }
        }
        switch command {
        case .toggle(let spec): instrument.toggle(spec, completion: respond)
        case .new(let spec): instrument.create(spec, completion: respond)
        case .free(let label): respond(Result { try instrument.free(label) })
        case .set(let label, let parameter, let values):
            do {
                try instrument.set(label, parameter, values)
                reply(OSCMessage("/timbre/done", [.string(address), .string(label), .string(parameter)]))
            } catch {
                reply(Self.fail(address, error))
            }
        case .status:
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            let json = (try? encoder.encode(instrument.status())).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
            reply(OSCMessage("/timbre/status", [.string(json)]))
        case .quit:
            reply(OSCMessage("/timbre/done", [.string(address)]))
            onQuit()
        }
    }

    static func fail(_ address: String, _ error: Error) -> OSCMessage {
        OSCMessage("/timbre/fail", [.string(address), .string("\(error)".replacingOccurrences(of: "\n", with: " "))])
    }
}

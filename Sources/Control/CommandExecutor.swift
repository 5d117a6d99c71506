import Engine
import Errors
import Foundation

/// Runs typed commands on an instrument and answers each with one OSC message:
/// `/timbre/done ADDRESS ...` or `/timbre/fail ADDRESS MESSAGE`, and
/// `/timbre/status JSON` for a status request. This is the one place where Protocol's
/// commands meet the engine: a new command adds one arm here.
public final class CommandExecutor: @unchecked Sendable {
    public let instrument: Instrument
    private let onQuit: @Sendable () -> Void

    public init(instrument: Instrument, onQuit: @escaping @Sendable () -> Void = {}) {
        self.instrument = instrument
        self.onQuit = onQuit
    }

    /// Parses and runs a message; `reply` is called once, possibly later (after a model loads).
    /// A message that does not parse never reaches the engine.
    public func handle(_ message: OSCMessage, reply: @escaping @Sendable (OSCMessage) -> Void) {
        let command: ControlCommand
        do {
            command = try ControlCommand(message)
        } catch {
            reply(Self.fail(ControlCommand.normalise(message.address), error))
            return
        }
        execute(command, reply: reply)
    }

    /// Runs a parsed command.
    public func execute(_ command: ControlCommand, reply: @escaping @Sendable (OSCMessage) -> Void) {
        let address = command.address
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
        case .set(let label, let parameter):
            do {
                try instrument.set(label, parameter)
                reply(OSCMessage("/timbre/done", [.string(address), .string(label), .string(parameter.name)]))
            } catch {
                reply(Self.fail(address, error))
            }
        case .status:
            let json = (try? instrument.status().json()) ?? "{}"
            reply(OSCMessage("/timbre/status", [.string(json)]))
        case .quit:
            reply(OSCMessage("/timbre/done", [.string(address)]))
            onQuit()
        case .midi(let midi):
            executeMIDI(midi, address: address, reply: reply)
        }
    }

    /// `/timbre/midi/...`: `map` and `learn` answer with the mapping's arguments (defaults filled
    /// in; for `learn`, once a controller moved), `unmap` with what it named, `list` with one
    /// string per mapping in the syntax of `map`.
    private func executeMIDI(_ command: MIDICommand, address: String, reply: @escaping @Sendable (OSCMessage) -> Void) {
        switch command {
        case .map(let mapping):
            do {
                try instrument.midiMap(mapping)
                reply(OSCMessage("/timbre/done", [.string(address)] + mapping.arguments))
            } catch {
                reply(Self.fail(address, error))
            }
        case .learn(let label, let parameter):
            instrument.midiLearn(label: label, parameter) { result in
                switch result {
                case .success(let mapping): reply(OSCMessage("/timbre/done", [.string(address)] + mapping.arguments))
                case .failure(let error): reply(Self.fail(address, error))
                }
            }
        case .unmap(let label, let target):
            do {
                try instrument.midiUnmap(label: label, target)
                reply(OSCMessage("/timbre/done", [.string(address)] + command.arguments))
            } catch {
                reply(Self.fail(address, error))
            }
        case .list:
            reply(OSCMessage("/timbre/done", [.string(address)] + instrument.midiMappings.map { .string($0.line) }))
        }
    }

    static func fail(_ address: String, _ error: Error) -> OSCMessage {
        OSCMessage("/timbre/fail", [.string(address), .string(foldedOntoOneLine("\(error)"))])
    }
}

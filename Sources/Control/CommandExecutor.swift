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
        case .toggleOff(let label):
            // Switching off is a free under toggle's address; without a model there is nothing to create.
            do {
                respond(.success(try instrument.free(label)))
            } catch {
                reply(Self.fail(address, EngineError("no node '\(label)' to switch off (toggle LABEL MODEL creates one)")))
            }
        case .models:
            reply(OSCMessage("/timbre/models", Self.fitting(instrument.library.available()).map { .string($0) }))
        // Sequencer and session (issue 17).
        case .sequencer(let label, .encode(let file)):
            instrument.encodeSequence(label, file: file) { result in
                switch result {
                case .success(let steps): reply(OSCMessage("/timbre/done", [.string(address), .string(label), .string("steps"), .int(Int32(steps))]))
                case .failure(let error): reply(Self.fail(address, error))
                }
            }
        case .sequencer(let label, let sequencerCommand):
            do {
                try instrument.sequence(label, sequencerCommand)
                reply(OSCMessage("/timbre/done", [.string(address), .string(label)]))
            } catch {
                reply(Self.fail(address, error))
            }
        case .saveSession(let file):
            do {
                let url = try instrument.saveSession(to: file)
                reply(OSCMessage("/timbre/done", [.string(address), .string(url.path)]))
            } catch {
                reply(Self.fail(address, error))
            }
        case .swap(let label, let model, let fade):
            // Answered once the new model plays alone: `/timbre/done /timbre/swap LABEL`, with
            // one more string naming the settings dropped because they did not fit the model.
            instrument.swap(label, model: model, fadeSeconds: fade) { result in
                switch result {
                case .success(let outcome):
                    var arguments: [OSCValue] = [.string(address), .string(outcome.label)]
                    if let dropped = outcome.dropped { arguments.append(.string(dropped)) }
                    reply(OSCMessage("/timbre/done", arguments))
                case .failure(let error):
                    reply(Self.fail(address, error))
                }
            }
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

    /// As many names as fit in one UDP datagram beside the address (the rest are left out:
    /// the reply must arrive whole).
    static func fitting(_ names: [String]) -> [String] {
        var budget = 60_000
        var kept: [String] = []
        for name in names {
            // A string argument: its bytes, a terminating zero, padding to 4, and its type tag.
            budget -= (name.utf8.count / 4 + 1) * 4 + 1
            guard budget >= 0 else { break }
            kept.append(name)
        }
        return kept
    }

    static func fail(_ address: String, _ error: Error) -> OSCMessage {
        OSCMessage("/timbre/fail", [.string(address), .string(foldedOntoOneLine("\(error)"))])
    }
}

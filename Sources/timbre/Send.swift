import ArgumentParser
import Control
import Foundation

struct Send: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Send one OSC command to a running `timbre serve` and print its reply.",
        discussion: """
        COMMAND is an address (/timbre/toggle) or its last part (toggle). Arguments that read as \
        integers are sent as int, other numbers as float, the rest as strings. Examples:
          timbre send toggle drums drums-v2small-causal.ts
          timbre send set drums eq 0 bandpass 800 2
        """)

    @Option(help: "The OSC port of `timbre serve`.")
    var port: Int = defaultOSCPort

    @Option(help: "Seconds to wait for the reply (a toggle waits for its model to load).")
    var timeout: Double = 60

    @Argument(help: "The command: toggle, new, free, set, status or quit.")
    var command: String

    @Argument(parsing: .captureForPassthrough, help: "Its arguments.")
    var arguments: [String] = []

    func run() throws {
        let values: [OSCValue] = arguments.map { text in
            if let int = Int32(text) { return .int(int) }
            if let number = Float(text), text.contains(where: \.isNumber) { return .float(number) }
            return .string(text)
        }
        let reply = try OSCClient.request(OSCMessage(ControlCommand.normalise(command), values), port: port, timeout: timeout)
        let line = ([reply.address] + reply.arguments.map(\.description)).joined(separator: " ")
        if reply.address == "/timbre/fail" { throw UserError(line) }
        print(line)
    }
}

import ArgumentParser
#if canImport(Glibc)
import Glibc
#endif
import Protocol

/// `timbre send`: one command to a running `timbre serve`, checked here with the server's
/// own parser first, so a typo is reported without a round trip.
public struct Send: ParsableCommand {
    public static let configuration = CommandConfiguration(
        abstract: "Send one OSC command to a running `timbre serve` and print its reply.",
        discussion: """
        COMMAND is an address (/timbre/toggle) or its last part (toggle); the words are parsed \
        as a session line is (see docs/OSC.md) and sent typed: integers as int, other numbers \
        as float, the rest as strings. Examples:
          timbre send toggle drums drums-v2small-causal.ts
          timbre send set drums eq 0 bandpass 800 2
        """)

    @Option(help: "The OSC port of `timbre serve`.")
    var port: Int = defaultOSCPort

    @Option(help: "The address of `timbre serve`.")
    var host: String = "127.0.0.1"

    @Option(help: "Seconds to wait for the reply (a toggle waits for its model to load).")
    var timeout: Double = 60

    @Argument(help: "The command: \(ControlCommand.syntax.map(\.name).joined(separator: ", ")).")
    var command: String

    @Argument(parsing: .captureForPassthrough, help: "Its arguments.")
    var arguments: [String] = []

    public init() {}

    public func run() throws {
        let typed = try ControlCommand(words: [command] + arguments)
        let reply = try OSCClient.request(typed, host: host, port: port, timeout: timeout)
        let line = ([reply.address] + reply.arguments.map(\.description)).joined(separator: " ")
        if reply.address == "/timbre/fail" { throw CommandError(line) }
        print(line)
    }
}

import ArgumentParser
import Console
import Protocol

/// `timbre repl`: type commands to a running `timbre serve`, with completion and history.
public struct Repl: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "repl",
        abstract: "A prompt for a running `timbre serve`: line editing, history, Tab completion, help.",
        discussion: """
        Lines are the commands of session files and `timbre send` (see docs/OSC.md): \
        `toggle drums drums.ts`, `set drums gain 0.5`, `status`, `models`. Tab completes \
        commands, node labels, parameters and model files (asked from the server); `help` \
        lists the commands and `help COMMAND` explains one; `exit` or Ctrl-D leaves (`quit` \
        stops the server). The history is kept in $XDG_STATE_HOME/timbre/repl_history \
        (~/.local/state/timbre/repl_history).
        """)

    @Option(help: "The OSC port of `timbre serve`.")
    var port: Int = defaultOSCPort

    @Option(help: "The address of `timbre serve`.")
    var host: String = "127.0.0.1"

    @Option(help: "Seconds to wait for a reply (a toggle waits for its model to load).")
    var timeout: Double = 60

    @Option(help: "The history file (default: $XDG_STATE_HOME/timbre/repl_history).")
    var history: String?

    public init() {}

    public func run() throws {
        var options = Console.Repl.Options()
        options.host = host
        options.port = port
        options.timeout = timeout
        options.historyFile = history
        options.formatStatus = { Status.table($0) }
        try Console.Repl.run(options)
    }
}

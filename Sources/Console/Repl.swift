// FoundationEssentials, not Foundation: the REPL lives in the light front end, which maps
// neither Foundation's NSString layer nor ICU.
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import LineEditor
import Protocol
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// `timbre repl`: a prompt for the running server, in the command language of session files
/// and OSC (each line parsed by Protocol's `ControlCommand`, sent, its reply printed), with
/// line editing, a history that survives restarts, Tab completion of commands, node labels,
/// parameters and model files, and `help`. Light: Protocol and libedit, never libtorch.
public enum Repl {
    public struct Options: Sendable {
        public var host = "127.0.0.1"
        public var port = defaultOSCPort
        /// Seconds to wait for a reply (a toggle waits for its model to load).
        public var timeout = 60.0
        /// The history file; nil: `defaultHistoryFile()`.
        public var historyFile: String?
        /// How a status reply is printed (the `timbre status` table).
        public var formatStatus: @Sendable (EngineStatus) -> String = { status in (try? status.json()) ?? "" }

        public init() {}
    }

    /// `$XDG_STATE_HOME/timbre/repl_history`, by default `~/.local/state/timbre/repl_history`.
    public static func defaultHistoryFile(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        let state = environment["XDG_STATE_HOME"].flatMap { $0.hasPrefix("/") ? $0 : nil }
            ?? (environment["HOME"] ?? "/tmp") + "/.local/state"
        return state + "/timbre/repl_history"
    }

    /// Runs until `exit` or the end of input (Ctrl-D).
    public static func run(_ options: Options) throws {
        let history = options.historyFile ?? defaultHistoryFile()
        let folder = String(history.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/"))
        if !folder.isEmpty { try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) }
        let server = ServerVocabulary(host: options.host, port: options.port)
        let completer = Completer(labels: { server.labels() }, models: { server.models() })
        let editor = try LineEditor(program: "timbre", prompt: "timbre> ", historyFile: history) { line in
            let (word, candidates) = completer.complete(line)
            return LineEditor.Completion(word: word, candidates: candidates)
        }
        say("timbre repl: commands for timbre serve at \(options.host):\(options.port); Tab completes, `help` lists the commands, `exit` or Ctrl-D leaves")
        while let line = editor.readLine() {
            guard !line.allSatisfy(\.isWhitespace) else { continue }
            do { try editor.remember(line) } catch { say("timbre: warning: \(error)") }
            if case .exit = perform(line, options, server) { return }
        }
        say("")
    }

    enum Outcome { case next, exit }

    /// Runs one line: a REPL word (`help`, `exit`) or a command for the server.
    static func perform(_ line: String, _ options: Options, _ server: ServerVocabulary) -> Outcome {
        let words: [String]
        do { words = try Session.tokens(line, name: "line") } catch { say("error: \(error)"); return .next }
        guard let first = words.first else { return .next }
        switch first {
        case "exit":
            return .exit
        case "help":
            if words.count == 1 {
                say(ControlCommand.helpOverview + "\nhelp COMMAND: its arguments; exit (or Ctrl-D) leaves the REPL. Reference: docs/OSC.md")
            } else if let text = ControlCommand.help(Array(words.dropFirst())) {
                say(text)
            } else {
                say("error: no command '\(words.dropFirst().joined(separator: " "))' (\(ControlCommand.syntax.map(\.name).joined(separator: ", ")))")
            }
            return .next
        default:
            break
        }
        let command: ControlCommand
        do { command = try ControlCommand(words: words) } catch { say("error: \(error)"); return .next }
        do {
            let reply = try OSCClient.request(command, host: options.host, port: options.port, timeout: options.timeout)
            server.forget()
            say(describe(reply, options))
        } catch {
            say("error: \(error)")
        }
        return .next
    }

    /// A reply as the REPL prints it: status as a table, models one a line, failures as errors.
    static func describe(_ reply: OSCMessage, _ options: Options) -> String {
        switch reply.address {
        case "/timbre/status":
            guard case .string(let json)? = reply.arguments.first, let status = try? EngineStatus.decode(json) else { break }
            return options.formatStatus(status)
        case "/timbre/models":
            return reply.arguments.isEmpty ? "(no models in the server's models folders)" : reply.arguments.map(\.text).joined(separator: "\n")
        case "/timbre/fail":
            return "error: " + reply.arguments.map(\.text).joined(separator: ": ")
        default:
            break
        }
        return ([reply.address] + reply.arguments.map(\.description)).joined(separator: " ")
    }

    static func say(_ text: String) {
        print(text)
    }
}

/// The server's labels and model files for completion, asked for when Tab needs them and kept
/// for a moment (one Tab press may need both; a command sent forgets them).
final class ServerVocabulary: Sendable {
    let host: String
    let port: Int
    private struct Cache {
        var labels: (at: Date, names: [String])?
        var models: (at: Date, names: [String])?
    }
    private let cache = Mutex(Cache())

    init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Short: a Tab must not hang when the server is away.
    static let timeout = 0.5
    static let lifetime = 2.0

    func labels() -> [String] {
        if let entry = cache.withLock({ $0.labels }), Date().timeIntervalSince(entry.at) < Self.lifetime { return entry.names }
        let names = (try? OSCClient.status(host: host, port: port, timeout: Self.timeout)).map { $0.status.nodes.map(\.label) + $0.status.loading } ?? []
        cache.withLock { $0.labels = (Date(), names) }
        return names
    }

    func models() -> [String] {
        if let entry = cache.withLock({ $0.models }), Date().timeIntervalSince(entry.at) < Self.lifetime { return entry.names }
        var names: [String] = []
        if let reply = try? OSCClient.request(.models, host: host, port: port, timeout: Self.timeout), reply.address == "/timbre/models" {
            names = reply.arguments.map(\.text)
        }
        cache.withLock { $0.models = (Date(), names) }
        return names
    }

    func forget() {
        cache.withLock { $0 = Cache() }
    }
}

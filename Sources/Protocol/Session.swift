// FoundationEssentials, not Foundation: the light front end then maps neither
// Foundation's NSString layer nor ICU (a few milliseconds and megabytes per call).
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A session file: the engine's commands as text, one per line, each optionally at
/// a time in seconds from the start:
///
///     # comments and blank lines are ignored
///     /timbre/toggle drums drums-v2small-causal.ts
///     @1.5 /timbre/set drums wet 0.5
///     @4 toggle drums drums-v2small-causal.ts      # the /timbre/ prefix is optional
///
/// Arguments are separated by spaces; "double quotes" keep spaces in one argument.
public struct Session: Sendable {
    /// One line: a command at a time.
    public struct Entry: Sendable, Equatable {
        /// Seconds from the start (0 when the line has no `@time`).
        public var time: Double
        public var command: ControlCommand
        /// The command's address (`/timbre/toggle`).
        public var address: String { command.address }
        /// 1-based line number, for errors.
        public var line: Int

        public init(time: Double, command: ControlCommand, line: Int) {
            self.time = time
            self.command = command
            self.line = line
        }
    }

    /// The lines in time order (lines of one time in file order).
    public var entries: [Entry]

    /// Reads and parses a session file; errors name the file and line.
    public init(contentsOf url: URL) throws(CommandError) {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw CommandError("\(url.path): cannot read the session file")
        }
        guard let text = String(validating: data, as: UTF8.self) else { throw CommandError("\(url.path): not UTF-8 text") }
        try self.init(text: text, name: url.path)
    }

    /// Parses a session's text; `name` (the file) prefixes every error with the line number.
    /// A malformed line refuses the whole session, so nothing of it runs.
    public init(text: String, name: String = "session") throws(CommandError) {
        var entries: [Entry] = []
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = index + 1
            var tokens = try Self.tokens(String(raw), name: name, line: line)
            guard !tokens.isEmpty else { continue }
            var time = 0.0
            if tokens[0].hasPrefix("@") {
                guard let t = Double(tokens[0].dropFirst()), t >= 0, t.isFinite else {
                    throw CommandError("\(name):\(line): '\(tokens[0])' is not a time (@SECONDS)")
                }
                time = t
                tokens.removeFirst()
                guard !tokens.isEmpty else { throw CommandError("\(name):\(line): a time without a command") }
            }
            do {
                entries.append(Entry(time: time, command: try ControlCommand(words: tokens), line: line))
            } catch {
                throw CommandError("\(name):\(line): \(error)")
            }
        }
        self.entries = entries.enumerated().sorted { ($0.element.time, $0.offset) < ($1.element.time, $1.offset) }.map(\.element)
    }

    /// Splits a line into words: spaces separate, "double quotes" keep spaces, `#` starts a comment.
    public static func tokens(_ line: String, name: String = "line", line number: Int = 1) throws(CommandError) -> [String] {
        var tokens: [String] = []
        var current = ""
        var inQuotes = false, hasToken = false
        for character in line {
            if inQuotes {
                if character == "\"" { inQuotes = false } else { current.append(character) }
            } else if character == "#" {
                break
            } else if character == "\"" {
                inQuotes = true
                hasToken = true
            } else if character.isWhitespace {
                if hasToken { tokens.append(current) }
                current = ""
                hasToken = false
            } else {
                current.append(character)
                hasToken = true
            }
        }
        if inQuotes { throw CommandError("\(name):\(number): unterminated quote") }
        if hasToken { tokens.append(current) }
        return tokens
    }
}

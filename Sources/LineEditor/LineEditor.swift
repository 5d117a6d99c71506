import CEdit
#if canImport(Glibc)
import Glibc
#endif

/// An interactive prompt with line editing, a history kept in a file, and Tab completion:
/// the one Swift module over libedit (`CEdit`). Nothing here knows timbre's commands; the
/// caller supplies the completion.
///
/// Tab completes as shells do: a single candidate is inserted with a space after it, several
/// sharing a longer prefix insert that prefix, and a Tab that cannot extend the word lists
/// the candidates under the line. When input is not a terminal, libedit reads plain lines.
public final class LineEditor {
    /// What Tab can put in place of the word under the cursor.
    public struct Completion: Sendable, Equatable {
        /// The word being completed: the text from its start to the cursor (without an opening quote).
        public var word: String
        /// Whole words that may replace it, each starting with `word`.
        public var candidates: [String]

        public init(word: String, candidates: [String]) {
            self.word = word
            self.candidates = candidates
        }
    }

    /// Given the line up to the cursor, the completion.
    public typealias Completer = (_ lineBeforeCursor: String) -> Completion

    private let editLine: OpaquePointer
    private let history: OpaquePointer
    private let historyFile: String?
    private let completer: Completer
    /// The prompt as C text, alive as long as the editor (libedit asks for it on every redraw).
    private let prompt: UnsafeMutablePointer<CChar>

    /// Why the editor could not start or its history could not be written.
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// An editor reading the terminal. `historyFile` is loaded now (a missing file is an empty
    /// history) and rewritten after every line remembered, so a restart finds it.
    public init(program: String, prompt: String, historyFile: String?, historySize: Int = 1000,
                completer: @escaping Completer) throws(Failure) {
        guard let editLine = cedit_open(program) else { throw Failure(description: "libedit could not start (el_init failed)") }
        guard let history = history_init() else {
            el_end(editLine)
            throw Failure(description: "libedit could not start its history (history_init failed)")
        }
        self.editLine = editLine
        self.history = history
        self.historyFile = historyFile
        self.completer = completer
        self.prompt = strdup(prompt)
        _ = cedit_history_size(history, Int32(historySize))
        _ = cedit_history_unique(history, 1)
        if let historyFile, access(historyFile, R_OK) == 0 { _ = cedit_history_load(history, historyFile) }
        cedit_set_history(editLine, history)
        cedit_set_client_data(editLine, Unmanaged.passUnretained(self).toOpaque())
        cedit_set_prompt(editLine, lineEditorPrompt)
        _ = cedit_bind(editLine, "timbre-complete", "Complete the word under the cursor", lineEditorComplete, "^I")
    }

    deinit {
        history_end(history)
        el_end(editLine)
        free(prompt)
    }

    /// The next line without its newline; nil at end of input (Ctrl-D on an empty line).
    public func readLine() -> String? {
        var count: Int32 = 0
        guard let text = el_gets(editLine, &count), count > 0 else { return nil }
        var line = String(cString: text)
        while line.last == "\n" || line.last == "\r" { line.removeLast() }
        return line
    }

    /// Adds a line to the history and writes the history file.
    public func remember(_ line: String) throws(Failure) {
        _ = cedit_history_enter(history, line)
        guard let historyFile else { return }
        if cedit_history_save(history, historyFile) < 0 {
            throw Failure(description: "\(historyFile): cannot write the history (\(String(cString: strerror(errno))))")
        }
    }

    /// Tab: completes the word before the cursor, or lists the candidates.
    fileprivate func complete() -> UInt8 {
        guard let info = cedit_line(editLine)?.pointee, let start = info.buffer, let cursor = info.cursor else { return UInt8(CC_ERROR) }
        let before = UnsafeRawBufferPointer(start: UnsafeRawPointer(start), count: cursor - start)
        let completion = completer(String(decoding: before, as: UTF8.self))
        let candidates = completion.candidates.filter { $0.hasPrefix(completion.word) }
        guard let first = candidates.first else { return UInt8(CC_ERROR) }
        if candidates.count == 1 {
            insert(first, replacing: completion.word, finished: true)
            return UInt8(CC_REFRESH)
        }
        let common = candidates.dropFirst().reduce(first) { $0.commonPrefix(with: $1) }
        if common.count > completion.word.count, !common.contains(where: \.isWhitespace) {
            insert(common, replacing: completion.word, finished: false)
            return UInt8(CC_REFRESH)
        }
        cedit_write("\n" + Self.columns(candidates, width: Self.terminalWidth()) + "\n")
        return UInt8(CC_REDISPLAY)
    }

    /// Puts `text` where `word` is: the missing part only, or the whole word quoted when it holds a space.
    private func insert(_ text: String, replacing word: String, finished: Bool) {
        if text.contains(where: \.isWhitespace) {
            // The word may have started with a quote, which the completer does not count.
            let info = cedit_line(editLine)!.pointee
            let quoted = info.cursor! - info.buffer! > word.utf8.count && info.cursor![-word.utf8.count - 1] == CChar(UInt8(ascii: "\""))
            el_deletestr(editLine, Int32(word.count + (quoted ? 1 : 0)))
            _ = el_insertstr(editLine, "\"" + text + "\"" + (finished ? " " : ""))
        } else {
            _ = el_insertstr(editLine, String(text.dropFirst(word.count)) + (finished ? " " : ""))
        }
    }

    /// Words in columns, as shells list completions.
    static func columns(_ words: [String], width: Int) -> String {
        let cell = (words.map(\.count).max() ?? 0) + 2
        let perLine = max(1, width / cell)
        var lines: [String] = []
        for start in stride(from: 0, to: words.count, by: perLine) {
            let row = words[start..<min(start + perLine, words.count)]
            lines.append(row.map { $0 + String(repeating: " ", count: cell - $0.count) }.joined().trimmingTrailingSpaces())
        }
        return lines.joined(separator: "\n")
    }

    private static func terminalWidth() -> Int {
        var size = winsize()
        let read = withUnsafeMutablePointer(to: &size) { ioctl(1, UInt(TIOCGWINSZ), $0) }
        return read == 0 && size.ws_col > 0 ? Int(size.ws_col) : 80
    }
}

extension String {
    fileprivate func commonPrefix(with other: String) -> String {
        String(zip(self, other).prefix { $0 == $1 }.map(\.0))
    }

    fileprivate func trimmingTrailingSpaces() -> String {
        var text = self
        while text.last == " " { text.removeLast() }
        return text
    }
}

/// libedit's prompt callback: the editor's prompt, found through its client data.
private func lineEditorPrompt(_ editLine: OpaquePointer?) -> UnsafeMutablePointer<CChar>? {
    guard let editLine, let data = cedit_client_data(editLine) else { return nil }
    return Unmanaged<LineEditor>.fromOpaque(data).takeUnretainedValue().promptText
}

/// libedit's command for Tab.
private func lineEditorComplete(_ editLine: OpaquePointer?, _ key: Int32) -> UInt8 {
    guard let editLine, let data = cedit_client_data(editLine) else { return UInt8(CC_ERROR) }
    return Unmanaged<LineEditor>.fromOpaque(data).takeUnretainedValue().complete()
}

extension LineEditor {
    fileprivate var promptText: UnsafeMutablePointer<CChar> { prompt }
}

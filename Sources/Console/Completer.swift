import Protocol

/// What Tab offers in `timbre repl`, from the command tables in Protocol (so a new command
/// completes without a change here) and from the server: node labels (its status) and model
/// files (`/timbre/models`), asked for only when a word needs them.
public struct Completer: Sendable {
    /// The server's node labels now.
    public var labels: @Sendable () -> [String]
    /// The model files the server may load.
    public var models: @Sendable () -> [String]

    /// The REPL's own words beside the commands.
    public static let builtins = ["help", "exit"]

    public init(labels: @escaping @Sendable () -> [String], models: @escaping @Sendable () -> [String]) {
        self.labels = labels
        self.models = models
    }

    /// The word before the cursor and the words that may replace it (sorted, each starting with it).
    public func complete(_ lineBeforeCursor: String) -> (word: String, candidates: [String]) {
        let (words, word) = Self.split(lineBeforeCursor)
        let all = candidates(after: words)
        return (word, Array(Set(all.filter { $0.hasPrefix(word) })).sorted())
    }

    /// Everything that may come after `words` (unfiltered).
    func candidates(after words: [String]) -> [String] {
        guard let first = words.first else { return ControlCommand.syntax.map(\.name) + Self.builtins }
        let name = first.hasPrefix("/") ? String(ControlCommand.normalise(first).dropFirst(ControlCommand.prefix.count)) : first
        let arguments = Array(words.dropFirst())
        if name == "help" {
            switch arguments.count {
            case 0: return ControlCommand.syntax.map(\.name)
            case 1 where arguments[0] == "set": return NodeParameter.names
            default: return []
            }
        }
        guard let row = ControlCommand.syntax.first(where: { $0.name == name }) else { return [] }
        if name == "set" { return setCandidates(arguments) }
        return usageCandidates(Self.usageWords(row.usage), arguments)
    }

    /// `set LABEL PARAM VALUE...`: labels, parameters, then the words a parameter takes.
    private func setCandidates(_ arguments: [String]) -> [String] {
        switch arguments.count {
        case 0: return labels()
        case 1: return NodeParameter.names
        default:
            let values = arguments.count - 2
            switch (arguments[1], values) {
            case ("input", 0): return Self.sources + labels()
            case ("mute", 0): return ["0", "1"]
            case ("eq", 1): return EQKind.allCases.map(\.rawValue) + ["off"]
            default: return []
            }
        }
    }

    /// Any other command, read from its usage: the leading placeholders by position (LABEL,
    /// MODEL, METHOD...), a keyword's value after the keyword (`input SOURCE`, `curve lin|exp`),
    /// and otherwise the keywords the usage allows (`block`, `seed`, `input`...) not typed yet.
    func usageCandidates(_ usage: [UsageWord], _ arguments: [String]) -> [String] {
        let keywords = usage.filter { Self.isKeyword($0.text) }
        let unused = keywords.map(\.text).filter { !arguments.contains($0) }
        let positional = Array(usage.prefix { !Self.isKeyword($0.text) })
        let position = arguments.count
        if let previous = arguments.last, let index = usage.firstIndex(where: { $0.text == previous }), Self.isKeyword(previous) {
            let next = index + 1 < usage.count ? usage[index + 1].text : ""
            return next.isEmpty || Self.isKeyword(next) ? unused : values(of: next)
        }
        if position < positional.count {
            let placeholder = positional[position]
            // An optional placeholder beside the keywords (`[METHOD] [block N]`) may be skipped.
            let skippable = placeholder.depth > 0 && placeholder.depth == keywords.first?.depth
            return values(of: placeholder.text) + (skippable ? unused : [])
        }
        if let last = positional.last, last.text.hasSuffix("..."), !arguments.contains(where: Self.isKeyword) {
            return values(of: last.text) + unused
        }
        return unused
    }

    /// The words a placeholder stands for.
    private func values(of placeholder: String) -> [String] {
        let name = placeholder.hasSuffix("...") ? String(placeholder.dropLast(3)) : placeholder
        switch name {
        case "LABEL": return labels()
        case "MODEL": return models()
        case "METHOD": return NodeMethod.allCases.map(\.rawValue)
        case "PARAM": return NodeParameter.names
        case "SOURCE": return Self.sources + labels()
        default:
            // `lin|exp`, `N|any`: the spelled-out alternatives.
            return name.split(separator: "|").map(String.init).filter { $0.contains(where: \.isLowercase) }
        }
    }

    static let sources = ["in1", "in2", "mix", "stereo"]

    /// A usage's word and how deep in brackets it sits: `LABEL [MODEL [METHOD]]` gives
    /// LABEL 0, MODEL 1, METHOD 2.
    struct UsageWord: Equatable {
        var text: String
        var depth: Int
    }

    static func usageWords(_ usage: String) -> [UsageWord] {
        var depth = 0
        var words: [UsageWord] = []
        for piece in usage.split(separator: " ") {
            let opening = piece.prefix { $0 == "[" }.count
            depth += opening
            let text = String(piece.filter { $0 != "[" && $0 != "]" })
            if !text.isEmpty { words.append(UsageWord(text: text, depth: depth)) }
            depth -= piece.reversed().prefix { $0 == "]" }.count
        }
        return words
    }

    /// A literal word (`block`, `cc`), as opposed to a placeholder (`LABEL`, `N`) or alternatives (`lin|exp`).
    static func isKeyword(_ word: String) -> Bool {
        !word.contains("|") && !word.contains(".") && word.contains(where: \.isLowercase)
    }

    /// The words before the cursor and the one being typed (empty after a space); an open
    /// quote starts a word that may hold spaces.
    static func split(_ line: String) -> (words: [String], word: String) {
        var words: [String] = []
        var current = ""
        var inQuotes = false, hasWord = false
        for character in line {
            if inQuotes {
                if character == "\"" { inQuotes = false } else { current.append(character) }
            } else if character == "\"" {
                inQuotes = true
                hasWord = true
            } else if character.isWhitespace {
                if hasWord { words.append(current) }
                current = ""
                hasWord = false
            } else {
                current.append(character)
                hasWord = true
            }
        }
        return (words, current)
    }
}

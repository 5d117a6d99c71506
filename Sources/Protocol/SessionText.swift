extension Session {
    /// Session text for `commands`, one line each at time 0 (in order), which `Session(text:)` reads
    /// back to the same commands: what `/timbre/session/save` writes. `comment` heads the file.
    public static func text(of commands: [ControlCommand], comment: String? = nil) -> String {
        var lines = comment.map { ["# " + $0.split(separator: "\n").joined(separator: " ")] } ?? []
        lines += commands.map(\.line)
        return lines.joined(separator: "\n") + "\n"
    }
}

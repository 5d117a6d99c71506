/// The one shape of every error timbre's modules throw: what failed, on which file (or
/// model, address, port), and why. The command line turns any of them into one line on
/// stderr and an exit status in one place, so no error type can be left out of the mapping.
///
/// This module has no dependencies, so every module, the light `timbre` front end
/// included, can conform to it without pulling anything else in.
public protocol TimbreError: Error, CustomStringConvertible {
    /// What was being done when it failed, in a few words ("read audio", "OSC command").
    var operation: String { get }
    /// Which path: the file, model, address or port concerned; nil when there is none
    /// (or when only the message names it).
    var location: String? { get }
    /// Why it failed.
    var reason: String { get }
    /// The process's exit status when this error ends a command (1 unless a type says otherwise).
    var exitStatus: Int32 { get }
}

extension TimbreError {
    public var exitStatus: Int32 { 1 }

    /// `description` folded onto one line: what the command line prints after `timbre: error: `.
    public var oneLineDescription: String { foldedOntoOneLine(description) }
}

/// Folds runs of whitespace that contain line breaks into single spaces and trims the ends,
/// so a message (a libtorch traceback, a reason read from a file) stays on one line.
public func foldedOntoOneLine(_ text: String) -> String {
    guard text.contains(where: \.isNewline) else { return trimmed(text) }
    return text.split(whereSeparator: \.isNewline)
        .map { trimmed(Substring($0)) }
        .filter { !$0.isEmpty }
        .joined(separator: " ")
}

private func trimmed<S: StringProtocol>(_ text: S) -> String {
    var slice = Substring(text)
    while let first = slice.first, first == " " || first == "\t" { slice.removeFirst() }
    while let last = slice.last, last == " " || last == "\t" { slice.removeLast() }
    return String(slice)
}

import Foundation

/// A failure reading, writing or inspecting an audio file.
///
/// `reason` is libsndfile's own message where there is one (for example
/// "System error : No such file or directory."). `description` is always a
/// single line: `"<path>: <reason>"`.
public struct AudioFileError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The file concerned, as given by the caller.
    public var path: String
    /// Why it failed, on one line.
    public var reason: String

    /// Makes an error; line breaks in `reason` are folded into spaces.
    public init(path: String, reason: String) {
        self.path = path
        self.reason = oneLine(reason)
    }

    /// `"<path>: <reason>"`, one line.
    public var description: String { "\(oneLine(path)): \(reason)" }
}

/// A failure reading or writing a NumPy `.npy` file.
///
/// `description` is a single line: `"<path>: <reason>"`.
public struct NpyError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The file concerned, as given by the caller.
    public var path: String
    /// Why it failed, on one line.
    public var reason: String

    /// Makes an error; line breaks in `reason` are folded into spaces.
    public init(path: String, reason: String) {
        self.path = path
        self.reason = oneLine(reason)
    }

    /// `"<path>: <reason>"`, one line.
    public var description: String { "\(oneLine(path)): \(reason)" }
}

/// A failure creating or running a resampler.
public struct ResamplerError: Error, CustomStringConvertible, Sendable, Equatable {
    /// Why it failed (libsoxr's own message where there is one), on one line.
    public var reason: String

    /// Makes an error; line breaks in `reason` are folded into spaces.
    public init(reason: String) { self.reason = oneLine(reason) }

    /// `"resampler: <reason>"`, one line.
    public var description: String { "resampler: \(reason)" }
}

/// Folds runs of whitespace containing line breaks into single spaces and trims the ends.
func oneLine(_ text: String) -> String {
    guard text.contains(where: \.isNewline) else { return text.trimmingCharacters(in: .whitespaces) }
    return text.split(whereSeparator: \.isNewline)
        .map { $0.trimmingCharacters(in: .whitespaces) }
        .filter { !$0.isEmpty }
        .joined(separator: " ")
}

import Errors

extension DSPError: TimbreError {
    public var operation: String { "spectral processing" }
    /// The library knows the reason, not the file; the command line names the file.
    public var location: String? { nil }
    public var reason: String { description }
}

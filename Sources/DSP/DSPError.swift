/// A reason the spectral code cannot do what it was asked, as one line.
///
/// The library knows the reason but not the file; the command line prefixes the path.
public struct DSPError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The reason, one line, no trailing period.
    public var description: String
    public init(_ description: String) { self.description = description }
}

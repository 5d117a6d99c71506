import Errors

extension PlotError: TimbreError {
    public var operation: String { "picture" }
    /// The file is named in the message itself.
    public var location: String? { nil }
    public var reason: String { description }
}

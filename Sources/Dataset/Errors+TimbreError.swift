import Errors

extension PrepError: TimbreError {
    public var operation: String { "prep" }
    public var location: String? { path }
}

extension FailedSource: TimbreError {
    public var operation: String { "prep" }
    public var location: String? { source }
    public var description: String { "\(source): \(reason)" }
}

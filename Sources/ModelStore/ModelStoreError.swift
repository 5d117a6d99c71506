import Errors

/// An error of the model library: what was being done, on which file or name, and why.
public struct ModelStoreError: TimbreError {
    public var operation: String
    public var location: String?
    public var reason: String

    public init(_ operation: String, _ location: String?, _ reason: String) {
        self.operation = operation
        self.location = location
        self.reason = reason
    }

    /// `LOCATION: REASON` (the operation is in the reason's words).
    public var description: String { location.map { "\($0): \(reason)" } ?? reason }
}

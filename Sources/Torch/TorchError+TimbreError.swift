import Errors

extension TorchError: TimbreError {
    public var operation: String { "libtorch" }
    /// The file, model or method (`model.ts: method 'forward'`).
    public var location: String? { context.isEmpty ? nil : context }
    /// The one line that matters of libtorch's message.
    public var reason: String { summary }
}

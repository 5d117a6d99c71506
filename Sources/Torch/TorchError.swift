import CTorch
import Foundation

/// An error from libtorch (caught in the C++ shim) or from timbre's checks on a model.
public struct TorchError: Error, CustomStringConvertible, Sendable {
    /// What was being done, naming the file, model or method (e.g. `model.ts: method 'forward'`).
    public var context: String
    /// libtorch's full message, possibly several lines (TorchScript tracebacks included).
    public var message: String

    public init(context: String, message: String) {
        self.context = context
        self.message = message
    }

    /// The one line a user needs: for a TorchScript traceback, the final `SomethingError: ...` line.
    public var summary: String {
        let lines = message.split(whereSeparator: \.isNewline)
            .map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }
        guard let first = lines.first else { return "unknown libtorch error" }
        if message.contains("Traceback of TorchScript") || message.contains("The following operation failed") {
            return String(lines.last(where: { $0.contains("Error:") || $0.contains("error:") }) ?? lines.last ?? first)
        }
        return String(first)
    }

    /// One line: `context: summary`.
    public var description: String { context.isEmpty ? summary : "\(context): \(summary)" }
}

/// Turns a shim status into a throw carrying the shim's last error.
@inline(__always)
func check(_ status: Int32, _ context: @autoclosure () -> String) throws {
    if status != 0 { throw TorchError(context: context(), message: String(cString: tb_last_error())) }
}

/// Takes ownership of a shim-allocated string.
func takeString(_ pointer: UnsafeMutablePointer<CChar>?) -> String {
    guard let pointer else { return "" }
    defer { tb_string_free(pointer) }
    return String(cString: pointer)
}


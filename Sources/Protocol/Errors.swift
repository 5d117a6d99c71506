import Errors

/// A command that could not be understood or run, reported as one line (an OSC reply,
/// a session line, a command-line error).
public struct CommandError: TimbreError, Sendable, Equatable {
    public var description: String
    public init(_ description: String) { self.description = foldedOntoOneLine(description) }

    public var operation: String { "control command" }
    public var location: String? { nil }
    public var reason: String { description }
}

extension OSCError: TimbreError {
    public var operation: String { "decode OSC packet" }
    public var location: String? { nil }
    public var reason: String { description }
}

/// The OSC client's failures: the socket, or no reply in time; `path` is `host:port`.
public struct ClientError: TimbreError, Sendable, Equatable {
    public var operation: String
    public var host: String
    public var port: Int
    public var reason: String

    public init(_ operation: String, host: String, port: Int, reason: String) {
        self.operation = operation
        self.host = host
        self.port = port
        self.reason = foldedOntoOneLine(reason)
    }

    public var location: String? { "\(host):\(port)" }
    public var description: String { "\(operation) \(host):\(port): \(reason)" }
}

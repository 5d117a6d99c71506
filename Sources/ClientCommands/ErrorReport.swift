import ArgumentParser
import Errors
#if canImport(Glibc)
import Glibc
#endif

/// The one place where an error ends a `timbre` command: whatever its type, it becomes
/// one line on stderr (`timbre: error: ...`) and an exit status. Both executables (the
/// light front end and `timbre-core`) run their root command through it.
public enum ErrorReport {
    /// Parses the command line with `root`, runs the command, and exits.
    public static func main<Root: ParsableCommand>(_ root: Root.Type, arguments: [String]? = nil) -> Never {
        do {
            var command = try root.parseAsRoot(arguments)
            try command.run()
            exit(0)
        } catch {
            let (message, status) = report(error, root: root)
            if let message {
                writeStandardError("timbre: error: \(message)\n")
                exit(status)
            }
            // Help, version, usage errors: ArgumentParser's own output and exit codes.
            root.exit(withError: error)
        }
    }

    /// The line and exit status for `error`; a nil line leaves it to ArgumentParser
    /// (help, `--version`, a mistyped option: text and exit codes users know from it).
    public static func report<Root: ParsableCommand>(_ error: Error, root: Root.Type) -> (line: String?, status: Int32) {
        if let error = error as? TimbreError { return (error.oneLineDescription, error.exitStatus) }
        let code = root.exitCode(for: error)
        if error is ValidationError || error is CleanExit || error is ExitCode || code != .failure {
            return (nil, code.rawValue)
        }
        // Anything else (a Foundation or NIO error): still one line.
        return (foldedOntoOneLine("\(error)"), ExitCode.failure.rawValue)
    }
}

/// Writes text to stderr unbuffered (file descriptor 2: no C `FILE`, so no shared mutable global).
public func writeStandardError(_ text: String) {
    var text = text
    text.withUTF8 { bytes in _ = write(2, bytes.baseAddress, bytes.count) }
}

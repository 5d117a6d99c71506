import ArgumentParser
import ClientCommands
#if canImport(Glibc)
import Glibc
#endif

/// The `timbre` executable a user types: a light front end that never loads libtorch.
///
/// It runs the control clients itself (`send`, `status`, `repl`: Protocol, ArgumentParser and,
/// for the REPL, libedit; a few milliseconds and megabytes) and hands every other command line, help and
/// `--version` included, unchanged to `timbre-core` beside it, which links the engine,
/// libtorch and the rest; `execv` replaces this process, so output, errors and exit
/// status are the core's own.
@main
struct FrontEnd: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "timbre",
        abstract: "Neural audio on Linux: run RAVE models, offline and live.",
        subcommands: FrontEnd.commands + [LightModels.self])

    /// The commands the front end runs itself: the first word of the command line picks them.
    static let commands: [ParsableCommand.Type] = [Send.self, Status.self, Repl.self]

    /// The executable that runs everything else, found beside this one.
    static let core = "timbre-core"

    static func main() {
        let arguments = CommandLine.arguments
        if let first = arguments.dropFirst().first,
           commands.contains(where: { $0._commandName == first }) {
            ErrorReport.main(FrontEnd.self, arguments: Array(arguments.dropFirst()))
        }
        // `models list|remove|fetch` need no libtorch; `models add` (which describes the model) goes to the core.
        if arguments.count > 2, arguments[1] == LightModels._commandName, LightModels.light.contains(arguments[2]) {
            ErrorReport.main(FrontEnd.self, arguments: Array(arguments.dropFirst()))
        }
        handOver(arguments)
    }

    /// Replaces this process with `timbre-core`, passing argv unchanged.
    static func handOver(_ arguments: [String]) -> Never {
        var buffer = [CChar](repeating: 0, count: 4096)
        let length = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        let me = length > 0 ? String(decoding: buffer.prefix(length).map { UInt8(bitPattern: $0) }, as: UTF8.self) : CommandLine.arguments[0]
        let folder = me.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        let path = (folder.isEmpty ? "." : folder) + "/" + core
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) }
        argv.append(nil)
        execv(path, &argv)
        let reason = String(cString: strerror(errno))
        writeStandardError("timbre: error: \(path): cannot run the core executable (\(reason)); build it with `make release` or `swift build`\n")
        Glibc.exit(127)
    }
}

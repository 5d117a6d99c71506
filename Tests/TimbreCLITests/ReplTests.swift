import Engine
import Foundation
import Testing
import TestSupport

/// `timbre repl` as a user types it, in a real terminal (tmux), against a real `timbre serve`
/// on a dummy jackd: completion offers commands, labels, parameters and model files, a node
/// toggled from it plays, its history survives a restart, and it never maps libtorch.
@Suite(.serialized)
struct ReplTests {
    /// A tmux server of its own (`-L`), with one session running a command.
    final class Tmux {
        static let executable = URL(fileURLWithPath: "/usr/bin/tmux")
        let socket = "timbre-repl-\(getpid())-\(Int.random(in: 0...1_000_000))"

        @discardableResult
        func run(_ arguments: [String]) throws -> ProcessResult {
            try runProcess(Self.executable, ["-L", socket] + arguments)
        }

        /// Starts `command` (run directly, not through a shell) in a new session `name`.
        ///
        /// Not through `Process`: its children inherit the test thread's blocked signals (a
        /// dispatch thread blocks nearly all), so tmux would never see SIGCHLD (a pane whose
        /// program exits would stay open) and the REPL would ignore SIGTERM; and the tmux server
        /// would hold the pipes `runProcess` reads to their end. posix_spawn with an empty signal
        /// mask, default handlers and /dev/null for the standard files, as a shell would start it.
        func start(_ name: String, _ command: [String]) throws {
            let arguments = [Self.executable.path, "-L", socket, "new-session", "-d", "-s", name, "-x", "150", "-y", "45", "--"] + command
            var attributes = posix_spawnattr_t()
            posix_spawnattr_init(&attributes)
            defer { posix_spawnattr_destroy(&attributes) }
            var mask = sigset_t(), defaults = sigset_t()
            sigemptyset(&mask)
            sigfillset(&defaults)
            posix_spawnattr_setsigmask(&attributes, &mask)
            posix_spawnattr_setsigdefault(&attributes, &defaults)
            posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
            var files = posix_spawn_file_actions_t()
            posix_spawn_file_actions_init(&files)
            defer { posix_spawn_file_actions_destroy(&files) }
            for fd: Int32 in 0...2 { posix_spawn_file_actions_addopen(&files, fd, "/dev/null", fd == 0 ? O_RDONLY : O_WRONLY, 0) }
            let argv = arguments.map { strdup($0) } + [nil]
            let environment = ProcessInfo.processInfo.environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
            defer { (argv + environment).forEach { free($0) } }
            var pid: pid_t = 0
            let spawned = posix_spawn(&pid, Self.executable.path, &files, &attributes, argv, environment)
            try #require(spawned == 0, "posix_spawn tmux: \(String(cString: strerror(spawned)))")
            var status: Int32 = 0
            waitpid(pid, &status, 0)
            try #require(status == 0, "tmux new-session exited with \(status)")
        }

        func type(_ name: String, _ text: String) throws { try run(["send-keys", "-t", name, "-l", text]) }
        func press(_ name: String, _ keys: String...) throws { try run(["send-keys", "-t", name] + keys) }
        func screen(_ name: String) -> String { (try? run(["capture-pane", "-p", "-t", name]).stdout) ?? "" }
        func alive(_ name: String) -> Bool { (try? run(["has-session", "-t", name]).status) == 0 }

        /// Waits until the screen satisfies `condition`; the screen at the end.
        @discardableResult
        func wait(_ name: String, _ seconds: Double = 15, until condition: (String) -> Bool) -> String {
            var text = screen(name)
            _ = waitUntil(seconds, interval: 0.1) {
                text = screen(name)
                return condition(text)
            }
            return text
        }

        /// The screen's last line holding text: where the prompt and what is typed are.
        func lastLine(_ name: String) -> String {
            screen(name).split(separator: "\n").last { !$0.allSatisfy(\.isWhitespace) }.map { String($0).trimmingTrailingSpaces } ?? ""
        }

        /// The process the pane runs (its `timbre`, past `env`).
        func pid(_ name: String) throws -> Int32? {
            let text = try run(["display-message", "-p", "-t", name, "#{pane_pid}"]).stdout
            return Int32(text.trimmingCharacters(in: .whitespacesAndNewlines))
        }

        func stop() {
            _ = try? run(["kill-server"])
            // tmux leaves its socket file behind.
            let folder = ProcessInfo.processInfo.environment["TMUX_TMPDIR"] ?? "/tmp"
            try? FileManager.default.removeItem(atPath: "\(folder)/tmux-\(getuid())/\(socket)")
        }
    }

    @Test func completionHistoryAndANodeThatPlays() throws {
        guard FileManager.default.isExecutableFile(atPath: Tmux.executable.path) else {
            Issue.record("tmux is missing: run scripts/bootstrap (it installs Debian's tmux)")
            return
        }
        let directory = TemporaryDirectory("timbre-repl")
        let serve = try LiveServe(directory: directory)
        defer { serve.stop() }
        let home = directory.file("home")
        try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
        let tmux = Tmux()
        defer { tmux.stop() }
        let repl = ["/usr/bin/env", "-u", "XDG_STATE_HOME", "HOME=\(home.path)", TestPaths.timbreExecutable.path,
                    "repl", "--port", String(serve.port)]
        try tmux.start("first", repl)
        var screen = tmux.wait("first") { $0.contains("timbre>") }
        #expect(screen.contains("timbre>"), "the prompt: \(screen)")

        // The REPL's process maps libedit and never libtorch (the control: the serve process maps it).
        if let pid = try tmux.pid("first") {
            let maps = try runProcess(URL(fileURLWithPath: "/bin/cat"), ["/proc/\(pid)/maps"]).stdout
            #expect(maps.contains("/timbre\n"), "the map is the front end's own")
            #expect(maps.contains("libedit"))
            for library in ["libtorch", "libc10", "timbre-core"] { #expect(!maps.contains(library), "the REPL maps \(library)") }
            let serveMaps = try runProcess(URL(fileURLWithPath: "/bin/cat"), ["/proc/\(serve.process.processIdentifier)/maps"]).stdout
            #expect(serveMaps.contains("libtorch"), "control: serve (timbre-core) maps libtorch")
        } else {
            Issue.record("no pane pid")
        }

        // Commands: an ambiguous start lists the candidates, a unique one completes.
        try tmux.type("first", "s")
        try tmux.press("first", "Tab")
        screen = tmux.wait("first") { $0.contains("status") && $0.contains("set") }
        #expect(screen.contains("set") && screen.contains("status"), "Tab lists commands: \(screen)")
        try tmux.press("first", "BSpace")
        try tmux.type("first", "tog")
        try tmux.press("first", "Tab")
        screen = tmux.wait("first") { _ in tmux.lastLine("first") == "timbre> toggle" }
        #expect(tmux.lastLine("first") == "timbre> toggle", "\(screen)")

        // Model files come from the server (`/timbre/models`).
        try tmux.type("first", "hit tiny-dr")
        try tmux.press("first", "Tab")
        tmux.wait("first") { _ in tmux.lastLine("first") == "timbre> toggle hit tiny-drum.ts" }
        #expect(tmux.lastLine("first") == "timbre> toggle hit tiny-drum.ts", "\(tmux.screen("first"))")
        try tmux.type("first", "deco")
        try tmux.press("first", "Tab")
        tmux.wait("first") { _ in tmux.lastLine("first").hasSuffix("tiny-drum.ts decode") }
        try tmux.press("first", "Enter")
        screen = tmux.wait("first", 30) { $0.contains("/timbre/done /timbre/toggle hit created") }
        #expect(screen.contains("/timbre/done /timbre/toggle hit created"), "\(screen)")

        // Labels come from the server's status; parameters from the protocol.
        try tmux.type("first", "set h")
        try tmux.press("first", "Tab")
        tmux.wait("first") { _ in tmux.lastLine("first") == "timbre> set hit" }
        #expect(tmux.lastLine("first") == "timbre> set hit", "labels complete: \(tmux.screen("first"))")
        try tmux.type("first", "lat")
        try tmux.press("first", "Tab")
        tmux.wait("first") { _ in tmux.lastLine("first") == "timbre> set hit latent" }
        #expect(tmux.lastLine("first") == "timbre> set hit latent", "latent and latents share a prefix: \(tmux.screen("first"))")
        try tmux.type("first", " 1 0.8")
        try tmux.press("first", "Enter")
        tmux.wait("first") { $0.contains("/timbre/done /timbre/set hit latent") }
        usleep(300_000)
        try tmux.type("first", "set hit trigger")
        try tmux.press("first", "Enter")
        screen = tmux.wait("first") { $0.contains("/timbre/done /timbre/set hit trigger") }
        #expect(screen.contains("/timbre/done /timbre/set hit trigger"), "\(screen)")

        // The node toggled from the REPL plays.
        usleep(500_000)
        let node = try serve.status().nodes.first { $0.label == "hit" }
        #expect((node?.blocks ?? 0) > 0)
        #expect((node?.peakDBFS.max() ?? -.infinity) > -40, "the trigger made a sound: \(String(describing: node?.peakDBFS))")
        #expect(node?.errors == 0)

        // Errors and help are lines, not exits.
        try tmux.type("first", "set hit loudness 1")
        try tmux.press("first", "Enter")
        screen = tmux.wait("first") { $0.contains("unknown parameter 'loudness'") }
        #expect(screen.contains("error: ") && screen.contains("unknown parameter 'loudness'"), "\(screen)")
        try tmux.type("first", "help toggle")
        try tmux.press("first", "Enter")
        screen = tmux.wait("first") { $0.contains("toggle LABEL [MODEL") }
        #expect(screen.contains("toggle LABEL [MODEL"), "\(screen)")
        try tmux.type("first", "status")
        try tmux.press("first", "Enter")
        screen = tmux.wait("first") { $0.contains("tiny-drum.ts") && $0.contains("engine:") }
        #expect(screen.contains("engine:") && screen.contains("decode"), "status prints the table: \(screen)")

        try tmux.type("first", "exit")
        try tmux.press("first", "Enter")
        #expect(waitUntil(10, interval: 0.1) { !tmux.alive("first") }, "exit leaves the REPL")
        let history = home.appendingPathComponent(".local/state/timbre/repl_history")
        #expect(FileManager.default.fileExists(atPath: history.path), "history at \(history.path)")

        // A restart finds the history: two steps up is the trigger, which runs again.
        try tmux.start("second", repl)
        tmux.wait("second") { $0.contains("timbre>") }
        try tmux.press("second", "Up")
        tmux.wait("second") { _ in tmux.lastLine("second") == "timbre> exit" }
        #expect(tmux.lastLine("second") == "timbre> exit", "\(tmux.screen("second"))")
        try tmux.press("second", "Up")
        tmux.wait("second") { _ in tmux.lastLine("second") == "timbre> status" }
        #expect(tmux.lastLine("second") == "timbre> status", "\(tmux.screen("second"))")
        try tmux.press("second", "Enter")
        screen = tmux.wait("second") { $0.contains("engine:") }
        #expect(screen.contains("hit"), "the recalled line ran: \(screen)")
        try tmux.press("second", "C-d")
        #expect(waitUntil(10, interval: 0.1) { !tmux.alive("second") }, "Ctrl-D leaves the REPL")
        #expect(serve.process.isRunning, "leaving the REPL leaves the server running")
    }
}

extension String {
    fileprivate var trimmingTrailingSpaces: String {
        var text = self
        while text.last == " " { text.removeLast() }
        return text
    }
}

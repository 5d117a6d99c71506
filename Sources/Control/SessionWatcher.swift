import Engine
import Foundation
import Synchronization

/// `serve --session FILE --watch`: reloads the session file when it is saved and applies
/// only what changed (`SessionState.changes`), on its own queue, never on the audio thread.
///
/// It polls the path's `stat` (inode, size, modification time) every `interval` seconds rather
/// than using inotify: an editor that saves by writing a new file and renaming it over the old
/// one replaces the inode an inotify watch would follow, while a path's `stat` sees every kind
/// of save; a stat a few times a second costs nothing. A change is applied once the stat has
/// stayed the same for one more tick, so a file caught half-written is not read. A file that
/// does not parse is reported and nothing of it runs; the running state stays as it was.
public final class SessionWatcher: @unchecked Sendable {
    private let url: URL
    private let executor: CommandExecutor
    private let log: @Sendable (String) -> Void
    private let queue = DispatchQueue(label: "timbre.session-watch", qos: .utility)
    private var timer: DispatchSourceTimer?
    // Touched only on `queue`.
    private var applied: SessionState
    private var appliedText: String
    private var seen: Stamp?
    private var pending: Stamp?

    struct Stamp: Equatable {
        var inode: UInt64
        var size: Int64
        var seconds: Int
        var nanoseconds: Int
    }

    /// Watches `url`, whose content `text` the server has already run.
    public init(url: URL, text: String, session: Session, executor: CommandExecutor, log: @escaping @Sendable (String) -> Void) {
        self.url = url
        self.executor = executor
        self.log = log
        applied = SessionState(session)
        appliedText = text
        seen = Self.stamp(url)
    }

    /// Starts polling every `interval` seconds.
    public func start(interval: Double = 0.2) {
        let timer = DispatchSource.makeTimerSource(queue: queue)
        timer.schedule(deadline: .now() + interval, repeating: interval)
        timer.setEventHandler { [weak self] in self?.tick() }
        timer.resume()
        self.timer = timer
    }

    /// Stops polling (a reload under way finishes first).
    public func stop() {
        timer?.cancel()
        queue.sync {}
    }

    static func stamp(_ url: URL) -> Stamp? {
        var info = stat()
        guard stat(url.path, &info) == 0 else { return nil }
        return Stamp(inode: UInt64(info.st_ino), size: Int64(info.st_size),
                     seconds: Int(info.st_mtim.tv_sec), nanoseconds: Int(info.st_mtim.tv_nsec))
    }

    private func tick() {
        // Missing for a moment while an editor renames its new file into place: wait.
        guard let now = Self.stamp(url), now != seen else { pending = nil; return }
        guard now == pending else { pending = now; return }
        seen = now
        pending = nil
        guard let data = FileManager.default.contents(atPath: url.path), let text = String(validating: data, as: UTF8.self) else {
            log("session \(url.path): cannot read it as UTF-8 text; not applied")
            return
        }
        guard text != appliedText else { return }
        let session: Session
        do {
            session = try Session(text: text, name: url.path)
        } catch {
            log("session reload refused, nothing applied: \(error)")
            return
        }
        appliedText = text
        let state = SessionState(session)
        let commands = SessionState.changes(from: applied, to: state)
        applied = state
        log("session \(url.path) changed: \(commands.count) command(s) to apply")
        for command in commands {
            let reply = run(command)
            log("session reload: \(command.line) -> \(reply.address) \(reply.arguments.map(\.description).joined(separator: " "))")
        }
    }

    /// Runs one command and waits for its reply (a swap answers when its crossfade has played).
    private func run(_ command: ControlCommand) -> OSCMessage {
        let result = Mutex<OSCMessage?>(nil)
        let replied = DispatchSemaphore(value: 0)
        executor.execute(command) { reply in
            result.withLock { $0 = reply }
            replied.signal()
        }
        replied.wait()
        return result.withLock { $0! }
    }
}

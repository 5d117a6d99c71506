import Engine
import Foundation
import Synchronization

/// `timbre serve`: the instrument on JACK, controlled over OSC, optionally started from a session.
public enum LiveServer {
    public struct Options: Sendable {
        public var port = defaultOSCPort
        public var host = "127.0.0.1"
        public var modelsDirectories: [URL] = [URL(fileURLWithPath: ".")]
        public var block = 2048
        public var inferenceAllowance = 1.0
        public var connect = true
        public var session: URL?
        /// The JACK server's name (nil: the default one, or `$JACK_DEFAULT_SERVER`).
        public var server: String?
        public var clientName = "timbre"
        /// SCHED_FIFO priority for the inference workers (0: normal scheduling).
        public var workerRealtimePriority = 0
        /// Nice value of the inference workers.
        public var workerNice = 0
        /// Nodes of the same model, method and block share batched calls (see `Instrument.Configuration.batchNodes`).
        public var batchNodes = true
        /// The most nodes one batched call carries.
        public var batchLimit = 8
        /// Folders `seq/encode` may read and `session/save` may write in (nil: read from the models folders, write nowhere).
        public var filesDirectories: [URL]?
        /// Open the JACK MIDI input `<client>:midi_in` (for `/timbre/midi/...` mappings).
        public var midi = false
        /// Reload `session` when the file is saved, applying only what changed (`SessionWatcher`).
        public var watch = false

        public init() {}
    }

    /// Runs until `/timbre/quit`, SIGINT or SIGTERM. `log` gets one line per event.
    public static func run(_ options: Options, log: @escaping @Sendable (String) -> Void) throws {
        let session = try options.session.map { try Session(contentsOf: $0) }
        let driver = try JackDriver.open(clientName: options.clientName, server: options.server, midi: options.midi) { configuration in
            configuration.modelsDirectories = options.modelsDirectories
            configuration.defaultBlock = options.block
            configuration.inferenceAllowance = options.inferenceAllowance
            configuration.workerRealtimePriority = options.workerRealtimePriority
            configuration.workerNice = options.workerNice
            configuration.batchNodes = options.batchNodes
            configuration.batchLimit = options.batchLimit
            configuration.filesDirectories = options.filesDirectories
        }
        let instrument = driver.instrument
        let done = DispatchSemaphore(value: 0)
        let executor = CommandExecutor(instrument: instrument) { done.signal() }

        // Commands at time 0 run before audio starts, so their nodes play from the first block.
        let entries = session?.entries ?? []
        for entry in entries where entry.time == 0 && !needsAudio(entry.command) {
            let reply = run(entry, executor)
            if reply.address == "/timbre/fail" {
                throw CommandError("\(options.session!.path):\(entry.line): \(reply.arguments.last?.text ?? "failed")")
            }
        }
        try driver.start(connect: options.connect)
        let server: OSCServer
        do {
            server = try OSCServer(host: options.host, port: options.port, executor: executor, log: log)
        } catch {
            driver.stop()
            throw error
        }
        let started = DispatchTime.now()
        for entry in entries where entry.time > 0 || needsAudio(entry.command) {
            DispatchQueue.global().asyncAfter(deadline: started + entry.time) {
                let reply = run(entry, executor)
                log("session line \(entry.line): \(reply.address) \(reply.arguments.map(\.description).joined(separator: " "))")
            }
        }
        let watcher = options.watch ? try options.session.map { url in
            let text = FileManager.default.contents(atPath: url.path).flatMap { String(validating: $0, as: UTF8.self) } ?? ""
            return SessionWatcher(url: url, text: text, session: try Session(text: text, name: url.path), executor: executor, log: log)
        } : nil
        watcher?.start()
        log("timbre serve: JACK client '\(driver.client.name)' at \(driver.client.sampleRate) Hz, \(driver.client.bufferSize) frames per cycle; OSC on \(options.host):\(server.port)"
            + (options.midi ? "; MIDI in \(driver.client.name):midi_in" : "")
            + (watcher != nil ? "; watching \(options.session!.path)" : ""))

        signal(SIGINT, SIG_IGN)
        signal(SIGTERM, SIG_IGN)
        let signals = [SIGINT, SIGTERM].map { number -> DispatchSourceSignal in
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { done.signal() }
            source.resume()
            return source
        }
        done.wait()
        watcher?.stop()
        signals.forEach { $0.cancel() }
        log("timbre serve: stopping (\(instrument.xruns.load(ordering: .relaxed)) xruns)")
        server.close()
        driver.stop()
    }

    /// Whether a command's reply waits for audio to run (a swap answers when its crossfade
    /// has played), so a session's time-0 line of it runs once JACK does.
    private static func needsAudio(_ command: ControlCommand) -> Bool {
        if case .swap = command { return true }
        return false
    }

    /// Runs one session entry and waits for its reply.
    private static func run(_ entry: Session.Entry, _ executor: CommandExecutor) -> OSCMessage {
        let result = Mutex<OSCMessage?>(nil)
        let replied = DispatchSemaphore(value: 0)
        executor.execute(entry.command) { reply in
            result.withLock { $0 = reply }
            replied.signal()
        }
        replied.wait()
        return result.withLock { $0! }
    }
}

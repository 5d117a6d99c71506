import AudioIO
import Engine
import Foundation
import Synchronization

/// `timbre render`: a session run offline over an input file through the live
/// graph, writing one file per node bus and the master.
public enum SessionRender {
    public struct Options: Sendable {
        public var session: URL
        public var input: URL
        public var outputDirectory: URL
        public var modelsDirectories: [URL]
        /// Length of the render; nil means the input's length.
        public var seconds: Double?
        public var block = 2048
        public var inferenceAllowance = 1.0
        /// Samples per cycle (as JACK's buffer size).
        public var period = 512
        /// Folders `seq/encode` may read and `session/save` may write in (nil: read from the models folders, write nowhere).
        public var filesDirectories: [URL]?

        public init(session: URL, input: URL, outputDirectory: URL, modelsDirectories: [URL]) {
            self.session = session
            self.input = input
            self.outputDirectory = outputDirectory
            self.modelsDirectories = modelsDirectories
        }
    }

    /// What was written.
    public struct Report: Sendable {
        public var files: [URL]
        public var latencies: [String: Int]
        public var frames: Int
        public var sampleRate: Int
        public var seconds: Double
    }

    public static func run(_ options: Options, progress: ((Double) -> Void)? = nil) throws -> Report {
        let started = Date()
        let session = try Session(contentsOf: options.session)
        let input = try AudioFile.read(options.input)
        let rate = Int(input.sampleRate)
        let frames = options.seconds.map { Int(($0 * Double(rate)).rounded()) } ?? input.frameCount
        guard frames > 0 else { throw CommandError("\(options.input.path): nothing to render (0 samples)") }
        var configuration = Instrument.Configuration(sampleRate: rate, period: options.period, modelsDirectories: options.modelsDirectories)
        configuration.defaultBlock = options.block
        configuration.inferenceAllowance = options.inferenceAllowance
        configuration.filesDirectories = options.filesDirectories
        let events = session.entries.map { entry in
            RenderEvent(frame: Int((entry.time * Double(rate)).rounded())) { instrument in
                let executor = CommandExecutor(instrument: instrument)
                let failure = Mutex<String?>(nil)
                executor.execute(entry.command) { reply in
                    if reply.address == "/timbre/fail" {
                        failure.withLock { $0 = reply.arguments.last?.text ?? "failed" }
                    }
                }
                if let message = failure.withLock({ $0 }) {
                    throw CommandError("\(options.session.path):\(entry.line): \(message)")
                }
            }
        }
        let result = try OfflineRenderer.render(input: input, frames: frames, configuration: configuration,
                                                events: events, progress: progress)
        try FileManager.default.createDirectory(at: options.outputDirectory, withIntermediateDirectories: true)
        var files: [URL] = []
        for (label, buffer) in result.buses {
            let url = options.outputDirectory.appendingPathComponent("\(label).wav")
            try AudioFile.write(buffer, to: url, format: .float32)
            files.append(url)
        }
        let master = options.outputDirectory.appendingPathComponent("master.wav")
        try AudioFile.write(result.master, to: master, format: .float32)
        files.append(master)
        return Report(files: files, latencies: result.latencies, frames: frames, sampleRate: rate,
                      seconds: Date().timeIntervalSince(started))
    }
}

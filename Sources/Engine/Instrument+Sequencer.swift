import AudioIO
import Foundation
import ModelHost
import Synchronization

// The sequencer commands and `session/save` on the control side (issue 17). The sequencer itself
// is `LatentSequencer`, which a decode node's plan asks for its latent frames.

extension Instrument {
    /// Folders server-side files may be read from: `filesDirectories`, else the models folders.
    public var readableFiles: FileFolders {
        FileFolders(directories: configuration.filesDirectories ?? configuration.modelsDirectories)
    }

    /// Folders server-side files may be written to: `filesDirectories` only (none by default, so a
    /// server never writes into its models folders or anywhere else unless told where).
    public var writableFiles: FileFolders {
        FileFolders(directories: configuration.filesDirectories ?? [])
    }

    /// Runs a sequencer command on node `label` (all but `encode`, which loads the model: see
    /// `encodeSequence`). What only the node knows is checked here: that it has latents to feed,
    /// its latent size, and the pattern's length.
    public func sequence(_ label: String, _ command: SequencerCommand) throws {
        let node = try runningNode(label)
        let sequencer = try Self.sequencer(of: node)
        switch command {
        case .configure(let settings):
            sequencer.configure(settings, now: node.sequenceNow, sampleRate: node.modelRate)
        case .step(let index, let step):
            let settings = try Self.settings(of: sequencer, label)
            guard index < settings.steps else {
                throw EngineError("step \(index) is out of range 0..<\(settings.steps) of node '\(label)''s sequence")
            }
            guard step.latents.count == node.latentSize else {
                throw EngineError("'latents' takes \(node.latentSize) values for node '\(label)', got \(step.latents.count)")
            }
            if let className = step.className, let reason = Self.classMisfit(className, node) { throw EngineError(reason) }
            sequencer.setStep(index, step)
        case .play:
            _ = try Self.settings(of: sequencer, label)
            sequencer.play(now: node.sequenceNow)
        case .stop:
            _ = try Self.settings(of: sequencer, label)
            sequencer.stop()
        case .encode(let file):
            throw EngineError("'seq/encode \(label) \(file)' runs through encodeSequence")
        }
    }

    /// Why a hit of class `name` cannot play on the node (nil when it can): the class must be
    /// one of its drum export's velocity channels (trigger contract 2).
    static func classMisfit(_ name: String, _ node: Node) -> String? {
        let classes = node.plan.hitClasses
        guard !classes.isEmpty else {
            return "node '\(node.label)''s model has no class channels (not a drum export of trigger contract 2); 'class \(name)' cannot be played"
        }
        guard classes.contains(name) else {
            return "node '\(node.label)' has no class '\(name)' (its classes: \(classes.joined(separator: ", ")))"
        }
        return nil
    }

    private static func sequencer(of node: Node) throws -> LatentSequencer {
        guard let sequencer = node.sequencer else {
            throw EngineError("node '\(node.label)' runs '\(node.spec.method.rawValue)'; a sequencer drives a decode node's latents")
        }
        return sequencer
    }

    private static func settings(of sequencer: LatentSequencer, _ label: String) throws -> SequenceSettings {
        guard let pattern = sequencer.pattern else {
            throw EngineError("node '\(label)' has no sequence: send /timbre/seq \(label) steps N bpm B first")
        }
        return pattern.settings
    }

    /// Fills node `label`'s steps from a sound file's encoding through the node's own model (its
    /// `encode` method, run block by block through its call plan on a fresh instance, on the
    /// loader thread live). The file plays at the sequence's tempo: step i takes the latent frame
    /// where it starts; for a trigger-driven model (a drum export, whose decode's first input is
    /// labelled `(trigger)`) a step with a hit (channel 0 above 0.5) takes the hit's latents and a
    /// trigger. Steps past the file's end are left as they were. `completion` gets the steps filled.
    public func encodeSequence(_ label: String, file: String, completion: @escaping @Sendable (Result<Int, Error>) -> Void) {
        let prepared: (Node, LatentSequencer, SequenceSettings, URL)
        do {
            let node = try runningNode(label)
            let sequencer = try Self.sequencer(of: node)
            let settings = try Self.settings(of: sequencer, label)
            prepared = (node, sequencer, settings, try readableFiles.reading(file))
        } catch {
            completion(.failure(error))
            return
        }
        onLoader { [self] in
            completion(Result { try encode(prepared.0, prepared.1, prepared.2, prepared.3) })
        }
    }

    private func encode(_ node: Node, _ sequencer: LatentSequencer, _ settings: SequenceSettings, _ url: URL) throws -> Int {
        var audio = try AudioFile.read(url)
        guard audio.frameCount > 0 else { throw EngineError("\(url.path): no samples") }
        if Int(audio.sampleRate) != node.modelRate {
            audio = try Resampler.resample(audio, to: Double(node.modelRate))
        }
        let model = try library.instance(of: node.modelURL)
        guard let encoder = model.methods.first(where: { $0.name == "encode" }) else {
            throw EngineError("\(node.modelURL.lastPathComponent) has no 'encode' method to fill node '\(node.label)''s steps from \(url.lastPathComponent)")
        }
        guard encoder.outChannels == node.latentSize, encoder.inChannels <= 2 else {
            throw EngineError("\(node.modelURL.lastPathComponent): 'encode' gives \(encoder.outChannels) channels from \(encoder.inChannels); node '\(node.label)' takes \(node.latentSize) latents")
        }
        let runner = try BlockRunner(model: model, method: "encode", block: node.block)
        // Mono (the channels averaged), copied to each input the method takes.
        let count = audio.frameCount
        var mono = [Float](repeating: 0, count: count)
        for channel in audio.channels { for i in 0..<count { mono[i] += channel[i] / Float(audio.channelCount) } }
        let block = node.block
        var latents: [[Float]] = []  // frame, then dimension
        var offset = 0
        while offset < count {
            var chunk = [Float](repeating: 0, count: block)
            for i in 0..<min(block, count - offset) { chunk[i] = mono[offset + i] }
            let out = try runner.run(stream: 0, [[Float]](repeating: chunk, count: encoder.inChannels))
            for f in 0..<runner.outputFrames { latents.append(out.map { $0[f] }) }
            offset += block
        }
        let ratio = block / runner.outputFrames
        let decoder = model.methods.first { $0.name == "decode" }
        let triggered = decoder?.hasTriggerChannel ?? false
        // Trigger contract 2: a hit is a frame with a velocity on one of these channels.
        let classes = decoder?.hitClasses ?? []
        let stepSamples = Double(node.modelRate) * 60 / (Double(settings.bpm) * Double(settings.division))
        func start(_ i: Int) -> Double { (Double(i) + (i & 1 == 1 ? Double(settings.swing) : 0)) * stepSamples }
        let usable = (count + ratio - 1) / ratio
        var filled = 0
        for i in 0..<settings.steps {
            let first = Int(start(i)) / ratio
            guard Int(start(i)) < count, first < usable else { break }
            let end = min(usable, max(first + 1, Int(start(i + 1)) / ratio))
            var step = SequenceStep(latents: latents[first])
            if !classes.isEmpty {
                let hit = (first..<end).lazy.compactMap { f in (0..<classes.count).first { latents[f][$0] > 0 }.map { (f, $0) } }.first
                if let (f, c) = hit {
                    step = SequenceStep(latents: latents[f], velocity: min(latents[f][c], 1), className: classes[c])
                }
                for c in 0..<classes.count { step.latents[c] = 0 }
            } else if triggered {
                if let hit = (first..<end).first(where: { latents[$0][0] > 0.5 }) {
                    step = SequenceStep(latents: latents[hit], velocity: 1)
                }
                step.latents[0] = 0
            }
            sequencer.setStep(i, step)
            filled += 1
        }
        return filled
    }

    // MARK: - Session files

    /// The running state as commands that rebuild it: each node (`new`, with its block and input
    /// now), the parameters set on it, its sequence, then what other parts add (`SessionRecord.addPart`:
    /// MIDI mappings), then the sequences that play (last, so they start together).
    public func sessionCommands() -> [ControlCommand] {
        var commands: [ControlCommand] = []
        var plays: [ControlCommand] = []
        for (node, input) in runningNodes() {
            var spec = node.spec
            spec.input = input
            spec.block = node.block
            commands.append(.new(spec))
            commands += sessionRecord.parameters(of: node.label).map { .set(label: node.label, $0) }
            if let pattern = node.sequencer?.pattern {
                commands.append(.sequencer(label: node.label, .configure(pattern.settings)))
                commands += pattern.steps.map { .sequencer(label: node.label, .step(index: $0.0, $0.1)) }
                if pattern.playing { plays.append(.sequencer(label: node.label, .play)) }
            }
        }
        return commands + sessionRecord.partCommands() + plays
    }

    /// Writes `sessionCommands()` to `name` (inside the writable files folders; a temporary file in the same
    /// folder, then renamed), which `serve --session` and `render` read back to the same state.
    @discardableResult
    public func saveSession(to name: String) throws -> URL {
        let url = try writableFiles.writing(name)
        let text = Session.text(of: sessionCommands(), comment: "written by /timbre/session/save")
        let temporary = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).\(getpid()).tmp")
        do {
            try Data(text.utf8).write(to: temporary)
            if rename(temporary.path, url.path) != 0 {
                throw EngineError("\(url.path): cannot rename the session into place (\(String(cString: strerror(errno))))")
            }
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            if error is EngineError { throw error }
            throw EngineError("\(url.path): cannot write the session (\(error.localizedDescription))")
        }
        return url
    }
}

/// What a session file needs beyond the nodes themselves: the parameters set on each node (the
/// last value of each, in the order they were last set) and the lines other parts contribute.
public final class SessionRecord: Sendable {
    private struct Entry {
        var key: String
        var parameter: NodeParameter
    }
    private let entries = Mutex<[String: [Entry]]>([:])
    private let parts = Mutex<[@Sendable () -> [ControlCommand]]>([])

    /// Adds a part to every saved session: its commands follow the nodes' (the hook for MIDI mappings).
    public func addPart(_ commands: @escaping @Sendable () -> [ControlCommand]) {
        parts.withLock { $0.append(commands) }
    }

    func partCommands() -> [ControlCommand] {
        parts.withLock { $0 }.flatMap { $0() }
    }

    /// Keeps a parameter just set (a trigger is an event, not state: not kept).
    func record(_ label: String, _ parameter: NodeParameter) {
        let key: String
        switch parameter {
        case .trigger, .reset: return  // one-shots (reset: issue 18)
        case .eq(let band, _): key = "eq \(band)"
        case .bias(let d, _): key = "bias \(d)"
        case .scale(let d, _): key = "scale \(d)"
        case .latent(let d, _): key = "latent \(d)"
        default: key = parameter.name
        }
        entries.withLock { all in
            var list = all[label, default: []]
            // Every latent value at once replaces the single ones set before it.
            if case .latents = parameter { list.removeAll { $0.key.hasPrefix("latent ") } }
            list.removeAll { $0.key == key }
            list.append(Entry(key: key, parameter: parameter))
            all[label] = list
        }
    }

    func forget(_ label: String) { entries.withLock { $0[label] = nil } }

    func parameters(of label: String) -> [NodeParameter] {
        entries.withLock { $0[label, default: []].map(\.parameter) }
    }
}

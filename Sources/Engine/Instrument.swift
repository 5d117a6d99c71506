import AudioIO
import DSP
import Foundation
import Synchronization
import Torch

/// What happened to a node after a toggle, new or free.
public enum NodeEvent: Sendable, Equatable {
    case created(label: String, latency: Int)
    case freed(label: String)
}

/// What a `/timbre/swap` did, for its reply.
public struct SwapOutcome: Sendable, Equatable {
    public var label: String
    /// The file now playing.
    public var model: String
    /// The node's settings that did not fit the new model and were dropped, in one line
    /// (nil when every setting was kept).
    public var dropped: String?
}

/// Something that gives nodes their own output ports (the JACK driver).
protocol NodePortHost: AnyObject, Sendable {
    func registerPorts(label: String) throws -> NodePorts
    func unregisterPorts(_ ports: NodePorts?)
}

/// The live instrument's control side: creates, frees and steers nodes, and reports
/// their state. Every method is safe from any thread except the audio thread.
/// Models load on a background thread (below normal priority) and join the graph
/// through the kernel's lock-free command queue.
public final class Instrument: @unchecked Sendable {
    /// How the engine runs.
    public struct Configuration: Sendable {
        /// The server's sample rate (JACK's, or the rendered file's).
        public var sampleRate: Int
        /// Samples per audio cycle (JACK's buffer size; the renderer's step).
        public var period: Int
        /// The largest cycle the kernel accepts.
        public var maxFrames = 8192
        /// Folders models are looked up in; nothing outside them loads.
        public var modelsDirectories: [URL]
        /// A node's block when its command names none (raised to the model's minimum block).
        public var defaultBlock = 2048
        /// Time allowed for inference, in blocks (1 = one block, as nn~ allows).
        public var inferenceAllowance = 1.0
        /// Inference threads (default: one per core).
        public var workers = ProcessInfo.processInfo.activeProcessorCount
        /// Offline: models load on the calling thread and blocks run as soon as they are complete.
        public var offline = false
        /// Fade in on creation and out on free.
        public var fadeSeconds = 0.05
        /// Run the workers at this SCHED_FIFO priority (below JACK's) instead of normal
        /// scheduling, so other programs on the machine cannot take their cores; 0 keeps
        /// them at normal priority. Needs the right to real-time scheduling (the audio group).
        public var workerRealtimePriority = 0
        /// Nice value of the workers (still normal scheduling): below 0 (e.g. -15) they win the
        /// cores from other programs without ever competing with JACK's real-time threads.
        /// Needs the right to raise priority (root, or a `nice` limit for the audio group).
        public var workerNice = 0
        /// Give each joining node the block phase that spreads the nodes' block completions over
        /// the audio cycles when the period is shorter than the block (nil: live yes, offline no,
        /// where it would change a render's output and gain nothing).
        public var staggerBlocks: Bool? = nil
        /// Live: nodes of the same model, method and block share batched calls on one instance
        /// per worker (`BatchLane`), each node keeping its own streaming state, when the model's
        /// state has a row per batch element (RAVE's streaming exports do). Offline renders never batch.
        public var batchNodes = true
        /// The most nodes one batched call carries.
        public var batchLimit = 8
        /// Folders server-side files may be read from and written to (`seq/encode`, `session/save`);
        /// nil: files are read from the models folders and never written. Nothing outside them is opened.
        public var filesDirectories: [URL]? = nil

        public init(sampleRate: Int, period: Int, modelsDirectories: [URL]) {
            self.sampleRate = sampleRate
            self.period = period
            self.modelsDirectories = modelsDirectories
        }
    }

    public let configuration: Configuration
    public let library: ModelLibrary
    let kernel: Kernel
    private var pool: WorkerPool?
    weak var ports: NodePortHost?
    /// Serialises the producers of the kernel's command queue.
    private let producer = Mutex<Void>(())
    private let state = Mutex<State>(State())
    private let loader = DispatchQueue(label: "timbre.loader")
    /// Lanes by model, method and block (or why that model cannot batch), made on first use.
    private let lanes = Mutex<[String: LaneEntry]>([:])
    /// Lanes of models loaded again since (kept for the nodes still in them).
    private let staleLanes = Mutex<[BatchLane]>([])
    private enum LaneEntry {
        case refused(String)
        case lanes([BatchLane])
    }
    private var janitor: DispatchSourceTimer?
    /// The janitor's queue, and a key that tells code running on it that it does.
    private let janitorQueue = DispatchQueue(label: "timbre.janitor")
    private static let onJanitor = DispatchSpecificKey<Bool>()
    /// The audio cycle now (the driver updates it when JACK's buffer size changes).
    let period: Atomic<Int>
    /// JACK xruns, counted by the driver.
    public let xruns = Atomic<Int>(0)
    /// JACK transport for `transport jack` sequences (published by the driver each cycle).
    let transport: TransportClock
    /// What `session/save` writes beyond the nodes: the parameters set, and other parts' lines.
    public let sessionRecord = SessionRecord()
    /// MIDI mappings, learns and the input port (Engine/MIDI.swift).
    let midi = MIDIState()

    private struct State {
        var nextID = 1
        var running: [String: Node] = [:]
        var loading: [String: Int] = [:]
        var fading: [Node] = []
        var inputs: [Int: NodeInput] = [:]
        /// EQ bands each node's storage holds (grown on demand).
        var eqCapacity: [Int: Int] = [:]
        /// The newest swap asked for each label and not yet handed to the audio thread.
        var pendingSwaps: [String: PendingSwap] = [:]
        /// Swaps handed to the audio thread whose crossfade has not finished, by label.
        var crossfading: [String: CrossfadingSwap] = [:]
    }

    typealias SwapCompletion = @Sendable (Result<SwapOutcome, Error>) -> Void

    /// A swap loading its model, or loaded and waiting for the label's previous swap to finish.
    struct PendingSwap {
        var token: Int
        var model: String
        var fadeFrames: Int
        var completion: SwapCompletion
        var ready: ReadySwap?
    }

    /// A swap's new node, built and warmed up (or with its lane chosen), not yet in the graph.
    struct ReadySwap {
        var node: Node
        var lane: BatchLane?
        var dropped: [String]
    }

    /// A swap in the graph: its reply waits for the end of the crossfade.
    struct CrossfadingSwap {
        var node: Node
        var completion: SwapCompletion
        var dropped: String?
    }

    public init(configuration: Configuration) {
        self.configuration = configuration
        library = ModelLibrary(directories: configuration.modelsDirectories)
        kernel = Kernel(maxFrames: configuration.maxFrames, inline: configuration.offline, staggers: configuration.staggerBlocks)
        period = Atomic(configuration.period)
        transport = TransportClock(sampleRate: configuration.sampleRate)
        if !configuration.offline {
            pool = WorkerPool(kernel: kernel, count: max(1, configuration.workers), realtimePriority: configuration.workerRealtimePriority, nice: configuration.workerNice)
            janitorQueue.setSpecific(key: Self.onJanitor, value: true)
            let timer = DispatchSource.makeTimerSource(queue: janitorQueue)
            timer.schedule(deadline: .now(), repeating: .milliseconds(20))
            timer.setEventHandler { [weak self] in
                self?.collectRetired()
                self?.pollMIDILearn()
            }
            timer.resume()
            janitor = timer
        }
        // A saved session keeps the MIDI mappings (after the nodes and sequences it writes).
        sessionRecord.addPart { [weak self] in self?.midiSessionCommands() ?? [] }
    }

    /// Stops the workers and the janitor. Nodes still in the graph stay until the instrument is released.
    public func stop() {
        janitor?.cancel()
        janitor = nil
        // Cancelling does not wait for a run in progress; wait for it here, so no janitor run
        // outlives `stop()`. Such a run holds the port host (the JACK driver) while it
        // unregisters ports: if it outlived the caller's last reference, the driver would be
        // released on the janitor's thread, and libjack deadlocked closing that client while
        // another thread opened one (seen in CI: the 200-toggle test's janitor against the
        // next test's new server). Not when the janitor itself stops the instrument.
        if DispatchQueue.getSpecific(key: Self.onJanitor) != true { janitorQueue.sync {} }
        pool?.stop()
    }

    deinit { stop() }

    // MARK: - Nodes

    /// Creates the node if its label is absent and frees it if present (as the
    /// original `createNode` did). Loading happens in the background; `completion`
    /// runs when the node has joined, failed, or been freed.
    public func toggle(_ spec: NodeSpec, completion: @escaping @Sendable (Result<NodeEvent, Error>) -> Void) {
        let present = state.withLock { $0.running[spec.label] != nil || $0.loading[spec.label] != nil }
        if present {
            completion(Result { try free(spec.label) })
        } else {
            create(spec, completion: completion)
        }
    }

    /// Creates a node; an error when the label is taken.
    public func create(_ spec: NodeSpec, completion: @escaping @Sendable (Result<NodeEvent, Error>) -> Void) {
        let token: Int
        do {
            do { try NodeSpec.validate(label: spec.label) } catch { throw EngineError(error.description) }
            token = try state.withLock { state -> Int in
                guard state.running[spec.label] == nil, state.loading[spec.label] == nil else {
                    throw EngineError("node '\(spec.label)' exists")
                }
                let id = state.nextID
                state.nextID += 1
                state.loading[spec.label] = id
                return id
            }
        } catch {
            completion(.failure(error))
            return
        }
        if configuration.offline {
            completion(Result { try join(spec, id: token) })
            return
        }
        loader.async { [self] in
            Self.lowerPriority()
            completion(Result { try join(spec, id: token) })
        }
    }

    /// Creates a node on the calling thread and waits until it is in the graph's queue.
    @discardableResult
    public func createNow(_ spec: NodeSpec) throws -> NodeEvent {
        let result = Mutex<Result<NodeEvent, Error>?>(nil)
        let done = DispatchSemaphore(value: 0)
        create(spec) { outcome in
            result.withLock { $0 = outcome }
            done.signal()
        }
        done.wait()
        return try result.withLock { $0! }.get()
    }

    /// Loads, builds and warms up a node, gives it ports, and hands it to the audio thread.
    private func join(_ spec: NodeSpec, id: Int) throws -> NodeEvent {
        let node: Node
        var lane: BatchLane?
        do {
            let url = try library.resolve(spec.model)
            let model = try library.instance(of: url)
            let source = state.withLock { resolveSource(spec.input, in: $0) }
            node = try Node(id: id, spec: spec, modelURL: url, model: model, serverRate: configuration.sampleRate,
                            period: period.load(ordering: .relaxed), maxFrames: configuration.maxFrames,
                            defaultBlock: configuration.defaultBlock, allowanceBlocks: configuration.inferenceAllowance,
                            source: source, fadeSeconds: configuration.fadeSeconds)
            node.transport = transport
            // Live, a node of a model that batches runs in a lane: the lane's instance is warm
            // already, and the node's own is released when it joins. Otherwise it warms its own up.
            if !configuration.offline, configuration.batchNodes, !node.resamples, node.plan.sharesLanes { lane = self.lane(for: node) }
            if lane == nil { node.warmUp() }
            if let ports {
                // A node of the same label may still be fading out with its ports.
                let deadline = Date().addingTimeInterval(5)
                while state.withLock({ $0.fading.contains { $0.label == spec.label && !$0.handedPortsOver } }), Date() < deadline {
                    usleep(5000)
                }
                node.ports = try ports.registerPorts(label: spec.label)
            }
        } catch {
            state.withLock { if $0.loading[spec.label] == id { $0.loading[spec.label] = nil } }
            throw error
        }
        let joined = state.withLock { state -> Bool in
            guard state.loading[spec.label] == id else { return false }
            state.loading[spec.label] = nil
            state.running[spec.label] = node
            state.inputs[id] = spec.input
            return true
        }
        guard joined else {
            // Freed while loading.
            if let ports { ports.unregisterPorts(node.ports) }
            return .freed(label: spec.label)
        }
        if let lane {
            node.attach(to: lane)
            lane.add(node)
        }
        send(.add(Unmanaged.passUnretained(node).toOpaque()))
        midiNodesChanged()
        // Nodes that take this label as their input now follow this node.
        let followers = state.withLock { state in
            state.running.values.filter { state.inputs[$0.id] == .node(spec.label) }.map(\.id)
        }
        for follower in followers { send(.source(nodeID: follower, KernelSource(kind: .node, nodeID: id))) }
        return .created(label: spec.label, latency: node.latency)
    }

    /// The lane with the fewest members among those for nodes like `node` (one per worker),
    /// made the first time, after a probe of the model on a throwaway copy; nil when the model
    /// cannot batch (remembered, so the probe runs once per model, method and block).
    private func lane(for node: Node) -> BatchLane? {
        let key = BatchLane.key(of: node)
        var entry = lanes.withLock { $0[key] }
        if case .lanes(let list)? = entry, let first = list.first, !first.serves(node) {
            // The file changed and was loaded again: new lanes; the old ones stay alive for
            // the nodes still in them (the audio thread holds their pointers).
            lanes.withLock { $0[key] = nil }
            staleLanes.withLock { $0 += list }
            entry = nil
        }
        if entry == nil {
            do {
                let support = try BatchLane.support(like: node, model: try library.instance(of: node.modelURL))
                if case .unsupported(let reason) = support {
                    entry = .refused(reason)
                } else {
                    let made = try (0..<max(1, configuration.workers)).map { _ in
                        let lane = try BatchLane(like: node, model: try library.instance(of: node.modelURL), support: support,
                                                 capacity: configuration.batchLimit)
                        lane.warmUp()
                        return lane
                    }
                    entry = .lanes(made)
                }
            } catch {
                entry = .refused("\(error)")
            }
            lanes.withLock { $0[key] = entry }
        }
        guard case .lanes(let list)? = entry else { return nil }
        return list.min { $0.memberCount < $1.memberCount }
    }

    /// Fades a node out and frees it (its model and buffers once it has left the graph).
    @discardableResult
    public func free(_ label: String) throws -> NodeEvent {
        var cancelled: PendingSwap?
        defer { cancelled?.completion(.failure(EngineError("node '\(label)' was freed before its swap to \(cancelled?.model ?? "") played"))) }
        let node = try state.withLock { state -> Node? in
            cancelled = state.pendingSwaps.removeValue(forKey: label)
            if state.loading[label] != nil {
                state.loading[label] = nil
                return nil
            }
            guard let node = state.running.removeValue(forKey: label) else { throw EngineError("no node '\(label)'") }
            state.fading.append(node)
            state.inputs[node.id] = nil
            state.eqCapacity[node.id] = nil
            return node
        }
        if let node { send(.free(nodeID: node.id)) }
        sessionRecord.forget(label)
        midiNodesChanged()
        return .freed(label: label)
    }

    /// Takes nodes the audio thread has retired and releases them once no worker holds them;
    /// answers swaps whose crossfade has finished and hands the next ones over.
    public func collectRetired() {
        releaseRetired()
        finishSwaps()
    }

    private func releaseRetired() {
        while let storage = kernel.retiredStorage.pop() { storage.deallocate() }
        releaseRetiredRoutings()
        var retired: [UnsafeMutableRawPointer] = []
        while let pointer = kernel.retired.pop() { retired.append(pointer) }
        let released = state.withLock { state -> [Node] in
            for pointer in retired {
                let node = Unmanaged<Node>.fromOpaque(pointer).takeUnretainedValue()
                if !state.fading.contains(where: { $0 === node }) {
                    // Refused by a full graph: it never played.
                    state.running = state.running.filter { $0.value !== node }
                    state.fading.append(node)
                }
                node.retiredFromGraph = true
            }
            return state.fading.filter { $0.retiredFromGraph && !$0.scheduled.load(ordering: .acquiring) }
        }
        guard !released.isEmpty else { return }
        // Out of its lane first: this waits for a worker running the lane, which then never sees the node again.
        for node in released {
            if let lanePointer = node.lanePointer { Unmanaged<BatchLane>.fromOpaque(lanePointer).takeUnretainedValue().remove(node) }
        }
        // Timed changes a node replaced by a swap never took go to the node that replaced it.
        for node in released { node.passOnLeftoverControls() }
        // Ports go before the node leaves `fading`: a new node of the same label waits for that.
        // A node a swap replaced gave its ports to the node that replaced it.
        if let ports { for node in released where !node.handedPortsOver { ports.unregisterPorts(node.ports) } }
        state.withLock { state in state.fading.removeAll { node in released.contains { $0 === node } } }
    }

    // MARK: - Swaps

    /// Replaces a node's model in place: loads `model` (inside the models folders) and warms it
    /// up on the loader thread, then hands it to the audio thread, which puts it in the old
    /// node's place with the old node's settings (gain, input gain, wet, mute, EQ, source,
    /// latent bias, scale and values, noise, temperature, seed) and crossfades the two on the
    /// node's bus over `fadeSeconds` (nil: `ControlCommand.defaultSwapFade`). `completion`
    /// runs once the new model plays alone, or with the error that left the old one playing.
    /// A swap asked for while one is pending for the label replaces it (the replaced one is
    /// answered with an error); one asked for during a crossfade waits for it to finish.
    public func swap(_ label: String, model name: String, fadeSeconds: Float? = nil,
                     completion: @escaping @Sendable (Result<SwapOutcome, Error>) -> Void) {
        var replaced: PendingSwap?
        let token: Int, url: URL
        do {
            let fade = Double(fadeSeconds ?? ControlCommand.defaultSwapFade)
            guard fade.isFinite, fade >= 0, fade <= Double(ControlCommand.maximumSwapFade) else {
                throw EngineError("swap fade \(fade) is not a duration in 0...\(ControlCommand.maximumSwapFade) seconds")
            }
            url = try library.resolve(name)
            let frames = Int((fade * Double(configuration.sampleRate)).rounded())
            token = try state.withLock { state -> Int in
                guard state.running[label] != nil else {
                    throw EngineError(state.loading[label] != nil ? "node '\(label)' is still loading" : "no node '\(label)'")
                }
                let id = state.nextID
                state.nextID += 1
                replaced = state.pendingSwaps[label]
                state.pendingSwaps[label] = PendingSwap(token: id, model: name, fadeFrames: frames, completion: completion)
                return id
            }
        } catch {
            completion(.failure(error))
            return
        }
        replaced?.completion(.failure(EngineError("swap of '\(label)' to \(replaced?.model ?? "") replaced by a later swap to \(name)")))
        if configuration.offline {
            loadSwap(label, name: name, url: url, token: token)
            return
        }
        loader.async { [self] in
            Self.lowerPriority()
            loadSwap(label, name: name, url: url, token: token)
        }
    }

    /// Builds and warms up a swap's new node (on the loader thread, or the caller's offline),
    /// then hands it over if the label has no crossfade in progress.
    private func loadSwap(_ label: String, name: String, url: URL, token: Int) {
        let result = Result { () throws -> ReadySwap in
            guard let old = state.withLock({ $0.running[label] }) else { throw EngineError("no node '\(label)'") }
            let model = try library.instance(of: url)
            var spec = old.spec
            spec.model = name
            var dropped: [String] = []
            if let block = spec.block, block % model.minimumBlock != 0 {
                dropped.append("block \(block) (not a multiple of the model's minimum block \(model.minimumBlock))")
                spec.block = nil
            }
            let source = state.withLock { resolveSource(spec.input, in: $0) }
            let node = try Node(id: token, spec: spec, modelURL: url, model: model, serverRate: configuration.sampleRate,
                                period: period.load(ordering: .relaxed), maxFrames: configuration.maxFrames,
                                defaultBlock: configuration.defaultBlock, allowanceBlocks: configuration.inferenceAllowance,
                                source: source, fadeSeconds: configuration.fadeSeconds)
            var lane: BatchLane?
            if !configuration.offline, configuration.batchNodes, !node.resamples, node.plan.sharesLanes { lane = self.lane(for: node) }
            if lane == nil { node.warmUp() }
            return ReadySwap(node: node, lane: lane, dropped: dropped)
        }
        let failed = state.withLock { state -> PendingSwap? in
            // A later swap replaced this one (and answered it): nothing to do.
            guard state.pendingSwaps[label]?.token == token else { return nil }
            switch result {
            case .success(let ready):
                state.pendingSwaps[label]!.ready = ready
                return nil
            case .failure:
                return state.pendingSwaps.removeValue(forKey: label)
            }
        }
        if let failed, case .failure(let error) = result {
            failed.completion(.failure(error))
            return
        }
        handOverSwap(label)
    }

    /// Hands a loaded swap to the audio thread when the label has no crossfade in progress:
    /// the new node takes the old one's control-side settings, ports and place in the state,
    /// the old one joins the fading nodes, and the kernel does the rest at its next cycle.
    /// Everything happens under the state lock, so no `set` can reach the old node after its
    /// settings were copied, nor the new one before the kernel has it.
    private func handOverSwap(_ label: String) {
        var failed: PendingSwap?
        var handedOver = false
        state.withLock { state in
            guard state.crossfading[label] == nil, let pending = state.pendingSwaps[label], let ready = pending.ready else { return }
            state.pendingSwaps[label] = nil
            guard let old = state.running[label] else {
                failed = pending
                return
            }
            let new = ready.node
            var dropped = ready.dropped
            // Latent settings, as far as the new model's dimensions reach, noise and temperature;
            // targets the old node takes from now on (MIDI changes its worker has not held yet,
            // a set racing this) go on to the new node (`Node.handOver`).
            var lost: [String] = []
            old.handOver(to: new) {
                let shared = min(old.latentSize, new.latentSize)
                for d in 0..<shared {
                    new.latentBias[d] = old.latentBias[d]
                    new.latentScale[d] = old.latentScale[d]
                    new.latentValues[d] = old.latentValues[d]
                }
                for d in shared..<old.latentSize {
                    if old.latentBias[d] != 0 { lost.append("bias \(d)") }
                    if old.latentScale[d] != 1 { lost.append("scale \(d)") }
                    if old.latentValues[d] != 0 { lost.append("latent \(d)") }
                }
                new.latentNoise[0] = old.latentNoise[0]
                new.temperature[0] = old.temperature[0]
            }
            if !lost.isEmpty {
                dropped.append(lost.joined(separator: ", ") + " (\(new.modelURL.lastPathComponent) has \(new.latentSize) latent dimension\(new.latentSize == 1 ? "" : "s"))")
            }
            // The step sequence goes on in step on the new model.
            if let from = old.sequencer, let to = new.sequencer {
                if to.adopt(from, otherNow: old.sequenceNow, now: new.sequenceNow) > 0 {
                    dropped.append("sequence latents beyond \(new.latentSize)")
                }
            } else if old.sequencer?.pattern != nil {
                dropped.append("sequence (\(new.modelURL.lastPathComponent) has no latents to feed)")
            }
            // Issue 18: a prior's listen switch and a decode's walk go on too.
            new.listening.store(old.listening.load(ordering: .relaxed), ordering: .relaxed)
            new.walkSettings[0] = old.walkSettings[0]
            new.walkSettings[1] = old.walkSettings[1]
            new.walkCommands.store(old.walkCommands.load(ordering: .relaxed), ordering: .relaxed)
            new.seedBits.store(old.seedBits.load(ordering: .relaxed), ordering: .relaxed)
            new.seeded.store(old.seeded.load(ordering: .relaxed), ordering: .relaxed)
            // EQ storage as large as the old node's, so the kernel copies every band.
            if let capacity = state.eqCapacity[old.id], capacity > new.eq.capacity {
                new.eq.adopt(EQChain.allocateBands(capacity), capacity: capacity).deallocate()
            }
            state.eqCapacity[new.id] = state.eqCapacity.removeValue(forKey: old.id)
            new.ports = old.ports
            old.handedPortsOver = true
            state.running[label] = new
            state.fading.append(old)
            state.inputs[new.id] = state.inputs.removeValue(forKey: old.id)
            state.crossfading[label] = CrossfadingSwap(node: new, completion: pending.completion,
                                                       dropped: dropped.isEmpty ? nil : "dropped " + dropped.joined(separator: "; "))
            if let lane = ready.lane {
                new.attach(to: lane)
                lane.add(new)
            }
            send(.swap(oldID: old.id, Unmanaged.passUnretained(new).toOpaque(), fadeFrames: pending.fadeFrames))
            handedOver = true
        }
        // MIDI routes name node ids: the label's mappings now reach the new node (from the
        // kernel's next cycle, after the swap command queued above). Outside the state lock,
        // which the rebuild takes after the MIDI lock.
        if handedOver { midiNodesChanged() }
        failed?.completion(.failure(EngineError("node '\(label)' was freed before its swap to \(failed?.model ?? "") played")))
    }

    /// Answers swaps whose crossfade has finished (or whose node left the graph), then hands
    /// over swaps that were waiting for them.
    private func finishSwaps() {
        let (answers, waiting) = state.withLock { state -> ([(SwapCompletion, Result<SwapOutcome, Error>)], [String]) in
            var answers: [(SwapCompletion, Result<SwapOutcome, Error>)] = []
            for (label, swap) in state.crossfading {
                if state.running[label] !== swap.node {
                    state.crossfading[label] = nil
                    answers.append((swap.completion, .failure(EngineError("node '\(label)' was freed during its swap"))))
                } else if swap.node.swapFinished.load(ordering: .acquiring) {
                    state.crossfading[label] = nil
                    answers.append((swap.completion, .success(SwapOutcome(label: label, model: swap.node.modelURL.lastPathComponent,
                                                                          dropped: swap.dropped))))
                }
            }
            let waiting = state.pendingSwaps.filter { $0.value.ready != nil && state.crossfading[$0.key] == nil }.map(\.key)
            return (answers, waiting)
        }
        for (completion, result) in answers { completion(result) }
        for label in waiting { handOverSwap(label) }
    }

    /// Whether a node of this label runs or loads.
    func isKnown(_ label: String) -> Bool { state.withLock { $0.running[label] != nil || $0.loading[label] != nil } }

    /// Timed changes the running nodes' queues refused.
    func droppedControls() -> Int {
        state.withLock { $0.running.values.reduce(0) { $0 + $1.droppedControls.load(ordering: .relaxed) } }
    }

    /// Nodes in the graph and loading, by label.
    public var labels: [String] {
        state.withLock { Array($0.running.keys).sorted() }
    }

    /// Inference time per block of a running node, in seconds, from the worker's records
    /// (the most recent, at most 1024), skipping the first `skip` blocks.
    public func blockSeconds(of label: String, skip: Int = 0) -> [Double] {
        state.withLock { $0.running[label] }?.stepSeconds(since: skip) ?? []
    }

    /// Latency in samples of a running node.
    public func latency(of label: String) -> Int? {
        state.withLock { $0.running[label]?.latency }
    }

    private func resolveSource(_ input: NodeInput, in state: State) -> KernelSource {
        switch input {
        case .channel(let c): KernelSource(kind: c == 0 ? .first : .second, nodeID: 0)
        case .mix: KernelSource(kind: .mix, nodeID: 0)
        case .stereo: KernelSource(kind: .stereo, nodeID: 0)
        case .node(let label): KernelSource(kind: .node, nodeID: state.running[label]?.id ?? -1)
        }
    }

    /// Hands larger EQ storage to the audio thread when band `index` does not fit.
    private func growEQ(_ node: Node, toHold index: Int) {
        let grown = state.withLock { state -> Int? in
            let capacity = state.eqCapacity[node.id] ?? EQChain.initialCapacity
            guard index >= capacity else { return nil }
            var larger = capacity
            while larger <= index { larger *= 2 }
            state.eqCapacity[node.id] = larger
            return larger
        }
        if let grown {
            send(.growEQ(nodeID: node.id, UnsafeMutableRawPointer(EQChain.allocateBands(grown)), capacity: grown))
        }
    }

    func send(_ command: KernelCommand) {
        producer.withLock { _ in
            while !kernel.commands.push(command) { usleep(200) }
        }
    }

    /// The loader runs below normal priority, so loading a model never takes a core from inference.
    private static func lowerPriority() {
        setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, 10)
    }

    // MARK: - Parameters

    /// Sets a node's parameter. The value is typed and range-checked already (Protocol);
    /// what only the node knows is checked here: its latent size, and whether its method
    /// has latents at all.
    public func set(_ label: String, _ parameter: NodeParameter) throws {
        guard let node = state.withLock({ $0.running[label] }) else { throw EngineError("no node '\(label)'") }
        func dimension(_ d: LatentIndex) throws -> Int {
            guard node.latentSize > 0 else {
                throw EngineError("node '\(label)' runs '\(node.spec.method.rawValue)'; latent parameters need encode, decode or prior")
            }
            guard d >= 0, d < node.latentSize else {
                throw EngineError("latent dimension \(d) is out of range 0..<\(node.latentSize)")
            }
            return d
        }
        switch parameter {
        case .gain(let value): send(.set(nodeID: node.id, .gain, value))
        case .inputGain(let value): send(.set(nodeID: node.id, .inputGain, value))
        case .wet(let value): send(.set(nodeID: node.id, .wet, value))
        case .mute(let on): send(.set(nodeID: node.id, .mute, on ? 1 : 0))
        case .input(let input):
            if case .node(let other) = input, other == label { throw EngineError("node '\(label)' cannot take its own bus as input") }
            let source = state.withLock { state -> KernelSource in
                state.inputs[node.id] = input
                return resolveSource(input, in: state)
            }
            send(.source(nodeID: node.id, source))
        case .eq(let index, .off):
            send(.band(nodeID: node.id, index: index, KernelBand(EQBand(kind: .peak, frequency: 1000, enabled: false))))
        case .eq(let index, .band(let kind, let frequency, let q, let gain)):
            growEQ(node, toHold: index)
            send(.band(nodeID: node.id, index: index, KernelBand(EQBand(kind: BiquadKind(kind), frequency: frequency, q: q, gainDB: gain))))
        // Model-side targets through `Node.hold`: a node a swap is replacing passes them on to
        // the new node, so a set racing the hand-over is not left on the old model.
        case .bias(let d, let value): node.hold(.bias, dimension: try dimension(d), value: value)
        case .scale(let d, let value): node.hold(.scale, dimension: try dimension(d), value: value)
        case .latent(let d, let value): node.hold(.latent, dimension: try dimension(d), value: value)
        case .latents(let values):
            _ = try dimension(0)
            guard values.count == node.latentSize else {
                throw EngineError("'latents' takes \(node.latentSize) values for node '\(label)', got \(values.count)")
            }
            for (d, value) in values.enumerated() { node.hold(.latent, dimension: d, value: value) }
        case .noise(let amplitude): node.hold(.noise, dimension: 0, value: amplitude)
        case .temperature(let value): node.hold(.temperature, dimension: 0, value: value)
        case .trigger: node.triggers.wrappingAdd(1, ordering: .relaxed)
        case .seed(let seed):
            node.seedBits.store(seed, ordering: .relaxed)
            node.seeded.store(true, ordering: .relaxed)
        // Issue 18: msprior's listen and reset, a decode node's latent walk.
        case .listen(let on):
            guard node.plan.steps.contains(.priorAttributes) else {
                throw EngineError("node '\(label)' has no prior with a 'listen' attribute (msprior's combined export, method prior)")
            }
            node.listening.store(on, ordering: .relaxed)
        case .reset:
            guard node.plan.steps.contains(.priorAttributes) else {
                throw EngineError("node '\(label)' has no prior with a 'reset' attribute (msprior's combined export, method prior)")
            }
            node.resetRequests.wrappingAdd(1, ordering: .relaxed)
        case .walk(let rate, let depth):
            guard node.sequencer != nil else {
                throw EngineError("node '\(label)' runs '\(node.spec.method.rawValue)'; a latent walk needs method decode")
            }
            node.walkSettings[0] = rate
            node.walkSettings[1] = depth
            node.walkCommands.wrappingAdd(1, ordering: .releasing)
        }
        sessionRecord.record(label, parameter)
    }

    // MARK: - Status

    /// Per node: model, method, block, latency, load, dropouts, levels; and the engine's xruns.
    public func status() -> EngineStatus {
        let (nodes, loading, inputs, swaps) = state.withLock { state in
            (state.running.values.sorted { $0.id < $1.id }, state.loading.keys.sorted(), state.inputs,
             state.pendingSwaps.mapValues(\.model))
        }
        let rate = Double(configuration.sampleRate)
        let nodeStatus = nodes.map { node -> NodeStatus in
            let blockNanos = Double(node.serverBlock) / rate * 1e9
            func dB(_ atomic: borrowing Atomic<UInt32>) -> Double {
                let peak = Double(Float(bitPattern: atomic.exchange(0, ordering: .relaxed)))
                return peak > 0 ? (20 * log10(peak) * 10).rounded() / 10 : -120
            }
            return NodeStatus(
                label: node.label, model: node.modelURL.lastPathComponent, method: node.spec.method.rawValue,
                block: node.block, modelSampleRate: node.modelRate, latencySamples: node.latency, phaseSamples: node.blockAlignment.load(ordering: .relaxed),
                latencyMilliseconds: (Double(node.latency) / rate * 10000).rounded() / 10,
                load: (Double(node.averageNanos.load(ordering: .relaxed)) / blockNanos * 1000).rounded() / 1000,
                dropouts: node.dropouts.load(ordering: .relaxed), skippedBlocks: node.skippedBlocks.load(ordering: .relaxed),
                blocks: node.blocksDone.load(ordering: .relaxed), errors: node.modelErrors.load(ordering: .relaxed),
                lastError: node.lastError.withLock { $0 }, peakDBFS: [dB(node.peakLeft), dB(node.peakRight)],
                input: (inputs[node.id] ?? node.spec.input).description,
                seed: node.seeded.load(ordering: .relaxed) ? node.seedBits.load(ordering: .relaxed) : nil,
                lane: node.lanePointer.map { pointer in
                    let lane = Unmanaged<BatchLane>.fromOpaque(pointer).takeUnretainedValue()
                    let calls = lane.calls.load(ordering: .relaxed)
                    return LaneStatus(members: lane.memberCount,
                                      averageBatch: calls > 0 ? (Double(lane.streams.load(ordering: .relaxed)) / Double(calls) * 100).rounded() / 100 : 0)
                }, pendingSwap: swaps[node.label])
        }
        // Additive fields (issue 17): each sequencer's position.
        let withSequences = zip(nodes, nodeStatus).map { node, status in
            var status = status
            status.sequence = node.sequencer?.status()
            // Issue 18: a msprior node's prior, a decode node's walk.
            if node.plan.steps.contains(.priorAttributes) {
                let perplexity = node.perplexity[0]
                status.playing = PlayingStatus(prior: node.listening.load(ordering: .relaxed) ? "listen" : "free",
                                               perplexity: perplexity.isNaN ? nil : (Double(perplexity) * 100).rounded() / 100)
            }
            if node.walkSettings[0] > 0, node.walkSettings[1] > 0 {
                status.playing = PlayingStatus(walk: [Double(node.walkSettings[0]), Double(node.walkSettings[1])])
            }
            return status
        }
        var status = EngineStatus(sampleRate: configuration.sampleRate, period: period.load(ordering: .relaxed),
                                  workers: pool?.count ?? 0, realtimeWorkers: pool?.realtimeWorkers.load(ordering: .relaxed) ?? 0,
                                  xruns: xruns.load(ordering: .relaxed),
                                  cycles: kernel.cycles.load(ordering: .relaxed), nodes: withSequences, loading: loading)
        status.midi = midiStatus()
        return status
    }
}

extension Instrument {
    // MARK: - Access for the sequencer and the session writer (issue 17)

    /// The running node called `label`, or the one-line error naming it.
    func runningNode(_ label: String) throws -> Node {
        guard let node = state.withLock({ $0.running[label] }) else { throw EngineError("no node '\(label)'") }
        return node
    }

    /// The running nodes in creation order, each with its input now.
    func runningNodes() -> [(node: Node, input: NodeInput)] {
        state.withLock { state in
            state.running.values.sorted { $0.id < $1.id }.map { ($0, state.inputs[$0.id] ?? $0.spec.input) }
        }
    }

    /// Runs `body` on the loader queue live (below normal priority), or at once offline.
    func onLoader(_ body: @escaping @Sendable () -> Void) {
        if configuration.offline {
            body()
        } else {
            loader.async {
                Self.lowerPriority()
                body()
            }
        }
    }
}

extension BiquadKind {
    /// The engine's filter for a protocol EQ kind.
    init(_ kind: EQKind) {
        switch kind {
        case .lowpass: self = .lowPass
        case .highpass: self = .highPass
        case .bandpass: self = .bandPass
        case .peak: self = .peak
        case .lowshelf: self = .lowShelf
        case .highshelf: self = .highShelf
        case .notch: self = .notch
        }
    }
}


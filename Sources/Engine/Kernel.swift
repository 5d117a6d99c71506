import Foundation
import Synchronization
import Torch

/// Where a node's input comes from, in plain values the audio thread can hold.
struct KernelSource: BitwiseCopyable {
    enum Kind: UInt8 { case first, second, mix, stereo, node }
    var kind: Kind
    var nodeID: Int
}

/// A change the control side asks of the audio thread.
enum KernelCommand: BitwiseCopyable {
    /// A node, fully built and warmed up (an unretained `Node`; the control side keeps it alive).
    case add(UnsafeMutableRawPointer)
    /// Fade a node out and retire it.
    case free(nodeID: Int)
    case set(nodeID: Int, ScalarParameter, Float)
    case band(nodeID: Int, index: Int, KernelBand)
    case source(nodeID: Int, KernelSource)
    /// Larger EQ storage for a node (`EQChain.Band` values, already initialised).
    case growEQ(nodeID: Int, UnsafeMutableRawPointer, capacity: Int)
    /// A swap: the new node (built, warmed up, an unretained `Node`) takes the old node's place
    /// in the graph, its settings and its bus, and the two crossfade over `fadeFrames` samples
    /// from the new node's first output sample; the old node is retired when it is silent.
    case swap(oldID: Int, UnsafeMutableRawPointer, fadeFrames: Int)
    /// New MIDI routes (a retained `MIDIRouting`; the one it replaces goes back to be released).
    case midiRouting(UnsafeMutableRawPointer)
}

/// The real-time graph: the nodes in creation order, each on its own bus, summed
/// into the master. `process` runs on the audio thread (or the offline renderer)
/// and never allocates, locks, logs or calls libtorch: commands arrive through a
/// lock-free queue, finished nodes leave through another, and complete input
/// blocks are handed to the workers through a third.
final class Kernel: @unchecked Sendable {
    let maxFrames: Int
    static let nodeCapacity = 256
    private let nodes: UnsafeMutablePointer<UnsafeMutableRawPointer?>
    /// Lanes to schedule at the end of this cycle (audio thread; duplicates are skipped then).
    private let dueLanes: UnsafeMutablePointer<UnsafeMutableRawPointer?>
    private var dueLaneCount = 0
    /// Nodes in the graph (audio thread).
    private(set) var count = 0
    /// Control side -> audio thread (the producer side is serialised by the instrument).
    let commands = SPSCQueue<KernelCommand>(capacity: 8192)
    /// Audio thread -> control side: nodes that faded out (or could not join).
    let retired = SPSCQueue<UnsafeMutableRawPointer>(capacity: 1024)
    /// Audio thread -> workers: nodes with a complete input block.
    let ready = SPSCQueue<UnsafeMutableRawPointer>(capacity: 1024)
    /// Audio thread -> control side: storage replaced on the audio thread, to free.
    let retiredStorage = SPSCQueue<UnsafeMutableRawPointer>(capacity: 1024)
    /// Run the model right after each block completes, on this thread (offline rendering).
    let inline: Bool
    /// Give each joining node the block phase that spreads completions over the cycles
    /// (live only: offline, blocks run when complete and the phase changes nothing but the output).
    let staggers: Bool
    /// Posted when a node is queued for the workers.
    var wake: UnsafeMutablePointer<sem_t>?
    private let mix: UnsafeMutablePointer<Float>
    private let chain: UnsafeMutablePointer<Float>
    private let silence: UnsafeMutablePointer<Float>
    /// Samples processed since the kernel started (audio thread).
    private var clock = 0
    /// The engine's sample count at the start of the next cycle (audio thread; the JACK driver
    /// stamps JACK transport with it for the sequencers).
    var sampleClock: Int { clock }
    /// Cycles run, and commands or retirements the queues could not take.
    let cycles = Atomic<Int>(0)
    let overflows = Atomic<Int>(0)

    // MARK: MIDI (Engine/MIDI.swift)

    /// The MIDI routes now (a retained `MIDIRouting`, audio thread), and those replaced, to release.
    var routing: UnsafeMutableRawPointer?
    let retiredRouting = SPSCQueue<UnsafeMutableRawPointer>(capacity: 256)
    /// MIDI messages received, those that moved something, and those a full queue dropped.
    let midiReceived = Atomic<Int>(0)
    let midiApplied = Atomic<Int>(0)
    let midiDropped = Atomic<Int>(0)
    /// The last control change: a count of them (bits 11 and up), its channel (0...15, bits 7-10)
    /// and its number (bits 0-6); learning waits for it to change.
    let lastController = Atomic<Int>(0)

    init(maxFrames: Int, inline: Bool, staggers: Bool? = nil) {
        self.maxFrames = maxFrames
        self.inline = inline
        self.staggers = staggers ?? !inline
        nodes = .allocate(capacity: Self.nodeCapacity)
        nodes.initialize(repeating: nil, count: Self.nodeCapacity)
        dueLanes = .allocate(capacity: Self.nodeCapacity)
        dueLanes.initialize(repeating: nil, count: Self.nodeCapacity)
        mix = .allocate(capacity: maxFrames)
        mix.initialize(repeating: 0, count: maxFrames)
        chain = .allocate(capacity: maxFrames)
        chain.initialize(repeating: 0, count: maxFrames)
        silence = .allocate(capacity: maxFrames)
        silence.initialize(repeating: 0, count: maxFrames)
    }

    deinit {
        if let routing { Unmanaged<MIDIRouting>.fromOpaque(routing).release() }
        while let old = retiredRouting.pop() { Unmanaged<MIDIRouting>.fromOpaque(old).release() }
        // Routings never applied (an instrument that never ran a cycle).
        while let command = commands.pop() {
            if case .midiRouting(let pending) = command { Unmanaged<MIDIRouting>.fromOpaque(pending).release() }
        }
        nodes.deallocate()
        dueLanes.deallocate()
        mix.deallocate()
        chain.deallocate()
        silence.deallocate()
    }

    @inline(__always)
    func withNode<R>(at index: Int, _ body: (Node) -> R) -> R {
        Unmanaged<Node>.fromOpaque(nodes[index]!)._withUnsafeGuaranteedRef(body)
    }

    /// Runs one cycle. `left`/`right` are the engine's inputs (nil is silence);
    /// the master buffers are overwritten.
    /// `midi` holds the cycle's MIDI events in time order, routed before the nodes render.
    func process(frames n: Int, left: UnsafePointer<Float>?, right: UnsafePointer<Float>?,
                 masterLeft: UnsafeMutablePointer<Float>, masterRight: UnsafeMutablePointer<Float>,
                 midi: UnsafeBufferPointer<MIDIEvent> = UnsafeBufferPointer(start: nil, count: 0)) {
        cycles.wrappingAdd(1, ordering: .relaxed)
        applyCommands(frames: n)
        masterLeft.update(repeating: 0, count: n)
        masterRight.update(repeating: 0, count: n)
        guard n <= maxFrames else { return }
        if midi.count > 0, n > 0 { dispatch(midi, frames: n) }
        let in0 = left ?? UnsafePointer(silence)
        let in1 = right ?? in0
        for i in 0..<n { mix[i] = 0.5 * (in0[i] + in1[i]) }

        for i in 0..<count {
            let pointer = nodes[i]!
            withNode(at: i) { node in
                var s0 = in0, s1 = in1
                switch node.source.kind {
                case .first: s0 = in0; s1 = in0
                case .second: s0 = in1; s1 = in1
                case .mix: s0 = UnsafePointer(mix); s1 = s0
                case .stereo:
                    if !node.sourceIsStereo { s0 = UnsafePointer(mix); s1 = s0 }
                case .node:
                    s0 = UnsafePointer(silence); s1 = s0
                    for j in 0..<count where j != i {
                        let found = withNode(at: j) { other -> Bool in
                            guard other.id == node.source.nodeID else { return false }
                            if node.sourceIsStereo {
                                s0 = UnsafePointer(other.bus)
                                s1 = UnsafePointer(other.bus + maxFrames)
                            } else {
                                for k in 0..<n { chain[k] = 0.5 * (other.bus[k] + other.bus[maxFrames + k]) }
                                s0 = UnsafePointer(chain); s1 = s0
                            }
                            return true
                        }
                        if found { break }
                    }
                }
                renderNode(node, pointer, frames: n, left: s0, right: s1, masterLeft: masterLeft, masterRight: masterRight)
            }
        }

        scheduleDueLanes()

        // Retire nodes that finished fading out.
        var kept = 0
        for i in 0..<count {
            let finished = withNode(at: i) { $0.finished && retireOutgoing(of: $0, force: true) }
            if finished, retired.push(nodes[i]!) {
                continue
            }
            nodes[kept] = nodes[i]
            kept += 1
        }
        for i in kept..<count { nodes[i] = nil }
        count = kept
        clock += n
    }

    /// Runs one node's cycle: first the node it is replacing, if a swap is crossfading (it
    /// plays the same source into the master, and its bus is added to this node's, so the
    /// label's bus and ports carry both), then the node itself; hands complete blocks on.
    private func renderNode(_ node: Node, _ pointer: UnsafeMutableRawPointer, frames n: Int,
                            left s0: UnsafePointer<Float>, right s1: UnsafePointer<Float>,
                            masterLeft: UnsafeMutablePointer<Float>, masterRight: UnsafeMutablePointer<Float>) {
        if let outgoingPointer = node.outgoing {
            Unmanaged<Node>.fromOpaque(outgoingPointer)._withUnsafeGuaranteedRef { outgoing in
                renderNode(outgoing, outgoingPointer, frames: n, left: s0, right: s1, masterLeft: masterLeft, masterRight: masterRight)
            }
        }
        let completed = node.render(frames: n, left: s0, right: s1, masterLeft: masterLeft, masterRight: masterRight)
        if let outgoingPointer = node.outgoing {
            Unmanaged<Node>.fromOpaque(outgoingPointer)._withUnsafeGuaranteedRef { outgoing in
                for c in 0..<2 {
                    let own = node.bus + c * maxFrames, other = outgoing.bus + c * maxFrames
                    for i in 0..<n { own[i] += other[i] }
                }
            }
            _ = retireOutgoing(of: node, force: false)
        }
        if completed {
            if inline {
                node.runPendingBlocks(skipLate: false)
            } else {
                schedule(pointer, node)
            }
        }
    }

    /// Retires the node a swap is replacing once it has faded out (or, with `force`, because
    /// `node` itself leaves the graph); true when nothing is left attached to `node`.
    @inline(__always)
    private func retireOutgoing(of node: Node, force: Bool) -> Bool {
        guard let outgoingPointer = node.outgoing else { return true }
        let done = Unmanaged<Node>.fromOpaque(outgoingPointer)._withUnsafeGuaranteedRef { outgoing -> Bool in
            guard force || outgoing.finished else { return false }
            return retireOutgoing(of: outgoing, force: true) && retired.push(outgoingPointer)
        }
        if done { node.outgoing = nil }
        return done
    }

    /// Hands a node to the workers unless it is already queued or running; a node in a
    /// lane hands its lane instead (marked by the pointer's low bit in the ready queue).
    @inline(__always)
    private func schedule(_ pointer: UnsafeMutableRawPointer, _ node: Node) {
        if let lanePointer = node.lanePointer {
            // At the end of the cycle, once every member has written this cycle's input:
            // members whose blocks complete together then share one call.
            if dueLaneCount < Self.nodeCapacity {
                dueLanes[dueLaneCount] = lanePointer
                dueLaneCount += 1
            }
            return
        }
        guard node.scheduled.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged else { return }
        if ready.push(pointer) {
            if let wake { sem_post(wake) }
        } else {
            node.scheduled.store(false, ordering: .releasing)
            overflows.wrappingAdd(1, ordering: .relaxed)
        }
    }

    /// Added to a lane's pointer in the ready queue (objects are 16-byte aligned).
    static let laneTag = 1

    /// Hands the lanes whose members completed blocks this cycle to the workers.
    @inline(__always)
    private func scheduleDueLanes() {
        for i in 0..<dueLaneCount {
            let lanePointer = dueLanes[i]!
            Unmanaged<BatchLane>.fromOpaque(lanePointer)._withUnsafeGuaranteedRef { lane in
                guard lane.scheduled.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged else { return }
                if ready.push(lanePointer + Self.laneTag) {
                    if let wake { sem_post(wake) }
                } else {
                    lane.scheduled.store(false, ordering: .releasing)
                    overflows.wrappingAdd(1, ordering: .relaxed)
                }
            }
        }
        dueLaneCount = 0
    }

    private func applyCommands(frames n: Int) {
        while let command = commands.pop() {
            switch command {
            case .add(let pointer):
                if count < Self.nodeCapacity {
                    Unmanaged<Node>.fromOpaque(pointer)._withUnsafeGuaranteedRef { startNode($0, period: n) }
                    nodes[count] = pointer
                    count += 1
                } else if !retired.push(pointer) {
                    overflows.wrappingAdd(1, ordering: .relaxed)
                }
            case .free(let id):
                find(id) { $0.beginFree() }
            case .set(let id, let parameter, let value):
                find(id) { $0.set(parameter, value) }
            case .band(let id, let index, let band):
                find(id) { $0.eq.set(index, band) }
            case .source(let id, let source):
                find(id) { $0.source = source }
            case .growEQ(let id, let storage, let capacity):
                var adopted = false
                find(id) { node in
                    let old = node.eq.adopt(storage.assumingMemoryBound(to: EQChain.Band.self), capacity: capacity)
                    if !retiredStorage.push(old) { overflows.wrappingAdd(1, ordering: .relaxed) }
                    adopted = true
                }
                if !adopted, !retiredStorage.push(storage) { overflows.wrappingAdd(1, ordering: .relaxed) }
            case .swap(let oldID, let pointer, let fadeFrames):
                swap(oldID: oldID, pointer, fadeFrames: fadeFrames, period: n)
            case .midiRouting(let pointer):
                if let old = routing, !retiredRouting.push(old) {
                    // Kept alive rather than freed here: a leak is better than a free on this thread.
                    overflows.wrappingAdd(1, ordering: .relaxed)
                }
                routing = pointer
            }
        }
    }

    /// Starts a joining node at the block phase the graph gives it (see `quietestPhase`).
    private func startNode(_ node: Node, period n: Int) {
        guard staggers else { return node.start(phase: 0, clock: clock) }
        guard let lanePointer = node.lanePointer else {
            return node.start(phase: quietestPhase(for: node, period: n), clock: clock)
        }
        // A lane's members complete their blocks together, so they batch:
        // the first takes the quietest phase, the others its alignment.
        Unmanaged<BatchLane>.fromOpaque(lanePointer)._withUnsafeGuaranteedRef { lane in
            let anchor = lane.alignment.load(ordering: .relaxed)
            let block = node.serverBlock
            let phase = anchor >= 0 ? ((clock - anchor) % block + block) % block : quietestPhase(for: node, period: n)
            node.start(phase: phase, clock: clock)
            if anchor < 0 { lane.alignment.store(node.blockAlignment.load(ordering: .relaxed), ordering: .relaxed) }
        }
    }

    /// Puts a swap's new node in the old one's place (same position in the graph, so nodes
    /// chained after it still read this cycle's bus), with the old one's audio-side settings
    /// (gain, input gain, wet, mute, EQ with its filter memories, source), and starts the
    /// crossfade: both envelopes move on the same samples, from the new node's first output
    /// sample (its latency after this cycle's start) for `fadeFrames` samples. Followers of
    /// the old node follow the new one. When the old node is not in the graph (it left while
    /// the new one loaded), the new one is retired unplayed.
    private func swap(oldID: Int, _ pointer: UnsafeMutableRawPointer, fadeFrames: Int, period n: Int) {
        var index = -1
        for i in 0..<count where withNode(at: i, { $0.id == oldID && !$0.freeing }) {
            index = i
            break
        }
        guard index >= 0 else {
            if !retired.push(pointer) { overflows.wrappingAdd(1, ordering: .relaxed) }
            return
        }
        let oldPointer = nodes[index]!
        let newID = Unmanaged<Node>.fromOpaque(pointer)._withUnsafeGuaranteedRef { incoming -> Int in
            Unmanaged<Node>.fromOpaque(oldPointer)._withUnsafeGuaranteedRef { outgoing in
                incoming.adoptAudioSettings(from: outgoing)
                startNode(incoming, period: n)
                incoming.beginCrossfadeIn(frames: fadeFrames)
                outgoing.beginCrossfadeOut(frames: fadeFrames, afterFrames: incoming.latency)
                incoming.outgoing = oldPointer
            }
            return incoming.id
        }
        nodes[index] = pointer
        for i in 0..<count {
            withNode(at: i) { node in
                if node.source.kind == .node, node.source.nodeID == oldID { node.source.nodeID = newID }
            }
        }
    }

    /// The phase (a multiple of the JACK period below the node's block) at which the
    /// fewest playing nodes complete their blocks in the same cycle, so the workers get
    /// work every cycle instead of all of it every `block / period` cycles. Two nodes of
    /// blocks B and B' complete in the same cycles when their positions agree modulo
    /// gcd(B, B'); such a node weighs gcd / B' (the share of its blocks that coincide).
    /// Ties go to the smallest phase (0 for the first node: as if it were not staggered).
    private func quietestPhase(for node: Node, period n: Int) -> Int {
        let block = node.serverBlock
        guard n > 0, n < block, block % n == 0 else { return 0 }
        func gcd(_ a: Int, _ b: Int) -> Int { b == 0 ? a : gcd(b, a % b) }
        var best = 0
        var bestWeight = Double.infinity
        var phase = 0
        while phase < block {
            var weight = 0.0
            for i in 0..<count {
                withNode(at: i) { other in
                    guard !other.freeing else { return }
                    let g = gcd(block, other.serverBlock)
                    if ((other.position - phase) % g + g) % g == 0 { weight += Double(g) / Double(other.serverBlock) }
                }
            }
            if weight < bestWeight {
                bestWeight = weight
                best = phase
            }
            phase += n
        }
        return best
    }

    /// Calls `body` with the node of id `id`, if it is in the graph (audio thread).
    @inline(__always)
    func findNode(_ id: Int, _ body: (Node) -> Void) { find(id, body) }

    @inline(__always)
    private func find(_ id: Int, _ body: (Node) -> Void) {
        for i in 0..<count {
            let matched = withNode(at: i) { node -> Bool in
                // A command for a node a swap is replacing goes to the node replacing it.
                guard node.id == id || node.outgoingID == id else { return false }
                body(node)
                return true
            }
            if matched { return }
        }
    }

    /// Calls `body` with each node in the graph (audio thread, or offline).
    @inline(__always)
    func forEachNode(_ body: (Node) -> Void) {
        for i in 0..<count { withNode(at: i, body) }
    }
}

/// Inference threads, as many as cores, at normal priority (never real time), each
/// with one libtorch intra-op thread. They wait on a semaphore the audio thread
/// posts, take the next ready node, and run its complete blocks.
final class WorkerPool: @unchecked Sendable {
    private let kernel: Kernel
    private let semaphore: UnsafeMutablePointer<sem_t>
    /// Several workers consume the single-consumer ready queue: they take turns.
    private let consumer = Mutex<Void>(())
    private let running = Atomic<Bool>(true)
    private let exited = DispatchGroup()
    let count: Int
    /// SCHED_FIFO priority of the workers (0: normal scheduling).
    let realtimePriority: Int
    /// Workers that obtained the real-time priority they were asked for.
    let realtimeWorkers = Atomic<Int>(0)

    /// Nice value of the workers (normal scheduling; below 0 favours them over other programs).
    let nice: Int

    init(kernel: Kernel, count: Int, realtimePriority: Int = 0, nice: Int = 0) {
        self.kernel = kernel
        self.count = count
        self.realtimePriority = realtimePriority
        self.nice = nice
        semaphore = .allocate(capacity: 1)
        sem_init(semaphore, 0, 0)
        kernel.wake = semaphore
        for index in 0..<count {
            exited.enter()
            let thread = Thread { [self] in
                work()
                exited.leave()
            }
            thread.name = "timbre-worker-\(index)"
            thread.stackSize = 8 << 20
            thread.start()
        }
    }

    private func work() {
        // OpenMP's thread count is per thread: set it on each worker.
        Torch.intraOpThreads = 1
        if nice != 0 {
            // On Linux this sets the calling thread's nice value only.
            setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, Int32(nice))
        }
        if realtimePriority > 0 {
            // Below every JACK thread (JACK runs its own at 10 and above by default), so
            // the audio thread always preempts inference, while other programs do not.
            var parameters = sched_param(sched_priority: Int32(realtimePriority))
            if pthread_setschedparam(pthread_self(), SCHED_FIFO, &parameters) == 0 {
                realtimeWorkers.wrappingAdd(1, ordering: .relaxed)
            }
        }
        while true {
            sem_wait(semaphore)
            guard running.load(ordering: .acquiring) else { return }
            guard let pointer = consumer.withLock({ _ in kernel.ready.pop() }) else { continue }
            if Int(bitPattern: pointer) & Kernel.laneTag != 0 {
                Unmanaged<BatchLane>.fromOpaque(pointer - Kernel.laneTag).takeUnretainedValue().run()
                continue
            }
            let node = Unmanaged<Node>.fromOpaque(pointer).takeUnretainedValue()
            repeat {
                node.runPendingBlocks(skipLate: true)
                node.scheduled.store(false, ordering: .releasing)
            } while node.hasPendingBlock
                && node.scheduled.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged
        }
    }

    /// Stops every worker and waits for them.
    func stop() {
        guard running.exchange(false, ordering: .acquiringAndReleasing) else { return }
        for _ in 0..<count { sem_post(semaphore) }
        exited.wait()
        kernel.wake = nil
        sem_destroy(semaphore)
        semaphore.deallocate()
    }

    deinit { stop() }
}

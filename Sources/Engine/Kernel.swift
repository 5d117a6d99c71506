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
    /// Nodes in the graph (audio thread).
    private(set) var count = 0
    /// Control side -> audio thread (the producer side is serialised by the instrument).
    let commands = SPSCQueue<KernelCommand>(capacity: 8192)
    /// Audio thread -> control side: nodes that faded out (or could not join).
    let retired = SPSCQueue<UnsafeMutableRawPointer>(capacity: 1024)
    /// Audio thread -> workers: nodes with a complete input block.
    let ready = SPSCQueue<UnsafeMutableRawPointer>(capacity: 1024)
    /// Run the model right after each block completes, on this thread (offline rendering).
    let inline: Bool
    /// Posted when a node is queued for the workers.
    var wake: UnsafeMutablePointer<sem_t>?
    private let mix: UnsafeMutablePointer<Float>
    private let chain: UnsafeMutablePointer<Float>
    private let silence: UnsafeMutablePointer<Float>
    /// Cycles run, and commands or retirements the queues could not take.
    let cycles = Atomic<Int>(0)
    let overflows = Atomic<Int>(0)

    init(maxFrames: Int, inline: Bool) {
        self.maxFrames = maxFrames
        self.inline = inline
        nodes = .allocate(capacity: Self.nodeCapacity)
        nodes.initialize(repeating: nil, count: Self.nodeCapacity)
        mix = .allocate(capacity: maxFrames)
        mix.initialize(repeating: 0, count: maxFrames)
        chain = .allocate(capacity: maxFrames)
        chain.initialize(repeating: 0, count: maxFrames)
        silence = .allocate(capacity: maxFrames)
        silence.initialize(repeating: 0, count: maxFrames)
    }

    deinit {
        nodes.deallocate()
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
    func process(frames n: Int, left: UnsafePointer<Float>?, right: UnsafePointer<Float>?,
                 masterLeft: UnsafeMutablePointer<Float>, masterRight: UnsafeMutablePointer<Float>) {
        cycles.wrappingAdd(1, ordering: .relaxed)
        applyCommands()
        masterLeft.update(repeating: 0, count: n)
        masterRight.update(repeating: 0, count: n)
        guard n <= maxFrames else { return }
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
                let completed = node.render(frames: n, left: s0, right: s1, masterLeft: masterLeft, masterRight: masterRight)
                if completed {
                    if inline {
                        node.runPendingBlocks(skipLate: false)
                    } else {
                        schedule(pointer, node)
                    }
                }
            }
        }

        // Retire nodes that finished fading out.
        var kept = 0
        for i in 0..<count {
            let finished = withNode(at: i) { $0.finished }
            if finished, retired.push(nodes[i]!) {
                continue
            }
            nodes[kept] = nodes[i]
            kept += 1
        }
        for i in kept..<count { nodes[i] = nil }
        count = kept
    }

    /// Hands a node to the workers unless it is already queued or running.
    @inline(__always)
    private func schedule(_ pointer: UnsafeMutableRawPointer, _ node: Node) {
        guard node.scheduled.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged else { return }
        if ready.push(pointer) {
            if let wake { sem_post(wake) }
        } else {
            node.scheduled.store(false, ordering: .releasing)
            overflows.wrappingAdd(1, ordering: .relaxed)
        }
    }

    private func applyCommands() {
        while let command = commands.pop() {
            switch command {
            case .add(let pointer):
                if count < Self.nodeCapacity {
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
            }
        }
    }

    @inline(__always)
    private func find(_ id: Int, _ body: (Node) -> Void) {
        for i in 0..<count {
            let matched = withNode(at: i) { node -> Bool in
                guard node.id == id else { return false }
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

    init(kernel: Kernel, count: Int) {
        self.kernel = kernel
        self.count = count
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
        while true {
            sem_wait(semaphore)
            guard running.load(ordering: .acquiring) else { return }
            guard let pointer = consumer.withLock({ _ in kernel.ready.pop() }) else { continue }
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

import Foundation
import ModelHost
import Synchronization
import Torch

/// Several nodes of one model, method and block, run in one batched call on one shared
/// instance (live only). A streaming export keeps its state in buffers with one row per
/// batch element (RAVE's cached convolutions allocate 64 rows and a call of batch B uses
/// the first B), so each node keeps its own state rows (`Node.laneState`), loaded into a
/// row before the call and saved after it: every node still streams independently, as if
/// it had its own instance, but the weights are read once per call instead of once per
/// node. On this 2-core machine the drums model at block 512 costs 3.7 ms for one stream
/// and 8.7 ms for five in one call (python3-torch, same libtorch; docs/ENGINE.md).
///
/// The kernel schedules the lane (not its nodes) when one of its nodes completes a block;
/// one worker at a time runs it: it takes every member's complete block (up to `capacity`
/// per call), runs them together, and repeats while blocks are complete. Members change
/// only on the control side, under `members`, which the worker holds while it runs.
final class BatchLane: @unchecked Sendable {
    /// Model file, method and block: nodes with the same key may share a lane.
    let key: String
    /// Streams per call.
    let capacity: Int
    /// Floats of one stream's state.
    let rowFloats: Int
    /// A new stream's state: row 0 after the warm-up a node alone gets (three calls on
    /// silence from the model as loaded), set by `warmUp`.
    private(set) var freshState: [Float] = []
    /// The plan every member runs (they share model, method and block).
    let plan: CallPlan

    private let model: NNModel
    private let state: BatchState?
    /// The plan on the lane's instance, with a row per member in every buffer.
    private let executor: PlanExecutor
    private var participants: [Node] = []
    private var indices: [Int] = []

    let members = Mutex<[Node]>([])
    /// Set while the lane sits in the ready queue or a worker runs it.
    let scheduled = Atomic<Bool>(false)
    /// Where the members' blocks begin on the engine's clock (modulo the block), set by the
    /// audio thread when the first member joins: later members take the same phase, so the
    /// lane's blocks complete together and batch.
    let alignment = Atomic<Int>(-1)
    /// Batched calls run, and streams they carried (for status and the benchmark).
    let calls = Atomic<Int>(0)
    let streams = Atomic<Int>(0)

    /// The methods a node's plan calls, with their input shapes, for the probe.
    static func methods(of node: Node) -> [(name: String, channels: Int, frames: Int)] {
        node.plan.calls.map { ($0.method, $0.input.channels, $0.input.frames) }
    }

    static func key(of node: Node) -> String {
        "\(node.modelURL.path)|\(node.plan.kind)|\(node.block)"
    }

    /// A lane for nodes like `node`, on `model` (an instance of its own), when the model's
    /// state can be batched; `.unsupported` says why not.
    init(like node: Node, model: NNModel, support: BatchSupport, capacity: Int) throws {
        key = Self.key(of: node)
        plan = node.plan
        self.model = model
        switch support {
        case .stateless:
            state = nil
            rowFloats = 0
            self.capacity = max(1, capacity)
        case .rows(let rows, let buffers):
            let state = try BatchState(module: model.module, rows: rows, buffers: buffers)
            self.state = state
            rowFloats = state.rowFloats
            self.capacity = max(1, min(capacity, rows))
        case .unsupported(let reason):
            throw EngineError("\(node.modelURL.lastPathComponent) cannot batch: \(reason)")
        }
        executor = try PlanExecutor(plan: plan, model: model, capacity: self.capacity)
        participants.reserveCapacity(self.capacity)
        indices.reserveCapacity(self.capacity)
    }

    /// Probes whether nodes like `node` can share batched calls (on a throwaway copy of `model`).
    static func support(like node: Node, model: NNModel) throws -> BatchSupport {
        try Node.generatorLock.withLock { _ in
            try model.module.batchSupport(methods: methods(of: node))
        }
    }

    var memberCount: Int { members.withLock { $0.count } }

    /// Whether `node` may join: its instance and the lane's come from the same loaded model
    /// (a model file changed on disk is loaded again, and its nodes need lanes of their own).
    func serves(_ node: Node) -> Bool { node.sharesWeights(with: model) }

    func add(_ node: Node) { members.withLock { $0.append(node) } }

    /// Removes a node; returns once no worker is running the lane (the node is then untouched).
    func remove(_ node: Node) { members.withLock { $0.removeAll { $0 === node } } }

    /// Runs every member's complete blocks (one worker at a time: the one that took the lane
    /// from the ready queue), then lets the kernel schedule the lane again.
    func run() {
        repeat {
            members.withLock { list in runPending(list) }
            scheduled.store(false, ordering: .releasing)
        } while members.withLock({ $0.contains { $0.hasPendingBlock } })
            && scheduled.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged
    }

    private func runPending(_ list: [Node]) {
        while true {
            participants.removeAll(keepingCapacity: true)
            indices.removeAll(keepingCapacity: true)
            for node in list where participants.count < capacity {
                guard let index = node.takeNextBlock(skipLate: true) else { continue }
                if node.seeded.load(ordering: .relaxed) {
                    // libtorch's generator is global: a seeded node's draws must be its own,
                    // so it runs alone, seeded for its block (as a node outside a lane does).
                    let seed = Node.derive(node.seedBits.load(ordering: .relaxed), index + node.seedBlockOffset)
                    Node.generatorLock.withLock { _ in
                        Torch.manualSeed(seed)
                        runBatch([node], [index])
                    }
                    continue
                }
                participants.append(node)
                indices.append(index)
            }
            if participants.isEmpty { return }
            runBatch(participants, indices)
            // Hold no node past the call: the janitor releases nodes once they left the lane.
            participants.removeAll(keepingCapacity: true)
        }
    }

    /// The plan once for `nodes` (each call batched), each node at its own state row.
    private func runBatch(_ nodes: [Node], _ blocks: [Int]) {
        let b = nodes.count
        let start = DispatchTime.now().uptimeNanoseconds
        if let state {
            for (row, node) in nodes.enumerated() { state.load(row: row, from: node.laneState!) }
        }
        do {
            try executor.run(batch: b) { nodes[$0] }
        } catch {
            for node in nodes { node.record(error) }
            executor.silenceOutput(batch: b)
        }
        if let state {
            for (row, node) in nodes.enumerated() { state.save(row: row, into: node.laneState!) }
        }
        let share = Int(DispatchTime.now().uptimeNanoseconds - start) / b
        for (row, (node, index)) in zip(nodes, blocks).enumerated() {
            executor.withOutput(row: row) { node.publishOutput(index, from: $0) }
            node.finishBlock(nanos: share)
        }
        calls.wrappingAdd(1, ordering: .relaxed)
        streams.wrappingAdd(b, ordering: .relaxed)
    }
}

extension BatchLane {
    /// Runs the lane's calls on silence: first three at batch 1, as a node alone is warmed
    /// up, after which row 0 is a new stream's state (`freshState`); then at every batch size
    /// up to the capacity, so the first live calls do not pay TorchScript's first-call
    /// optimisation (live calls load each node's rows first, so what this leaves does not matter).
    func warmUp(rounds: Int = 2) {
        for b in 1...capacity {
            executor.warmUp(batch: b, calls: b == 1 ? 3 : rounds)
            if b == 1, let state {
                freshState = [Float](repeating: 0, count: rowFloats)
                freshState.withUnsafeMutableBufferPointer { state.save(row: 0, into: $0.baseAddress!) }
            }
        }
    }
}

import AudioIO
import DSP
import Foundation
import ModelHost
import Synchronization
import Torch

/// Parameters the audio thread smooths sample by sample.
enum ScalarParameter: UInt8 {
    case gain, inputGain, wet, mute
}

/// One model on its own bus: the audio side (conditioning, rings, mixing) runs on
/// the audio thread, the model side (resampling, then its `CallPlan`) on a worker.
/// Everything either side touches in steady state is allocated here. The node never
/// looks at its method: it executes its plan, alone or in a `BatchLane`.
final class Node: PlanStream, @unchecked Sendable {
    let id: Int
    let spec: NodeSpec
    let modelURL: URL
    let serverRate: Int
    let modelRate: Int
    /// Samples per block at the model's rate (a multiple of its minimum block).
    let block: Int
    /// Samples per worker step at the server's rate.
    let serverBlock: Int
    /// Audio channels into and out of the model (1 or 2).
    let inChannels: Int
    let outChannels: Int
    /// Latent dimensions (0 for `forward`).
    let latentSize: Int
    /// What the node feeds, calls and reads each block, derived once from the model's method
    /// parameters and the node's method.
    let plan: CallPlan
    /// Server samples from input to output, fixed while the node runs.
    let latency: Int
    /// The engine's largest cycle.
    let maxFrames: Int
    /// Samples of inference time allowed per block, at the server's rate.
    let allowance: Int

    // MARK: Model side (one worker at a time, or the offline renderer)

    /// The node's own instance and the executor of its plan on it; released when the node
    /// joins a lane (its state then lives in `laneState` and the lane's executor runs it).
    private var model: NNModel?
    private var executor: PlanExecutor?
    /// A block of audio at the model's rate, when the node resamples (else `serverIn` is it).
    private var modelIn: [Float]
    private var serverIn: [Float]
    /// What the plan's latent steps carry from block to block (glides, triggers, noise).
    let carried: PlanCarry?
    private let resampleIn: StreamingResampler?
    private let resampleOut: StreamingResampler?
    private var modelFIFO: [[Float]]
    private var outFIFO: [[Float]]
    /// Next input block (at the server's rate) the worker will process.
    private var nextBlock = 0

    /// Set while the node sits in the ready queue or a worker runs it.
    let scheduled = Atomic<Bool>(false)

    // MARK: Sequencer (issue 17)

    /// The node's latent step sequencer: present when its plan feeds latents (decode).
    let sequencer: LatentSequencer?
    /// JACK transport as the audio thread last saw it (set by the instrument before the node joins).
    var transport: TransportClock?
    /// The engine's sample count minus the node's position (set by the audio thread at the join):
    /// node sample p is heard at engine sample p + clockOffset + latency.
    let clockOffset = Atomic<Int>(0)
    /// The first sample (at the model's rate, in the node's own count) of the block the worker runs.
    private var sequenceBlockStart = 0
    /// Model blocks run so far, when the node resamples (their count is the sequencer's clock then).
    private var modelBlocksRun = 0

    /// The node's input position now (samples at the model's rate): where a sequence played now starts.
    var sequenceNow: Int {
        let written = inputRing.written.load(ordering: .acquiring)
        return resampleIn == nil ? written : Int((Double(written) * Double(modelRate) / Double(serverRate)).rounded())
    }

    // MARK: Lane (live only: batched calls with other nodes of the same model)

    /// The lane that runs this node's blocks together with its siblings', unretained for the
    /// audio thread (the instrument keeps lanes alive); nil when the node runs alone.
    private(set) var lanePointer: UnsafeMutableRawPointer?
    /// This node's rows of the model's streaming state, kept here while the lane's instance
    /// runs other streams (nil for a stateless model).
    private(set) var laneState: UnsafeMutablePointer<Float>?
    /// Whether this node's instance reads `other`'s weights (both made from one loaded prototype).
    func sharesWeights(with other: NNModel) -> Bool { model?.module.sharesParameters(with: other.module) ?? false }

    /// Whether blocks go through resamplers (such nodes never join a lane).
    var resamples: Bool { resampleIn != nil }

    /// Hands this node's blocks to `lane`, instead of warming its own instance up: its state
    /// starts as a fresh stream's after the same warm-up (`BatchLane.freshState`), and its own
    /// instance (buffers, compiled graphs) is released. Call before the node joins the graph.
    func attach(to lane: BatchLane) {
        if lane.rowFloats > 0 {
            let state = UnsafeMutablePointer<Float>.allocate(capacity: lane.rowFloats)
            lane.freshState.withUnsafeBufferPointer { state.update(from: $0.baseAddress!, count: lane.rowFloats) }
            laneState = state
        }
        lanePointer = Unmanaged.passUnretained(lane).toOpaque()
        executor = nil
        model = nil
    }

    // MARK: Shared with the control side

    let latentBias: AtomicFloats, latentScale: AtomicFloats, latentValues: AtomicFloats
    let latentNoise = AtomicFloats(count: 1, value: 0)
    let temperature = AtomicFloats(count: 1, value: 1)
    let triggers = Atomic<Int>(0)
    let seedBits = Atomic<UInt64>(0)
    let seeded = Atomic<Bool>(false)
    let dropouts = Atomic<Int>(0)
    let skippedBlocks = Atomic<Int>(0)
    let blocksDone = Atomic<Int>(0)
    let modelErrors = Atomic<Int>(0)
    /// Exponential average of the time per worker step, in nanoseconds.
    let averageNanos = Atomic<Int>(0)
    let lastNanos = Atomic<Int>(0)
    /// The last `timingCapacity` step durations in nanoseconds (written by the worker).
    private let timings: UnsafeMutablePointer<Int>
    static let timingCapacity = 1024
    let timingCount = Atomic<Int>(0)
    let peakLeft = Atomic<UInt32>(0), peakRight = Atomic<UInt32>(0)
    let lastError = Mutex<String?>(nil)
    // Issue 18: nodes that play without input.
    /// msprior: whether the prior follows the input's latents (`set LABEL listen`), off by default
    /// (the node runs free), and resets asked for (`set LABEL reset`, a counter).
    let listening = Atomic<Bool>(false)
    let resetRequests = Atomic<Int>(0)
    /// msprior: the mean perplexity of the last block (NaN before the first).
    let perplexity = AtomicFloats(count: 1, value: .nan)
    /// The latent walk's rate (Hz) and depth, and `walk` commands so far (decode).
    let walkSettings = AtomicFloats(count: 2, value: 0)
    let walkCommands = Atomic<Int>(0)

    // MARK: Timed controls (MIDI: audio thread -> worker)

    /// Changes for the model side at absolute input positions, pushed by the audio thread in
    /// time order and taken by the worker with the block they fall in.
    let timedControls = SPSCQueue<TimedControl>(capacity: 4096)
    /// Timed changes a full queue or a full block refused.
    let droppedControls = Atomic<Int>(0)
    /// The change taken from the queue that belongs to a later block (worker).
    private var heldControl: TimedControl?
    /// This block's changes, as the plan reads them (worker).
    private let blockControlStorage: UnsafeMutablePointer<PlanControl>
    private var blockControlCount = 0
    static let blockControlCapacity = 1024

    // MARK: Audio side (the audio thread only)

    /// Samples since the node's blocks began: it starts at `phase` (see `start(phase:)`).
    var position = 0
    /// Samples of silence the node's first block holds before its input starts, chosen by
    /// the kernel when the node joins so that nodes' blocks complete in different JACK
    /// cycles. It moves where block boundaries fall, never the latency.
    private(set) var phase = 0
    /// Set once the node is playing, so a phase is chosen only at the join.
    private(set) var started = false
    /// Where this node's blocks begin on the engine's clock, modulo its block (set at the
    /// join, read by `status`): nodes with different values complete blocks in different cycles.
    let blockAlignment = Atomic<Int>(0)
    private let inputRing: SampleRing
    private let outputSlots: BlockSlots
    private let conditioned: UnsafeMutablePointer<Float>
    private let wetBuffer: UnsafeMutablePointer<Float>
    /// This cycle's output, read by chained nodes and copied to the node's ports.
    let bus: UnsafeMutablePointer<Float>
    private let ramps: UnsafeMutablePointer<Float>  // 4 ramps of maxFrames: env*mute*gain, wet, input gain, gate
    private let dryLine: UnsafeMutablePointer<Float>
    private let dryCapacity: Int
    private var targets: (gain: Float, inputGain: Float, wet: Float, mute: Float) = (1, 1, 1, 0)
    private var current: (gain: Float, inputGain: Float, wet: Float, mute: Float) = (1, 1, 1, 0)
    private let smoothing: Float
    private var envelope: Float = 0
    private var envelopeStep: Float
    private(set) var finished = false
    /// Set by the control side once the audio thread has let go of the node.
    var retiredFromGraph = false
    private(set) var freeing = false
    private var gate: Float = 1
    private var lastWet: (Float, Float) = (0, 0)
    private var lastMissingBlock = -1
    /// Smoothed parameters' new targets at frames of this cycle (MIDI), in frame order (audio thread).
    private let scheduledScalars: UnsafeMutablePointer<ScheduledScalar>
    private var scheduledCount = 0
    static let scheduledCapacity = 256
    let eq: EQChain
    /// The node's source, resolved by the kernel each cycle.
    var source: KernelSource
    /// The node a swap is replacing with this one, while they crossfade (unretained: the
    /// instrument keeps it alive in its fading list); the kernel renders it just before
    /// this node and adds its bus to this node's (audio thread only).
    var outgoing: UnsafeMutableRawPointer?
    /// The id of the node being replaced (-1 when none): commands sent to it reach this node.
    var outgoingID: Int {
        guard let outgoing else { return -1 }
        return Unmanaged<Node>.fromOpaque(outgoing)._withUnsafeGuaranteedRef { $0.id }
    }
    /// A swap's crossfade on this node: from `crossfadeStart` (a value of `position`), over
    /// `crossfadeFrames` samples, rising (the new model) or falling (the old one); 0 frames: none.
    private var crossfadeStart = 0
    private var crossfadeFrames = 0
    private var crossfadeRising = false
    /// Set by the audio thread when this node, brought in by a swap, has finished fading in.
    let swapFinished = Atomic<Bool>(false)
    /// Set on the control side when this node's ports went to the node that replaced it, so
    /// they are not unregistered when this node is released.
    var handedPortsOver = false
    /// Added to the node's own block index to seed its blocks: the index of its first block on
    /// the engine's block grid (set at the join), so nodes of one seed and one block alignment
    /// draw the same noise for the same stretch of time, whenever they joined.
    private(set) var seedBlockOffset = 0
    /// Its output ports, as the port host names them (set before the node joins, released
    /// after it leaves; nil offline).
    var ports: NodePorts?

    /// Builds a node around its own model instance, allocating every buffer it will use.
    /// - Parameters:
    ///   - period: the current audio cycle, which the latency must cover when it does not divide the block.
    init(id: Int, spec: NodeSpec, modelURL: URL, model: NNModel, serverRate: Int, period: Int, maxFrames: Int,
         defaultBlock: Int, allowanceBlocks: Double, source: KernelSource, fadeSeconds: Double = 0.05) throws {
        self.id = id
        self.spec = spec
        self.modelURL = modelURL
        self.model = model
        self.serverRate = serverRate
        self.maxFrames = maxFrames
        self.source = source
        let rate = model.sampleRate ?? serverRate
        modelRate = rate
        let minimum = model.minimumBlock
        var block = spec.block ?? max(defaultBlock, minimum)
        if spec.block == nil, block % minimum != 0 { block = (block / minimum + 1) * minimum }
        guard block > 0, block % minimum == 0 else {
            throw EngineError("\(modelURL.path): block \(block) is not a multiple of the model's minimum block \(minimum)")
        }
        self.block = block

        // What the node feeds, calls and reads each block: its plan, on its own instance.
        let plan = try CallPlan(model: model, kind: spec.method.planKind, block: block)
        self.plan = plan
        executor = try PlanExecutor(plan: plan, model: model)
        inChannels = plan.audioInChannels
        outChannels = plan.output.channels
        latentSize = plan.latentSize
        modelIn = [Float](repeating: 0, count: inChannels * block)
        latentBias = AtomicFloats(count: latentSize, value: 0)
        latentScale = AtomicFloats(count: latentSize, value: 1)
        latentValues = AtomicFloats(count: latentSize, value: 0)
        ownTargets = .allocate(capacity: 3 * latentSize + 2)
        ownTargets.initialize(repeating: false, count: 3 * latentSize + 2)
        carried = latentSize > 0 ? PlanCarry(latentSize: latentSize, seed: spec.seed ?? UInt64(id)) : nil
        // A walk's depth is in the model's latent standard deviations when it carries them.
        if let carried, let deviations = Self.latentDeviations(of: model, count: latentSize) { carried.walkScale = deviations }
        sequencer = plan.steps.contains { if case .feedLatents = $0 { true } else { false } }
            ? LatentSequencer(latentSize: latentSize, hitClasses: plan.hitClasses) : nil
        if let seed = spec.seed {
            seedBits.store(seed, ordering: .relaxed)
            seeded.store(true, ordering: .relaxed)
        }

        // Rates: resample on the worker when the model's differs from the server's.
        var prefill = 0
        if rate != serverRate {
            resampleIn = try StreamingResampler(from: Double(serverRate), to: Double(rate), channelCount: inChannels, quality: .high)
            resampleOut = try StreamingResampler(from: Double(rate), to: Double(serverRate), channelCount: outChannels, quality: .high)
            serverBlock = Int((Double(block) * Double(serverRate) / Double(rate)).rounded(.up))
            // The first steps yield no model block (the resampler's delay); start the
            // output queue this far ahead so it never runs dry afterwards.
            prefill = serverBlock + 1024
        } else {
            resampleIn = nil
            resampleOut = nil
            serverBlock = block
        }
        modelFIFO = [[Float]](repeating: [], count: inChannels)
        outFIFO = [[Float]](repeating: [Float](repeating: 0, count: prefill), count: outChannels)
        serverIn = [Float](repeating: 0, count: inChannels * serverBlock)

        // Latency: the block must fill (plus what a cycle that does not divide it adds),
        // then inference has its allowance, then the resampling prefill.
        func gcd(_ a: Int, _ b: Int) -> Int { b == 0 ? a : gcd(b, a % b) }
        let fill = serverBlock + period - gcd(serverBlock, period)
        allowance = Int((allowanceBlocks * Double(serverBlock)).rounded())
        latency = fill + allowance + prefill

        inputRing = SampleRing(channels: inChannels, capacity: 4 * serverBlock + latency + 2 * SampleRing.slack)
        outputSlots = BlockSlots(channels: outChannels, blockFrames: serverBlock,
                                 slots: (latency + maxFrames) / serverBlock + 4)
        conditioned = .allocate(capacity: 2 * maxFrames)
        conditioned.initialize(repeating: 0, count: 2 * maxFrames)
        wetBuffer = .allocate(capacity: 2 * maxFrames)
        wetBuffer.initialize(repeating: 0, count: 2 * maxFrames)
        bus = .allocate(capacity: 2 * maxFrames)
        bus.initialize(repeating: 0, count: 2 * maxFrames)
        ramps = .allocate(capacity: 4 * maxFrames)
        ramps.initialize(repeating: 0, count: 4 * maxFrames)
        dryCapacity = latency + maxFrames + 1
        dryLine = .allocate(capacity: 2 * dryCapacity)
        dryLine.initialize(repeating: 0, count: 2 * dryCapacity)
        smoothing = Float(1 - exp(-1 / (0.01 * Double(serverRate))))
        envelopeStep = Float(1 / max(1, fadeSeconds * Double(serverRate)))
        eq = EQChain(sampleRate: Double(serverRate))
        timings = .allocate(capacity: Self.timingCapacity)
        timings.initialize(repeating: 0, count: Self.timingCapacity)
        Self.alive.wrappingAdd(1, ordering: .relaxed)
        let controls = UnsafeMutablePointer<PlanControl>.allocate(capacity: Self.blockControlCapacity)
        controls.initialize(repeating: PlanControl(offset: 0, kind: .trigger, value: 0), count: Self.blockControlCapacity)
        blockControlStorage = controls
        let scalars = UnsafeMutablePointer<ScheduledScalar>.allocate(capacity: Self.scheduledCapacity)
        scalars.initialize(repeating: ScheduledScalar(frame: 0, parameter: .gain, value: 0), count: Self.scheduledCapacity)
        lockResident(scalars, count: Self.scheduledCapacity)
        scheduledScalars = scalars
        for (buffer, count) in [(conditioned, 2 * maxFrames), (wetBuffer, 2 * maxFrames), (bus, 2 * maxFrames),
                                (ramps, 4 * maxFrames), (dryLine, 2 * dryCapacity)] {
            lockResident(buffer, count: count)
        }
    }

    /// Nodes alive in this process (built and not yet released), for the soak tests that check
    /// nodes that leave the graph (freed, or replaced by a swap) are released.
    static let alive = Atomic<Int>(0)

    deinit {
        Self.alive.wrappingSubtract(1, ordering: .relaxed)
        conditioned.deallocate()
        wetBuffer.deallocate()
        bus.deallocate()
        ramps.deallocate()
        dryLine.deallocate()
        timings.deallocate()
        laneState?.deallocate()
        blockControlStorage.deallocate()
        scheduledScalars.deallocate()
        ownTargets.deallocate()
    }

    /// Step durations in seconds recorded since `since` (a `timingCount` value), at most the last 1024.
    func stepSeconds(since: Int) -> [Double] {
        let count = timingCount.load(ordering: .acquiring)
        let first = max(since, count - Self.timingCapacity)
        guard count > first else { return [] }
        return (first..<count).map { Double(timings[$0 % Self.timingCapacity]) / 1e9 }
    }

    var label: String { spec.label }
    var sourceIsStereo: Bool { inChannels == 2 }

    // MARK: - Worker side

    /// True when a complete input block waits for the worker.
    var hasPendingBlock: Bool {
        inputRing.written.load(ordering: .acquiring) >= (nextBlock + 1) * serverBlock
    }

    /// Runs every complete input block. Called by one worker at a time, or by the
    /// offline renderer right after the audio side, which makes a render exact.
    /// - Parameter skipLate: drop blocks whose output is already too late to play.
    func runPendingBlocks(skipLate: Bool) {
        while let index = takeNextBlock(skipLate: skipLate) {
            let start = DispatchTime.now().uptimeNanoseconds
            step(index: index)
            finishBlock(nanos: Int(DispatchTime.now().uptimeNanoseconds - start))
        }
    }

    /// Reads the next complete input block into the worker's buffer and returns its index,
    /// or nil when no block is complete. Follow with `step` (or a lane's batched call) and
    /// `finishBlock`.
    func takeNextBlock(skipLate: Bool) -> Int? {
        while true {
            let written = inputRing.written.load(ordering: .acquiring)
            if written < (nextBlock + 1) * serverBlock { return nil }
            if skipLate {
                // Blocks whose whole output lies before the audio thread's read
                // position are useless: skip them so an overload recovers quickly.
                let hopeless = (written - latency) / serverBlock
                if hopeless > nextBlock {
                    skippedBlocks.wrappingAdd(hopeless - nextBlock, ordering: .relaxed)
                    nextBlock = hopeless
                    continue
                }
            }
            let ok = serverIn.withUnsafeMutableBufferPointer {
                inputRing.read(start: nextBlock * serverBlock, count: serverBlock, into: $0.baseAddress!)
            }
            if !ok {
                // Overwritten while we were away: jump to the newest complete block.
                skippedBlocks.wrappingAdd(1, ordering: .relaxed)
                nextBlock = max(nextBlock + 1, written / serverBlock - 1)
                continue
            }
            sequenceBlockStart = nextBlock * block
            gatherControls(block: nextBlock)
            return nextBlock
        }
    }

    /// Records the time the block took (this node's share of a batched call) and moves on.
    func finishBlock(nanos: Int) {
        lastNanos.store(nanos, ordering: .relaxed)
        let recorded = timingCount.load(ordering: .relaxed)
        timings[recorded % Self.timingCapacity] = nanos
        timingCount.store(recorded + 1, ordering: .releasing)
        let average = averageNanos.load(ordering: .relaxed)
        averageNanos.store(average == 0 ? nanos : (average * 7 + nanos) / 8, ordering: .relaxed)
        blocksDone.wrappingAdd(1, ordering: .relaxed)
        nextBlock += 1
        // A resampling node's controls went with the first model block they met (`step`).
        if resampleIn == nil { holdControls() }
    }

    /// Takes the timed changes that fall in block `index` (its input positions, at the server's
    /// rate) from the audio thread's queue, as offsets into the block at the model's rate. A change
    /// past the block's last latent frame waits for the next block's first; one before the block (a
    /// skipped block's) takes its first frame. A node that resamples has no sample-exact mapping
    /// between the two rates' blocks: its changes take the first frame of the block they arrive in.
    private func gatherControls(block index: Int) {
        let start = index * serverBlock, end = start + serverBlock
        let frames = max(1, plan.latentFrames)
        while let control = heldControl ?? timedControls.pop() {
            heldControl = nil
            var offset = 0
            if resampleIn == nil, control.position > start {
                offset = control.position - start
                if control.position >= end || PlanControl.frame(offset: offset, frames: frames, block: block) >= frames {
                    // Later than this block's last frame: the next block's first frame (or later).
                    heldControl = TimedControl(position: max(control.position, end), kind: control.kind, dimension: control.dimension, value: control.value)
                    return
                }
            } else if resampleIn != nil, control.position >= end {
                heldControl = control
                return
            }
            guard blockControlCount < Self.blockControlCapacity else {
                droppedControls.wrappingAdd(1, ordering: .relaxed)
                continue
            }
            blockControlStorage[blockControlCount] = PlanControl(offset: offset, kind: control.kind, dimension: control.dimension, value: control.value)
            blockControlCount += 1
        }
    }

    /// After a block: the timed changes become the node's targets, so the next blocks hold them
    /// (the latent steps glide from where the block left them to these targets), and the targets
    /// of the node a swap put in this one's place, if any (see `hold`).
    private func holdControls() {
        guard blockControlCount > 0 else { return }
        successor.withLock { next in
            for i in 0..<blockControlCount {
                let control = blockControlStorage[i]
                guard control.kind != .trigger else { continue }
                writeTarget(control.kind, dimension: control.dimension, value: control.value)
                if let slot = targetSlot(control.kind, control.dimension) { ownTargets[slot] = true }
                next?.inherit(control.kind, dimension: control.dimension, value: control.value)
            }
        }
        blockControlCount = 0
    }

    // MARK: Hand-over to a swap's new node (control side and workers; never the audio thread)

    /// The node a swap put in this one's place, from the moment the control side copied this
    /// node's settings to it. The model-side targets (latent values, bias, scale, noise,
    /// temperature) are written through `hold`, under this lock, and the hand-over copies them
    /// under it too: a target this node takes after the copy (a MIDI change that reached it
    /// before the kernel swapped the nodes and that its worker holds at its next block's end, or
    /// a `set` that found this node just before the hand-over) goes on to the new node as well,
    /// so no change made while a swap loads or hands over stays on the old model only. Workers
    /// take the lock once per block that has timed changes; the audio thread never does.
    /// A strong reference: the old node keeps the new one alive while its worker may still write.
    private let successor = Mutex<Node?>(nil)
    /// Targets this node took itself, from its own timed queue or a `set` on it (by `targetSlot`;
    /// under the `successor` lock). Everything pushed to a node's queue comes after everything
    /// pushed to the node it replaced (the kernel routes a label's changes to the new node from
    /// the swap's cycle on), and a `set` reaches it only after the hand-over, so a target
    /// inherited from the old node never overwrites one of these.
    private let ownTargets: UnsafeMutablePointer<Bool>

    /// Makes a model-side target this node's, and its successor's (a swap's new node), if any.
    func hold(_ kind: PlanControl.Kind, dimension: Int, value: Float) {
        successor.withLock { next in
            writeTarget(kind, dimension: dimension, value: value)
            if let slot = targetSlot(kind, dimension) { ownTargets[slot] = true }
            next?.inherit(kind, dimension: dimension, value: value)
        }
    }

    /// A target the node this one replaced took after the hand-over: this node's too, unless it
    /// took a newer one of its own, and its successor's in turn.
    private func inherit(_ kind: PlanControl.Kind, dimension: Int, value: Float) {
        successor.withLock { next in
            if let slot = targetSlot(kind, dimension), ownTargets[slot] { return }
            writeTarget(kind, dimension: dimension, value: value)
            next?.inherit(kind, dimension: dimension, value: value)
        }
    }

    /// Control side, once the node has left the graph and no worker holds it (the audio thread
    /// pushes no more and no worker pops): the timed changes its worker never took (its last
    /// block did not run before it faded out) go to its successor, if a swap gave it one.
    func passOnLeftoverControls() {
        successor.withLock { next in
            guard let next else { return }
            while let control = heldControl ?? timedControls.pop() {
                heldControl = nil
                guard control.kind != .trigger else { continue }
                next.inherit(control.kind, dimension: control.dimension, value: control.value)
            }
        }
    }

    /// Where a model-side target sits in `ownTargets` (nil for a trigger or a dimension out of range).
    private func targetSlot(_ kind: PlanControl.Kind, _ dimension: Int) -> Int? {
        switch kind {
        case .latent where dimension < latentSize: dimension
        case .bias where dimension < latentSize: latentSize + dimension
        case .scale where dimension < latentSize: 2 * latentSize + dimension
        case .noise: 3 * latentSize
        case .temperature: 3 * latentSize + 1
        default: nil
        }
    }

    /// Control side, at a swap's hand-over: `copy` moves this node's settings to `new`, and from
    /// then on every target this node holds goes to `new` too (atomically with the copy).
    func handOver(to new: Node, copy: () -> Void) {
        successor.withLock { next in
            next = new
            copy()
        }
    }

    private func writeTarget(_ kind: PlanControl.Kind, dimension: Int, value: Float) {
        switch kind {
        case .latent where dimension < latentSize: latentValues[dimension] = value
        case .bias where dimension < latentSize: latentBias[dimension] = value
        case .scale where dimension < latentSize: latentScale[dimension] = value
        case .noise: latentNoise[0] = value
        case .temperature: temperature[0] = value
        default: break
        }
    }

    /// One server block in, one server block out (through the resamplers when the rates differ).
    private func step(index: Int) {
        if resampleIn == nil {
            runModel(blockIndex: index)
            executor!.withOutput(row: 0) { publishOutput(index, from: $0) }
            return
        }
        do {
            let planar = (0..<inChannels).map { c in Array(serverIn[(c * serverBlock)..<((c + 1) * serverBlock)]) }
            let resampled = try resampleIn!.process(planar)
            for c in 0..<inChannels { modelFIFO[c] += resampled[c] }
            var runs = 0
            while modelFIFO[0].count >= block {
                for c in 0..<inChannels {
                    for i in 0..<block { modelIn[c * block + i] = modelFIFO[c][i] }
                }
                for c in 0..<inChannels { modelFIFO[c].removeFirst(block) }
                sequenceBlockStart = modelBlocksRun * block
                modelBlocksRun += 1
                runModel(blockIndex: index + runs)
                holdControls()
                runs += 1
                let planarOut = executor!.withOutput(row: 0) { out in
                    (0..<outChannels).map { c in Array(out[(c * block)..<((c + 1) * block)]) }
                }
                let back = try resampleOut!.process(planarOut)
                for c in 0..<outChannels { outFIFO[c] += back[c] }
            }
        } catch {
            record(error)
        }
        outputSlots.beginWrite(index)
        let available = outFIFO[0].count
        if available < serverBlock { dropouts.wrappingAdd(1, ordering: .relaxed) }
        for c in 0..<outChannels {
            let dst = outputSlots.slot(index, channel: c)
            let n = min(available, serverBlock)
            outFIFO[c].withUnsafeBufferPointer { dst.update(from: $0.baseAddress!, count: n) }
            if n < serverBlock { (dst + n).update(repeating: 0, count: serverBlock - n) }
            outFIFO[c].removeFirst(n)
        }
        outputSlots.endWrite(index)
    }

    // MARK: PlanStream (what the plan reads from this node)

    /// The block just taken (same rates), or the model-rate block the resampler gave.
    func readInput(into destination: UnsafeMutableBufferPointer<Float>) {
        let source = resampleIn == nil ? serverIn : modelIn
        source.withUnsafeBufferPointer { destination.baseAddress!.update(from: $0.baseAddress!, count: destination.count) }
    }

    func latentBias(at dimension: Int) -> Float { latentBias[dimension] }
    func latentScale(at dimension: Int) -> Float { latentScale[dimension] }
    func latentValue(at dimension: Int) -> Float { latentValues[dimension] }
    var latentNoiseAmount: Float { latentNoise[0] }
    var temperatureValue: Float { temperature[0] }
    var triggerCount: Int { triggers.load(ordering: .relaxed) }
    var blockControls: UnsafeBufferPointer<PlanControl> { UnsafeBufferPointer(start: blockControlStorage, count: blockControlCount) }
    var priorListen: Bool { listening.load(ordering: .relaxed) }
    var priorResets: Int { resetRequests.load(ordering: .relaxed) }
    func notePerplexity(_ value: Float) { perplexity[0] = value }
    var latentWalk: LatentWalk {
        LatentWalk(rate: walkSettings[0], depth: walkSettings[1], generation: walkCommands.load(ordering: .acquiring),
                   seed: seeded.load(ordering: .relaxed) ? seedBits.load(ordering: .relaxed) : UInt64(id), sampleRate: modelRate)
    }

    /// The standard deviation of each latent channel, when the model carries them: a tensor
    /// attribute or buffer `latent_std` with at least `count` positive values (nil otherwise:
    /// a walk's depth is then in latent units).
    static func latentDeviations(of model: NNModel, count: Int) -> [Float]? {
        guard model.module.hasAttribute("latent_std"), let value = try? model.module.attribute("latent_std"),
              case .object(let tensor) = value, case .array(let items)? = tensor["values"] else { return nil }
        let values = items.compactMap { item -> Float? in if case .number(let v) = item { Float(v) } else { nil } }
        guard values.count >= count, values.prefix(count).allSatisfy({ $0 > 0 && $0.isFinite }) else { return nil }
        return Array(values.prefix(count))
    }

    /// The sequencer's frames for this block, when it plays (the worker; no allocation, no lock).
    func feedSequence(_ z: UnsafeMutableBufferPointer<Float>, shape: CallPlan.Shape, triggerChannel: Int,
                      values: UnsafeMutableBufferPointer<Float>) -> Bool {
        guard let sequencer, shape.frames > 0 else { return false }
        let start = sequenceBlockStart
        return sequencer.fill(z, channels: shape.channels, frames: shape.frames, triggerChannel: triggerChannel,
                              values: values, blockStart: start, samplesPerFrame: block / shape.frames,
                              sampleRate: modelRate) {
            // Where the transport will be when this block is heard.
            let ratio = Double(serverRate) / Double(modelRate)
            let heard = Int((Double(start) * ratio).rounded()) + clockOffset.load(ordering: .relaxed) + latency
            guard let transport else { return SequencerTransport(rolling: true, frame: Double(start), beat: nil, bpm: nil) }
            let p = transport.position(at: heard)
            return SequencerTransport(rolling: p.rolling, frame: p.frame / ratio, beat: p.beat, bpm: p.bpm)
        }
    }

    /// Hands a model output block (`outChannels` × `block`, planar) to the audio side (same rates only).
    func publishOutput(_ index: Int, from output: UnsafeBufferPointer<Float>) {
        outputSlots.beginWrite(index)
        for c in 0..<outChannels {
            outputSlots.slot(index, channel: c).update(from: output.baseAddress! + c * block, count: block)
        }
        outputSlots.endWrite(index)
    }

    func record(_ error: Error) {
        modelErrors.wrappingAdd(1, ordering: .relaxed)
        let text = (error as? TorchError)?.description ?? "\(error)"
        lastError.withLock { $0 = text }
    }

    /// libtorch's generator is global: seeded calls hold this lock from the seed to
    /// the end of the block so no other seeded node draws in between.
    static let generatorLock = Mutex<Void>(())

    /// Runs the node's plan on its own instance; silence and a recorded error when it fails.
    private func runModel(blockIndex: Int) {
        let executor = executor!
        do {
            if seeded.load(ordering: .relaxed) {
                let seed = Self.derive(seedBits.load(ordering: .relaxed), blockIndex + seedBlockOffset)
                try Self.generatorLock.withLock { _ in
                    Torch.manualSeed(seed)
                    try executor.run(batch: 1) { _ in self }
                }
            } else {
                try executor.run(batch: 1) { _ in self }
            }
        } catch {
            record(error)
            executor.silenceOutput(batch: 1)
        }
    }

    /// The seed of a node's block: its own seed mixed with the block's index on the engine's
    /// block grid (the node's own index plus `seedBlockOffset`), so a block's draws depend
    /// neither on how many calls came before it nor on when the node joined: a swap's new
    /// model and a node of the same seed and alignment draw alike.
    static func derive(_ seed: UInt64, _ index: Int) -> UInt64 {
        var mixer = SplitMix64(seed: seed ^ (UInt64(truncatingIfNeeded: index) &* 0x9E37_79B9_7F4A_7C15))
        return mixer.next() >> 1
    }

    /// Runs the plan on silence a few times before the node joins, so the first live
    /// blocks do not pay TorchScript's first-call optimisation.
    func warmUp(calls: Int = 3) {
        // A seeded node reseeds before every live block, but a streaming model's state keeps
        // what the warm-up's draws left in it for the first blocks: a seeded node seeds its
        // warm-up too, so a render with a seed is the same every time (issue 18).
        guard seeded.load(ordering: .relaxed), let executor else { return executor?.warmUp(calls: calls, stream: self) ?? () }
        Self.generatorLock.withLock { _ in
            Torch.manualSeed(Self.derive(seedBits.load(ordering: .relaxed), -1))
            executor.warmUp(calls: calls, stream: self)
        }
    }

    // MARK: - Audio side (real time: no allocation, no locks, no libtorch)

    /// Applies a smoothed parameter's new target.
    func set(_ parameter: ScalarParameter, _ value: Float) {
        switch parameter {
        case .gain: targets.gain = value
        case .inputGain: targets.inputGain = value
        case .wet: targets.wet = min(max(value, 0), 1)
        case .mute: targets.mute = value != 0 ? 1 : 0
        }
    }

    /// A smoothed parameter's new target from frame `frame` of this cycle on (MIDI; in frame
    /// order within a cycle). A full list applies the change at once.
    func schedule(_ parameter: ScalarParameter, _ value: Float, atFrame frame: Int) {
        guard scheduledCount < Self.scheduledCapacity else { return set(parameter, value) }
        scheduledScalars[scheduledCount] = ScheduledScalar(frame: frame, parameter: parameter, value: value)
        scheduledCount += 1
    }

    /// A model-side change at this cycle's frame `frame` (MIDI): queued for the worker at the
    /// input position it falls on. False when the queue is full (the change is lost).
    @discardableResult
    func pushControl(_ kind: PlanControl.Kind, dimension: Int = 0, value: Float, atFrame frame: Int) -> Bool {
        let pushed = timedControls.push(TimedControl(position: position + frame, kind: kind, dimension: dimension, value: value))
        if !pushed { droppedControls.wrappingAdd(1, ordering: .relaxed) }
        return pushed
    }

    /// Called by the kernel when the node joins, before its first cycle: its first block
    /// begins `phase` samples before its input (silence fills them), so this node's blocks
    /// complete `phase` samples earlier than they would, in another cycle than its neighbours'.
    /// Input sample t (from the join) still comes out at t + latency: the fade-in, the dry
    /// line and the reported latency do not move.
    /// - Parameter clock: the engine's sample count at the join.
    func start(phase: Int, clock: Int) {
        guard !started else { return }
        started = true
        self.phase = phase
        position = phase
        clockOffset.store(clock - phase, ordering: .relaxed)
        blockAlignment.store(((clock - phase) % serverBlock + serverBlock) % serverBlock, ordering: .relaxed)
        let start = clock - phase
        seedBlockOffset = start >= 0 ? start / serverBlock : -((-start + serverBlock - 1) / serverBlock)
    }

    /// Starts the fade-out; the kernel retires the node when it reaches silence. A node that
    /// a swap is replacing fades out with it.
    func beginFree() {
        freeing = true
        if let outgoing { Unmanaged<Node>.fromOpaque(outgoing)._withUnsafeGuaranteedRef { $0.beginFree() } }
    }

    /// Audio thread, when a swap brings this node in: takes `old`'s smoothed parameters where
    /// they stand (no glide from the defaults), its EQ bands with their filter memories, and
    /// its source, so this node conditions its input exactly as `old` does from this cycle on.
    func adoptAudioSettings(from old: Node) {
        targets = old.targets
        current = old.current
        source = old.source
        eq.copyBands(from: old.eq)
    }

    /// Audio thread, after `start`: this node fades in over `frames` samples from its first
    /// output sample (linearly, as the old node fades out), instead of its usual fade-in.
    func beginCrossfadeIn(frames: Int) {
        envelope = 1
        crossfadeStart = latency + phase
        crossfadeFrames = max(1, frames)
        crossfadeRising = true
    }

    /// Audio thread: this node fades out over `frames` samples starting `afterFrames` samples
    /// from now (the new node's latency), then is finished. The two linear ramps add up to
    /// one on every sample, so the sum never steps by more than either model's own output does
    /// (an equal-power fade would rise by up to 41% between two uncorrelated outputs).
    func beginCrossfadeOut(frames: Int, afterFrames: Int) {
        crossfadeStart = position + afterFrames
        crossfadeFrames = max(1, frames)
        crossfadeRising = false
    }

    /// Processes one cycle of `frames` samples: conditions the source into the input
    /// ring, reads the model's output at the fixed latency, mixes wet and delayed dry,
    /// writes the node's bus and adds it to the master.
    /// - Returns: true when a new input block is complete (the caller schedules the worker).
    func render(frames n: Int, left s0: UnsafePointer<Float>, right s1: UnsafePointer<Float>,
                masterLeft: UnsafeMutablePointer<Float>, masterRight: UnsafeMutablePointer<Float>) -> Bool {
        let envRamp = ramps, wetRamp = ramps + maxFrames, inRamp = ramps + 2 * maxFrames, gateRamp = ramps + 3 * maxFrames
        // Smoothed parameters, one value per sample.
        var cur = current
        let k = smoothing
        var env = envelope
        let crossfading = crossfadeFrames > 0
        var scheduled = 0
        for i in 0..<n {
            while scheduled < scheduledCount, scheduledScalars[scheduled].frame <= i {
                set(scheduledScalars[scheduled].parameter, scheduledScalars[scheduled].value)
                scheduled += 1
            }
            cur.gain += (targets.gain - cur.gain) * k
            cur.inputGain += (targets.inputGain - cur.inputGain) * k
            cur.wet += (targets.wet - cur.wet) * k
            cur.mute += (targets.mute - cur.mute) * k
            // The fade-in starts when the output does (wet and delayed dry), at the latency.
            if freeing { env = max(0, env - envelopeStep) } else if position + i >= latency + phase { env = min(1, env + envelopeStep) }
            var level = env
            if crossfading {
                // A swap's linear crossfade, counted in samples (the same in a render as live).
                let step = position + i - crossfadeStart + 1
                let t: Float = step <= 0 ? 0 : step >= crossfadeFrames ? 1 : Float(step) / Float(crossfadeFrames)
                level *= crossfadeRising ? t : 1 - t
            }
            envRamp[i] = level * (1 - cur.mute) * cur.gain
            wetRamp[i] = cur.wet
            inRamp[i] = cur.inputGain
        }
        current = cur
        envelope = env
        while scheduled < scheduledCount {
            set(scheduledScalars[scheduled].parameter, scheduledScalars[scheduled].value)
            scheduled += 1
        }
        scheduledCount = 0
        if freeing, env == 0 { finished = true }
        if crossfading, position + n - crossfadeStart >= crossfadeFrames {
            crossfadeFrames = 0
            if crossfadeRising { swapFinished.store(true, ordering: .releasing) } else { finished = true }
        }

        // Conditioning: input gain, then the EQ chain, into the input ring.
        for c in 0..<inChannels {
            let src = c == 0 ? s0 : s1
            let dst = conditioned + c * maxFrames
            for i in 0..<n { dst[i] = src[i] * inRamp[i] }
        }
        eq.process(conditioned, channels: inChannels, stride: maxFrames, frames: n)
        for c in 0..<inChannels {
            inputRing.write(channel: c, start: position, conditioned + c * maxFrames, count: n)
        }
        inputRing.publish(upTo: position + n)
        let blockCompleted = (position + n) / serverBlock > position / serverBlock

        // The dry signal (the source as it arrives), delayed by the node's latency.
        for c in 0..<2 {
            let src = c == 0 ? s0 : s1
            let line = dryLine + c * dryCapacity
            var index = position % dryCapacity
            for i in 0..<n {
                line[index] = src[i]
                index += 1
                if index == dryCapacity { index = 0 }
            }
        }

        // The model's output, `latency` samples behind.
        readWet(frames: n, gateRamp: gateRamp)

        // Mix into the bus and the master.
        var peak: (Float, Float) = (0, 0)
        for c in 0..<2 {
            let wet = wetBuffer + (outChannels == 2 ? c : 0) * maxFrames
            let line = dryLine + c * dryCapacity
            var dryIndex = ((position - latency) % dryCapacity + dryCapacity) % dryCapacity
            let out = bus + c * maxFrames
            let master = c == 0 ? masterLeft : masterRight
            var channelPeak: Float = 0
            for i in 0..<n {
                let dry: Float = position - latency + i >= 0 ? line[dryIndex] : 0
                dryIndex += 1
                if dryIndex == dryCapacity { dryIndex = 0 }
                let w = wetRamp[i]
                let y = envRamp[i] * (w * wet[i] * gateRamp[i] + (1 - w) * dry)
                out[i] = y
                master[i] += y
                channelPeak = max(channelPeak, abs(y))
            }
            if c == 0 { peak.0 = channelPeak } else { peak.1 = channelPeak }
        }
        Self.raise(peakLeft, peak.0)
        Self.raise(peakRight, peak.1)
        position += n
        return blockCompleted
    }

    /// Copies output `[position - latency, +n)` from the worker's blocks. A block
    /// that is not there is a dropout: the last sample fades to silence over a few
    /// milliseconds, and the output fades back in when blocks return.
    private func readWet(frames n: Int, gateRamp: UnsafeMutablePointer<Float>) {
        let fade = 64
        var done = 0
        while done < n {
            let index = position - latency + done
            if index < 0 {
                let run = min(n - done, -index)
                for c in 0..<outChannels { (wetBuffer + c * maxFrames + done).update(repeating: 0, count: run) }
                for i in done..<(done + run) { gateRamp[i] = 1 }
                done += run
                continue
            }
            let blockIndex = index / serverBlock
            let offset = index % serverBlock
            let run = min(n - done, serverBlock - offset)
            var ok = true
            for c in 0..<outChannels where ok {
                ok = outputSlots.read(blockIndex, offset: offset, count: run, channel: c,
                                      into: wetBuffer + c * maxFrames + done)
            }
            if ok {
                for i in done..<(done + run) {
                    gateRamp[i] = gate
                    gate = min(1, gate + 1 / Float(fade))
                }
            } else {
                if blockIndex != lastMissingBlock {
                    lastMissingBlock = blockIndex
                    dropouts.wrappingAdd(1, ordering: .relaxed)
                }
                // Hold-and-fade the last sample, then silence.
                for c in 0..<outChannels {
                    let dst = wetBuffer + c * maxFrames + done
                    let last = c == 0 ? lastWet.0 : lastWet.1
                    for i in 0..<run {
                        dst[i] = last * max(0, 1 - Float(i + 1) / Float(fade))
                    }
                }
                lastWet = (0, 0)
                for i in done..<(done + run) { gateRamp[i] = 1 }
                gate = 0
            }
            done += run
        }
        if n > 0 {
            lastWet.0 = wetBuffer[n - 1] * gateRamp[n - 1]
            lastWet.1 = outChannels == 2 ? wetBuffer[maxFrames + n - 1] * gateRamp[n - 1] : lastWet.0
        }
    }

    /// Lock-free running maximum of a positive float kept as its bit pattern.
    @inline(__always) @_noLocks
    private static func raise(_ atomic: borrowing Atomic<UInt32>, _ value: Float) {
        let bits = value.bitPattern
        var current = atomic.load(ordering: .relaxed)
        while bits > current {
            let (exchanged, original) = atomic.compareExchange(expected: current, desired: bits, ordering: .relaxed)
            if exchanged { break }
            current = original
        }
    }
}


/// A model-side change at an input position (server rate, the node's own count), as the audio
/// thread queues it for the worker.
struct TimedControl: BitwiseCopyable {
    var position: Int
    var kind: PlanControl.Kind
    var dimension: Int
    var value: Float
}

/// A smoothed parameter's new target at a frame of the current cycle.
struct ScheduledScalar: BitwiseCopyable {
    var frame: Int
    var parameter: ScalarParameter
    var value: Float
}

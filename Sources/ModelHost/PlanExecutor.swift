import Foundation
import DSP
import Torch

/// One stream a plan runs for: its input and its controls. The engine's nodes and the offline
/// runner are streams; a lane runs several in one call each. Defaults are the neutral controls.
public protocol PlanStream: AnyObject {
    /// Copies this block's input (planar, the plan's input shape) into `destination`
    /// (only for plans whose first step is `feedInput`).
    func readInput(into destination: UnsafeMutableBufferPointer<Float>)
    /// What the stream carries from block to block for the latent steps (nil: the plan has none).
    var carried: PlanCarry? { get }
    // The control side's targets, read once per block by the latent steps.
    /// The bias added to latent `dimension` (transform).
    func latentBias(at dimension: Int) -> Float
    /// The factor latent `dimension` is multiplied by before the bias (transform).
    func latentScale(at dimension: Int) -> Float
    /// The value latent `dimension` glides to (latent feed).
    func latentValue(at dimension: Int) -> Float
    /// The amplitude of Gaussian noise added to every latent (transform).
    var latentNoiseAmount: Float { get }
    /// The value a temperature feed fills the input with.
    var temperatureValue: Float { get }
    /// Triggers asked for so far (a counter: one more is one more trigger; on a drum export of
    /// trigger contract 2, a hit of the first class at velocity 1).
    var triggerCount: Int { get }
    /// Fills the latent feed frame by frame when a step sequencer drives the stream (`z` is the
    /// block's `shape`, planar; `values` the carried latents, left at the last frame's so the
    /// plain feed glides on from there once the sequence stops). False: no sequence plays, and
    /// the values set from outside are glided as usual.
    func feedSequence(_ z: UnsafeMutableBufferPointer<Float>, shape: CallPlan.Shape, triggerChannel: Int,
                      values: UnsafeMutableBufferPointer<Float>) -> Bool
    /// Changes timed within this block (MIDI), in time order: each takes effect at the first
    /// frame of its buffer at or after its offset and holds to the block's end (see `PlanControl`).
    var blockControls: UnsafeBufferPointer<PlanControl> { get }
    // Issue 18: nodes that play without input.
    /// Whether a prior with a `listen` attribute (msprior) follows the input's latents (else it runs free).
    var priorListen: Bool { get }
    /// Resets of the prior's state asked for so far (a counter: one more is one more reset).
    var priorResets: Int { get }
    /// The mean of the prior's perplexity channel over the block just run (msprior).
    func notePerplexity(_ value: Float)
    /// The latent random walk a latent feed adds (decode).
    var latentWalk: LatentWalk { get }
}

/// A mean-reverting random walk on a latent feed (an Ornstein-Uhlenbeck process per latent
/// channel): each latent frame, offset x moves to `a x + depth·std·sqrt(1 - a²)·n` with
/// `a = exp(-2π rate dt)` and n a standard normal draw, so `rate` (Hz) sets how fast it wanders
/// and `depth` its standard deviation (in the model's latent standard deviations, `PlanCarry`'s
/// `walkScale`). Off (`rate` or `depth` 0) the offsets glide back to zero over one block.
public struct LatentWalk: Sendable, Equatable {
    public var rate: Float
    public var depth: Float
    /// Counts `walk` commands: a new one reseeds the walk's generator from `seed`.
    public var generation: Int
    /// The node's seed: the same seed and commands draw the same walk.
    public var seed: UInt64
    /// The model's sample rate (a latent frame's duration).
    public var sampleRate: Int

    /// A walk of `rate` Hz and `depth` standard deviations.
    public init(rate: Float, depth: Float, generation: Int, seed: UInt64, sampleRate: Int) {
        self.rate = rate
        self.depth = depth
        self.generation = generation
        self.seed = seed
        self.sampleRate = sampleRate
    }

    /// No walk.
    public static let off = LatentWalk(rate: 0, depth: 0, generation: 0, seed: 0, sampleRate: 1)
    /// Whether it moves the latents.
    public var isOn: Bool { rate > 0 && depth > 0 }
}

/// A control change timed within a block (from MIDI): from the first frame at or after
/// `offset` samples into the block, the value holds (no glide). The stream sets its targets to
/// the values once the block is done, so the next blocks hold them too.
public struct PlanControl: BitwiseCopyable, Sendable, Equatable {
    /// What the change moves.
    public enum Kind: UInt8, BitwiseCopyable, Sendable {
        /// A one-shot: `value` on the trigger channel at the frame (0 on the next one); on a drum
        /// export of trigger contract 2, the velocity on class `dimension`'s channel.
        case trigger
        /// Latent `dimension`'s fed value (decode).
        case latent
        /// Latent `dimension`'s bias and scale (transform).
        case bias, scale
        /// The noise amplitude on every latent (transform), and the temperature fed to a prior.
        case noise, temperature
    }
    /// Samples into the block at the model's rate (0 ... block - 1).
    public var offset: Int
    public var kind: Kind
    public var dimension: Int
    public var value: Float

    /// A change of `kind` at `offset` samples into the block.
    public init(offset: Int, kind: Kind, dimension: Int = 0, value: Float) {
        self.offset = offset
        self.kind = kind
        self.dimension = dimension
        self.value = value
    }

    /// The first of `frames` frames (of a block of `block` samples) at or after the offset;
    /// `frames` when that lies past the block (the caller keeps such a change for the next block).
    @inline(__always)
    public static func frame(offset: Int, frames: Int, block: Int) -> Int {
        (offset * frames + block - 1) / block
    }
}

/// Neutral controls, for streams without any (`BlockRunner`, benchmarks).
extension PlanStream {
    /// No carried latent state.
    public var carried: PlanCarry? { nil }
    /// No bias.
    public func latentBias(at dimension: Int) -> Float { 0 }
    /// Unit scale.
    public func latentScale(at dimension: Int) -> Float { 1 }
    /// Latents at zero.
    public func latentValue(at dimension: Int) -> Float { 0 }
    /// No noise.
    public var latentNoiseAmount: Float { 0 }
    /// Temperature 1.
    public var temperatureValue: Float { 1 }
    /// No triggers.
    public var triggerCount: Int { 0 }
    /// No sequencer.
    public func feedSequence(_ z: UnsafeMutableBufferPointer<Float>, shape: CallPlan.Shape, triggerChannel: Int,
                             values: UnsafeMutableBufferPointer<Float>) -> Bool { false }
    /// No timed changes.
    public var blockControls: UnsafeBufferPointer<PlanControl> { UnsafeBufferPointer(start: nil, count: 0) }
    /// Running free.
    public var priorListen: Bool { false }
    /// No resets.
    public var priorResets: Int { 0 }
    /// Perplexity unread.
    public func notePerplexity(_ value: Float) {}
    /// No walk.
    public var latentWalk: LatentWalk { .off }
}

/// What a stream's latent steps carry from one block to the next: where each glide stands, the
/// triggers already played, and the latent noise's generator. Allocated once; the worker that
/// runs the stream is the only one to touch it.
public final class PlanCarry: @unchecked Sendable {
    var bias: [Float]
    var scale: [Float]
    var values: [Float]
    var consumedTriggers = 0
    var noise: SplitMix64
    // The latent walk (decode): where each channel's offset stands, its generator, the last
    // `walk` command taken, and each channel's standard deviation (the walk's depth unit).
    var walkOffsets: [Float]
    var walkGenerator = SplitMix64(seed: 0)
    var walkGeneration = 0
    /// Each latent channel's standard deviation, the unit of a walk's depth (1: latent units).
    public var walkScale: [Float]
    // The prior attributes last set on the instance (msprior): nil until the first block.
    var appliedTemperature: Float?
    var appliedListen: Bool?
    var appliedResets = 0
    var resetPending = false

    /// Glides at rest (bias 0, scale 1, values 0) and the noise generator seeded with `seed`.
    public init(latentSize: Int, seed: UInt64) {
        bias = [Float](repeating: 0, count: latentSize)
        scale = [Float](repeating: 1, count: latentSize)
        values = [Float](repeating: 0, count: latentSize)
        noise = SplitMix64(seed: seed)
        walkOffsets = [Float](repeating: 0, count: latentSize)
        walkScale = [Float](repeating: 1, count: latentSize)
    }

    /// Latent values glide again from zero, and a prior's state starts afresh with its
    /// attributes set again (after a warm-up).
    public func resetValues() {
        for i in values.indices { values[i] = 0 }
        appliedTemperature = nil
        appliedListen = nil
        resetPending = true
    }
}

/// Runs a `CallPlan` on one model instance for up to `capacity` streams at once: the only code
/// that calls a model's methods block by block and checks what they return. Every buffer is
/// allocated here, once; `run` copies and calls, and never allocates.
public final class PlanExecutor: @unchecked Sendable {
    /// The plan it runs.
    public let plan: CallPlan
    /// Streams per call at most.
    public let capacity: Int
    /// The model file, named in errors.
    private let source: String
    /// The calls' methods, in the plan's order.
    private let methods: [ScriptMethod]
    /// The instance, whose attributes a `priorAttributes` step sets.
    private let model: NNModel
    /// `capacity` rows of each of the plan's buffers.
    private var buffers: [[Float]]

    /// Looks the plan's methods up on `model` (the instance the executor calls) and allocates
    /// `capacity` rows of every buffer.
    public init(plan: CallPlan, model: NNModel, capacity: Int = 1) throws {
        self.plan = plan
        self.capacity = max(1, capacity)
        source = model.url.lastPathComponent
        methods = try plan.calls.map { try model.module.method($0.method) }
        self.model = model
        buffers = plan.buffers.map { [Float](repeating: 0, count: max(1, capacity) * $0.count) }
    }

    /// Row `row` of the plan's output after `run`.
    public func withOutput<R>(row: Int, _ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        let count = plan.output.count
        return try buffers[buffers.count - 1].withUnsafeBufferPointer { all in
            try body(UnsafeBufferPointer(rebasing: all[(row * count)..<((row + 1) * count)]))
        }
    }

    /// Silences rows `0..<batch` of the output (what a failed call leaves).
    public func silenceOutput(batch: Int) {
        let last = buffers.count - 1
        for i in 0..<(batch * plan.output.count) { buffers[last][i] = 0 }
    }

    /// Runs the plan once for `batch` streams: stream `i` is row `i` of every buffer.
    public func run(batch: Int, stream: (Int) -> any PlanStream) throws {
        precondition(batch >= 1 && batch <= capacity, "batch \(batch) outside 1...\(capacity)")
        var current = 0, calls = 0
        for step in plan.steps {
            switch step {
            case .call(let call):
                try perform(call, method: calls, index: current, batch: batch)
                current += 1
                calls += 1
            case .keepLatents(let n):
                for row in 0..<batch { keepLatents(n, from: current, row: row, stream: stream(row)) }
                current += 1
            case .priorAttributes:
                for row in 0..<batch { try setAttributes(stream(row)) }
            default:
                for row in 0..<batch { perform(step, buffer: current, row: row, stream: stream(row)) }
            }
        }
    }

    /// Runs the plan's calls on neutral input (zeros; the temperature fed as 1) so the first
    /// live blocks do not pay TorchScript's first-call optimisation. With a stream, its latent
    /// steps run too (as for a live block, on controls that are still neutral) and its latent
    /// values glide from zero again afterwards. Failures are ignored: the live blocks report them.
    public func warmUp(batch: Int = 1, calls: Int = 3, stream: (any PlanStream)? = nil) {
        for _ in 0..<calls {
            let neutral: Float = plan.steps.first == .feedTemperature ? 1 : 0
            for b in buffers.indices { for i in buffers[b].indices { buffers[b][i] = b == 0 ? neutral : 0 } }
            var current = 0, callIndex = 0
            steps: for step in plan.steps {
                switch step {
                case .call(let call):
                    // A failed call ends this round (the next round starts from neutral input again).
                    do { try perform(call, method: callIndex, index: current, batch: batch) } catch { break steps }
                    current += 1
                    callIndex += 1
                case .keepLatents(let n):
                    for row in 0..<batch { keepLatents(n, from: current, row: row, stream: nil) }
                    current += 1
                case .transformLatents, .feedLatents:
                    if let stream { perform(step, buffer: current, row: 0, stream: stream) }
                case .feedInput, .feedTemperature, .priorAttributes:
                    break
                }
            }
        }
        stream?.carried?.resetValues()
    }

    // MARK: - The steps

    /// Calls the model on buffer `index` into buffer `index + 1` for `batch` streams and checks
    /// the shape it returned: the one place a block's call happens.
    private func perform(_ call: CallPlan.Call, method callIndex: Int, index: Int, batch: Int) throws {
        let method = methods[callIndex]
        let input = buffers[index]
        let shape = try input.withUnsafeBufferPointer { inBuf in
            try buffers[index + 1].withUnsafeMutableBufferPointer { outBuf in
                try method(inBuf, batch: batch, channels: call.input.channels, frames: call.input.frames, into: outBuf)
            }
        }
        guard shape.batch == batch, shape.channels == call.output.channels, shape.frames == call.output.frames else {
            throw TorchError(context: source, message: "'\(call.method)' returned [\(shape.batch), \(shape.channels), \(shape.frames)], expected [\(batch), \(call.output.channels), \(call.output.frames)]")
        }
    }

    /// A per-stream step on row `row` of buffer `index`.
    private func perform(_ step: CallPlan.Step, buffer index: Int, row: Int, stream: any PlanStream) {
        let shape = plan.buffers[index]
        buffers[index].withUnsafeMutableBufferPointer { all in
            let rowBuffer = UnsafeMutableBufferPointer(rebasing: all[(row * shape.count)..<((row + 1) * shape.count)])
            switch step {
            case .feedInput:
                stream.readInput(into: rowBuffer)
            case .feedTemperature:
                rowBuffer.update(repeating: stream.temperatureValue)
                Self.applyTemperature(rowBuffer, shape, stream, block: plan.block)
            case .feedLatents(let triggerChannel):
                Self.feedLatents(rowBuffer, shape, stream, triggerChannel: triggerChannel, hits: plan.hitClasses.count, walkFrom: plan.walkFrom, block: plan.block)
            case .transformLatents:
                Self.transformLatents(rowBuffer, shape, stream, block: plan.block)
            case .call, .keepLatents, .priorAttributes:
                preconditionFailure("calls, attributes and kept latents run per buffer")
            }
        }
    }

    /// The first `n` channels of row `row` of buffer `index` into buffer `index + 1`; the mean
    /// of the channel after them (a prior's perplexity), when there is one, goes to the stream.
    private func keepLatents(_ n: Int, from index: Int, row: Int, stream: (any PlanStream)?) {
        let from = plan.buffers[index], to = plan.buffers[index + 1]
        let count = n * from.frames
        buffers[index].withUnsafeBufferPointer { source in
            buffers[index + 1].withUnsafeMutableBufferPointer { destination in
                let start = row * from.count
                (destination.baseAddress! + row * to.count).update(from: source.baseAddress! + start, count: count)
                if let stream, from.channels > n, from.frames > 0 {
                    var sum: Float = 0
                    for f in 0..<from.frames { sum += source[start + count + f] }
                    stream.notePerplexity(sum / Float(from.frames))
                }
            }
        }
    }

    /// Sets the instance's prior attributes to the stream's where they changed since the last
    /// block (`set_temperature`, `set_listen`, `set_reset`): on the worker, between calls.
    private func setAttributes(_ stream: any PlanStream) throws {
        guard let carry = stream.carried else { return }
        let temperature = stream.temperatureValue
        if carry.appliedTemperature != temperature {
            try model.setAttribute("temperature", ["\(temperature)"])
            carry.appliedTemperature = temperature
        }
        let listen = stream.priorListen
        if carry.appliedListen != listen {
            try model.setAttribute("listen", [listen ? "true" : "false"])
            carry.appliedListen = listen
        }
        let resets = stream.priorResets
        if resets != carry.appliedResets || carry.resetPending {
            try model.setAttribute("reset", ["true"])
            carry.appliedResets = resets
            carry.resetPending = false
        }
    }

    /// Latent values set from outside, glided across the block; a pending trigger raises the
    /// trigger channel to 1 for one frame. With `hits` velocity channels (trigger contract 2)
    /// those channels hold 0 whatever was set, except at a hit's frame: a trigger writes its
    /// velocity on channel `triggerChannel + dimension`, so hits of several classes in one frame
    /// all sound, and a hit in the very next frame is a hit of its own.
    private static func feedLatents(_ z: UnsafeMutableBufferPointer<Float>, _ shape: CallPlan.Shape, _ stream: any PlanStream,
                                    triggerChannel: Int, hits: Int, walkFrom: Int, block: Int) {
        guard let carry = stream.carried else { return }
        let frames = shape.frames
        let velocityChannels = triggerChannel..<min(shape.channels, triggerChannel + hits)
        // The sequencer leaves velocity channels at 0 between its hits (it knows them too).
        for d in velocityChannels { carry.values[d] = 0 }
        // A step sequencer, when one plays, sets every frame itself (steps start at their own frame).
        let sequenced = carry.values.withUnsafeMutableBufferPointer {
            stream.feedSequence(z, shape: shape, triggerChannel: triggerChannel, values: $0)
        }
        if !sequenced {
            for d in 0..<shape.channels {
                let target = velocityChannels.contains(d) ? 0 : stream.latentValue(at: d), start = carry.values[d]
                for f in 0..<frames {
                    let t = Float(f + 1) / Float(frames)
                    z[d * frames + f] = start + (target - start) * t
                }
                carry.values[d] = target
            }
        }
        let pending = stream.triggerCount
        if pending != carry.consumedTriggers, shape.channels > triggerChannel {
            carry.consumedTriggers = pending
            z[triggerChannel * frames] = 1
            // Over a sequence, the next frame is the sequence's own (it may hold a step's raise).
            if frames > 1, !sequenced, hits == 0 { z[triggerChannel * frames + 1] = 0 }
        }
        // Timed changes (MIDI), in order: a latent holds its new value from its frame on, a
        // trigger is one frame of its value (a note's latents come before its trigger).
        for control in stream.blockControls {
            let f = min(PlanControl.frame(offset: control.offset, frames: frames, block: block), frames - 1)
            switch control.kind {
            case .latent where control.dimension < shape.channels && !velocityChannels.contains(control.dimension):
                let d = control.dimension
                for g in f..<frames { z[d * frames + g] = control.value }
                carry.values[d] = control.value
            case .trigger where hits > 0:
                // Contract 2: the velocity on its class's channel, for this frame only.
                let channel = triggerChannel + min(max(control.dimension, 0), hits - 1)
                if channel < shape.channels { z[channel * frames + f] = control.value }
            case .trigger where shape.channels > triggerChannel:
                z[triggerChannel * frames + f] = control.value
                // As above: over a sequence, the next frame is the sequence's own.
                if f + 1 < frames, !sequenced { z[triggerChannel * frames + f + 1] = 0 }
            default:
                break
            }
        }
        walk(z, shape, stream.latentWalk, carry, from: walkFrom, block: block)
    }

    /// Adds the latent walk's offsets to channels `from...` of the block's latent feed, frame by
    /// frame (see `LatentWalk`); draws from the carry's own generator, never libtorch's.
    private static func walk(_ z: UnsafeMutableBufferPointer<Float>, _ shape: CallPlan.Shape, _ walk: LatentWalk,
                             _ carry: PlanCarry, from first: Int, block: Int) {
        let frames = shape.frames
        guard frames > 0, first < shape.channels else { return }
        if walk.generation != carry.walkGeneration {
            carry.walkGeneration = walk.generation
            carry.walkGenerator = SplitMix64(seed: walk.seed ^ (UInt64(truncatingIfNeeded: walk.generation) &* 0xD1B5_4A32_D192_ED03))
        }
        if !walk.isOn {
            // Stopped: the offsets glide back to zero over this block.
            for d in first..<shape.channels where carry.walkOffsets[d] != 0 {
                let start = carry.walkOffsets[d]
                for f in 0..<frames { z[d * frames + f] += start * (1 - Float(f + 1) / Float(frames)) }
                carry.walkOffsets[d] = 0
            }
            return
        }
        // One latent frame lasts block / frames samples at the model's rate.
        let frameSeconds = Double(block) / Double(frames) / Double(max(1, walk.sampleRate))
        let a = Float(exp(-2 * Double.pi * Double(walk.rate) * frameSeconds))
        let spread = (1 - a * a).squareRoot()
        for f in 0..<frames {
            for d in first..<shape.channels {
                let sigma = walk.depth * (d < carry.walkScale.count ? carry.walkScale[d] : 1)
                let x = a * carry.walkOffsets[d] + sigma * spread * carry.walkGenerator.nextGaussian()
                carry.walkOffsets[d] = x
                z[d * frames + f] += x
            }
        }
    }

    /// A prior's temperature changed within the block (MIDI): from its frame on.
    private static func applyTemperature(_ x: UnsafeMutableBufferPointer<Float>, _ shape: CallPlan.Shape, _ stream: any PlanStream, block: Int) {
        let frames = shape.frames
        for control in stream.blockControls where control.kind == .temperature {
            let f = min(PlanControl.frame(offset: control.offset, frames: frames, block: block), frames - 1)
            for c in 0..<shape.channels {
                for g in f..<frames { x[c * frames + g] = control.value }
            }
        }
    }

    /// Bias, scale and noise per latent dimension, moved linearly across the block's frames from
    /// their previous values so changes never jump.
    /// Timed changes (MIDI) hold their value from their frame on, over the glide.
    private static func transformLatents(_ z: UnsafeMutableBufferPointer<Float>, _ shape: CallPlan.Shape, _ stream: any PlanStream,
                                         block: Int) {
        guard let carry = stream.carried else { return }
        let frames = shape.frames
        let controls = stream.blockControls
        for d in 0..<shape.channels {
            let bias = stream.latentBias(at: d), scale = stream.latentScale(at: d)
            let b0 = carry.bias[d], s0 = carry.scale[d]
            // Where a timed change holds its value instead of the glide (nil: the glide).
            var heldBias: Float?, heldScale: Float?
            var amount = stream.latentNoiseAmount
            for f in 0..<frames {
                let t = Float(f + 1) / Float(frames)
                // Usually empty; a few changes per block otherwise.
                for control in controls where min(PlanControl.frame(offset: control.offset, frames: frames, block: block), frames - 1) == f {
                    switch control.kind {
                    case .bias where control.dimension == d: heldBias = control.value
                    case .scale where control.dimension == d: heldScale = control.value
                    case .noise: amount = control.value
                    default: break
                    }
                }
                let s = heldScale ?? (s0 + (scale - s0) * t)
                var value = heldBias.map { z[d * frames + f] * s + $0 } ?? (z[d * frames + f] * s + b0 + (bias - b0) * t)
                if amount != 0 { value += amount * carry.noise.nextGaussian() }
                z[d * frames + f] = value
            }
            carry.bias[d] = heldBias ?? bias
            carry.scale[d] = heldScale ?? scale
        }
    }
}

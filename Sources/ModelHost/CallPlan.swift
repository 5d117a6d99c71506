import Torch

/// What a host feeds, calls and reads each block to run one kind of use of an nn~ model, derived
/// once from the model's `<method>_params` (`[in_channels, in_ratio, out_channels, out_ratio]`)
/// and the kind, in the spirit of nn~'s backend `perform`. A plan is a list of `Step`s over a
/// chain of buffers: a feed fills buffer 0 (the first call's input), each call reads the current
/// buffer and writes the next, and per-stream steps (the latent transform) work on the current
/// buffer in place. `PlanExecutor` runs it (one stream, or a batch of streams in one call each);
/// the engine's nodes and lanes, their warm-up, and `BlockRunner` (`timbre process`) all do.
///
/// The plans, at a block of B samples (`L`, `F` the latent channels and frames, `F = B / ratio`):
///
/// | kind | feed (buffer 0) | steps | reads |
/// |---|---|---|---|
/// | `forward` | the block's audio `[in, B]` | `forward` | audio `[out, B]` |
/// | `encode` | the block's audio `[in, B]` | `encode` → latent transform → `decode` | audio `[out, B]` |
/// | `decode` | latent values glided to their targets, a trigger on channel 0 `[L, F]` | `decode` | audio `[out, B]` |
/// | `prior` | the temperature `[in, B / prior ratio]` | `prior` → latent transform → `decode` | audio `[out, B]` |
/// | `prior` (msprior) | the block's audio `[in, B]` | `encode` → attributes → `prior` → latents → latent transform → `decode` | audio `[out, B]` |
/// | `method(name)` | the caller's input `[in, B / in_ratio]` | `name` | `[out, B / out_ratio]` |
///
/// A `prior` method is RAVE's when it takes a temperature channel (any other input), and
/// msprior's when it takes the latents `decode` takes and returns them plus one perplexity
/// channel (`[L, r, L + 1, r]`, msprior's `combine`): the plan then encodes the input (the
/// prior follows it while its `listen` attribute is on), sets the prior's attributes between
/// blocks, and keeps the latents of the prior's output for `decode`.
///
/// Adding a kind (a prior that carries state, a sequencer-driven decode) is one change here: a
/// `Kind` case with its name in `init(nodeMethod:)`, and its steps in
/// `init(methods:kind:block:source:)`; when it needs a new way to feed or transform, a `Step`
/// case and its few lines in `PlanExecutor`'s per-stream step (and, for a new control, a
/// `PlanStream` requirement). Nothing else switches on the kind or on a node's method: nodes,
/// lanes, warm-up and the offline runner only execute plans (the node's method reaches the
/// engine as a name, `NodeMethod`, mapped by `init(nodeMethod:)`).
public struct CallPlan: Sendable, Equatable, CustomStringConvertible {
    /// How a host uses the model.
    public enum Kind: Sendable, Equatable, CustomStringConvertible {
        /// audio → `forward` → audio.
        case forward
        /// audio → `encode` → latent transform (bias, scale, noise) → `decode` → audio.
        case encode
        /// latent values (with a trigger on channel 0) → `decode` → audio.
        case decode
        /// temperature → `prior` → latent transform → `decode` → audio.
        case prior
        /// One method as it is, whatever its input and output (`timbre process`).
        case method(String)

        /// The kind a node names by its method (`forward`, `encode`, `decode`, `prior`); nil for others.
        public init?(nodeMethod name: String) {
            switch name {
            case "forward": self = .forward
            case "encode": self = .encode
            case "decode": self = .decode
            case "prior": self = .prior
            default: return nil
            }
        }

        /// The kind's name (a node's method; `method NAME` for a single method).
        public var description: String {
            switch self {
            case .forward: "forward"
            case .encode: "encode"
            case .decode: "decode"
            case .prior: "prior"
            case .method(let name): "method \(name)"
            }
        }
    }

    /// Channels × frames of one stream's buffer (`[channels, frames]`, planar).
    public struct Shape: Sendable, Equatable, CustomStringConvertible {
        public var channels: Int
        public var frames: Int
        /// A `[channels, frames]` buffer.
        public init(channels: Int, frames: Int) {
            self.channels = channels
            self.frames = frames
        }
        /// Floats in one stream's buffer.
        public var count: Int { channels * frames }
        /// `[channels, frames]`.
        public var description: String { "[\(channels), \(frames)]" }
    }

    /// One call of a model method: from the current buffer into the next.
    public struct Call: Sendable, Equatable {
        /// The method's name (`forward`, `encode`, ...).
        public var method: String
        /// What it is given and what it must return, per stream.
        public var input: Shape
        public var output: Shape
        /// A call of `method` from `input` to `output`.
        public init(method: String, input: Shape, output: Shape) {
            self.method = method
            self.input = input
            self.output = output
        }
    }

    /// One thing done each block, in order.
    public enum Step: Sendable, Equatable {
        /// Buffer 0 is the stream's input, copied by the stream (`PlanStream.readInput`).
        case feedInput
        /// Buffer 0 holds the stream's temperature everywhere.
        case feedTemperature
        /// Buffer 0 holds the latent values, moved linearly across the block's frames from their
        /// previous values; a pending trigger sets `triggerChannel` to 1 on the first frame
        /// (0 on the second): the trigger contract of timbre's drum exports. When the plan has
        /// `hitClasses` (trigger contract 2), channels `triggerChannel ..< + hitClasses.count`
        /// are velocity channels instead: 0 except on the frame of a hit, which puts its
        /// velocity on its class's channel (a trigger's `dimension`).
        case feedLatents(triggerChannel: Int)
        /// Calls the model on the current buffer into the next one (batched over streams).
        case call(Call)
        /// Sets the model's prior attributes (temperature, listen, reset) to the stream's when
        /// they changed, through `set_<attribute>` (msprior; one stream per instance).
        case priorAttributes
        /// The first `latents` channels of the current buffer into the next one; the channel after
        /// them (a prior's perplexity) is handed to the stream (`PlanStream.notePerplexity`).
        case keepLatents(Int)
        /// Bias, scale and noise on every latent of the current buffer, glided across its frames.
        case transformLatents
    }

    /// The kind of use it was derived for.
    public let kind: Kind
    /// Samples per block at the model's rate.
    public let block: Int
    /// What is done each block, in order.
    public let steps: [Step]
    /// The buffers the steps run over: buffer 0 is the first call's input, buffer i + 1 call i's output.
    public let buffers: [Shape]
    /// Audio channels a node conditions and feeds (1 when the plan takes no audio: the node still
    /// has an input, heard as its dry signal).
    public let audioInChannels: Int
    /// Latent channels the plan feeds or transforms (0 when it has none).
    public let latentSize: Int
    /// Latent frames per block (0 when the plan has no latents).
    public let latentFrames: Int
    /// A decode plan on a drum export of trigger contract 2: the classes of its velocity
    /// channels (decode's first inputs, `NNMethod.hitClasses`); empty otherwise.
    public let hitClasses: [String]

    /// The calls in order.
    public var calls: [Call] { steps.compactMap { if case .call(let call) = $0 { call } else { nil } } }
    /// One stream's input (buffer 0) and output (the last buffer).
    public var input: Shape { buffers[0] }
    public var output: Shape { buffers[buffers.count - 1] }
    /// Whether the first step feeds the stream's own input (audio, or latents the caller gives).
    public var readsInput: Bool { steps.first == .feedInput }
    /// Whether streams of this plan may share one instance in a batched call: not when the
    /// plan sets attributes on the instance (msprior's state also has its batch in dimension 1,
    /// which the lanes' row swapping does not handle).
    public var sharesLanes: Bool { !steps.contains(.priorAttributes) }
    /// The first latent channel a latent walk moves (decode): 1 when `decode` labels channel 0
    /// a trigger (timbre's drum exports), else 0.
    public private(set) var walkFrom = 0

    /// The steps in one line, e.g. `input [1, 2048] → encode → [16, 1] → transform → decode → [1, 2048]`.
    public var description: String {
        let names = steps.map { step -> String in
            switch step {
            case .feedInput: "input \(input)"
            case .feedTemperature: "temperature \(input)"
            case .feedLatents(let channel): "latents \(input) " + (hitClasses.isEmpty ? "trigger \(channel)" : "hits \(hitClasses.count)")
            case .call(let call): "\(call.method) → \(call.output)"
            case .transformLatents: "transform"
            case .priorAttributes: "attributes"
            case .keepLatents(let n): "keep \(n) latents"
            }
        }
        return names.joined(separator: " → ")
    }

    /// The plan for `kind` on `model` at `block` samples per block.
    public init(model: NNModel, kind: Kind, block: Int) throws {
        try self.init(methods: model.methods, kind: kind, block: block, source: model.url.path)
    }

    /// The plan from a model's method parameters (`source` names the model in errors).
    /// Refuses parameters that cannot make the kind's chain, with a one-line reason.
    public init(methods: [NNMethod], kind: Kind, block: Int, source: String) throws {
        func fail(_ message: String) -> TorchError { TorchError(context: source, message: message) }
        func method(_ name: String) throws -> NNMethod {
            guard let m = methods.first(where: { $0.name == name }) else {
                throw fail("no method '\(name)' (the model has \(methods.map(\.name).joined(separator: ", ")))")
            }
            guard m.inChannels > 0, m.outChannels > 0, m.inRatio > 0, m.outRatio > 0 else {
                throw fail("method '\(name)' has parameters \(Self.params(m)); channels and ratios must be positive")
            }
            return m
        }
        func frames(_ m: NNMethod, ratio: Int) throws -> Int {
            guard block > 0, block % ratio == 0 else {
                throw fail("block \(block) is not a multiple of method '\(m.name)''s ratio \(ratio)")
            }
            return block / ratio
        }
        func call(_ m: NNMethod) throws -> Call {
            Call(method: m.name, input: Shape(channels: m.inChannels, frames: try frames(m, ratio: m.inRatio)),
                 output: Shape(channels: m.outChannels, frames: try frames(m, ratio: m.outRatio)))
        }
        // A node plays its output on a pair of ports and conditions at most a stereo input.
        func audio(_ m: NNMethod, _ channels: Int, _ what: String) throws {
            guard channels == 1 || channels == 2 else {
                throw fail("method '\(m.name)' has \(channels) \(what) channels; a node takes 1 or 2")
            }
        }
        func decoder() throws -> NNMethod {
            let dec = try method("decode")
            guard dec.givesAudio else { throw fail("'decode' does not give audio") }
            try audio(dec, dec.outChannels, "output")
            return dec
        }
        func feeds(_ first: NNMethod, _ dec: NNMethod) throws {
            guard first.outChannels == dec.inChannels, first.outRatio == dec.inRatio else {
                throw fail("'\(first.name)' \(Self.params(first)) does not feed 'decode' \(Self.params(dec))")
            }
        }

        var steps: [Step]
        var audioIn = 1
        var hits: [String] = []
        switch kind {
        case .forward:
            let m = try method("forward")
            guard m.takesAudio, m.givesAudio else { throw fail("'forward' does not map audio to audio") }
            try audio(m, m.inChannels, "input")
            try audio(m, m.outChannels, "output")
            audioIn = m.inChannels
            steps = [.feedInput, .call(try call(m))]
        case .encode:
            let dec = try decoder()
            let enc = try method("encode")
            guard enc.takesAudio else { throw fail("'encode' does not take audio") }
            try feeds(enc, dec)
            try audio(enc, enc.inChannels, "input")
            audioIn = enc.inChannels
            steps = [.feedInput, .call(try call(enc)), .transformLatents, .call(try call(dec))]
        case .prior:
            let dec = try decoder()
            let prior = try method("prior")
            if prior.inChannels == dec.inChannels, prior.inRatio == dec.inRatio,
               prior.outChannels == dec.inChannels + 1, prior.outRatio == dec.inRatio {
                // msprior (latents in, latents and perplexity out): the input's latents feed it.
                let enc = try method("encode")
                guard enc.takesAudio else { throw fail("'encode' does not take audio") }
                try feeds(enc, dec)
                try audio(enc, enc.inChannels, "input")
                audioIn = enc.inChannels
                steps = [.feedInput, .call(try call(enc)), .priorAttributes, .call(try call(prior)),
                         .keepLatents(dec.inChannels), .transformLatents, .call(try call(dec))]
            } else {
                try feeds(prior, dec)
                steps = [.feedTemperature, .call(try call(prior)), .transformLatents, .call(try call(dec))]
            }
        case .decode:
            let dec = try decoder()
            steps = [.feedLatents(triggerChannel: 0), .call(try call(dec))]
            hits = dec.hitClasses
            guard hits.count < dec.inChannels else { throw fail("'decode' labels all \(dec.inChannels) inputs as velocity channels; a drum export has latents after them") }
            // The walk leaves a drum export's trigger or velocity channels alone.
            if !hits.isEmpty { walkFrom = hits.count }
            else if let label = dec.inputLabels?.first, label.lowercased().contains("trigger") { walkFrom = 1 }
        case .method(let name):
            let m = try method(name)
            audioIn = m.inChannels
            steps = [.feedInput, .call(try call(m))]
        }

        self.kind = kind
        self.block = block
        self.steps = steps
        hitClasses = hits
        // Buffer 0 is the first call's input; each call, and each step keeping latents, adds one.
        var shapes: [Shape] = []
        for step in steps {
            switch step {
            case .call(let call):
                if shapes.isEmpty { shapes.append(call.input) }
                shapes.append(call.output)
            case .keepLatents(let n):
                shapes.append(Shape(channels: n, frames: shapes[shapes.count - 1].frames))
            default: break
            }
        }
        buffers = shapes
        audioInChannels = audioIn
        // The latents are what a latent step works on: the buffer fed with them, or the one
        // a transform changes (a call's output that the next call reads).
        var latent: Shape?
        var current = 0
        for step in steps {
            switch step {
            case .feedLatents: latent = buffers[0]
            case .transformLatents: latent = buffers[current]
            case .call, .keepLatents: current += 1
            case .feedInput, .feedTemperature, .priorAttributes: break
            }
        }
        latentSize = latent?.channels ?? 0
        latentFrames = latent?.frames ?? 0
    }

    private static func params(_ m: NNMethod) -> String { "[\(m.inChannels), \(m.inRatio), \(m.outChannels), \(m.outRatio)]" }
}

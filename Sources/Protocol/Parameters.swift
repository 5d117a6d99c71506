/// A latent dimension, checked against the protocol's bound here and against the node's
/// latent size in the engine (which alone knows the model).
public typealias LatentIndex = Int

/// The kinds of EQ band `set LABEL eq` accepts (the engine maps them onto its biquads).
public enum EQKind: String, Sendable, CaseIterable {
    case lowpass, highpass, bandpass, peak, lowshelf, highshelf, notch

    /// Reads `lowpass`, `low_pass`, `low-pass`, any case.
    public init?(parsing text: String) {
        self.init(rawValue: String(text.lowercased().filter { $0 != "_" && $0 != "-" }))
    }
}

/// One EQ band's setting: a filter, or off (gain bands glide to 0 dB first).
public enum EQSetting: Sendable, Equatable {
    case band(kind: EQKind, frequency: Float, q: Float, gainDB: Float)
    case off

    /// Q when a command gives none (a Butterworth section).
    public static let defaultQ: Float = 0.7071
}

/// A node parameter with its typed, range-checked value: what `/timbre/set LABEL ...` carries.
///
/// Every parameter has one row in `NodeParameter.syntax` (its name, usage and reader) and
/// one arm in `values` (its writer); the compiler finds the switches to extend.
public enum NodeParameter: Sendable, Equatable {
    /// Output gain (linear).
    case gain(Float)
    /// Gain before the EQ and the model.
    case inputGain(Float)
    /// 0 = dry only, 1 = model only.
    case wet(Float)
    case mute(Bool)
    case input(NodeInput)
    /// EQ band `band` (0, 1, ...; in series in index order).
    case eq(band: Int, EQSetting)
    /// Latent dimension: add a value (encode and prior methods).
    case bias(LatentIndex, Float)
    /// Latent dimension: multiply by a value (before the bias).
    case scale(LatentIndex, Float)
    /// Amplitude of Gaussian noise added to every latent dimension.
    case noise(Float)
    /// Decode method: one latent dimension's value.
    case latent(LatentIndex, Float)
    /// Decode method: every latent dimension's value.
    case latents([Float])
    /// Decode method: dimension 0 raised to 1 for one latent frame.
    case trigger
    /// Prior method: the prior's temperature.
    case temperature(Float)
    /// Seed from now on.
    case seed(UInt64)
    // Issue 18: nodes that play without input.
    /// Prior method with msprior: follow the input's latents (true) or run free (false).
    case listen(Bool)
    /// Prior method with msprior: start the prior's state afresh.
    case reset
    /// Decode method: a mean-reverting latent random walk of `rate` Hz and `depth` standard
    /// deviations (latent units when the model has no statistics); `walk 0 0` stops it.
    case walk(rate: Float, depth: Float)

    /// The largest latent dimension and EQ band index a command may name (the engine checks
    /// the node's own latent size; EQ storage grows to the band named).
    public static let maximumIndex = 99_999
    /// The most values `latents` takes.
    public static let maximumLatents = 4096

    /// How one parameter reads its values.
    public struct Syntax: Sendable {
        public let name: String
        public let usage: String
        let read: @Sendable (inout ArgumentReader) throws(CommandError) -> NodeParameter
    }

    /// Every parameter, in the order the reference lists them: the one table to extend.
    public static let syntax: [Syntax] = [
        Syntax(name: "gain", usage: "G") { r throws(CommandError) in .gain(try r.float("gain")) },
        Syntax(name: "input_gain", usage: "G") { r throws(CommandError) in .inputGain(try r.float("input_gain")) },
        Syntax(name: "wet", usage: "W (0...1)") { r throws(CommandError) in .wet(try r.float("wet", in: 0...1)) },
        Syntax(name: "mute", usage: "0|1") { r throws(CommandError) in .mute(try r.flag("mute")) },
        Syntax(name: "input", usage: "in1|in2|mix|stereo|LABEL") { r throws(CommandError) in
            let text = try r.text("input")
            do { return .input(try NodeInput(parsing: text)) } catch { throw r.error("\(error)") }
        },
        Syntax(name: "eq", usage: "I KIND FREQ [Q] [GAIN_DB] | I off") { r throws(CommandError) in
            let band = try r.integer("EQ band", in: 0...maximumIndex)
            let kindText = try r.text("EQ kind")
            if kindText.lowercased() == "off" { return .eq(band: band, .off) }
            guard let kind = EQKind(parsing: kindText) else {
                throw r.error("unknown EQ kind '\(kindText)' (\(EQKind.allCases.map(\.rawValue).joined(separator: ", ")), off)")
            }
            let frequency = try r.float("EQ frequency", in: .leastNonzeroMagnitude...1_000_000)
            let q = r.isAtEnd ? EQSetting.defaultQ : try r.float("EQ Q", in: .leastNonzeroMagnitude...1000)
            let gain = r.isAtEnd ? 0 : try r.float("EQ gain (dB)", in: -120...120)
            return .eq(band: band, .band(kind: kind, frequency: frequency, q: q, gainDB: gain))
        },
        Syntax(name: "bias", usage: "D V") { r throws(CommandError) in
            .bias(try r.integer("latent dimension", in: 0...maximumIndex), try r.float("bias"))
        },
        Syntax(name: "scale", usage: "D V") { r throws(CommandError) in
            .scale(try r.integer("latent dimension", in: 0...maximumIndex), try r.float("scale"))
        },
        Syntax(name: "noise", usage: "A (>= 0)") { r throws(CommandError) in .noise(try r.float("noise", in: 0...Float.greatestFiniteMagnitude)) },
        Syntax(name: "latent", usage: "D V") { r throws(CommandError) in
            .latent(try r.integer("latent dimension", in: 0...maximumIndex), try r.float("latent value"))
        },
        Syntax(name: "latents", usage: "V0 V1 ...") { r throws(CommandError) in
            guard !r.isAtEnd else { throw r.error("'latents' needs one value per latent dimension") }
            guard r.remaining <= maximumLatents else { throw r.error("'latents' takes at most \(maximumLatents) values, got \(r.remaining)") }
            var values: [Float] = []
            while !r.isAtEnd { values.append(try r.float("latent value \(values.count)")) }
            return .latents(values)
        },
        Syntax(name: "trigger", usage: "") { _ throws(CommandError) in .trigger },
        Syntax(name: "temperature", usage: "T (>= 0)") { r throws(CommandError) in
            .temperature(try r.float("temperature", in: 0...Float.greatestFiniteMagnitude))
        },
        Syntax(name: "seed", usage: "S") { r throws(CommandError) in .seed(try r.unsigned("seed")) },
        // Issue 18.
        Syntax(name: "listen", usage: "0|1") { r throws(CommandError) in .listen(try r.flag("listen")) },
        Syntax(name: "reset", usage: "") { _ throws(CommandError) in .reset },
        Syntax(name: "walk", usage: "RATE_HZ DEPTH (>= 0)") { r throws(CommandError) in
            .walk(rate: try r.float("walk rate (Hz)", in: 0...1000), depth: try r.float("walk depth", in: 0...1000))
        },
    ]

    /// Every parameter's name, for errors and help.
    public static var names: [String] { syntax.map(\.name) }

    /// Reads `PARAM VALUE...` (the rest of a `set`), refusing leftovers.
    public static func read(_ reader: inout ArgumentReader) throws(CommandError) -> NodeParameter {
        let name = try reader.text("parameter")
        guard let row = syntax.first(where: { $0.name == name }) else {
            throw reader.error("unknown parameter '\(name)' (\(names.joined(separator: ", ")))")
        }
        let parameter = try row.read(&reader)
        try reader.finish()
        return parameter
    }

    /// The parameter's name as commands spell it.
    public var name: String {
        switch self {
        case .gain: "gain"
        case .inputGain: "input_gain"
        case .wet: "wet"
        case .mute: "mute"
        case .input: "input"
        case .eq: "eq"
        case .bias: "bias"
        case .scale: "scale"
        case .noise: "noise"
        case .latent: "latent"
        case .latents: "latents"
        case .trigger: "trigger"
        case .temperature: "temperature"
        case .seed: "seed"
        case .listen: "listen"
        case .reset: "reset"
        case .walk: "walk"
        }
    }

    /// The values after the name, as OSC arguments that read back to this parameter.
    public var values: [OSCValue] {
        switch self {
        case .gain(let v), .inputGain(let v), .wet(let v), .noise(let v), .temperature(let v): [.float(v)]
        case .mute(let on): [.int(on ? 1 : 0)]
        case .input(let input): [.string(input.description)]
        case .eq(let band, .off): [.int(Int32(band)), .string("off")]
        case .eq(let band, .band(let kind, let frequency, let q, let gain)):
            [.int(Int32(band)), .string(kind.rawValue), .float(frequency), .float(q), .float(gain)]
        case .bias(let d, let v), .scale(let d, let v), .latent(let d, let v): [.int(Int32(d)), .float(v)]
        case .latents(let values): values.map { .float($0) }
        case .trigger: []
        case .seed(let seed): [OSCValue(seed)]
        case .listen(let on): [.int(on ? 1 : 0)]
        case .reset: []
        case .walk(let rate, let depth): [.float(rate), .float(depth)]
        }
    }
}

extension OSCValue {
    /// A non-negative integer as OSC: an int when it fits, an int64 when that does, text otherwise.
    init(_ value: UInt64) {
        if value <= UInt64(Int32.max) { self = .int(Int32(value)) }
        else if value <= UInt64(Int64.max) { self = .int64(Int64(value)) }
        else { self = .string(String(value)) }
    }
}

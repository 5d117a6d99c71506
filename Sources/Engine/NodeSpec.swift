import DSP

/// What a node takes as its input.
public enum NodeInput: Sendable, Equatable, CustomStringConvertible {
    /// One channel of the engine's input (0 is `in_1`, 1 is `in_2`).
    case channel(Int)
    /// The engine's two inputs averaged (mono).
    case mix
    /// Both engine inputs, left and right.
    case stereo
    /// Another node's bus (a chain).
    case node(String)

    /// Parses `in1`, `in2`, `1`, `2`, `mix`, `stereo`, or a node label.
    public init(parsing text: String) {
        switch text.lowercased() {
        case "in1", "in_1", "1": self = .channel(0)
        case "in2", "in_2", "2": self = .channel(1)
        case "mix", "mono": self = .mix
        case "stereo": self = .stereo
        default: self = .node(text)
        }
    }

    public var description: String {
        switch self {
        case .channel(let c): "in\(c + 1)"
        case .mix: "mix"
        case .stereo: "stereo"
        case .node(let label): label
        }
    }
}

/// How a node calls its model.
public enum NodeMethod: String, Sendable, CaseIterable {
    /// audio -> `forward` -> audio.
    case forward
    /// audio -> `encode` -> latent transform (bias, scale, noise) -> `decode` -> audio.
    case encode
    /// latent values (set over OSC or a session, with triggers) -> `decode` -> audio.
    case decode
    /// `prior` (driven by a temperature) -> latent transform -> `decode` -> audio.
    case prior
}

/// Everything needed to create a node.
public struct NodeSpec: Sendable, Equatable {
    /// The node's name: its ports are `timbre:<label>_out_1` and `_out_2`.
    public var label: String
    /// The model as the user named it (resolved inside the models folders).
    public var model: String
    public var method: NodeMethod
    /// Samples per block at the model's rate; nil means the engine's default, raised
    /// to the model's minimum block when smaller.
    public var block: Int?
    /// Seeds libtorch's generator before each of this node's calls (derived per block).
    public var seed: UInt64?
    public var input: NodeInput

    public init(label: String, model: String, method: NodeMethod = .forward, block: Int? = nil,
                seed: UInt64? = nil, input: NodeInput = .channel(0)) {
        self.label = label
        self.model = model
        self.method = method
        self.block = block
        self.seed = seed
        self.input = input
    }

    /// Checks a label can name JACK ports and OSC arguments: letters, digits, `-`, `_`, `.`; at most 48 characters.
    public static func validate(label: String) throws {
        let allowed = label.unicodeScalars.allSatisfy { ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0))) || "-_.".unicodeScalars.contains($0) }
        guard !label.isEmpty, label.count <= 48, allowed, label != "master", label != "in" else {
            throw EngineError("invalid node label '\(label)': use 1 to 48 letters, digits, '-', '_' or '.' (not 'master' or 'in')")
        }
    }
}

/// A parametric EQ band of a node's input chain.
public struct EQBand: Sendable, Equatable {
    public var kind: BiquadKind
    public var frequency: Float
    public var q: Float
    public var gainDB: Float
    /// A band that is off passes its input unchanged.
    public var enabled: Bool

    public init(kind: BiquadKind, frequency: Float, q: Float = 0.7071, gainDB: Float = 0, enabled: Bool = true) {
        self.kind = kind
        self.frequency = frequency
        self.q = q
        self.gainDB = gainDB
        self.enabled = enabled
    }
}

/// An error the engine reports as one line.
public struct EngineError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

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

    /// The engine's input channels (`in1`, `in2`).
    public static let channelCount = 2

    /// Parses `in1`, `in2`, `1`, `2`, `mix`, `stereo`, or a node label; refuses channels
    /// beyond the engine's two (`in3`, `3`) and text that cannot be a label.
    public init(parsing text: String) throws(CommandError) {
        switch text.lowercased() {
        case "in1", "in_1", "1": self = .channel(0)
        case "in2", "in_2", "2": self = .channel(1)
        case "mix", "mono": self = .mix
        case "stereo": self = .stereo
        default:
            let lower = text.lowercased()
            let digits = lower.hasPrefix("in_") ? lower.dropFirst(3) : lower.hasPrefix("in") ? lower.dropFirst(2) : lower[...]
            if !digits.isEmpty, digits.allSatisfy(\.isNumber) {
                throw CommandError("input '\(text)' is out of range: the engine has inputs in1 and in2 (or mix, stereo, a node label)")
            }
            do {
                try NodeSpec.validate(label: text)
            } catch {
                throw CommandError("input '\(text)' is neither in1, in2, mix, stereo nor a node label")
            }
            self = .node(text)
        }
    }

    /// The text that parses back to this input.
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

    /// The largest block a command may ask for (2^20 samples, about 24 s at 44.1 kHz).
    public static let maximumBlock = 1 << 20

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
    public static func validate(label: String) throws(CommandError) {
        let allowed = label.unicodeScalars.allSatisfy { ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0))) || "-_.".unicodeScalars.contains($0) }
        guard !label.isEmpty, label.count <= 48, allowed, label != "master", label != "in" else {
            throw CommandError("invalid node label '\(label)': use 1 to 48 letters, digits, '-', '_' or '.' (not 'master' or 'in')")
        }
    }
}

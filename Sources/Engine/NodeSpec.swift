import DSP
import Errors

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

/// An error the engine reports as one line (naming the model file where there is one).
public struct EngineError: TimbreError, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }

    public var operation: String { "engine" }
    public var location: String? { nil }
    public var reason: String { description }
}

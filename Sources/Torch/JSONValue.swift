import Foundation

/// A value read from a model (an attribute or a method's result), as JSON.
public indirect enum JSONValue: Sendable, Equatable, Codable, CustomStringConvertible {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    /// Parses the JSON text the shim renders.
    init(jsonText: String) throws {
        self = try JSONDecoder().decode(JSONValue.self, from: Data(jsonText.utf8))
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let d = try? c.decode(Double.self) { self = .number(d) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if let a = try? c.decode([JSONValue].self) { self = .array(a) }
        else { self = .object(try c.decode([String: JSONValue].self)) }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case .bool(let b): try c.encode(b)
        case .number(let d):
            if d == d.rounded(), abs(d) < 1e15 { try c.encode(Int64(d)) } else { try c.encode(d) }
        case .string(let s): try c.encode(s)
        case .array(let a): try c.encode(a)
        case .object(let o): try c.encode(o)
        }
    }

    /// An integer value: a number, or a one-element tensor or list holding one.
    public var intValue: Int? {
        switch self {
        case .number(let d) where d == d.rounded(): return Int(d)
        case .array(let a) where a.count == 1: return a[0].intValue
        case .object(let o): return o["values"]?.intValue
        default: return nil
        }
    }

    /// The integers of a list, or of a small tensor's values.
    public var intArray: [Int]? {
        switch self {
        case .array(let a):
            let ints = a.compactMap(\.intValue)
            return ints.count == a.count ? ints : nil
        case .object(let o): return o["values"]?.intArray
        default: return nil
        }
    }

    /// The strings of a list.
    public var stringArray: [String]? {
        guard case .array(let a) = self else { return nil }
        let strings = a.compactMap { v -> String? in if case .string(let s) = v { return s } else { return nil } }
        return strings.count == a.count ? strings : nil
    }

    public var description: String {
        switch self {
        case .null: return "None"
        case .bool(let b): return b ? "true" : "false"
        case .number(let d): return d == d.rounded() && abs(d) < 1e15 ? String(Int64(d)) : String(d)
        case .string(let s): return s
        case .array(let a): return "[" + a.map(\.description).joined(separator: ", ") + "]"
        case .object(let o):
            if case .array(let shape)? = o["shape"] {
                let dims = shape.map(\.description).joined(separator: "x")
                if let values = o["values"] { return "tensor[\(dims)] \(values)" }
                return "tensor[\(dims)]"
            }
            return "{" + o.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", ") + "}"
        }
    }
}

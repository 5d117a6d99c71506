/// Reads a command's arguments in order, checking each one's type and range, so every
/// command and parameter parses the same way over OSC and in session lines. Numbers may
/// arrive as int, float, double, int64, bool or text (sclang sends `1` as an int and
/// `0.5` as a float; session lines are all text). Errors are one line naming the command.
public struct ArgumentReader: Sendable {
    /// The command being read (`/timbre/set`), for errors.
    public let address: String
    public private(set) var values: [OSCValue]
    public private(set) var position = 0

    public init(address: String, values: [OSCValue]) {
        self.address = address
        self.values = values
    }

    /// Arguments not read yet.
    public var remaining: Int { values.count - position }
    public var isAtEnd: Bool { position >= values.count }

    /// The next argument without consuming it.
    public func peek() -> OSCValue? { isAtEnd ? nil : values[position] }

    /// An error naming the command.
    public func error(_ message: String) -> CommandError { CommandError("\(address): \(message)") }

    private mutating func next(_ what: String) throws(CommandError) -> OSCValue {
        guard !isAtEnd else { throw error("missing \(what)") }
        defer { position += 1 }
        return values[position]
    }

    /// The next argument as text (numbers printed, as sclang's symbols and ints may be labels).
    public mutating func text(_ what: String) throws(CommandError) -> String {
        let value = try next(what)
        switch value {
        case .string, .symbol, .int, .int64, .float, .double: return value.text
        default: throw error("\(what) must be text, got \(value)")
        }
    }

    /// The next argument as a finite `Float` in `range`; NaN and infinities are refused.
    public mutating func float(_ what: String, in range: ClosedRange<Float> = -Float.greatestFiniteMagnitude...Float.greatestFiniteMagnitude) throws(CommandError) -> Float {
        let value = try next(what)
        let number: Float?
        switch value {
        case .int(let v): number = Float(v)
        case .int64(let v): number = Float(v)
        case .float(let v): number = v
        case .double(let v): number = v.isFinite && abs(v) > Double(Float.greatestFiniteMagnitude) ? .infinity : Float(v)
        case .string(let s), .symbol(let s): number = Float(s)
        default: number = nil
        }
        guard let number else { throw error("\(what) '\(value.text)' is not a number") }
        guard number.isFinite else { throw error("\(what) '\(value.text)' is not a finite number") }
        guard range.contains(number) else {
            if range.lowerBound == .leastNonzeroMagnitude { throw error("\(what) \(value.text) must be positive") }
            throw error("\(what) \(value.text) is out of range \(describe(range))")
        }
        return number
    }

    /// The next argument as an integer in `range` (integral floats and text accepted).
    public mutating func integer(_ what: String, in range: ClosedRange<Int>) throws(CommandError) -> Int {
        let value = try next(what)
        guard let whole = Self.wholeNumber(value) else { throw error("\(what) '\(value.text)' is not an integer") }
        guard whole >= Double(range.lowerBound), whole <= Double(range.upperBound) else {
            throw error("\(what) \(value.text) is out of range \(range.lowerBound)...\(range.upperBound)")
        }
        return Int(whole)
    }

    /// The next argument as a non-negative 64-bit integer (seeds).
    public mutating func unsigned(_ what: String) throws(CommandError) -> UInt64 {
        let value = try next(what)
        switch value {
        case .string(let s), .symbol(let s):
            if let v = UInt64(s) { return v }
        case .int(let v) where v >= 0: return UInt64(v)
        case .int64(let v) where v >= 0: return UInt64(v)
        default: break
        }
        if let whole = Self.wholeNumber(value), whole >= 0, whole < 0x1p53 { return UInt64(whole) }
        throw error("\(what) '\(value.text)' is not a non-negative integer")
    }

    /// The next argument as a switch: 0 or 1 (as numbers or text), or an OSC bool.
    public mutating func flag(_ what: String) throws(CommandError) -> Bool {
        let value = try next(what)
        if case .bool(let b) = value { return b }
        switch Self.wholeNumber(value) {
        case 0: return false
        case 1: return true
        default: throw error("\(what) '\(value.text)' must be 0 or 1")
        }
    }

    /// The next argument if it is one of `words` (consumed), else nil (left in place).
    public mutating func word<W: RawRepresentable & CaseIterable>(_ type: W.Type) -> W? where W.RawValue == String {
        guard let value = peek(), let word = W(rawValue: value.text.lowercased()) else { return nil }
        position += 1
        return word
    }

    /// Refuses arguments left over, so a typo is never silently ignored.
    public func finish() throws(CommandError) {
        guard isAtEnd else {
            throw error("unexpected argument(s) '\(values[position...].map(\.text).joined(separator: " "))'")
        }
    }

    private static func wholeNumber(_ value: OSCValue) -> Double? {
        let number: Double?
        switch value {
        case .int(let v): number = Double(v)
        case .int64(let v): number = Double(v)
        case .float(let v): number = Double(v)
        case .double(let v): number = v
        case .string(let s), .symbol(let s): number = Int64(s).map(Double.init) ?? Double(s)
        default: number = nil
        }
        guard let number, number.isFinite, number == number.rounded() else { return nil }
        return number
    }

    private func describe(_ range: ClosedRange<Float>) -> String {
        let low = range.lowerBound == -Float.greatestFiniteMagnitude ? "" : Self.format(range.lowerBound)
        let high = range.upperBound == Float.greatestFiniteMagnitude ? "" : Self.format(range.upperBound)
        return "\(low)...\(high)"
    }

    static func format(_ value: Float) -> String {
        value == value.rounded() && abs(value) < 1e9 ? String(Int64(value)) : String(value)
    }
}

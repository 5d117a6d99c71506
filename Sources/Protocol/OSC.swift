// FoundationEssentials, not Foundation: the light front end then maps neither
// Foundation's NSString layer nor ICU (a few milliseconds and megabytes per call).
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// One OSC 1.0 argument.
public enum OSCValue: Sendable, Equatable, CustomStringConvertible {
    case int(Int32)
    case float(Float)
    case double(Double)
    case int64(Int64)
    case string(String)
    case symbol(String)
    case blob([UInt8])
    case timeTag(UInt64)
    case char(UInt32)
    case rgba(UInt32)
    case midi(UInt32)
    case bool(Bool)
    case null
    case impulse

    /// The value as a number, when it is one (int, float, double, int64, or numeric text).
    public var number: Double? {
        switch self {
        case .int(let v): Double(v)
        case .float(let v): Double(v)
        case .double(let v): v
        case .int64(let v): Double(v)
        case .bool(let v): v ? 1 : 0
        case .string(let s), .symbol(let s): Double(s)
        default: nil
        }
    }

    /// The value as text: strings as they are, numbers printed (integral floats without a fraction).
    public var text: String {
        switch self {
        case .string(let s), .symbol(let s): s
        case .int(let v): String(v)
        case .int64(let v): String(v)
        case .float(let v): v == v.rounded() && abs(v) < 1e15 ? String(Int64(v)) : String(v)
        case .double(let v): v == v.rounded() && abs(v) < 1e15 ? String(Int64(v)) : String(v)
        case .bool(let v): v ? "1" : "0"
        default: description
        }
    }

    public var description: String {
        switch self {
        case .int(let v): "\(v)"
        case .float(let v): "\(v)"
        case .double(let v): "\(v)"
        case .int64(let v): "\(v)"
        case .string(let s): s.contains(" ") || s.isEmpty ? "\"\(s)\"" : s
        case .symbol(let s): s
        case .blob(let b): "<blob \(b.count) bytes>"
        case .timeTag(let t): "<timetag \(t)>"
        case .char(let c): "'\(Unicode.Scalar(c).map { String(Character($0)) } ?? "?")'"
        case .rgba(let v): "<rgba \(v)>"
        case .midi(let v): "<midi \(v)>"
        case .bool(let v): v ? "true" : "false"
        case .null: "nil"
        case .impulse: "impulse"
        }
    }
}

/// An OSC message: an address and arguments.
public struct OSCMessage: Sendable, Equatable {
    public var address: String
    public var arguments: [OSCValue]

    public init(_ address: String, _ arguments: [OSCValue] = []) {
        self.address = address
        self.arguments = arguments
    }
}

/// An OSC bundle: a time tag (NTP format; 1 means "now") and its elements.
public struct OSCBundle: Sendable, Equatable {
    public var timeTag: UInt64
    public var elements: [OSCPacket]

    public init(timeTag: UInt64, elements: [OSCPacket]) {
        self.timeTag = timeTag
        self.elements = elements
    }

    /// The time tag meaning "immediately".
    public static let immediately: UInt64 = 1
}

/// A message or a bundle.
public indirect enum OSCPacket: Sendable, Equatable {
    case message(OSCMessage)
    case bundle(OSCBundle)
}

/// Why a packet could not be decoded. `kind` groups errors for logs and counts.
public struct OSCError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable, CaseIterable, Codable {
        case empty, truncated, badAddress = "bad-address", missingTypeTags = "missing-type-tags"
        case unknownType = "unknown-type", badString = "bad-string", badBundle = "bad-bundle"
        case tooDeep = "too-deep", trailingBytes = "trailing-bytes"
    }
    public var kind: Kind
    public var detail: String

    public var description: String { "\(kind.rawValue): \(detail)" }
}

/// The OSC 1.0 binary format: big-endian, every item padded to 4 bytes.
public enum OSCCodec {
    /// Bundles nested deeper than this are refused (a guard against hostile packets).
    public static let maximumDepth = 16

    // MARK: Encoding

    public static func encode(_ packet: OSCPacket) -> [UInt8] {
        var out: [UInt8] = []
        switch packet {
        case .message(let message): encode(message, into: &out)
        case .bundle(let bundle): encode(bundle, into: &out)
        }
        return out
    }

    public static func encode(_ message: OSCMessage) -> [UInt8] {
        var out: [UInt8] = []
        encode(message, into: &out)
        return out
    }

    private static func encode(_ bundle: OSCBundle, into out: inout [UInt8]) {
        appendString("#bundle", to: &out)
        appendBig(bundle.timeTag, to: &out)
        for element in bundle.elements {
            let bytes = encode(element)
            appendBig(UInt32(bytes.count), to: &out)
            out += bytes
        }
    }

    private static func encode(_ message: OSCMessage, into out: inout [UInt8]) {
        appendString(message.address, to: &out)
        var tags = ","
        var data: [UInt8] = []
        for argument in message.arguments {
            switch argument {
            case .int(let v): tags += "i"; appendBig(UInt32(bitPattern: v), to: &data)
            case .float(let v): tags += "f"; appendBig(v.bitPattern, to: &data)
            case .double(let v): tags += "d"; appendBig(v.bitPattern, to: &data)
            case .int64(let v): tags += "h"; appendBig(UInt64(bitPattern: v), to: &data)
            case .string(let s): tags += "s"; appendString(s, to: &data)
            case .symbol(let s): tags += "S"; appendString(s, to: &data)
            case .blob(let b):
                tags += "b"
                appendBig(UInt32(b.count), to: &data)
                data += b
                while data.count % 4 != 0 { data.append(0) }
            case .timeTag(let t): tags += "t"; appendBig(t, to: &data)
            case .char(let c): tags += "c"; appendBig(c, to: &data)
            case .rgba(let c): tags += "r"; appendBig(c, to: &data)
            case .midi(let c): tags += "m"; appendBig(c, to: &data)
            case .bool(let v): tags += v ? "T" : "F"
            case .null: tags += "N"
            case .impulse: tags += "I"
            }
        }
        appendString(tags, to: &out)
        out += data
    }

    private static func appendString(_ s: String, to out: inout [UInt8]) {
        out += Array(s.utf8)
        out.append(0)
        while out.count % 4 != 0 { out.append(0) }
    }

    private static func appendBig<T: FixedWidthInteger>(_ value: T, to out: inout [UInt8]) {
        withUnsafeBytes(of: value.bigEndian) { out += $0 }
    }

    // MARK: Decoding

    /// Decodes one packet; every malformation becomes an `OSCError`, never a crash.
    public static func decode(_ bytes: [UInt8]) throws(OSCError) -> OSCPacket {
        try decode(bytes[...], depth: 0)
    }

    private static func decode(_ bytes: ArraySlice<UInt8>, depth: Int) throws(OSCError) -> OSCPacket {
        guard !bytes.isEmpty else { throw OSCError(kind: .empty, detail: "empty packet") }
        guard bytes.count % 4 == 0 else { throw OSCError(kind: .truncated, detail: "size \(bytes.count) is not a multiple of 4") }
        if bytes.first == UInt8(ascii: "#") {
            var reader = Reader(bytes: bytes)
            let head = try reader.string()
            guard head == "#bundle" else { throw OSCError(kind: .badBundle, detail: "'\(head)' is not '#bundle'") }
            guard depth < maximumDepth else { throw OSCError(kind: .tooDeep, detail: "bundles nested deeper than \(maximumDepth)") }
            let timeTag = try reader.uint64()
            var elements: [OSCPacket] = []
            while !reader.atEnd {
                let size = Int(try reader.uint32())
                guard size > 0, size % 4 == 0, size <= reader.remaining else {
                    throw OSCError(kind: .badBundle, detail: "element size \(size) with \(reader.remaining) bytes left")
                }
                elements.append(try decode(reader.take(size), depth: depth + 1))
            }
            return .bundle(OSCBundle(timeTag: timeTag, elements: elements))
        }
        guard bytes.first == UInt8(ascii: "/") else {
            throw OSCError(kind: .badAddress, detail: "a message's address must start with '/'")
        }
        var reader = Reader(bytes: bytes)
        let address = try reader.string()
        if reader.atEnd { return .message(OSCMessage(address)) }  // OSC 1.0 allows a message without type tags
        let tags = try reader.string()
        guard tags.first == "," else { throw OSCError(kind: .missingTypeTags, detail: "type tags must start with ','") }
        var arguments: [OSCValue] = []
        for tag in tags.dropFirst() {
            switch tag {
            case "i": arguments.append(.int(Int32(bitPattern: try reader.uint32())))
            case "f": arguments.append(.float(Float(bitPattern: try reader.uint32())))
            case "d": arguments.append(.double(Double(bitPattern: try reader.uint64())))
            case "h": arguments.append(.int64(Int64(bitPattern: try reader.uint64())))
            case "t": arguments.append(.timeTag(try reader.uint64()))
            case "s": arguments.append(.string(try reader.string()))
            case "S": arguments.append(.symbol(try reader.string()))
            case "c": arguments.append(.char(try reader.uint32()))
            case "r": arguments.append(.rgba(try reader.uint32()))
            case "m": arguments.append(.midi(try reader.uint32()))
            case "b":
                let size = Int(try reader.uint32())
                guard size <= reader.remaining else { throw OSCError(kind: .truncated, detail: "blob of \(size) bytes with \(reader.remaining) left") }
                arguments.append(.blob(Array(try reader.take((size + 3) / 4 * 4).prefix(size))))
            case "T": arguments.append(.bool(true))
            case "F": arguments.append(.bool(false))
            case "N": arguments.append(.null)
            case "I": arguments.append(.impulse)
            default: throw OSCError(kind: .unknownType, detail: "type tag '\(tag)'")
            }
        }
        guard reader.atEnd else { throw OSCError(kind: .trailingBytes, detail: "\(reader.remaining) bytes after the last argument") }
        return .message(OSCMessage(address, arguments))
    }

    private struct Reader {
        var bytes: ArraySlice<UInt8>
        var atEnd: Bool { bytes.isEmpty }
        var remaining: Int { bytes.count }

        mutating func take(_ count: Int) throws(OSCError) -> ArraySlice<UInt8> {
            guard count <= bytes.count else { throw OSCError(kind: .truncated, detail: "needs \(count) bytes, \(bytes.count) left") }
            let out = bytes.prefix(count)
            bytes = bytes.dropFirst(count)
            return out
        }

        mutating func uint32() throws(OSCError) -> UInt32 {
            try take(4).reduce(0) { $0 << 8 | UInt32($1) }
        }

        mutating func uint64() throws(OSCError) -> UInt64 {
            try take(8).reduce(0) { $0 << 8 | UInt64($1) }
        }

        mutating func string() throws(OSCError) -> String {
            guard let end = bytes.firstIndex(of: 0) else { throw OSCError(kind: .badString, detail: "string without a terminating zero") }
            let length = end - bytes.startIndex
            let padded = (length + 4) / 4 * 4
            guard padded <= bytes.count else { throw OSCError(kind: .truncated, detail: "string padding runs past the end") }
            let raw = bytes.prefix(length)
            guard bytes[end..<(bytes.startIndex + padded)].allSatisfy({ $0 == 0 }) else {
                throw OSCError(kind: .badString, detail: "string padding is not zeros")
            }
            guard let text = String(validating: raw, as: UTF8.self) else { throw OSCError(kind: .badString, detail: "string is not UTF-8") }
            bytes = bytes.dropFirst(padded)
            return text
        }
    }

    // MARK: Time tags

    /// Seconds between 1900 (NTP's epoch) and 1970 (Unix's).
    static let ntpOffset: Double = 2_208_988_800

    /// The wall-clock time of an NTP time tag, or nil for "immediately".
    public static func date(of timeTag: UInt64) -> Date? {
        if timeTag == OSCBundle.immediately { return nil }
        let seconds = Double(timeTag >> 32) + Double(timeTag & 0xFFFF_FFFF) / 4_294_967_296
        return Date(timeIntervalSince1970: seconds - ntpOffset)
    }

    /// The NTP time tag of a wall-clock time.
    public static func timeTag(of date: Date) -> UInt64 {
        let seconds = date.timeIntervalSince1970 + ntpOffset
        let whole = seconds.rounded(.down)
        return UInt64(whole) << 32 | UInt64((seconds - whole) * 4_294_967_296)
    }
}

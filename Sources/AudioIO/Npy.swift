import Foundation

/// NumPy `.npy` files (format 1.0 written; 1.0, 2.0 and 3.0 read).
///
/// Writes little-endian float32 (`'<f4'`) in C order. Reads `'<f4'` and `'<f8'` (float64 is
/// narrowed to `Float`), C order, any rank including 0-d. Every failure is an `NpyError` naming
/// the file with a one-line reason: bad magic, unsupported version or dtype, Fortran order, a
/// malformed header, or truncated data.
public enum Npy {
    private static let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]  // "\x93NUMPY"

    /// Writes `values` as a float32 array of the given `shape` (row-major / C order).
    ///
    /// The file is written atomically (temporary file then rename).
    ///
    /// - Throws: `NpyError` when a dimension is negative, the shape's element count differs from
    ///   `values.count`, or the file cannot be written.
    public static func write(_ values: [Float], shape: [Int], to url: URL) throws {
        let path = url.path
        guard shape.allSatisfy({ $0 >= 0 }) else {
            throw NpyError(path: path, reason: "shape \(shape) has a negative dimension")
        }
        var count = 1
        for dimension in shape {
            let (product, overflow) = count.multipliedReportingOverflow(by: dimension)
            guard !overflow else { throw NpyError(path: path, reason: "shape \(shape) is too large") }
            count = product
        }
        guard count == values.count else {
            throw NpyError(path: path, reason: "shape \(shape) holds \(count) values but \(values.count) were given")
        }

        let shapeText: String =
            switch shape.count {
            case 0: "()"
            case 1: "(\(shape[0]),)"
            default: "(" + shape.map(String.init).joined(separator: ", ") + ")"
            }
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': \(shapeText), }"
        // Pad so the data starts on a 64-byte boundary, as NumPy does; the header ends with "\n".
        let unpadded = magic.count + 2 + 2 + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        guard header.utf8.count <= Int(UInt16.max) else {
            throw NpyError(path: path, reason: "the header is too long for .npy format 1.0")
        }

        var data = Data(capacity: magic.count + 4 + header.utf8.count + 4 * values.count)
        data.append(contentsOf: magic)
        data.append(contentsOf: [1, 0])
        let headerLength = UInt16(header.utf8.count)
        data.append(contentsOf: [UInt8(headerLength & 0xFF), UInt8(headerLength >> 8)])
        data.append(contentsOf: Array(header.utf8))
        var littleEndian = [UInt32]()
        littleEndian.reserveCapacity(values.count)
        for value in values { littleEndian.append(value.bitPattern.littleEndian) }
        littleEndian.withUnsafeBytes { data.append(contentsOf: $0) }
        do {
            try data.write(to: url, options: .atomic)
        } catch {
            throw NpyError(path: path, reason: "cannot write: \(fileErrorReason(error))")
        }
    }

    /// Reads a float32 or float64 array, returning its shape and its values in C order as `Float`.
    ///
    /// - Throws: `NpyError` naming the file when it is missing, not a `.npy` file, uses an
    ///   unsupported version or dtype (anything but `'<f4'`/`'<f8'`), is in Fortran order, has a
    ///   malformed header, or is shorter than its shape says.
    public static func read(_ url: URL) throws -> (shape: [Int], values: [Float]) {
        let path = url.path
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw NpyError(path: path, reason: "cannot read: \(fileErrorReason(error))")
        }
        let bytes = [UInt8](data)
        guard bytes.count >= 10, Array(bytes[0..<6]) == magic else {
            throw NpyError(path: path, reason: "not a .npy file (bad magic)")
        }
        let major = bytes[6], minor = bytes[7]
        let headerStart: Int
        let headerLength: Int
        switch major {
        case 1:
            headerStart = 10
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
        case 2, 3:
            guard bytes.count >= 12 else { throw NpyError(path: path, reason: "truncated header") }
            headerStart = 12
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
        default:
            throw NpyError(path: path, reason: "unsupported .npy version \(major).\(minor)")
        }
        guard bytes.count >= headerStart + headerLength else {
            throw NpyError(path: path, reason: "truncated header: \(headerLength) bytes announced, \(bytes.count - headerStart) present")
        }
        let headerText = String(decoding: bytes[headerStart..<(headerStart + headerLength)], as: UTF8.self)

        let header: [String: NpyHeaderValue]
        do {
            var parser = NpyHeaderParser(headerText)
            header = try parser.parseDictionary()
        } catch let error as NpyHeaderParser.Failure {
            throw NpyError(path: path, reason: "malformed header (\(error.reason)): \(headerText.trimmingCharacters(in: .whitespacesAndNewlines))")
        }

        guard case .string(let descr)? = header["descr"] else {
            throw NpyError(path: path, reason: "the header has no 'descr' string")
        }
        let itemSize: Int
        switch descr {
        case "<f4": itemSize = 4
        case "<f8": itemSize = 8
        default:
            throw NpyError(path: path, reason: "unsupported dtype '\(descr)' (only little-endian float32 '<f4' and float64 '<f8' are read)")
        }
        guard case .bool(let fortranOrder)? = header["fortran_order"] else {
            throw NpyError(path: path, reason: "the header has no 'fortran_order' flag")
        }
        guard !fortranOrder else {
            throw NpyError(path: path, reason: "Fortran-order arrays are not supported (save a C-order array)")
        }
        guard case .tuple(let shape)? = header["shape"], shape.allSatisfy({ $0 >= 0 }) else {
            throw NpyError(path: path, reason: "the header has no valid 'shape' tuple")
        }
        var count = 1
        for dimension in shape {
            let (product, overflow) = count.multipliedReportingOverflow(by: dimension)
            guard !overflow, product <= Int.max / 8 else { throw NpyError(path: path, reason: "shape \(shape) is too large") }
            count = product
        }

        let dataStart = headerStart + headerLength
        let needed = count * itemSize
        let available = bytes.count - dataStart
        guard available >= needed else {
            throw NpyError(path: path, reason: "truncated data: shape \(shape) of '\(descr)' needs \(needed) bytes, the file has \(available)")
        }

        var values = [Float]()
        values.reserveCapacity(count)
        bytes.withUnsafeBytes { raw in
            if itemSize == 4 {
                for i in 0..<count {
                    let bits = raw.loadUnaligned(fromByteOffset: dataStart + 4 * i, as: UInt32.self)
                    values.append(Float(bitPattern: UInt32(littleEndian: bits)))
                }
            } else {
                for i in 0..<count {
                    let bits = raw.loadUnaligned(fromByteOffset: dataStart + 8 * i, as: UInt64.self)
                    values.append(Float(Double(bitPattern: UInt64(littleEndian: bits))))
                }
            }
        }
        return (shape, values)
    }

    /// A short reason for a Foundation file error, without repeating the path.
    private static func fileErrorReason(_ error: Error) -> String {
        let nsError = error as NSError
        if let underlying = nsError.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(underlying.code)))
        }
        if nsError.domain == NSCocoaErrorDomain {
            switch nsError.code {
            case NSFileReadNoSuchFileError, NSFileNoSuchFileError: return "No such file or directory"
            case NSFileReadNoPermissionError, NSFileWriteNoPermissionError: return "Permission denied"
            default: break
            }
        }
        return nsError.localizedDescription
    }
}

/// A value in a `.npy` header dictionary.
enum NpyHeaderValue: Equatable {
    case string(String)
    case bool(Bool)
    case int(Int)
    case tuple([Int])
}

/// Parses the Python dict literal in a `.npy` header, e.g.
/// `{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }`.
struct NpyHeaderParser {
    struct Failure: Error { var reason: String }

    private let chars: [Character]
    private var index = 0

    init(_ text: String) { chars = Array(text) }

    mutating func parseDictionary() throws -> [String: NpyHeaderValue] {
        try expect("{")
        var result: [String: NpyHeaderValue] = [:]
        while true {
            skipSpace()
            if peek() == "}" { index += 1; break }
            guard case .string(let key) = try parseValue() else { throw Failure(reason: "a key is not a string") }
            try expect(":")
            result[key] = try parseValue()
            skipSpace()
            if peek() == "," { index += 1; continue }
            try expect("}")
            break
        }
        return result
    }

    private mutating func parseValue() throws -> NpyHeaderValue {
        skipSpace()
        guard let c = peek() else { throw Failure(reason: "unexpected end") }
        switch c {
        case "'", "\"":
            index += 1
            var text = ""
            while let d = peek(), d != c { text.append(d); index += 1 }
            try expect(c)
            return .string(text)
        case "(", "[":
            index += 1
            let close: Character = c == "(" ? ")" : "]"
            var items: [Int] = []
            while true {
                skipSpace()
                if peek() == close { index += 1; break }
                guard case .int(let n) = try parseValue() else { throw Failure(reason: "a shape entry is not an integer") }
                items.append(n)
                skipSpace()
                if peek() == "," { index += 1; continue }
                try expect(close)
                break
            }
            return .tuple(items)
        default:
            var word = ""
            while let d = peek(), d.isLetter || d.isNumber || d == "-" || d == "_" { word.append(d); index += 1 }
            if word == "True" { return .bool(true) }
            if word == "False" { return .bool(false) }
            // NumPy may write shape entries as Python longs ("3L") in old files.
            if let n = Int(word.hasSuffix("L") ? String(word.dropLast()) : word) { return .int(n) }
            throw Failure(reason: word.isEmpty ? "unexpected '\(c)'" : "unexpected '\(word)'")
        }
    }

    private func peek() -> Character? { index < chars.count ? chars[index] : nil }

    private mutating func skipSpace() {
        while let c = peek(), c.isWhitespace { index += 1 }
    }

    private mutating func expect(_ c: Character) throws {
        skipSpace()
        guard peek() == c else { throw Failure(reason: "expected '\(c)'") }
        index += 1
    }
}

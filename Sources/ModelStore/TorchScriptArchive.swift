#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif

/// Checks that a file is a whole TorchScript archive, without libtorch.
///
/// `torch.jit.save` writes a zip file whose entries all sit under one folder (the archive's
/// name): `NAME/data.pkl`, `NAME/constants.pkl`, `NAME/version`, `NAME/code/...` and the
/// tensors under `NAME/data/`. The check reads the zip's end record and central directory,
/// requires that layout, keeps every entry inside the file, and compares the CRC-32 of every
/// stored (uncompressed) entry with the one the directory records: the tensors and pickles,
/// nearly all of a model's bytes. Deflated entries (the code) are bounds-checked only.
/// A truncated download has no end record; a flipped byte in the weights fails its CRC.
public enum TorchScriptArchive {
    /// What a valid archive holds.
    public struct Summary: Sendable, Equatable {
        /// The folder every entry sits under.
        public var root: String
        public var entries: Int
        /// Entries whose CRC-32 was checked.
        public var checkedEntries: Int
    }

    /// Checks the file at `url`; throws a `ModelStoreError` naming it and the first fault.
    @discardableResult
    public static func check(_ url: URL) throws -> Summary {
        let data: Data
        do {
            data = try Data(contentsOf: url, options: .alwaysMapped)
        } catch {
            throw ModelStoreError("check a model file", url.path, "cannot read it (\(error))")
        }
        do {
            return try data.withUnsafeBytes { try check(bytes: $0) }
        } catch let reason as Fault {
            throw ModelStoreError("check a model file", url.path, "not a whole TorchScript archive: \(reason.text)")
        }
    }

    struct Fault: Error { let text: String }

    struct Entry {
        var name: String
        var method: UInt16
        var crc: UInt32
        var compressedSize: UInt64
        var localHeaderOffset: UInt64
    }

    static func check(bytes: UnsafeRawBufferPointer) throws(Fault) -> Summary {
        let count = bytes.count
        func u16(_ at: Int) -> UInt16 { UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: at, as: UInt16.self)) }
        func u32(_ at: Int) -> UInt32 { UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: at, as: UInt32.self)) }
        func u64(_ at: Int) -> UInt64 { UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: at, as: UInt64.self)) }

        // The end of central directory record: 22 bytes plus a comment of up to 65535.
        guard count >= 22 else { throw Fault(text: "\(count) bytes is too short for a zip file") }
        var end = -1
        var at = count - 22
        while at >= max(0, count - 22 - 65535) {
            if u32(at) == 0x0605_4b50 { end = at; break }
            at -= 1
        }
        guard end >= 0 else { throw Fault(text: "no zip end record (truncated, or not a zip file)") }
        var entryCount = UInt64(u16(end + 10))
        var directorySize = UInt64(u32(end + 12))
        var directoryOffset = UInt64(u32(end + 16))
        // Zip64: the locator sits just before the end record when a field overflowed.
        if end >= 20, u32(end - 20) == 0x0706_4b50 {
            let record = u64(end - 20 + 8)
            guard record + 56 <= UInt64(count), u32(Int(record)) == 0x0606_4b50 else { throw Fault(text: "a broken zip64 end record") }
            entryCount = u64(Int(record) + 32)
            directorySize = u64(Int(record) + 40)
            directoryOffset = u64(Int(record) + 48)
        }
        guard directoryOffset + directorySize <= UInt64(count) else {
            throw Fault(text: "the central directory lies past the end of the file (truncated)")
        }

        var entries: [Entry] = []
        var cursor = Int(directoryOffset)
        let directoryEnd = Int(directoryOffset + directorySize)
        for _ in 0..<entryCount {
            guard cursor + 46 <= directoryEnd, u32(cursor) == 0x0201_4b50 else { throw Fault(text: "a broken central directory entry") }
            let nameLength = Int(u16(cursor + 28)), extraLength = Int(u16(cursor + 30)), commentLength = Int(u16(cursor + 32))
            guard cursor + 46 + nameLength + extraLength + commentLength <= directoryEnd else { throw Fault(text: "a central directory entry runs past its directory") }
            let name = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[(cursor + 46)..<(cursor + 46 + nameLength)]), as: UTF8.self)
            var entry = Entry(name: name, method: u16(cursor + 10), crc: u32(cursor + 16),
                              compressedSize: UInt64(u32(cursor + 20)), localHeaderOffset: UInt64(u32(cursor + 42)))
            // Zip64 extra field (id 1): the 64-bit values of the fields that read 0xFFFFFFFF, in order.
            var extra = cursor + 46 + nameLength
            let extraEnd = extra + extraLength
            while extra + 4 <= extraEnd {
                let id = u16(extra), size = Int(u16(extra + 2))
                if id == 1 {
                    var field = extra + 4
                    if u32(cursor + 24) == 0xFFFF_FFFF, field + 8 <= extra + 4 + size { field += 8 }  // uncompressed size
                    if u32(cursor + 20) == 0xFFFF_FFFF, field + 8 <= extra + 4 + size { entry.compressedSize = u64(field); field += 8 }
                    if u32(cursor + 42) == 0xFFFF_FFFF, field + 8 <= extra + 4 + size { entry.localHeaderOffset = u64(field) }
                }
                extra += 4 + size
            }
            entries.append(entry)
            cursor += 46 + nameLength + extraLength + commentLength
        }

        // TorchScript's layout: one top folder holding data.pkl, constants.pkl, version and code/.
        guard let first = entries.first, let slash = first.name.firstIndex(of: "/") else {
            throw Fault(text: "no entries under a top folder (a zip file, but not a TorchScript model)")
        }
        let root = String(first.name[..<slash])
        let names = Set(entries.map(\.name))
        for required in ["data.pkl", "constants.pkl", "version"] where !names.contains(root + "/" + required) {
            throw Fault(text: "no \(root)/\(required) (a zip file, but not a TorchScript model)")
        }
        guard names.contains(where: { $0.hasPrefix(root + "/code/") }) else {
            throw Fault(text: "no \(root)/code/ (a zip file, but not a TorchScript model)")
        }
        // Newer writers add `.data/version` and `.data/serialization_id` beside the root folder.
        if let stray = entries.first(where: { !$0.name.hasPrefix(root + "/") && !$0.name.hasPrefix(".data/") }) {
            throw Fault(text: "entry '\(stray.name)' outside the archive's folder '\(root)'")
        }

        var checked = 0
        for entry in entries {
            let header = Int(clamping: entry.localHeaderOffset)
            guard header + 30 <= count, u32(header) == 0x0403_4b50 else { throw Fault(text: "entry '\(entry.name)': no local header where the directory says") }
            let start = header + 30 + Int(u16(header + 26)) + Int(u16(header + 28))
            guard UInt64(start) + entry.compressedSize <= UInt64(count) else {
                throw Fault(text: "entry '\(entry.name)' runs past the end of the file (truncated)")
            }
            guard entry.method == 0 else { continue }
            let crc = CRC32.checksum(UnsafeRawBufferPointer(rebasing: bytes[start..<(start + Int(entry.compressedSize))]))
            guard crc == entry.crc else {
                throw Fault(text: "entry '\(entry.name)' is corrupt (CRC-32 \(hex(crc)), the directory says \(hex(entry.crc)))")
            }
            checked += 1
        }
        return Summary(root: root, entries: entries.count, checkedEntries: checked)
    }

    static func hex(_ value: UInt32) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 8 - digits.count) + digits
    }
}

/// CRC-32 (IEEE 802.3, as zip uses), table-driven.
enum CRC32 {
    static let table: [UInt32] = (0..<256).map { n in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        table.withUnsafeBufferPointer { t in
            for byte in bytes { crc = t[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8) }
        }
        return crc ^ 0xFFFF_FFFF
    }
}

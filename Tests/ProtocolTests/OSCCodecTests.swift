import Foundation
import Protocol
import Testing
import TestSupport

@Suite struct OSCCodecTests {
    @Test func messagesRoundTrip() throws {
        let message = OSCMessage("/timbre/set", [.string("drums"), .string("eq"), .int(0), .float(0.5), .double(2.25),
                                                 .int64(-7), .blob([1, 2, 3]), .bool(true), .bool(false), .null, .impulse, .symbol("x")])
        let bytes = OSCCodec.encode(message)
        #expect(bytes.count % 4 == 0)
        #expect(try OSCCodec.decode(bytes) == .message(message))
    }

    /// The bytes of a message as sclang sends it: `NetAddr.sendMsg("/timbre/toggle", "drums", "d.ts")`.
    @Test func decodesKnownBytes() throws {
        let bytes: [UInt8] = Array("/timbre/set\0".utf8) + Array(",sif\0\0\0\0".utf8) + Array("a\0\0\0".utf8)
            + [0, 0, 0, 1] + [0x3F, 0x00, 0x00, 0x00]
        #expect(try OSCCodec.decode(bytes) == .message(OSCMessage("/timbre/set", [.string("a"), .int(1), .float(0.5)])))
    }

    @Test func bundlesNest() throws {
        let inner = OSCBundle(timeTag: OSCCodec.timeTag(of: Date(timeIntervalSince1970: 1_000_000)), elements: [.message(OSCMessage("/b"))])
        let outer = OSCBundle(timeTag: OSCBundle.immediately, elements: [.message(OSCMessage("/a", [.int(1)])), .bundle(inner)])
        #expect(try OSCCodec.decode(OSCCodec.encode(.bundle(outer))) == .bundle(outer))
        let date = try #require(OSCCodec.date(of: inner.timeTag))
        #expect(abs(date.timeIntervalSince1970 - 1_000_000) < 1e-6)
        #expect(OSCCodec.date(of: OSCBundle.immediately) == nil)
    }

    @Test(arguments: [
        ([], OSCError.Kind.empty),
        (Array("/a\0".utf8), .truncated),
        (Array("abc\0".utf8), .badAddress),
        (Array("/a\0\0".utf8) + Array("xi\0\0".utf8), .missingTypeTags),
        (Array("/a\0\0".utf8) + Array(",i\0\0".utf8), .truncated),
        (Array("/a\0\0".utf8) + Array(",q\0\0".utf8), .unknownType),
        (Array("/abc".utf8), .badString),
        (Array("/a\0\0".utf8) + Array(",\0\0\0".utf8) + [0, 0, 0, 1], .trailingBytes),
        (Array("#bundle\0".utf8) + [0, 0, 0, 0, 0, 0, 0, 1] + [0, 0, 0, 64], .badBundle),
        (Array("#bundlf\0".utf8) + [0, 0, 0, 0, 0, 0, 0, 1], .badBundle),
    ] as [([UInt8], OSCError.Kind)])
    func malformedPacketsAreErrorsOfTheirKind(_ bytes: [UInt8], _ kind: OSCError.Kind) {
        #expect { _ = try OSCCodec.decode(bytes) } throws: { ($0 as? OSCError)?.kind == kind }
    }

    @Test func deepBundlesAreRefused() {
        var packet = OSCPacket.message(OSCMessage("/x"))
        for _ in 0..<40 { packet = .bundle(OSCBundle(timeTag: 1, elements: [packet])) }
        #expect { _ = try OSCCodec.decode(OSCCodec.encode(packet)) } throws: { ($0 as? OSCError)?.kind == .tooDeep }
    }

    /// Random bytes never crash the decoder (seeded: `TIMBRE_FUZZ_SEED` replays a run).
    @Test func randomBytesNeverCrash() {
        var generator = FuzzSeed.generator(for: "OSC codec")
        for _ in 0..<20000 {
            let count = Int.random(in: 0...64, using: &generator) * 4
            var bytes = (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
            if !bytes.isEmpty, Bool.random(using: &generator) { bytes[0] = UInt8(ascii: Bool.random(using: &generator) ? "/" : "#") }
            _ = try? OSCCodec.decode(bytes)
        }
    }
}

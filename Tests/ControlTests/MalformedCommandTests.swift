import AudioIO
import Control
import Engine
import Foundation
import Synchronization
import Testing
import TestSupport

/// A malformed command is refused at the protocol edge with one line and changes nothing:
/// an offline render with malformed messages sprinkled in equals, sample for sample, the
/// same render without them.
@Suite(.serialized)
struct MalformedCommandTests {
    static let malformed: [OSCMessage] = [
        OSCMessage("/timbre/set", [.string("a"), .string("gain"), .float(.nan)]),
        OSCMessage("/timbre/set", [.string("a"), .string("gain"), .double(.infinity)]),
        OSCMessage("/timbre/set", [.string("a"), .string("wet"), .float(3)]),
        OSCMessage("/timbre/set", [.string("a"), .string("eq"), .int(0), .string("peak"), .int(0)]),
        OSCMessage("/timbre/set", [.string("a"), .string("eq"), .int(-2), .string("peak"), .int(100)]),
        OSCMessage("/timbre/set", [.string("a"), .string("input"), .string("in3")]),
        OSCMessage("/timbre/set", [.string("a"), .string("gain"), .float(0.1), .float(0.2)]),
        OSCMessage("/timbre/set", [.string("a"), .string("volume"), .int(1)]),
        // A label alone switches a node off: refused when no node has that label.
        OSCMessage("/timbre/toggle", [.string("b")]),
        OSCMessage("/timbre/toggle", [.string("a"), .string("")]),
        OSCMessage("/timbre/toggle", [.string("a"), .string("tiny-deterministic.ts"), .string("block"), .int(0)]),
        OSCMessage("/timbre/free", [.string("a"), .string("b")]),
        OSCMessage("/timbre/dance"),
    ]

    /// Replies collected from the executor.
    final class Replies: Sendable {
        let all = Mutex<[OSCMessage]>([])
    }

    func render(sprinkling messages: [OSCMessage], replies: Replies) throws -> [[Float]] {
        let frames = 20000
        var state: UInt64 = 5
        let input = (0..<frames).map { _ -> Float in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return (Float(state >> 40) / Float(1 << 24) - 0.5) * 0.6
        }
        let configuration = Instrument.Configuration(sampleRate: 44100, period: 512, modelsDirectories: [TestPaths.fixture("models")])
        let send: @Sendable (Instrument) throws -> Void = { instrument in
            let executor = CommandExecutor(instrument: instrument)
            for message in messages { executor.handle(message) { reply in replies.all.withLock { $0.append(reply) } } }
        }
        let result = try OfflineRenderer.render(
            input: AudioBuffer(sampleRate: 44100, channels: [input]), frames: frames, configuration: configuration,
            events: [
                RenderEvent(frame: 0) { instrument in
                    try instrument.createNow(NodeSpec(label: "a", model: "tiny-deterministic.ts"))
                    try send(instrument)
                },
                RenderEvent(frame: 3000) { instrument in
                    try instrument.set("a", .eq(band: 0, .band(kind: .lowpass, frequency: 2000, q: 1, gainDB: 0)))
                    try send(instrument)
                },
                RenderEvent(frame: 9000) { instrument in
                    try send(instrument)
                    try instrument.set("a", .gain(0.5))
                },
            ])
        return result.buses.map { $0.buffer.channels[0] } + [result.master.channels[0]]
    }

    @Test func malformedCommandsChangeNothing() throws {
        let plain = try render(sprinkling: [], replies: Replies())
        let replies = Replies()
        let sprinkled = try render(sprinkling: Self.malformed, replies: replies)
        #expect(plain == sprinkled)
        #expect(plain.allSatisfy { $0.contains { $0 != 0 } })
        let all = replies.all.withLock { $0 }
        #expect(all.count == 3 * Self.malformed.count)
        for reply in all {
            #expect(reply.address == "/timbre/fail", "\(reply)")
            #expect(reply.arguments.count == 2)
            #expect(!reply.arguments.map(\.text).joined().contains("\n"))
        }
    }
}

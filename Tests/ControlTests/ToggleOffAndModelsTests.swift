import Control
import Engine
import Foundation
import Testing
import TestSupport

/// `toggle LABEL` alone and `/timbre/models`, over OSC against a live engine on a dummy jackd.
@Suite(.serialized)
struct ToggleOffAndModelsTests {
    /// What SuperCollider's `NetAddr.sendMsg("/timbre/toggle", \a)` sends: a label alone
    /// switches a playing node off; with no such node it fails in one line and changes nothing.
    @Test func aLabelAloneSwitchesANodeOff() throws {
        let live = try LiveControlTests.Live()
        defer { live.stop() }
        var reply = try live.request("/timbre/toggle", [.string("a"), .string("tiny-deterministic.ts")])
        #expect(reply == OSCMessage("/timbre/done", [.string("/timbre/toggle"), .string("a"), .string("created"), .int(4096)]))
        reply = try live.request("/timbre/toggle", [.string("b"), .string("tiny-deterministic.ts")])
        #expect(reply.address == "/timbre/done")
        // sclang sends a Symbol label as an OSC string.
        reply = try live.request("/timbre/toggle", [.symbol("a")])
        #expect(reply == OSCMessage("/timbre/done", [.string("/timbre/toggle"), .string("a"), .string("freed")]))
        var status = try OSCClient.status(port: live.osc.port).status
        #expect(status.nodes.map(\.label) == ["b"], "only the node switched off is gone")
        reply = try live.request("/timbre/toggle", [.string("a")])
        #expect(reply.address == "/timbre/fail")
        let message = reply.arguments.last?.text ?? ""
        #expect(message.contains("no node 'a' to switch off"), "\(message)")
        #expect(!message.contains("\n"))
        status = try OSCClient.status(port: live.osc.port).status
        #expect(status.nodes.map(\.label) == ["b"], "a failed switch-off changes nothing")
        // The full toggle still creates again under the freed label.
        reply = try live.request("/timbre/toggle", [.string("a"), .string("tiny-deterministic.ts")])
        #expect(reply.address == "/timbre/done")
        #expect(reply.arguments.dropFirst(2).first?.text == "created")
    }

    /// `/timbre/models` answers every `.ts` of the models folder, by the names `toggle` takes.
    @Test func modelsListsTheFilesTheServerMayLoad() throws {
        let live = try LiveControlTests.Live()
        defer { live.stop() }
        let reply = try live.request("/timbre/models", [])
        #expect(reply.address == "/timbre/models")
        let names = reply.arguments.map(\.text)
        let onDisk = try FileManager.default.contentsOfDirectory(atPath: LiveControlTests.models.path).filter { $0.hasSuffix(".ts") }.sorted()
        #expect(!onDisk.isEmpty)
        #expect(names == onDisk)
        // A listed name is the name toggle takes.
        let created = try live.request("/timbre/toggle", [.string("m"), .string(try #require(names.first { $0.hasPrefix("tiny-det") }))])
        #expect(created.address == "/timbre/done", "\(created)")
        let refused = try live.request("/timbre/models", [.string("extra")])
        #expect(refused.address == "/timbre/fail")
    }
}

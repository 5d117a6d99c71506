import AudioIO
@testable import Engine
import Foundation
import Testing
import TestSupport
import Torch

/// Nodes of one model sharing batched calls (lanes): which models can, and that a node in a
/// lane streams exactly as it would alone.
@Suite(.serialized)
struct BatchLaneTests {
    private func support(_ file: URL, _ methods: [(name: String, channels: Int, frames: Int)]) throws -> BatchSupport {
        try ScriptModule(contentsOf: file).batchSupport(methods: methods)
    }

    /// State kept in rows per batch element and updated in place (as RAVE's cached
    /// convolutions keep it) can batch; state replaced on each call cannot; no state batches freely.
    @Test func theProbeReadsHowAModelKeepsItsState() throws {
        let batched = try support(Signals.models.appendingPathComponent("tiny-batched.ts"), [("forward", 1, 512)])
        #expect(batched == .rows(64, state: ["dec_cache", "enc_cache"]))
        let encodeDecode = try support(Signals.models.appendingPathComponent("tiny-batched.ts"), [("encode", 1, 512), ("decode", 4, 2)])
        #expect(encodeDecode == .rows(64, state: ["dec_cache", "enc_cache"]))
        guard case .unsupported(let reason) = try support(Signals.models.appendingPathComponent("tiny-deterministic.ts"), [("forward", 1, 512)]) else {
            Issue.record("a model that replaces its state buffers must not batch")
            return
        }
        #expect(reason.contains("replace") && reason.contains("cache"), "\(reason)")
        #expect(try support(Signals.models.appendingPathComponent("plain.ts"), [("forward", 1, 512)]) == .stateless)
    }

    /// The real RAVE export (../shared): its cached convolutions hold 64 rows.
    @Test(.needsSharedModels)
    func aRealRAVEExportBatches() throws {
        let dir = TestPaths.sharedModels
        let model = dir.appendingPathComponent("drums-v2small-causal.ts")
        let forward = try support(model, [("forward", 1, 512)])
        guard case .rows(64, let forwardState) = forward else {
            Issue.record("\(forward)")
            return
        }
        let encodeDecode = try support(model, [("encode", 1, 512), ("decode", 8, 1)])
        guard case .rows(64, let encodeDecodeState) = encodeDecode else {
            Issue.record("\(encodeDecode)")
            return
        }
        // forward runs the encoder and the decoder: the same caches as encode then decode.
        #expect(Set(forwardState) == Set(encodeDecodeState) && forwardState.count > 20, "\(forwardState.count) state buffers")
        #expect(forwardState.allSatisfy { $0.hasSuffix("pad") || $0.contains("cache") || $0.contains("delay") }, "\(forwardState)")
    }

    /// A state row saved after a call and loaded into another row carries the stream on
    /// there: two streams alternating through one instance's row 0 equal two instances.
    @Test func stateRowsMoveStreams() throws {
        let file = Signals.models.appendingPathComponent("tiny-batched.ts")
        let shared = try NNModel(contentsOf: file), a = try NNModel(contentsOf: file), b = try NNModel(contentsOf: file)
        let state = try BatchState(module: shared.module, rows: 64, buffers: ["enc_cache", "dec_cache"])
        #expect(state.rowFloats == 2 * 256)  // encoder and decoder caches, one channel of 256 each
        var rows = [[Float]](repeating: [Float](repeating: 0, count: state.rowFloats), count: 2)
        let f = try shared.module.method("forward"), fa = try a.module.method("forward"), fb = try b.module.method("forward")
        var out = [Float](repeating: 0, count: 512), expected = out
        var worst: Float = 0
        for block in 0..<6 {
            for (stream, alone) in [(0, fa), (1, fb)] {
                let input = Signals.noise(frames: 512, seed: UInt64(10 * block + stream + 1))
                rows[stream].withUnsafeBufferPointer { state.load(row: 0, from: $0.baseAddress!) }
                try input.withUnsafeBufferPointer { i in
                    try out.withUnsafeMutableBufferPointer { o in _ = try f(i, batch: 1, channels: 1, frames: 512, into: o) }
                    try expected.withUnsafeMutableBufferPointer { o in _ = try alone(i, batch: 1, channels: 1, frames: 512, into: o) }
                }
                rows[stream].withUnsafeMutableBufferPointer { state.save(row: 0, into: $0.baseAddress!) }
                worst = max(worst, zip(out, expected).map { abs($0 - $1) }.max()!)
            }
        }
        #expect(worst < 1e-6, "largest difference \(worst)")
        #expect(rows[0] != rows[1])
    }

    /// The live engine with lanes, driven cycle by cycle from this thread (waiting for the
    /// workers after each cycle, so nothing is late): three `forward` nodes and one `encode`
    /// node of the batchable model, one freed and created again half-way, give the samples the
    /// offline render (no lanes, one instance per node) gives, and their calls were batched.
    @Test func nodesInLanesStreamAsIfAlone() throws {
        let period = 512, frames = 512 * 172
        let input = Signals.noise(frames: frames, seed: 4)
        let specs = [NodeSpec(label: "a", model: "tiny-batched.ts", block: 512),
                     NodeSpec(label: "b", model: "tiny-batched.ts", block: 512),
                     NodeSpec(label: "c", model: "tiny-batched.ts", block: 512),
                     NodeSpec(label: "e", model: "tiny-batched.ts", method: .encode, block: 512)]
        let freeAt = 40 * period, againAt = 80 * period
        var events = specs.map { spec in RenderEvent(frame: 0) { try $0.createNow(spec) } }
        events.append(RenderEvent(frame: freeAt) { try $0.free("b") })
        events.append(RenderEvent(frame: againAt) { try $0.createNow(specs[1]) })
        let offline = try OfflineRenderer.render(input: AudioBuffer(sampleRate: 44100, channels: [input]), frames: frames,
                                                 configuration: Signals.configuration(), events: events)

        var sawLane: LaneStatus?
        let (buses, status) = try runLive(input: input, frames: frames, events: events) { instrument, position in
            if position == 30 * 512 { sawLane = instrument.status().nodes.first { $0.label == "a" }?.lane }
        }
        #expect(status.nodes.allSatisfy { $0.dropouts == 0 }, "\(status.nodes.map { ($0.label, $0.dropouts) })")
        #expect(status.nodes.allSatisfy { $0.errors == 0 }, "\(status.nodes.compactMap(\.lastError))")
        let lane = try #require(sawLane, "node a ran alone")
        #expect(lane.members >= 2 && lane.averageBatch > 1, "lane \(lane)")
        #expect(status.nodes.first { $0.label == "e" }?.lane != nil)

        for label in ["a", "b", "c", "e"] {
            let live = try #require(buses[label]), reference = try #require(offline.buses.first { $0.label == label }?.buffer.channels[0])
            let worst = zip(live, reference).map { abs($0 - $1) }.max()!
            let energy = reference.map { $0 * $0 }.reduce(0, +)
            #expect(energy > 10, "\(label) is silent")
            #expect(worst < 1e-4, "\(label): largest difference \(worst) against the offline render")
        }
    }

    /// Drives a live instrument (two workers, lanes on) cycle by cycle from this thread,
    /// waiting for the workers after each cycle so nothing is late; returns each label's
    /// left bus and the final status. `each` runs after every cycle.
    private func runLive(input: [Float], frames: Int, events: [RenderEvent],
                         each: (Instrument, Int) -> Void = { _, _ in }) throws -> ([String: [Float]], EngineStatus) {
        let period = 512
        var configuration = Signals.configuration()
        configuration.workers = 2
        let instrument = Instrument(configuration: configuration)
        defer { instrument.stop() }
        var buses: [String: [Float]] = [:]
        var masterLeft = [Float](repeating: 0, count: period), masterRight = masterLeft
        for position in stride(from: 0, to: frames, by: period) {
            for event in events where event.frame == position { try event.apply(instrument) }
            input.withUnsafeBufferPointer { x in
                instrument.kernel.process(frames: period, left: x.baseAddress! + position, right: x.baseAddress! + position,
                                          masterLeft: &masterLeft, masterRight: &masterRight)
            }
            var nodes: [Node] = []
            instrument.kernel.forEachNode { node in
                nodes.append(node)
                if buses[node.label] == nil { buses[node.label] = [Float](repeating: 0, count: frames) }
                for i in 0..<period { buses[node.label]![position + i] += node.bus[i] }
            }
            #expect(waitUntil(10) { nodes.allSatisfy { !$0.hasPendingBlock } })
            each(instrument, position)
            instrument.collectRetired()
        }
        return (buses, instrument.status())
    }

    /// A seeded node in a lane runs its blocks alone, seeded as it would be outside a lane,
    /// so a model that draws noise repeats when every node that draws noise has a seed (the
    /// engine's rule, docs/ENGINE.md "Seeds"): live with lanes equals the offline render.
    @Test func seededNodesInLanesRepeat() throws {
        let frames = 512 * 120
        let input = Signals.noise(frames: frames, seed: 6)
        let specs = [NodeSpec(label: "s1", model: "tiny-batched-noisy.ts", block: 512, seed: 7),
                     NodeSpec(label: "s2", model: "tiny-batched-noisy.ts", block: 512, seed: 8),
                     NodeSpec(label: "s3", model: "tiny-batched-noisy.ts", block: 512, seed: 9)]
        let events = specs.map { spec in RenderEvent(frame: 0) { try $0.createNow(spec) } }
        let offline = try OfflineRenderer.render(input: AudioBuffer(sampleRate: 44100, channels: [input]), frames: frames,
                                                 configuration: Signals.configuration(), events: events)
        let (buses, status) = try runLive(input: input, frames: frames, events: events)
        #expect(status.nodes.first { $0.label == "s3" }?.lane?.members == 2, "s3 joins s1's lane")
        #expect(status.nodes.allSatisfy { $0.lane?.averageBatch == 1 }, "seeded nodes run alone in their lanes")
        for label in ["s1", "s2", "s3"] {
            let live = try #require(buses[label]), reference = try #require(offline.buses.first { $0.label == label }?.buffer.channels[0])
            let worst = zip(live, reference).map { abs($0 - $1) }.max()!
            #expect(worst < 1e-4, "\(label): largest difference \(worst)")
        }
        #expect(buses["s1"] != buses["s3"], "different seeds, different noise")
    }

    /// A model file changed on disk is loaded again (the library checks its modification
    /// time); its new nodes must not join lanes running the old weights.
    @Test func aModelChangedOnDiskGetsLanesOfItsOwn() throws {
        let dir = TemporaryDirectory()
        let file = dir.file("m.ts")
        try FileManager.default.copyItem(at: Signals.models.appendingPathComponent("tiny-batched.ts"), to: file)
        var configuration = Instrument.Configuration(sampleRate: 44100, period: 512, modelsDirectories: [dir.url])
        configuration.workers = 1  // one lane per model, method and block
        let instrument = Instrument(configuration: configuration)
        defer { instrument.stop() }
        func members(_ label: String) -> Int? { instrument.status().nodes.first { $0.label == label }?.lane?.members }
        try instrument.createNow(NodeSpec(label: "a", model: "m.ts", block: 512))
        try instrument.createNow(NodeSpec(label: "b", model: "m.ts", block: 512))
        #expect(members("a") == 2 && members("b") == 2)
        try FileManager.default.setAttributes([.modificationDate: Date().addingTimeInterval(60)], ofItemAtPath: file.path)
        try instrument.createNow(NodeSpec(label: "c", model: "m.ts", block: 512))
        #expect(members("c") == 1, "the reloaded model's node has a lane of its own")
        #expect(members("a") == 2)
    }
}

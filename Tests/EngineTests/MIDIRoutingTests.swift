@testable import Engine
import Foundation
import Synchronization
import Testing
import TestSupport

/// MIDI routing in the kernel, offline: the same `Kernel.process` the JACK driver calls, fed
/// MIDI events at chosen frames, so where each one lands can be checked to the sample.
@Suite struct MIDIRoutingTests {
    static var models: URL { TestPaths.fixture("models") }
    static let period = 512

    /// An offline instrument at 44.1 kHz (blocks run as soon as they are complete).
    static func instrument() -> Instrument {
        var configuration = Instrument.Configuration(sampleRate: 44100, period: period, modelsDirectories: [models])
        configuration.offline = true
        return Instrument(configuration: configuration)
    }

    /// Runs the kernel for `frames` samples of `input` (or silence) with MIDI events at absolute
    /// frames, and returns the master's left channel.
    static func render(_ instrument: Instrument, frames: Int, input: [Float]? = nil, events: [(frame: Int, bytes: (UInt8, UInt8, UInt8))]) -> [Float] {
        var out = [Float](repeating: 0, count: frames)
        var left = [Float](repeating: 0, count: period), right = left
        var cycle = [MIDIEvent](repeating: MIDIEvent(frame: 0, status: 0, data1: 0, data2: 0), count: 64)
        let sorted = events.sorted { $0.frame < $1.frame }
        var next = 0
        var position = 0
        while position < frames {
            let n = min(period, frames - position)
            var count = 0
            while next < sorted.count, sorted[next].frame < position + n {
                let (status, data1, data2) = sorted[next].bytes
                cycle[count] = MIDIEvent(frame: Int32(sorted[next].frame - position), status: status, data1: data1, data2: data2)
                count += 1
                next += 1
            }
            let inputSlice = input.map { Array($0[position..<(position + n)]) }
            cycle.withUnsafeBufferPointer { midi in
                left.withUnsafeMutableBufferPointer { l in
                    right.withUnsafeMutableBufferPointer { r in
                        if let inputSlice {
                            inputSlice.withUnsafeBufferPointer { x in
                                instrument.kernel.process(frames: n, left: x.baseAddress, right: x.baseAddress, masterLeft: l.baseAddress!,
                                                          masterRight: r.baseAddress!, midi: UnsafeBufferPointer(rebasing: midi[0..<count]))
                            }
                        } else {
                            instrument.kernel.process(frames: n, left: nil, right: nil, masterLeft: l.baseAddress!,
                                                      masterRight: r.baseAddress!, midi: UnsafeBufferPointer(rebasing: midi[0..<count]))
                        }
                    }
                }
            }
            for i in 0..<n { out[position + i] = left[i] }
            position += n
        }
        return out
    }

    /// Onsets: the first sample above 1e-4 after at least 512 silent ones.
    static func onsets(_ y: [Float]) -> [Int] {
        var found: [Int] = []
        var quiet = 512
        for (t, v) in y.enumerated() {
            if abs(v) > 1e-4 {
                if quiet >= 512 { found.append(t) }
                quiet = 0
            } else {
                quiet += 1
            }
        }
        return found
    }

    /// A mapped note-on starts the drum fixture's one-shot on the first latent frame (256
    /// samples) at or after its frame: heard at exactly that frame plus the node's latency (the
    /// fixture's one-shot is a sine, 0 on its first sample). Frames on, just after and just
    /// before a latent frame's start, and at a cycle's last sample; unmapped notes start nothing.
    @Test func notesStartOnTheirLatentFrame() throws {
        let instrument = Self.instrument()
        try instrument.createNow(NodeSpec(label: "drum", model: "tiny-drum.ts", method: .decode))
        try instrument.midiMap(MIDIMapping(label: "drum", binding: .trigger(.number(36), latents: [0, 0.9, 0, 0])))
        let latency = try #require(instrument.latency(of: "drum"))
        let ratio = 256
        let frames = [8192, 11_265, 14_591, 17_919, 21_000, 24_575, 27_904, 30_977]
        var events = frames.map { (frame: $0, bytes: (UInt8(0x90), UInt8(36), UInt8(100))) }
        events += [(frame: 9700, bytes: (0x90, 37, 100)), (frame: 19_500, bytes: (0x99, 40, 127))]
        let y = Self.render(instrument, frames: 40_000, events: events)
        let expected = frames.map { latency + ($0 + ratio - 1) / ratio * ratio + 1 }
        #expect(Self.onsets(y) == expected, "latency \(latency)")
    }

    /// A controller on a drum node's latent takes effect on the latent frame at or after its
    /// frame: a note on the frame before plays the old latent (0: silence), a note on the same
    /// frame the new one. A controller on a gain changes the output from its own sample on.
    @Test func controllersActAtTheirFrame() throws {
        let drum = Self.instrument()
        try drum.createNow(NodeSpec(label: "drum", model: "tiny-drum.ts", method: .decode))
        try drum.midiMap(MIDIMapping(label: "drum", binding: .control(.latent(1), cc: 20, channel: nil, low: 0, high: 1, curve: .lin)))
        try drum.midiMap(MIDIMapping(label: "drum", binding: .trigger(.any, latents: nil)))
        let latency = try #require(drum.latency(of: "drum"))
        // The controller at 10 000 acts from latent frame 40 (10 240); notes at 9 700 (frame 38) and 10 100 (frame 40).
        let y = Self.render(drum, frames: 20_000, events: [(frame: 9_700, bytes: (0x90, 36, 100)), (frame: 10_000, bytes: (0xB0, 20, 127)),
                                                           (frame: 10_100, bytes: (0x90, 36, 100))])
        #expect(Self.onsets(y) == [latency + 10_240 + 1], "only the note on the controller's frame is heard")

        let noise = Drums.noise(20_000, seed: 9).map { $0 * 0.25 }
        func forward(_ events: [(frame: Int, bytes: (UInt8, UInt8, UInt8))]) throws -> [Float] {
            let instrument = Self.instrument()
            try instrument.createNow(NodeSpec(label: "n", model: "tiny-deterministic.ts"))
            try instrument.midiMap(MIDIMapping(label: "n", binding: .control(.gain, cc: 7, channel: 2, low: 0, high: 1, curve: .lin)))
            return Self.render(instrument, frames: 20_000, input: noise, events: events)
        }
        let plain = try forward([])
        let moved = try forward([(frame: 12_345, bytes: (0xB1, 7, 0))])
        let otherChannel = try forward([(frame: 12_345, bytes: (0xB0, 7, 0))])
        #expect(plain == otherChannel, "a controller on another channel changes nothing")
        #expect(Array(plain[..<12_345]) == Array(moved[..<12_345]))
        #expect(plain[12_345] != moved[12_345])
        #expect(Self.peak(plain[17_000...]) > 1e-3 && Self.peak(moved[17_000...]) < Self.peak(plain[17_000...]) * 1e-3)
    }

    static func peak(_ x: ArraySlice<Float>) -> Float { x.reduce(0) { max($0, abs($1)) } }

    /// A swap keeps the label's mappings: once the swap is in the graph the routes name the new
    /// node's id (the old node, retired, would take no note), and a mapped note starts the new
    /// model's hit on its latent frame plus the latency.
    @Test func mappingsFollowASwap() throws {
        let instrument = Self.instrument()
        try instrument.createNow(NodeSpec(label: "drum", model: "tiny-drum.ts", method: .decode))
        try instrument.midiMap(MIDIMapping(label: "drum", binding: .trigger(.number(36), latents: [0, 0.9, 0, 0])))
        let oldID = try instrument.runningNode("drum").id
        let answer = Mutex<String?>(nil)
        instrument.swap("drum", model: "tiny-drum.ts", fadeSeconds: 0) { result in
            answer.withLock { $0 = (try? result.get()).map { "swapped \($0.label)" } ?? "failed: \(result)" }
        }
        let newID = try instrument.runningNode("drum").id
        #expect(newID != oldID)
        // The swap and the new routing reach the kernel at its next cycle.
        let before = Self.render(instrument, frames: 8192, events: [])
        instrument.collectRetired()
        #expect(answer.withLock { $0 } == "swapped drum")
        #expect(Self.onsets(before).isEmpty)
        let routing = Unmanaged<MIDIRouting>.fromOpaque(try #require(instrument.kernel.routing)).takeUnretainedValue()
        #expect(routing.count == 1 && routing.routes[0].nodeID == newID)
        let latency = try #require(instrument.latency(of: "drum"))
        // The node's clock went on for 8192 samples: the note at 10 000 is absolute 18 192, latent frame 72 (18 432).
        let y = Self.render(instrument, frames: 20_000, events: [(frame: 10_000, bytes: (0x90, 36, 100))])
        #expect(Self.onsets(y) == [latency + 18_432 - 8192 + 1], "latency \(latency)")
    }
    /// A controller that reaches a node just before a swap hands it over, while the old node's
    /// worker has not yet held it (its block is incomplete), still ends up on the new model: the
    /// old node passes the targets it holds after the hand-over on to the new one. Audible on the
    /// drum fixture, silent at latent 0: after the swap a mapped note is heard only if the
    /// controller's latent reached the new node; without the controller it is not (the control).
    @Test func aControllerDuringTheHandOverReachesTheNewModel() throws {
        func run(controller: Bool) throws -> (old: (latent: Float, noise: Float), new: (latent: Float, noise: Float), onsets: [Int], latency: Int) {
            let instrument = Self.instrument()
            try instrument.createNow(NodeSpec(label: "x", model: "tiny-drum.ts", method: .decode))
            try instrument.midiMap(MIDIMapping(label: "x", binding: .control(.latent(1), cc: 20, channel: nil, low: 0, high: 0.9, curve: .lin)))
            try instrument.midiMap(MIDIMapping(label: "x", binding: .control(.noise, cc: 21, channel: nil, low: 0, high: 0.5, curve: .lin)))
            try instrument.midiMap(MIDIMapping(label: "x", binding: .trigger(.number(36), latents: nil)))
            let old = try instrument.runningNode("x")
            // The controllers at 8 292, inside the block [8192, 10 240) that is not complete at 8 492.
            let events: [(frame: Int, bytes: (UInt8, UInt8, UInt8))] = controller ? [(frame: 8292, bytes: (0xB0, 20, 127)), (frame: 8300, bytes: (0xB0, 21, 127))] : []
            _ = Self.render(instrument, frames: 8492, events: events)
            #expect(old.latentValues[1] == 0 && old.latentNoise[0] == 0, "the controllers wait in the old node's queue at the swap")
            let answer = Mutex<String?>(nil)
            instrument.swap("x", model: "tiny-drum.ts", fadeSeconds: 0.05) { result in
                answer.withLock { $0 = (try? result.get()).map { "swapped \($0.label)" } ?? "failed: \(result)" }
            }
            let new = try instrument.runningNode("x")
            #expect(new !== old)
            _ = Self.render(instrument, frames: 12_000, events: [])
            instrument.collectRetired()
            #expect(answer.withLock { $0 } == "swapped x")
            // A note on the new model, whose clock started at the swap (8 492): it is at 12 000.
            let y = Self.render(instrument, frames: 20_000, events: [(frame: 5000, bytes: (0x90, 36, 100))])
            return ((old.latentValues[1], old.latentNoise[0]), (new.latentValues[1], new.latentNoise[0]), Self.onsets(y), new.latency)
        }
        let moved = try run(controller: true)
        let still = try run(controller: false)
        print("controllers during a swap's hand-over: old node latent 1 \(moved.old.latent), noise \(moved.old.noise); new node latent 1 \(moved.new.latent), noise \(moved.new.noise); onsets after the swap \(moved.onsets) (latency \(moved.latency)); without the controllers \(still.onsets)")
        #expect(moved.old.latent == 0.9 && moved.old.noise == 0.5, "the old node held them at its block's end")
        #expect(moved.new.latent == 0.9 && moved.new.noise == 0.5, "and so does the new node")
        // The note at the new node's 17 000 starts on its latent frame 67 (17 152).
        #expect(moved.onsets == [moved.latency + 17_152 - 12_000 + 1])
        #expect(still.onsets.isEmpty && still.new.latent == 0, "without the controller the new node stays at latent 0, silent")
    }
    /// A controller whose block the old node never computes (the swap's new node has a shorter
    /// latency, so the old one fades out first) reaches the new node when the old one is
    /// released; a later controller or set the new node took itself is not overwritten by it. Old node
    /// tiny-v1.ts at block 8576 (not a multiple of tiny-drum.ts's minimum block 256: the new
    /// node takes the default 2048, latency 4096), controller at 100, swap with no fade at 300.
    @Test func controllersTheOldNodeNeverTookGoToTheNewOne() throws {
        enum Later { case nothing, controller, set }
        func run(later: Later) throws -> (old: Float, new: Float, reply: String?) {
            let instrument = Self.instrument()
            try instrument.createNow(NodeSpec(label: "x", model: "tiny-v1.ts", method: .decode, block: 8576))
            try instrument.midiMap(MIDIMapping(label: "x", binding: .control(.latent(1), cc: 20, channel: nil, low: 0, high: 1, curve: .lin)))
            let old = try instrument.runningNode("x")
            _ = Self.render(instrument, frames: 300, events: [(frame: 100, bytes: (0xB0, 20, 127))])
            let answer = Mutex<String?>(nil)
            instrument.swap("x", model: "tiny-drum.ts", fadeSeconds: 0) { result in
                answer.withLock { $0 = (try? result.get()).map { "swapped \($0.label), dropped \($0.dropped ?? "nothing")" } ?? "failed: \(result)" }
            }
            let new = try instrument.runningNode("x")
            // The later controller at the new node's 500: it holds it at its first block's end (2048).
            _ = Self.render(instrument, frames: 12_000, events: later == .controller ? [(frame: 500, bytes: (0xB0, 20, 64))] : [])
            // A set on the new node before the janitor releases the old one.
            if later == .set { try instrument.set("x", .latent(1, 0.25)) }
            instrument.collectRetired()
            return (old.latentValues[1], new.latentValues[1], answer.withLock { $0 })
        }
        let alone = try run(later: .nothing)
        let overtaken = try run(later: .controller)
        let set = try run(later: .set)
        print("a controller the old node never computed: old node latent 1 \(alone.old), new node \(alone.new) (\(alone.reply ?? "no reply")); with a later controller on the new node: new node \(overtaken.new); with a later set: \(set.new)")
        #expect(alone.reply?.hasPrefix("swapped x") == true && alone.reply?.contains("block 8576") == true, "\(alone.reply ?? "")")
        #expect(alone.old == 0, "the old node faded out before computing the controller's block")
        #expect(alone.new == 1, "the controller reached the new node")
        #expect(overtaken.new == Float(64) / 127, "the new node's own later controller wins")
        #expect(set.new == 0.25, "and so does a later set")
    }
}

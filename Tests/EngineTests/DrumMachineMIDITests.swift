@testable import Engine
import Foundation
import Testing
import TestSupport

/// MIDI notes on a drum export of trigger contract 2 (the fixture tiny-kit.ts: velocity
/// channels kick and hat, a 110 Hz or 3520 Hz one-shot of 1024 samples, linear in velocity),
/// through the kernel offline as `MIDIRoutingTests` does: the velocity is the gain, the
/// mapping's class picks the channel, and notes of two classes on one latent frame both sound.
@Suite struct DrumMachineMIDITests {
    typealias Event = (frame: Int, bytes: (UInt8, UInt8, UInt8))

    /// A drum2 node with note 36 → kick and 42 → hat (and 38 → the first class, no class named).
    static func render(_ events: [Event], frames: Int = 40_000) throws -> [Float] {
        let instrument = MIDIRoutingTests.instrument()
        try instrument.createNow(NodeSpec(label: "drum", model: "tiny-kit.ts", method: .decode))
        try instrument.midiMap(MIDIMapping(label: "drum", binding: .trigger(.number(36), latents: nil, className: "kick")))
        try instrument.midiMap(MIDIMapping(label: "drum", binding: .trigger(.number(42), latents: nil, className: "hat")))
        try instrument.midiMap(MIDIMapping(label: "drum", binding: .trigger(.number(38), latents: nil)))
        return MIDIRoutingTests.render(instrument, frames: frames, events: events)
    }

    static func note(_ frame: Int, _ number: UInt8, _ velocity: UInt8) -> Event { (frame, (0x90, number, velocity)) }

    static func maxDifference(_ a: [Float], _ b: [Float]) -> Float { zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1)) } }
    static func peak(_ x: [Float]) -> Float { x.reduce(0) { max($0, abs($1)) } }
    /// Sign changes: a 1024-sample kick (110 Hz) has about 5, a hat (3520 Hz) about 160.
    static func crossings(_ x: [Float]) -> Int {
        let loud = x.filter { abs($0) > 1e-6 }
        return zip(loud, loud.dropFirst()).filter { ($0 < 0) != ($1 < 0) }.count
    }

    @Test func velocityIsGainAndClassesShareAFrame() throws {
        let kick = try Self.render([Self.note(20_000, 36, 127)])
        let hat = try Self.render([Self.note(20_000, 42, 127)])
        let both = try Self.render([Self.note(20_000, 36, 127), Self.note(20_100, 42, 127)])
        let soft = try Self.render([Self.note(20_000, 42, 32)])
        let unnamed = try Self.render([Self.note(20_000, 38, 127)])
        #expect(Self.peak(kick) > 0.1 && Self.peak(hat) > 0.1)
        #expect(Self.crossings(kick) < 20 && Self.crossings(hat) > 100, "kick \(Self.crossings(kick)), hat \(Self.crossings(hat)) sign changes")
        // Notes 100 samples apart land on one latent frame (256 samples): both classes play there.
        let sum = zip(kick, hat).map { $0 + $1 }
        #expect(Self.maxDifference(both, sum) < 1e-5, "kick and hat on one frame differ from each alone by \(Self.maxDifference(both, sum))")
        // Velocity 32 is a gain of 32/127 (silent below 64 under trigger contract 1).
        let scaled = hat.map { $0 * 32 / 127 }
        #expect(Self.peak(soft) > 0.02)
        #expect(Self.maxDifference(soft, scaled) < 1e-5, "velocity 32 differs from 32/127 of velocity 127 by \(Self.maxDifference(soft, scaled))")
        // A mapping without a class plays the first class.
        #expect(unnamed == kick)
    }

    /// Hits of one class on consecutive latent frames are two hits (contract 1's rising edge
    /// would hear one).
    @Test func consecutiveFramesAreTwoHits() throws {
        let first = try Self.render([Self.note(20_000, 36, 100)])
        let second = try Self.render([Self.note(20_256, 36, 100)])
        let both = try Self.render([Self.note(20_000, 36, 100), Self.note(20_256, 36, 100)])
        let sum = zip(first, second).map { $0 + $1 }
        #expect(Self.peak(second) > 0.1)
        #expect(Self.maxDifference(both, sum) < 1e-5)
    }

    /// A class the model does not have, or a class on a contract-1 drum export, is refused with its reason.
    @Test func unknownClassesAreRefused() throws {
        let instrument = MIDIRoutingTests.instrument()
        try instrument.createNow(NodeSpec(label: "drum", model: "tiny-kit.ts", method: .decode))
        try instrument.createNow(NodeSpec(label: "old", model: "tiny-drum.ts", method: .decode))
        #expect(throws: EngineError.self) {
            try instrument.midiMap(MIDIMapping(label: "drum", binding: .trigger(.number(36), latents: nil, className: "snare")))
        }
        do {
            try instrument.midiMap(MIDIMapping(label: "drum", binding: .trigger(.number(36), latents: nil, className: "snare")))
        } catch {
            #expect("\(error)".contains("no class 'snare' (its classes: kick, hat)"), "\(error)")
        }
        do {
            try instrument.midiMap(MIDIMapping(label: "old", binding: .trigger(.number(36), latents: nil, className: "kick")))
            Issue.record("a class on a contract-1 export was accepted")
        } catch {
            #expect("\(error)".contains("trigger contract 2"), "\(error)")
        }
    }
}

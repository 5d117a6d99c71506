import Foundation
import Testing
import TestSupport

/// The step sequencer on a drum export of trigger contract 2 (the fixture tiny-kit.ts:
/// velocity channels kick and hat, then two latents; a 1024-sample 110 Hz or 3520 Hz one-shot,
/// linear in velocity), rendered offline through `timbre render`'s code: each step's
/// `trigger VELOCITY class NAME` plays that class at that gain.
@Suite(.serialized)
struct DrumMachineSequencerTests {
    /// Steps 0, 2, 4, 6 of an 8-step pattern at 120 bpm (5512.5 samples a step).
    static let pattern = """
        toggle drum tiny-kit.ts decode block 512
        seq drum steps 8 bpm 120
        seq/step drum 0 latents 0.9 0.9 0 0 trigger 1 class kick
        seq/step drum 2 latents 0 0 0 0 trigger 0.25 class kick
        seq/step drum 4 latents 0 0 0 0 trigger 0.5 class hat
        seq/step drum 6 latents 0 0 0 0 trigger class hat
        @0.2 seq/play drum

        """

    /// Sign changes among the audible samples.
    static func crossings(_ x: ArraySlice<Float>) -> Int {
        let loud = x.filter { abs($0) > 1e-6 }
        return zip(loud, loud.dropFirst()).filter { ($0 < 0) != ($1 < 0) }.count
    }

    @Test func stepsPlayTheirClassAtTheirVelocity() throws {
        let rendered = try SequencerTests.render(Self.pattern, seconds: 2)
        // The left channel's first second: one pass of the pattern (it loops every second).
        let drum = Array(try #require(rendered.buses["drum"])[0..<44_100])
        // One hit per triggered step: the values a step sets on the velocity channels
        // (0.9 on step 0) start nothing of their own.
        let onsets = SequencerTests.onsets(drum, threshold: 1e-4, gap: 1500)
        try #require(onsets.count == 4, "onsets \(onsets)")
        let windows = onsets.map { drum[$0..<min(drum.count, $0 + 1100)] }
        let peaks = windows.map { $0.reduce(Float(0)) { max($0, abs($1)) } }
        let kinds = windows.map(Self.crossings)
        print("drum machine sequence: onsets \(onsets), peaks \(peaks), sign changes \(kinds)")
        #expect(kinds[0] < 20 && kinds[1] < 20, "steps 0 and 2 should be kicks: \(kinds)")
        #expect(kinds[2] > 100 && kinds[3] > 100, "steps 4 and 6 should be hats: \(kinds)")
        #expect(abs(peaks[1] / peaks[0] - 0.25) < 2e-3, "velocity 0.25 against 1: \(peaks[1] / peaks[0])")
        #expect(abs(peaks[2] / peaks[3] - 0.5) < 2e-3, "velocity 0.5 against 1: \(peaks[2] / peaks[3])")
        // Steps are 5512.5 samples apart (each hit on the latent frame its step starts in).
        for (a, b) in zip(onsets, onsets.dropFirst()) { #expect(abs(b - a - 11_025) <= 256, "onsets \(onsets)") }
    }

    /// A step's class must be one of the node's classes; contract-1 exports take no class.
    @Test func unknownClassesAreRefused() throws {
        for (model, expected) in [("tiny-kit.ts", "no class 'snare' (its classes: kick, hat)"), ("tiny-drum.ts", "trigger contract 2")] {
            let session = """
                toggle drum \(model) decode block 512
                seq drum steps 8 bpm 120
                seq/step drum 0 latents 0 0 0 0 trigger 1 class snare

                """
            do {
                _ = try SequencerTests.render(session, seconds: 0.5)
                Issue.record("\(model): a step of class 'snare' was accepted")
            } catch {
                #expect("\(error)".contains(expected), "\(model): \(error)")
            }
        }
    }
}

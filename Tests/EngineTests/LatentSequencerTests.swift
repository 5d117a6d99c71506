@testable import Engine
import Foundation
import Testing

/// The sequencer's arithmetic on its own: which frame each step starts at, the trigger's raise,
/// the glide, rests, swing, stop, and a transport that stands. 100 samples a second, one step a
/// second (60 bpm, one step per beat), latent frames of 10 samples: step k covers frames 10k...10k+9.
@Suite struct LatentSequencerTests {
    /// Runs `blocks` blocks of 8 frames and returns the frames (frame, then channel).
    func run(_ sequencer: LatentSequencer, blocks: Int, transport: SequencerTransport? = nil,
             values: inout [Float]) -> [[Float]] {
        var frames: [[Float]] = []
        var z = [Float](repeating: -9, count: 2 * 8)
        for b in 0..<blocks {
            let played = z.withUnsafeMutableBufferPointer { zb in
                values.withUnsafeMutableBufferPointer { vb in
                    sequencer.fill(zb, channels: 2, frames: 8, triggerChannel: 0, values: vb, blockStart: b * 80,
                                   samplesPerFrame: 10, sampleRate: 100) {
                        var t = transport ?? SequencerTransport(rolling: true, frame: 0, beat: nil, bpm: nil)
                        t.frame += Double(b * 80)
                        return t
                    }
                }
            }
            if !played { return frames }
            for f in 0..<8 { frames.append([z[f], z[8 + f]]) }
        }
        return frames
    }

    func pattern(swing: Float = 0, transport: Bool = false) -> LatentSequencer {
        let sequencer = LatentSequencer(latentSize: 2, capacity: 8)
        sequencer.configure(SequenceSettings(steps: 4, bpm: 60, division: 1, swing: swing, followsTransport: transport), now: 0, sampleRate: 100)
        sequencer.setStep(0, SequenceStep(latents: [0, 1], velocity: 0.7))
        sequencer.setStep(1, SequenceStep(latents: [0, -1], glide: 0.5))
        return sequencer
    }

    @Test func stepsTriggersGlidesAndRests() throws {
        let sequencer = pattern()
        var values: [Float] = [0, 0]
        #expect(run(sequencer, blocks: 1, values: &values).isEmpty, "not playing: the plain feed runs")
        sequencer.play(now: 0)
        let frames = run(sequencer, blocks: 8, values: &values)  // 64 frames: 6.4 steps
        #expect(frames.count == 64)
        // Step 0: a raise of 0.7 on the trigger channel at its first frame only, latents [0, 1].
        #expect(frames[0] == [0.7, 1])
        #expect(frames[1...9].allSatisfy { $0 == [0, 1] })
        // Step 1 glides over half the step (frames 10...14, centres 105...145), then holds.
        for f in 10...14 {
            let t = Float((Double(f * 10 + 5) / 100 - 1) / 0.5)
            #expect(abs(frames[f][1] - (1 + (-1 - 1) * t)) < 1e-6, "frame \(f): \(frames[f])")
            #expect(frames[f][0] == 0)
        }
        #expect(frames[15...19].allSatisfy { $0 == [0, -1] })
        // Steps 2 and 3 are rests: hold.
        #expect(frames[20...39].allSatisfy { $0 == [0, -1] })
        // Step 4 is step 0 again.
        #expect(frames[40] == [0.7, 1] && frames[41] == [0, 1])
        #expect(sequencer.status()?.stepsStarted == 7 && sequencer.status()?.step == 2)
        // Stopped: the plain feed takes over, from the last frame's values.
        sequencer.stop()
        #expect(run(sequencer, blocks: 1, values: &values).isEmpty)
        #expect(values == [0, -1])
    }

    /// Swing 0.5: odd steps start half a step late (step 1 at frame 15, not 10).
    @Test func swingDelaysOddSteps() throws {
        let sequencer = pattern(swing: 0.5)
        sequencer.play(now: 0)
        var values: [Float] = [0, 0]
        let frames = run(sequencer, blocks: 3, values: &values)
        #expect(frames[10...14].allSatisfy { $0 == [0, 1] }, "step 0 lasts 1.5 steps")
        #expect(frames[15][1] < 1 && frames[15][1] > -1, "step 1 starts gliding at frame 15: \(frames[15])")
    }

    /// A play that arrives mid-block starts step 0 at its own frame, not at the block's start.
    @Test func aStepStartingInsideABlockTakesEffectAtItsFrame() throws {
        let sequencer = pattern()
        sequencer.play(now: 37)  // frame 3's centre (35) is before it, frame 4's (45) after
        var values: [Float] = [0, 0]
        let frames = run(sequencer, blocks: 1, values: &values)
        #expect(frames[0...3].allSatisfy { $0 == [0, 0] })
        #expect(frames[4] == [0.7, 1])
    }

    /// With `transport jack`, a transport that stands holds the sequence (no step starts); rolling
    /// from frame 150 (1.5 steps in), the first frame plays step 1.
    @Test func aStandingTransportHolds() throws {
        let sequencer = pattern(transport: true)
        sequencer.play(now: 0)
        var values: [Float] = [0.5, 0.5]
        let held = run(sequencer, blocks: 2, transport: SequencerTransport(rolling: false, frame: 0, beat: nil, bpm: nil), values: &values)
        #expect(held.count == 16 && held.allSatisfy { $0 == [0.5, 0.5] })
        #expect(sequencer.status()?.stepsStarted == 0)
        let rolling = run(sequencer, blocks: 1, transport: SequencerTransport(rolling: true, frame: 150, beat: nil, bpm: nil), values: &values)
        #expect(rolling[0][1] == -1, "step 1 (its glide of half a step already done at 1.55): \(rolling[0])")
        #expect(rolling[5] == [0, -1], "step 2 (a rest) from frame 5 (centre 2.05 steps) holds")
        #expect(sequencer.status()?.step == 2 && sequencer.status()?.stepsStarted == 2)
        // A timebase master's beat wins over the frame: beat 3.05 is step 3 (a rest: held).
        let beats = run(sequencer, blocks: 1, transport: SequencerTransport(rolling: true, frame: 0, beat: 3.0, bpm: 60), values: &values)
        #expect(sequencer.status()?.step == 3 && beats.count == 8)
    }
}

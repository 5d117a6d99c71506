import DSP
import Foundation
import Testing
@testable import DrumEval

/// The drum classifier's parts on synthetic inputs whose answer is known (seeded; the seed is printed).
@Suite struct ClassifierTests {
    /// A decaying sine whose pitch moves from `startHz` to `endHz` (exponentially, over 60 ms),
    /// 1 s at 44.1 kHz after 10 ms of silence.
    static func drum(startHz: Double, endHz: Double, decay: Double = 0.25, gain: Float = 0.5) -> [Float] {
        let rate = 44_100.0
        var phase = 0.0
        return (0..<Int(rate)).map { i in
            let t = Double(i) / rate - 0.01
            guard t >= 0 else { return 0 }
            let hz = endHz + (startHz - endHz) * exp(-t / 0.06)
            phase += 2 * Double.pi * hz / rate
            return gain * Float(sin(phase) * exp(-t / decay))
        }
    }

    @Test func descriptorsCountAndIgnoreLevel() {
        let loud = ClipAnalysis.analyse([Self.drum(startHz: 160, endHz: 50)], sampleRate: 44_100)[0]
        let quiet = ClipAnalysis.analyse([Self.drum(startHz: 160, endHz: 50, gain: 0.05)], sampleRate: 44_100)[0]
        #expect(loud.descriptors.count == DrumDescriptors.count)
        #expect(loud.descriptors.allSatisfy { $0.isFinite })
        // 20 dB down: every descriptor is relative to the clip's own peak, so only rounding moves them.
        let worst = zip(loud.descriptors, quiet.descriptors).map { abs($0 - $1) }.max()!
        #expect(worst < 0.05, "largest change \(worst)")
    }

    @Test func bodyPitchAndGlideSeparateAKickFromATom() {
        let rate = 44_100.0
        let kick = Self.drum(startHz: 160, endHz: 50), tom = Self.drum(startHz: 110, endHz: 110)
        let early = DrumDescriptors.lowPeak(kick, sampleRate: rate, from: 0.015, to: 0.055)
        let late = DrumDescriptors.lowPeak(kick, sampleRate: rate, from: 0.13, to: 0.31)
        // The kick's pitch falls toward 50 Hz, the tom's stays at 110 Hz (grid 2 %).
        #expect(exp(late.logHz) > 45 && exp(late.logHz) < 56, "kick late \(exp(late.logHz)) Hz")
        #expect(early.logHz - late.logHz > 0.4, "kick glide \(early.logHz - late.logHz)")
        let tomEarly = DrumDescriptors.lowPeak(tom, sampleRate: rate, from: 0.015, to: 0.055)
        let tomLate = DrumDescriptors.lowPeak(tom, sampleRate: rate, from: 0.13, to: 0.31)
        #expect(abs(exp(tomLate.logHz) - 110) < 4, "tom \(exp(tomLate.logHz)) Hz")
        #expect(abs(tomEarly.logHz - tomLate.logHz) < 0.1, "tom glide \(tomEarly.logHz - tomLate.logHz)")
        #expect(tomLate.share > 0.5, "a steady sine holds most of the low range's power: \(tomLate.share)")
    }

    /// Three classes, each a Gaussian blob in 2 of 12 dimensions (the rest noise), unequal sizes.
    static func blobs(_ n: [Int], seed: UInt64) -> (x: [[Float]], y: [Int]) {
        var rng = SplitMix64(seed: seed)
        var x: [[Float]] = [], y: [Int] = []
        for (c, count) in n.enumerated() {
            for _ in 0..<count {
                var row = (0..<12).map { _ in rng.nextGaussian() }
                row[c] += 4
                row[c + 3] -= 3
                x.append(row)
                y.append(c)
            }
        }
        return (x, y)
    }

    @Test func extraTreesLearnSeparableClassesAndNotShuffledOnes() throws {
        let seed: UInt64 = 20261207
        print("ClassifierTests seed \(seed)")
        let train = Self.blobs([200, 40, 80], seed: seed), held = Self.blobs([100, 100, 100], seed: seed + 1)
        func accuracy(_ forest: ExtraTrees) -> Double {
            let right = zip(held.x, held.y).filter { row, label in
                let p = forest.probabilities(row)
                return p.indices.max { p[$0] < p[$1] }! == label
            }.count
            return Double(right) / Double(held.y.count)
        }
        let forest = ExtraTrees(x: train.x, y: train.y, classes: 3, trees: 50, seed: seed)
        #expect(accuracy(forest) > 0.95, "accuracy \(accuracy(forest))")
        let p = forest.probabilities(held.x[0])
        #expect(abs(p.reduce(0, +) - 1) < 1e-4)
        // The same forest read back from its table names every clip the same.
        let table = forest.table
        let loaded = try ExtraTrees(table: table.nodes, roots: table.roots, classes: 3)
        #expect(held.x.allSatisfy { loaded.probabilities($0) == forest.probabilities($0) })
        // Control: labels shuffled, nothing to learn; a balanced held-out set stays near chance (1/3).
        var rng = SplitMix64(seed: seed + 2)
        let control = ExtraTrees(x: train.x, y: train.y.shuffled(using: &rng), classes: 3, trees: 50, seed: seed)
        #expect(accuracy(control) < 0.5, "shuffled labels: accuracy \(accuracy(control))")
    }

    @Test func aForestTablePointingOutsideItselfIsRejected() {
        // One split node whose children do not exist.
        let row: [Float] = [0, 0.5, 7, 8, 0, 0]
        #expect(throws: DrumEvalError.self) { try ExtraTrees(table: row, roots: [0], classes: 2) }
    }
}

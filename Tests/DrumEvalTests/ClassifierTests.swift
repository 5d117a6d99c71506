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

    /// A noise burst (first difference of white noise: a hat's bright hiss) decaying over `decay` s.
    static func hat(decay: Double, rng: inout SplitMix64) -> [Float] {
        var last: Float = 0
        return (0..<44_100).map { i in
            let t = Double(i) / 44_100 - 0.01
            guard t >= 0 else { return 0 }
            let n = rng.nextGaussian()
            defer { last = n }
            return 0.3 * (n - last) * Float(exp(-t / decay))
        }
    }

    /// Synthetic kits: kicks glide down to their body pitch, toms hold theirs, hats hiss. The
    /// held-out kit's drums are tuned where no training drum is, so only what a class shares
    /// across kits can name them.
    @Test func classifierNamesAnotherKitsDrumsAndSurvivesSaveAndLoad() throws {
        let seed: UInt64 = 1207
        print("ClassifierTests seed \(seed)")
        var rng = SplitMix64(seed: seed)
        func kit(_ n: Int, kickEnd: ClosedRange<Double>, tom: ClosedRange<Double>) -> (clips: [[Float]], labels: [Int]) {
            var clips: [[Float]] = [], labels: [Int] = []
            func draw(_ r: ClosedRange<Double>) -> Double { r.lowerBound + (r.upperBound - r.lowerBound) * rng.nextUnit() }
            for _ in 0..<n {
                clips.append(Self.hat(decay: draw(0.03...0.2), rng: &rng)); labels.append(0)
                let end = draw(kickEnd)
                clips.append(Self.drum(startHz: end * draw(2.5...3.5), endHz: end, decay: draw(0.15...0.35))); labels.append(1)
                let hz = draw(tom)
                clips.append(Self.drum(startHz: hz * 1.05, endHz: hz, decay: draw(0.2...0.5))); labels.append(2)
            }
            return (clips, labels)
        }
        let training = kit(12, kickEnd: 45...55, tom: 90...140), held = kit(6, kickEnd: 56...65, tom: 150...200)
        let classes = ["hat", "kick", "tom"]
        let model = try DrumClassifier.train(ClipAnalysis.analyse(training.clips, sampleRate: 44_100), labels: training.labels,
                                             classes: classes, steps: 20, seed: seed)
        let heldA = ClipAnalysis.analyse(held.clips, sampleRate: 44_100)
        let named = try model.name(heldA)
        for c in classes.indices {
            let members = held.labels.indices.filter { held.labels[$0] == c }
            let right = members.filter { named.trees[$0] == c }.count
            #expect(right >= members.count - 1, "\(classes[c]): the trees name \(right) of \(members.count)")
        }
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("classifier-\(getpid())-\(seed).pt")
        defer { try? FileManager.default.removeItem(at: url) }
        try model.save(to: url)
        let loaded = try DrumClassifier.load(from: url, classes: classes)
        let again = try loaded.name(heldA)
        #expect(again.predictions == named.predictions && again.trees == named.trees)
    }
}

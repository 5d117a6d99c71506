import DSP
import Foundation
import Testing
@testable import DrumEval

/// The metrics on synthetic points whose answer is known (seeded; the seed is printed).
@Suite struct MetricsTests {
    static func gaussian(_ n: Int, dimensions: Int, shift: Double = 0, seed: UInt64) -> FeatureMatrix {
        var rng = SplitMix64(seed: seed)
        return FeatureMatrix(count: n, dimensions: dimensions,
                             values: (0..<(n * dimensions)).map { _ in Double(rng.nextGaussian()) + shift })
    }

    @Test func identicalDistributionsScoreNearOneAndKIDIntervalHoldsZero() {
        let seed: UInt64 = 20261206
        print("MetricsTests seed \(seed)")
        let real = Self.gaussian(400, dimensions: 4, seed: seed), generated = Self.gaussian(400, dimensions: 4, seed: seed + 1)
        let m = DistributionMetrics.manifold(real: real, generated: generated, k: 3)
        #expect(m.precision > 0.85 && m.recall > 0.85, "precision \(m.precision), recall \(m.recall)")
        #expect(m.coverage > 0.8 && m.density > 0.7 && m.density < 1.3, "density \(m.density), coverage \(m.coverage)")
        let kid = DistributionMetrics.kid(real: real, generated: generated, draws: 300, seed: seed)
        #expect(kid.low <= 0 && kid.high >= 0, "KID \(kid.value) [\(kid.low), \(kid.high)]")
        #expect(kid.low <= kid.value && kid.value <= kid.high)
    }

    @Test func disjointDistributionsScoreNearZero() {
        let seed: UInt64 = 77
        print("MetricsTests seed \(seed)")
        let real = Self.gaussian(300, dimensions: 4, seed: seed), generated = Self.gaussian(300, dimensions: 4, shift: 10, seed: seed + 1)
        let m = DistributionMetrics.manifold(real: real, generated: generated, k: 3)
        #expect(m.precision < 0.05 && m.recall < 0.05 && m.density < 0.05 && m.coverage < 0.05, "\(m)")
        let kid = DistributionMetrics.kid(real: real, generated: generated, draws: 200, seed: seed)
        #expect(kid.low > 0, "KID \(kid.value) [\(kid.low), \(kid.high)]")
    }

    @Test func collapsedGeneratorKeepsPrecisionLosesRecallAndCoverage() {
        let seed: UInt64 = 5
        print("MetricsTests seed \(seed)")
        let real = Self.gaussian(300, dimensions: 4, seed: seed)
        // 300 points crowded near the real mean: precise, no variety.
        var g = Self.gaussian(300, dimensions: 4, seed: seed + 1)
        g.values = g.values.map { $0 * 0.1 }
        let m = DistributionMetrics.manifold(real: real, generated: g, k: 3)
        #expect(m.precision > 0.9 && m.recall < 0.3 && m.coverage < 0.3, "\(m)")
    }

    /// Diversity: a second draw of the real distribution has about 1 % of its pairs closer than the
    /// real pairs' 1st percentile; ten sounds repeated with a little noise have about a tenth of
    /// theirs (pairs of copies of one sound), far above the 2 % bar.
    @Test func closePairsSeparateAVariedSetFromACollapsedOne() {
        let seed: UInt64 = 1207
        print("MetricsTests seed \(seed)")
        let real = Self.gaussian(300, dimensions: 6, seed: seed)
        let fresh = DistributionMetrics.closePairShare(real: real, generated: Self.gaussian(300, dimensions: 6, seed: seed + 1))
        let sources = Self.gaussian(10, dimensions: 6, seed: seed + 2), noise = Self.gaussian(300, dimensions: 6, seed: seed + 3)
        let copies = FeatureMatrix(count: 300, dimensions: 6,
                                   values: (0..<300).flatMap { i in zip(sources.row(i % 10), noise.row(i)).map { $0 + 0.01 * $1 } })
        let collapsed = DistributionMetrics.closePairShare(real: real, generated: copies)
        print("close pairs: fresh draw \(fresh.share), ten sounds repeated \(collapsed.share), threshold \(fresh.threshold)")
        #expect(fresh.share > 0.002 && fresh.share < 0.02, "\(fresh)")
        #expect(collapsed.share > 0.08, "\(collapsed)")
    }

    @Test func copiesGiveStronglyNegativeZAndHeldOutDoesNot() {
        let seed: UInt64 = 1234
        print("MetricsTests seed \(seed)")
        let training = Self.gaussian(600, dimensions: 6, seed: seed), heldOut = Self.gaussian(200, dimensions: 6, seed: seed + 1)
        var rng = SplitMix64(seed: seed + 2)
        // Training points with a tiny jitter: copies.
        var copies = training.rows(Array(0..<300))
        copies.values = copies.values.map { $0 + 0.01 * Double(rng.nextGaussian()) }
        let copied = DistributionMetrics.copying(training: training, heldOut: heldOut, generated: copies, cells: 5, seed: seed)
        #expect(copied.meehanZ < -5 && copied.copyShare > 0.9, "\(copied)")
        let fresh = Self.gaussian(300, dimensions: 6, seed: seed + 3)
        let honest = DistributionMetrics.copying(training: training, heldOut: heldOut, generated: fresh, cells: 5, seed: seed)
        #expect(abs(honest.meehanZ) < 3 && honest.copyShare < 0.12, "\(honest)")
    }

    @Test func mannWhitneyZMatchesAHandCount() {
        // generated all below held-out: U = 0, Z = −mn/2 / √(mn(m+n+1)/12) with m = n = 3 → −1.964.
        let z = DistributionMetrics.mannWhitneyZ(generated: [1, 2, 3], heldOut: [4, 5, 6])
        #expect(abs(z - (-4.5 / (9.0 * 7 / 12).squareRoot())) < 1e-9)
        #expect(DistributionMetrics.mannWhitneyZ(generated: [1, 2], heldOut: [1, 2]) == 0)
    }

    @Test func groupSplitKeepsEveryKitOnOneSide() {
        let groups = (0..<12).flatMap { g in (0..<(5 + g)).map { _ in ("kit\(g)", 1) } }
        let s = EvalCorpus.split(groups, testFraction: 0.2, validationFraction: 0.1)
        #expect(s.training.isDisjoint(with: s.test) && s.training.isDisjoint(with: s.validation) && s.validation.isDisjoint(with: s.test))
        #expect(s.training.count + s.validation.count + s.test.count == 12)
        #expect(!s.test.isEmpty && !s.validation.isEmpty && !s.training.isEmpty)
        #expect(EvalCorpus.split(groups, testFraction: 0.2, validationFraction: 0.1) == s)
    }
}

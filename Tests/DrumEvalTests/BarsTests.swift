import Foundation
import Testing
import TestSupport
@testable import DrumEval

/// Issue 15's bars as `bench drums` judges them, on hand-made results whose verdicts are known,
/// and the one-shot checks on sounds whose onset and decay are known.
struct BarsTests {
    static let rate = 44100.0

    /// A 2-s clip: silence, then from `onset` seconds a sine whose level falls by `decay` per second.
    static func shot(onset: Double, decay: Double, peak: Float = 0.9) -> [Float] {
        (0..<88200).map { i in
            let t = Double(i) / rate - onset
            return t < 0 ? 0 : peak * Float(Foundation.exp(-decay * t) * Foundation.sin(2 * Double.pi * 200 * t))
        }
    }

    @Test func oneShotChecksFollowTheIssuesDefinitions() {
        let good = OneShotChecks.measure([Self.shot(onset: 0.005, decay: 8)], sampleRate: Self.rate)
        #expect(good == OneShotChecks(sounds: 1, finite: 1, unclipped: 1, earlyOnset: 1, decaying: 1, latestOnsetMs: good.latestOnsetMs))
        // The 10-ms envelope is centred, so it rises 5 ms before the sound: the onset reads 0–5 ms.
        #expect(good.latestOnsetMs >= 0 && good.latestOnsetMs <= 5.5, "\(good.latestOnsetMs)")
        let late = OneShotChecks.measure([Self.shot(onset: 0.05, decay: 8)], sampleRate: Self.rate)
        #expect(late.earlyOnset == 0 && late.decaying == 1 && late.latestOnsetMs > 40)
        // Stationary: the last quarter is as loud as the first.
        let steady = OneShotChecks.measure([Self.shot(onset: 0, decay: 0)], sampleRate: Self.rate)
        #expect(steady.decaying == 0 && steady.earlyOnset == 1)
        var clipped = Self.shot(onset: 0, decay: 8)
        clipped[100] = 1
        var broken = Self.shot(onset: 0, decay: 8)
        broken[5] = .nan
        let mixed = OneShotChecks.measure([clipped, broken, Self.shot(onset: 0, decay: 8), Self.shot(onset: 0, decay: 8)], sampleRate: Self.rate)
        #expect(mixed.sounds == 4 && mixed.finite == 0.75 && mixed.unclipped == 0.5 && mixed.decaying == 0.75)
        // Silence has no onset and does not decay.
        let silent = OneShotChecks.measure([[Float](repeating: 0, count: 88200)], sampleRate: Self.rate)
        #expect(silent.decaying == 0 && silent.earlyOnset == 0)
    }

    static func space(_ p: Double, _ r: Double, kidHigh: Double = 1, copy: Double = 0.05, z: Double = 0, close: Double = 0.01) -> SpaceScores {
        SpaceScores(kid: kidHigh / 2, kidLow: 0, kidHigh: kidHigh, precision: p, recall: r, density: 1, coverage: 0.5,
                    meehanZ: z, copyShare: copy, closePairShare: close)
    }

    static func row(_ kind: String, hand: SpaceScores? = nil, learned: SpaceScores? = nil) -> DrumBenchRow {
        DrumBenchRow(kind: kind, sounds: 100, handcrafted: hand, classifier: learned, meehanZ: hand?.meehanZ, copyShare: hand?.copyShare,
                     seconds: 0)
    }

    /// A result with the reference rows, controls as they must be, and one model `m` that
    /// passes every bar; `change` then breaks what a test wants broken.
    static func result(seed: UInt64 = 1, _ change: (inout DrumBenchRow) -> Void = { _ in }) -> DrumBenchResult {
        var rows: [String: DrumBenchRow] = [:]
        rows["realVsReal"] = row("reference", hand: space(0.5, 0.4), learned: space(0.5, 0.6))
        var retrieval = row("reference")
        retrieval.reconstruction = ["kick": .init(clips: 14, spectralConvergenceDB: 0, logMelDistanceDB: 7, onsetErrorMs: 0, decayErrorMs: 0),
                                    "hat": .init(clips: 40, spectralConvergenceDB: 0, logMelDistanceDB: 8, onsetErrorMs: 0, decayErrorMs: 0),
                                    "clap": .init(clips: 3, spectralConvergenceDB: 0, logMelDistanceDB: 4, onsetErrorMs: 0, decayErrorMs: 0)]
        rows["retrieval"] = retrieval
        var calibration = row("calibration", hand: space(0.5, 0.4, z: -1.0))
        calibration.verdict = Verdict(realism: "passes", recall: "passes", coverage: "passes", copying: "passes", rule: "",
                                      expected: "copying passes", asExpected: true)
        rows["calibration"] = calibration
        var model = row("model", hand: space(0.45, 0.35, kidHigh: 2.5, z: -0.5), learned: space(0.45, 0.55, kidHigh: 2))
        model.reconstruction = ["kick": .init(clips: 14, spectralConvergenceDB: 0, logMelDistanceDB: 6, onsetErrorMs: 0, decayErrorMs: 0),
                                "hat": .init(clips: 40, spectralConvergenceDB: 0, logMelDistanceDB: 7.9, onsetErrorMs: 0, decayErrorMs: 0),
                                // Too few clips to count, however bad.
                                "clap": .init(clips: 3, spectralConvergenceDB: 0, logMelDistanceDB: 20, onsetErrorMs: 0, decayErrorMs: 0)]
        model.namedAsItsClass = ["kick": 0.9, "hat": 0.5]
        model.phase = ["kick": .init(clips: 14, griffinLimDB: -10, modelDB: -12, truePhaseDB: -13, gapClosure: 0.67),
                       "snare": .init(clips: 20, griffinLimDB: -10, modelDB: -10, truePhaseDB: -10.5, gapClosure: nil)]
        model.oneShots = OneShotChecks(sounds: 100, finite: 1, unclipped: 1, earlyOnset: 1, decaying: 0.96, latestOnsetMs: 12)
        change(&model)
        rows["m"] = model
        let setup = DrumBenchResult.Setup(date: "", dataset: "", reference: "", referenceClips: 0, trainingClips: 0, validationClips: 0,
                                          split: [:], count: 100, seed: seed, temperature: 1, neighbours: 3, bootstrapDraws: 10,
                                          classifierAccuracy: ["kick": 1, "hat": 0.45], classifierTestClips: [:], classifierConfusion: [:],
                                          classifierReferenceAccuracy: nil, classifierCached: false, realClassHistogram: [:], seconds: 0)
        var result = DrumBenchResult(setup: setup, order: ["realVsReal", "retrieval", "calibration", "m"], rows: rows)
        let bars = GeneratorBar.judge("m", in: result)
        result.rows["m"]?.bars = bars
        return result
    }

    static func failing(_ result: DrumBenchResult) -> [String] { (result.rows["m"]?.bars ?? []).filter { !$0.passes }.map(\.name) }

    @Test func aModelAtEveryBarPassesThemAll() throws {
        let bars = try #require(Self.result().rows["m"]?.bars)
        #expect(bars.map(\.name) == ["reconstruction", "realism", "kid", "copying", "controls", "conditional", "phase", "diversity", "oneShots"])
        #expect(Self.failing(Self.result()).isEmpty, "\(bars)")
        // Only models are judged.
        #expect(GeneratorBar.judge("realVsReal", in: Self.result()).isEmpty)
    }

    @Test func eachBarFailsOnItsOwnCause() {
        // Recall just under 0.8 × real vs real's (0.4 → 0.32).
        #expect(Self.failing(Self.result { $0.handcrafted!.recall = 0.31 }) == ["realism"])
        #expect(Self.failing(Self.result { $0.classifier!.kidHigh = 3.1 }) == ["kid"])
        #expect(Self.failing(Self.result { $0.handcrafted!.copyShare = 0.11 }) == ["copying"])
        // meehanZ under the calibration row's (−1.0), though above the verdict's −3.
        #expect(Self.failing(Self.result { $0.handcrafted!.meehanZ = -1.5 }) == ["copying"])
        #expect(Self.failing(Self.result { $0.reconstruction!["hat"]!.logMelDistanceDB = 8 }) == ["reconstruction"])
        // Hat's bar is the classifier's own 45 % on real hats: 46 % passes, 44 % fails.
        #expect(Self.failing(Self.result { $0.namedAsItsClass!["hat"] = 0.46 }).isEmpty)
        #expect(Self.failing(Self.result { $0.namedAsItsClass!["hat"] = 0.44 }) == ["conditional"])
        #expect(Self.failing(Self.result { $0.namedAsItsClass!["kick"] = 0.79 }) == ["conditional"])
        #expect(Self.failing(Self.result { $0.phase!["kick"]!.gapClosure = 0.49 }) == ["phase"])
        #expect(Self.failing(Self.result { $0.classifier!.closePairShare = 0.021 }) == ["diversity"])
        #expect(Self.failing(Self.result { $0.oneShots!.decaying = 0.94 }) == ["oneShots"])
        #expect(Self.failing(Self.result { $0.oneShots!.earlyOnset = 0.99 }) == ["oneShots"])
    }

    @Test func aControlWithTheWrongVerdictFailsEveryModel() {
        var result = Self.result()
        result.rows["calibration"]?.verdict?.asExpected = false
        #expect(GeneratorBar.judge("m", in: result).filter { !$0.passes }.map(\.name) == ["controls"])
    }

    @Test func theSpreadOverSeedsIsEachNumbersRangeAndEachBarsCount() throws {
        let results = [Self.result(seed: 1), Self.result(seed: 2) { $0.handcrafted!.recall = 0.2 }, Self.result(seed: 3) { $0.handcrafted!.recall = 0.5 }]
        let spread = SeedSpread.summarise(results)
        #expect(spread.seeds == [1, 2, 3])
        let model = try #require(spread.rows.first { $0.name == "m" })
        let recall = try #require(model.metrics.first { $0.name == "handcrafted recall" })
        #expect(recall.values == [0.35, 0.2, 0.5] && Swift.abs(recall.mean - 0.35) < 1e-12 && recall.min == 0.2 && recall.max == 0.5)
        #expect(model.barPasses?["realism"] == 2 && model.barPasses?["kid"] == 3 && model.allBarsPass == 2)
        #expect(model.metrics.contains { $0.name == "named hat" })
        // Reference rows are summarised without bars; the retrieval row has no scores to summarise.
        #expect(spread.rows.first { $0.name == "realVsReal" }?.barPasses == nil)
        #expect(!spread.rows.contains { $0.name == "retrieval" })
        let table = spread.table()
        #expect(table.contains { $0.contains("handcrafted recall") && $0.contains("0.35 [0.20 – 0.50]") }, "\(table)")
        #expect(table.contains { $0.contains("realism 2/3") && $0.contains("all of them in 2/3") }, "\(table)")
    }
}

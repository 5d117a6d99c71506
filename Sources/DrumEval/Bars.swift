import Foundation

/// The basic checks of every generated one-shot, as issue 15 words them: no NaN; no clipping
/// (|x| < 1); an onset (the first sample where the 10-ms RMS envelope exceeds 10 % of its
/// maximum) within 20 ms; decaying (the envelope's mean over the last quarter of the clip below
/// half its mean over the first quarter). Measured on the one-shots as a user gets them.
public struct OneShotChecks: Codable, Sendable, Equatable {
    public var sounds: Int
    /// Shares of the sounds.
    public var finite: Double
    public var unclipped: Double
    public var earlyOnset: Double
    public var decaying: Double
    /// The latest onset, ms (over the finite sounds).
    public var latestOnsetMs: Double

    public static let onsetLimitMs = 20.0
    public static let envelopeMs = 10.0

    /// The 10-ms RMS envelope, centred on each sample (from a running sum of squares).
    static func envelope(_ x: [Float], sampleRate: Double) -> [Double] {
        let half = max(1, Int(envelopeMs / 1000 * sampleRate / 2)), n = x.count
        var cumulative = [Double](repeating: 0, count: n + 1)
        for i in 0..<n { cumulative[i + 1] = cumulative[i] + Double(x[i]) * Double(x[i]) }
        return (0..<n).map { i in
            let a = max(0, i - half), b = min(n, i + half + 1)
            return (max(0, cumulative[b] - cumulative[a]) / Double(b - a)).squareRoot()
        }
    }

    /// One sound's onset (ms) and whether it decays.
    static func measure(_ x: [Float], sampleRate: Double) -> (onsetMs: Double, decaying: Bool) {
        let e = envelope(x, sampleRate: sampleRate)
        let peak = e.max() ?? 0
        let onset = e.firstIndex { $0 > 0.1 * peak } ?? e.count
        let q = max(1, e.count / 4)
        let first = e[0..<q].reduce(0, +) / Double(q), last = e[(e.count - q)...].reduce(0, +) / Double(q)
        return (Double(onset) / sampleRate * 1000, peak > 0 && last < 0.5 * first)
    }

    public static func measure(_ sounds: [[Float]], sampleRate: Double) -> OneShotChecks {
        var finite = 0, unclipped = 0, early = 0, decaying = 0, latest = 0.0
        for x in sounds {
            guard x.allSatisfy(\.isFinite) else { continue }
            finite += 1
            if x.allSatisfy({ Swift.abs($0) < 1 }) { unclipped += 1 }
            let m = measure(x, sampleRate: sampleRate)
            if m.onsetMs <= onsetLimitMs { early += 1 }
            if m.decaying { decaying += 1 }
            latest = max(latest, m.onsetMs)
        }
        let n = Double(max(1, sounds.count))
        return OneShotChecks(sounds: sounds.count, finite: Double(finite) / n, unclipped: Double(unclipped) / n,
                             earlyOnset: Double(early) / n, decaying: Double(decaying) / n, latestOnsetMs: latest)
    }
}

/// Issue 15's bars for a generator, judged on one `bench drums` result against the reference
/// rows measured in the same run. Speed and the fresh-clone bars are not measured here
/// (`timbre bench train`, `bench generate`, CI).
public struct GeneratorBar: Codable, Sendable, Equatable {
    /// A short key: reconstruction, realism, kid, copying, controls, conditional, phase, diversity, oneShots.
    public var name: String
    public var passes: Bool
    /// What was measured against what, in one line.
    public var detail: String

    public static let phaseClasses = ["kick", "snare", "tom", "perc"]
    public static let minimumPhaseGapClosure = 0.5
    public static let maximumKIDRatio = 3.0
    public static let minimumNamedShare = 0.8
    public static let minimumReconstructionClips = 10
    public static let minimumDecayingShare = 0.95

    /// The bars for the model row `name` of `result`; empty for a row that is not a model or a
    /// result without its reference rows.
    public static func judge(_ name: String, in result: DrumBenchResult) -> [GeneratorBar] {
        guard let row = result.rows[name], row.kind == "model", let hand = row.handcrafted, let learned = row.classifier,
              let ceiling = result.rows["realVsReal"], let realHand = ceiling.handcrafted, let realLearned = ceiling.classifier
        else { return [] }
        var bars: [GeneratorBar] = []
        func pct(_ v: Double) -> String { String(format: "%.0f%%", v * 100) }
        func two(_ v: Double) -> String { String(format: "%.2f", v) }

        // Held-out reconstruction beats retrieval on every class with enough clips.
        if let mine = row.reconstruction, let theirs = result.rows["retrieval"]?.reconstruction {
            let judged = mine.keys.sorted().filter { mine[$0]!.clips >= minimumReconstructionClips && theirs[$0] != nil }
            let losing = judged.filter { mine[$0]!.logMelDistanceDB >= theirs[$0]!.logMelDistanceDB }
            bars.append(GeneratorBar(name: "reconstruction", passes: !judged.isEmpty && losing.isEmpty,
                                     detail: "log-mel distance below retrieval's on \(judged.count - losing.count) of \(judged.count) classes"
                                         + (losing.isEmpty ? "" : " (not " + losing.map { "\($0) \(two(mine[$0]!.logMelDistanceDB)) vs \(two(theirs[$0]!.logMelDistanceDB))" }.joined(separator: ", ") + ")")))
        }

        // Realism: precision and recall ≥ 0.8 × real vs real's, in both spaces.
        let factor = DrumBench.realismFactor
        let spaces = [("handcrafted", hand, realHand), ("classifier", learned, realLearned)]
        let realism = spaces.map { s in (s.0, s.1.precision >= factor * s.2.precision, s.1.recall >= factor * s.2.recall, s.1, s.2) }
        bars.append(GeneratorBar(name: "realism", passes: realism.allSatisfy { $0.1 && $0.2 },
                                 detail: realism.map { "\($0.0) P \(two($0.3.precision)) (≥ \(two(factor * $0.4.precision))) R \(two($0.3.recall)) (≥ \(two(factor * $0.4.recall)))" }.joined(separator: "; ")))
        let kid = spaces.map { s in (s.0, s.1.kidHigh <= maximumKIDRatio * s.2.kidHigh, s.1.kidHigh, s.2.kidHigh) }
        bars.append(GeneratorBar(name: "kid", passes: kid.allSatisfy(\.1),
                                 detail: kid.map { "\($0.0) upper \(String(format: "%.3f", $0.2)) (≤ \(String(format: "%g", maximumKIDRatio)) × \(String(format: "%.3f", $0.3)))" }.joined(separator: "; ")))

        // Copying: ≤ 10 % copies and meehanZ no lower than the calibration row's.
        let calibrationZ = result.rows["calibration"]?.handcrafted?.meehanZ
        let zOK = calibrationZ.map { hand.meehanZ >= $0 } ?? false
        bars.append(GeneratorBar(name: "copying", passes: hand.copyShare <= DrumBench.maximumCopyShare && zOK,
                                 detail: "copies \(pct(hand.copyShare)) (≤ \(pct(DrumBench.maximumCopyShare))), meehanZ \(String(format: "%.1f", hand.meehanZ)) (≥ calibration's \(calibrationZ.map { String(format: "%.1f", $0) } ?? "—"))"))

        // The controls and the calibration row got the verdicts they must.
        let controls = ["randomPhase", "noiseBursts", "jittered", "collapsed", "calibration"].filter { result.rows[$0]?.verdict?.expected != nil }
        let wrong = controls.filter { result.rows[$0]?.verdict?.asExpected != true }
        bars.append(GeneratorBar(name: "controls", passes: !controls.isEmpty && wrong.isEmpty,
                                 detail: wrong.isEmpty ? "\(controls.count) of \(controls.count) as they must" : "wrong: " + wrong.joined(separator: ", ")))

        // Conditional: each class named as itself for ≥ 80 % (or the classifier's own figure on real held-out clips).
        if let named = row.namedAsItsClass {
            let real = result.setup.classifierReferenceAccuracy ?? result.setup.classifierAccuracy
            let judged = named.keys.sorted()
            let short = judged.filter { c in named[c]! < min(minimumNamedShare, real[c] ?? minimumNamedShare) }
            bars.append(GeneratorBar(name: "conditional", passes: short.isEmpty,
                                     detail: "\(judged.count - short.count) of \(judged.count) classes named as themselves"
                                         + (short.isEmpty ? "" : " (not " + short.map { "\($0) \(pct(named[$0]!)) < \(pct(min(minimumNamedShare, real[$0] ?? minimumNamedShare)))" }.joined(separator: ", ") + ")")))
        }

        // Phase: G ≥ 0.5 where Griffin-Lim leaves at least 1 dB to close.
        if let phase = row.phase {
            let judged = phaseClasses.filter { phase[$0]?.gapClosure != nil }
            let short = judged.filter { phase[$0]!.gapClosure! < minimumPhaseGapClosure }
            bars.append(GeneratorBar(name: "phase", passes: !judged.isEmpty && short.isEmpty,
                                     detail: "G " + judged.map { "\($0) \(two(phase[$0]!.gapClosure!))" }.joined(separator: ", ") + " (≥ \(two(minimumPhaseGapClosure)))"))
        }

        // Diversity: ≤ 2 % close pairs in both spaces.
        let close = [hand.closePairShare, learned.closePairShare]
        bars.append(GeneratorBar(name: "diversity", passes: close.allSatisfy { ($0 ?? 1) <= DrumBench.maximumClosePairShare },
                                 detail: "close pairs " + close.map { $0.map { String(format: "%.1f%%", $0 * 100) } ?? "—" }.joined(separator: " / ") + " (≤ \(pct(DrumBench.maximumClosePairShare)))"))

        if let shots = row.oneShots {
            let ok = shots.finite == 1 && shots.unclipped == 1 && shots.earlyOnset == 1 && shots.decaying >= minimumDecayingShare
            bars.append(GeneratorBar(name: "oneShots", passes: ok,
                                     detail: "finite \(pct(shots.finite)), unclipped \(pct(shots.unclipped)), onset ≤ \(Int(OneShotChecks.onsetLimitMs)) ms \(pct(shots.earlyOnset)) (latest \(String(format: "%.1f", shots.latestOnsetMs)) ms), decaying \(pct(shots.decaying)) (≥ \(pct(minimumDecayingShare)))"))
        }
        return bars
    }
}

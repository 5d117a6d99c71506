import DSP
import Foundation

/// How well the evaluation's drum classifier names the drums of kits it never trained on, estimated
/// over many kits instead of the two test kits: leave-one-kit-out over the training and validation
/// kits (the test kits stay untouched), then the classifier the evaluation uses (trained on the
/// training kits, stopped early on the validation kits) on the test kits, in the same run.
///
/// A fold trains on every other non-test group for a fixed number of steps (no early stopping: the
/// held-out group would otherwise choose its own weights) and predicts the held-out group's clips.
/// Folds whose group has no labelled clip are skipped.
public enum ClassifierValidation {
    public struct Fold: Codable, Sendable {
        public var group: String
        public var accuracy: [ClassAccuracy]
        /// The same clips named by the network alone and by the trees alone.
        public var networkAccuracy: [ClassAccuracy]
        public var treesAccuracy: [ClassAccuracy]
        /// The control's trees (labels shuffled within each training kit) on the same clips.
        public var shuffledAccuracy: [ClassAccuracy]
        /// The same clips named with other weights of the network against the trees
        /// (`blendWeights`): how `DrumClassifier.networkWeight` was chosen, on held-out kits only.
        public var blendAccuracy: [[ClassAccuracy]]
        public var seconds: Double
    }

    public struct Result: Codable, Sendable {
        public var classes: [String]
        public var steps: Int
        public var seed: UInt64
        /// Pooled over every fold: each non-test kit's clips predicted by a classifier that never saw that kit.
        public var leaveOneKitOut: [ClassAccuracy]
        /// Reference rows in the same folds: the log-mel network alone, the descriptor trees alone.
        public var leaveOneKitOutNetwork: [ClassAccuracy]
        public var leaveOneKitOutTrees: [ClassAccuracy]
        /// A control that must fail: every fold trained on labels shuffled within each training kit
        /// (trees only: the network's share is the same control's cost many times over).
        public var leaveOneKitOutShuffled: [ClassAccuracy]
        public var folds: [Fold]
        /// The evaluation's own classifier on the test kits, and its parts alone.
        public var testKits: [ClassAccuracy]
        public var testKitsNetwork: [ClassAccuracy]
        public var testKitsTrees: [ClassAccuracy]
        public var testGroups: [String]
        public var seconds: Double

        /// The folds' accuracies (`part` of each fold) pooled over the folds whose group `keep` accepts.
        public func pooled(_ part: KeyPath<Fold, [ClassAccuracy]>, where keep: (String) -> Bool = { _ in true }) -> [ClassAccuracy] {
            ClassifierValidation.pool(folds.filter { keep($0.group) }.map { $0[keyPath: part] }, classes: classes)
        }

        /// The group with the most labelled clips: pooled figures weigh clips, so one large group
        /// (the General MIDI set) would decide them; it is reported beside the others.
        public var largestGroup: String? {
            folds.max { $0.accuracy.reduce(0) { $0 + $1.clips } < $1.accuracy.reduce(0) { $0 + $1.clips } }?.group
        }
    }

    /// The network weights `Fold.blendAccuracy` tries.
    public static let blendWeights: [Float] = [0.25, 0.5, 0.75]

    /// Per class, clips and right answers summed over `rows` (one list per fold).
    public static func pool(_ rows: [[ClassAccuracy]], classes: [String]) -> [ClassAccuracy] {
        classes.map { c in
            ClassAccuracy(className: c, clips: rows.reduce(0) { $0 + ($1.first { $0.className == c }?.clips ?? 0) },
                          correct: rows.reduce(0) { $0 + ($1.first { $0.className == c }?.correct ?? 0) })
        }
    }

    public static func run(corpus: EvalCorpus, steps: Int, seed: UInt64, log: (String) -> Void = { _ in },
                           progress: (String, Double) -> Void = { _, _ in }) throws -> Result {
        let started = Date()
        let classes = corpus.classes.filter { $0 != "other" }
        let rate = Double(corpus.sampleRate)
        let pool = (corpus.training + corpus.validation).filter { classes.contains($0.className) }
        let analyses = ClipAnalysis.analyse(pool.map(\.samples), sampleRate: rate)
        let labels = pool.map { classes.firstIndex(of: $0.className)! }
        func accuracy(_ clips: [EvalCorpus.Clip], _ predictions: [Int]) -> [ClassAccuracy] {
            ClassAccuracy.of(clips, predictions: predictions, classes: classes)
        }
        var folds: [Fold] = []
        // One fold per kit that holds a class the classifier names (a kit of only `other` has none).
        let groups = Set(pool.map(\.group)).sorted()
        log("leave-one-kit-out over \(groups.count) kits (\(classes.joined(separator: ", "))); test kits: \(corpus.groups.test.joined(separator: ", "))")
        for (n, group) in groups.enumerated() {
            let t0 = Date()
            let train = pool.indices.filter { pool[$0].group != group }, held = pool.indices.filter { pool[$0].group == group }
            guard !held.isEmpty else { continue }
            let model = try DrumClassifier.train(train.map { analyses[$0] }, labels: train.map { labels[$0] }, classes: classes,
                                                 steps: steps, seed: seed) { progress("fold \(n + 1)/\(groups.count): \(group)", $0) }
            let named = try model.name(held.map { analyses[$0] })
            let heldClips = held.map { pool[$0] }
            // The control: labels shuffled within each training kit keep every kit's class mix but
            // tie no sound to its class; held-out accuracy must fall to chance.
            var rng = SplitMix64(seed: seed &+ UInt64(n))
            var scrambled = train.map { labels[$0] }
            for g in Set(train.map { pool[$0].group }).sorted() {
                let members = train.indices.filter { pool[train[$0]].group == g }
                let permuted = members.map { scrambled[$0] }.shuffled(using: &rng)
                for (m, l) in zip(members, permuted) { scrambled[m] = l }
            }
            let control = ExtraTrees(x: train.map { analyses[$0].descriptors }, y: scrambled, classes: classes.count,
                                     trees: DrumClassifier.trees, seed: seed)
            let controlPredicted = held.map { i -> Int in
                let p = control.probabilities(analyses[i].descriptors)
                return p.indices.max { p[$0] < p[$1] }!
            }
            let fold = Fold(group: group, accuracy: accuracy(heldClips, named.predictions), networkAccuracy: accuracy(heldClips, named.network),
                            treesAccuracy: accuracy(heldClips, named.trees), shuffledAccuracy: accuracy(heldClips, controlPredicted),
                            blendAccuracy: Self.blendWeights.map { w in
                                accuracy(heldClips, named.probabilities.map { p in
                                    let blended = zip(p.network, p.trees).map { w * $0 + (1 - w) * $1 }
                                    return blended.indices.max { blended[$0] < blended[$1] }!
                                })
                            },
                            seconds: Date().timeIntervalSince(t0))
            folds.append(fold)
            log("  \(group): " + fold.accuracy.filter { $0.clips > 0 }.map { "\($0.className) \($0.correct)/\($0.clips)" }.joined(separator: ", "))
        }
        func pooled(_ rows: [[ClassAccuracy]]) -> [ClassAccuracy] { Self.pool(rows, classes: classes) }
        // The evaluation's classifier, trained as DrumBench trains it.
        let model = try DrumClassifier.trainForEvaluation(corpus, trainingA: ClipAnalysis.analyse(corpus.training.map(\.samples), sampleRate: rate),
                                                          validationA: ClipAnalysis.analyse(corpus.validation.map(\.samples), sampleRate: rate),
                                                          classes: classes, steps: steps, seed: seed) {
            progress("the evaluation's classifier", $0)
        }
        let test = corpus.test.filter { classes.contains($0.className) }
        let named = try model.name(ClipAnalysis.analyse(test.map(\.samples), sampleRate: rate))
        return Result(classes: classes, steps: steps, seed: seed, leaveOneKitOut: pooled(folds.map(\.accuracy)),
                      leaveOneKitOutNetwork: pooled(folds.map(\.networkAccuracy)), leaveOneKitOutTrees: pooled(folds.map(\.treesAccuracy)),
                      leaveOneKitOutShuffled: pooled(folds.map(\.shuffledAccuracy)), folds: folds,
                      testKits: accuracy(test, named.predictions), testKitsNetwork: accuracy(test, named.network),
                      testKitsTrees: accuracy(test, named.trees), testGroups: corpus.groups.test, seconds: Date().timeIntervalSince(started))
    }
}

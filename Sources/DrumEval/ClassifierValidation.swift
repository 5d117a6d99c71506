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
        public var seconds: Double
    }

    public struct Result: Codable, Sendable {
        public var classes: [String]
        public var steps: Int
        public var seed: UInt64
        /// Pooled over every fold: each non-test kit's clips predicted by a classifier that never saw that kit.
        public var leaveOneKitOut: [ClassAccuracy]
        public var folds: [Fold]
        /// The evaluation's own classifier on the test kits.
        public var testKits: [ClassAccuracy]
        public var testGroups: [String]
        public var seconds: Double
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
        let groups = Set(pool.map(\.group)).sorted()
        for (n, group) in groups.enumerated() {
            let t0 = Date()
            let train = pool.indices.filter { pool[$0].group != group }, held = pool.indices.filter { pool[$0].group == group }
            let model = try DrumClassifier.train(train.map { analyses[$0] }, labels: train.map { labels[$0] }, classes: classes,
                                                 steps: steps, seed: seed) { progress("fold \(n + 1)/\(groups.count): \(group)", $0) }
            let predicted = try model.apply(held.map { analyses[$0] }).predictions
            let fold = Fold(group: group, accuracy: accuracy(held.map { pool[$0] }, predicted), seconds: Date().timeIntervalSince(t0))
            folds.append(fold)
            log("  \(group): " + fold.accuracy.filter { $0.clips > 0 }.map { "\($0.className) \($0.correct)/\($0.clips)" }.joined(separator: ", "))
        }
        let pooled = classes.map { c in
            ClassAccuracy(className: c, clips: folds.reduce(0) { $0 + ($1.accuracy.first { $0.className == c }?.clips ?? 0) },
                          correct: folds.reduce(0) { $0 + ($1.accuracy.first { $0.className == c }?.correct ?? 0) })
        }
        // The evaluation's classifier, trained as DrumBench trains it.
        let model = try DrumClassifier.trainForEvaluation(corpus, trainingA: ClipAnalysis.analyse(corpus.training.map(\.samples), sampleRate: rate),
                                                          validationA: ClipAnalysis.analyse(corpus.validation.map(\.samples), sampleRate: rate),
                                                          classes: classes, steps: steps, seed: seed) {
            progress("the evaluation's classifier", $0)
        }
        let test = corpus.test.filter { classes.contains($0.className) }
        let predicted = try model.apply(ClipAnalysis.analyse(test.map(\.samples), sampleRate: rate)).predictions
        return Result(classes: classes, steps: steps, seed: seed, leaveOneKitOut: pooled, folds: folds,
                      testKits: accuracy(test, predicted), testGroups: corpus.groups.test, seconds: Date().timeIntervalSince(started))
    }
}

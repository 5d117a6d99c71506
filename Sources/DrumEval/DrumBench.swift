import DSP
import DrumVAE
import Foundation
import Torch

/// What `timbre bench drums` evaluates, and how.
public struct DrumBenchOptions: Sendable {
    /// Trained runs (folders made by `timbre train`).
    public var runs: [URL]
    /// The prepared corpus the runs were trained on: its training kits are "training", its
    /// validation kits the calibration row, its test kits the default reference.
    public var dataset: URL?
    /// Real clips to compare against instead of the corpus's test kits (any prepared folder).
    public var reference: URL?
    /// Sounds generated per run and per control.
    public var count = 500
    public var temperature = 1.0
    public var seed: UInt64 = 1
    /// Where result.json, report.html, the pictures and the classifier cache go.
    public var out: URL
    public var bootstrapDraws = 1000
    /// Neighbours for precision, recall, density and coverage.
    public var neighbours = 3
    public var classifierSteps = 800

    public init(runs: [URL], dataset: URL? = nil, reference: URL? = nil, out: URL) {
        (self.runs, self.dataset, self.reference, self.out) = (runs, dataset, reference, out)
    }
}

/// Scores of one set of sounds in one feature space, against the real reference clips.
public struct SpaceScores: Codable, Sendable, Equatable {
    public var kid: Double
    public var kidLow: Double
    public var kidHigh: Double
    public var precision: Double
    public var recall: Double
    public var density: Double
    public var coverage: Double
    /// The copy test in this space (the row's top-level `meehanZ` and `copyShare` are the handcrafted space's).
    public var meehanZ: Double
    public var copyShare: Double
    /// Diversity: the share of this set's pairs closer than the 1st percentile of the distances
    /// between pairs of real reference clips (nil in results written before it).
    public var closePairShare: Double?
}

/// A row's verdicts and the rules behind them.
public struct Verdict: Codable, Sendable, Equatable {
    /// Precision and recall both ≥ 0.8 × realVsReal's, in both spaces.
    public var realism: String
    /// Recall ≥ 0.8 × realVsReal's in both spaces.
    public var recall: String
    /// Coverage ≥ 0.8 × realVsReal's in both spaces.
    public var coverage: String
    /// copyShare ≤ 10 % and meehanZ > −3.
    public var copying: String
    /// closePairShare ≤ 2 % in both spaces (nil in results written before it).
    public var diversity: String?
    public var rule: String
    /// What a control or the calibration row must get, and whether it did.
    public var expected: String?
    public var asExpected: Bool?
}

/// One row of the evaluation: a run, a reference or a control.
public struct DrumBenchRow: Codable, Sendable {
    /// model, reference, control or calibration.
    public var kind: String
    /// Sounds scored (generated, or standing in for generated).
    public var sounds: Int
    public var handcrafted: SpaceScores?
    public var classifier: SpaceScores?
    public var meehanZ: Double?
    public var copyShare: Double?
    /// Share of the sounds the classifier puts in each class.
    public var classHistogram: [String: Double]?
    /// KL(real histogram ‖ this one), nats (shares floored at 0.001).
    public var classHistogramKL: Double?
    /// Conditional runs: per class, the share of sounds generated for it that the classifier names as it.
    public var namedAsItsClass: [String: Double]?
    /// Conditional runs: per class, the share of sounds generated for it that count as copies
    /// (handcrafted space, as `copyShare`).
    public var copyShareByClass: [String: Double]?
    /// Held-out reconstruction per class (runs and retrieval).
    public var reconstruction: [String: HeldOutReconstruction.ClassScores]?
    /// Gap closure of the run's own phase per class (kick, tom, snare, perc).
    public var phase: [String: PhaseGap.ClassGap]?
    public var verdict: Verdict?
    /// The handcrafted features whose distribution differs most from the reference's (largest
    /// |shift| first, at most `FeatureShift.listed`): where a row's sounds differ from real ones.
    public var featureShifts: [FeatureShift]?
    /// Runs: the basic checks of every generated one-shot (nil in results written before them).
    public var oneShots: OneShotChecks?
    /// Runs: issue 15's bars against the reference rows of the same result (nil in results written before them).
    public var bars: [GeneratorBar]?
    public var seconds: Double
}

/// How one handcrafted feature of a row differs from the real reference clips: its mean shift
/// in units of the reference's standard deviation, and its spread over the reference's.
public struct FeatureShift: Codable, Sendable, Equatable {
    public var feature: String
    public var shift: Double
    public var spreadRatio: Double

    public static let listed = 6

    /// The `listed` features with the largest |shift| (a spread ratio far from 1 ranks too:
    /// |log ratio| counts like a shift).
    public static func largest(_ set: FeatureMatrix, reference: FeatureMatrix, names: [String]) -> [FeatureShift] {
        guard set.count > 1, reference.count > 1, set.dimensions == reference.dimensions else { return [] }
        func moments(_ m: FeatureMatrix, _ j: Int) -> (Double, Double) {
            var sum = 0.0, squares = 0.0
            for i in 0..<m.count { let v = m.values[i * m.dimensions + j]; sum += v; squares += v * v }
            let mean = sum / Double(m.count)
            return (mean, max(0, squares / Double(m.count) - mean * mean).squareRoot())
        }
        let all = (0..<set.dimensions).map { j -> FeatureShift in
            let (gm, gs) = moments(set, j), (rm, rs) = moments(reference, j)
            let scale = max(rs, 1e-9)
            return FeatureShift(feature: j < names.count ? names[j] : "feature \(j)", shift: (gm - rm) / scale, spreadRatio: gs / scale)
        }
        func size(_ f: FeatureShift) -> Double { max(Swift.abs(f.shift), Swift.abs(Foundation.log(max(f.spreadRatio, 1e-9)))) }
        return Array(all.sorted { size($0) > size($1) }.prefix(listed))
    }
}

/// The whole evaluation: the setup and every row, written as result.json.
public struct DrumBenchResult: Encodable, Sendable {
    public struct Setup: Codable, Sendable {
        public var date: String
        public var dataset: String
        public var reference: String
        public var referenceClips: Int
        public var trainingClips: Int
        public var validationClips: Int
        public var split: [String: [String]]
        public var count: Int
        public var seed: UInt64
        public var temperature: Double
        public var neighbours: Int
        public var bootstrapDraws: Int
        /// Per class: the classifier's accuracy on the corpus's held-out test kits.
        public var classifierAccuracy: [String: Double]
        public var classifierTestClips: [String: Int]
        /// On the held-out test kits: true class → predicted class → clips.
        public var classifierConfusion: [String: [String: Int]]
        /// The same on the reference folder when it is not the test kits.
        public var classifierReferenceAccuracy: [String: Double]?
        public var classifierCached: Bool
        /// The classifier's class histogram of the real reference clips.
        public var realClassHistogram: [String: Double]
        public var seconds: Double
    }

    public var setup: Setup
    /// Row names in order: references, controls, calibration, then runs.
    public var order: [String]
    public var rows: [String: DrumBenchRow]

    struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(_ s: String) { stringValue = s }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    /// Rows at the top level under their names, beside `setup`.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        try c.encode(setup, forKey: Key("setup"))
        for (name, row) in rows { try c.encode(row, forKey: Key(name)) }
    }

    /// result.json's bytes (sorted keys, pretty).
    public func json() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return try encoder.encode(self)
    }
}

/// `timbre bench drums`: every row computed in one run on the same features.
public enum DrumBench {
    public static let realismFactor = 0.8
    public static let maximumCopyShare = 0.10
    public static let minimumMeehanZ = -3.0
    /// Diversity (issue 15): at most 2 % of a set's pairs closer than the 1st percentile of real pairs.
    public static let maximumClosePairShare = 0.02
    public static let closePairQuantile = 0.01
    public static let clipSamples = 88200
    public static let sampleRate = 44100

    /// The corpus a run was trained on, when the run recorded it (RUN/split.json's or RUN/config.json's `dataset`).
    public static func recordedDataset(of run: URL) -> URL? {
        for name in ["split.json", "config.json"] {
            guard let data = FileManager.default.contents(atPath: run.appendingPathComponent(name).path),
                  let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                  let path = object["dataset"] as? String else { continue }
            return URL(fileURLWithPath: path)
        }
        return nil
    }

    /// Runs the evaluation, writes OUT/result.json, OUT/report.html and its pictures, and returns the result.
    /// `progress` gets a stage name and the fraction of it done.
    public static func run(_ options: DrumBenchOptions, log: (String) -> Void = { _ in },
                           progress: (String, Double) -> Void = { _, _ in }) throws -> DrumBenchResult {
        let started = Date()
        Torch.applyDefaults()
        guard options.count >= 10 else { throw DrumEvalError(path: options.out.path, reason: "--count must be at least 10") }
        guard let datasetURL = options.dataset ?? options.runs.lazy.compactMap(recordedDataset).first ?? options.reference else {
            throw DrumEvalError(path: options.runs.first?.path ?? ".", reason: "the run does not record its dataset: give --dataset (or --reference)")
        }
        try FileManager.default.createDirectory(at: options.out.appendingPathComponent("cache"), withIntermediateDirectories: true)
        let runs = try options.runs.map { url -> TrainedRun in
            let run = try TrainedRun(url)
            guard run.config.sampleRate == sampleRate, run.config.clipSamples == clipSamples else {
                throw DrumEvalError(path: url.path, reason: "the evaluation scores 2-s clips at 44.1 kHz; the run makes \(run.config.clipSamples) samples at \(run.config.sampleRate) Hz")
            }
            return run
        }

        for (url, run) in zip(options.runs, runs) where run.config.trainsOnAllKits {
            log("warning: \(url.path) trained on every kit (--all-kits): the test kits are not held out from it; evaluate its recipe trained with the default split")
        }
        progress("loading clips", 0)
        // The first run's own split when it recorded one (RUN/split.json), else the corpus's default.
        let corpus = try EvalCorpus(directory: datasetURL, sampleRate: sampleRate, clipSamples: clipSamples,
                                    split: runs.lazy.compactMap(\.split).first)
        let separateReference = options.reference.map { $0.standardizedFileURL.path != datasetURL.standardizedFileURL.path } ?? false
        let reference = separateReference
            ? try EvalCorpus.clips(directory: options.reference!, sampleRate: sampleRate, clipSamples: clipSamples) : corpus.test
        let groups = corpus.groups
        log("split by kit: training \(groups.training.count) kits (\(corpus.training.count) clips), validation \(groups.validation.count) (\(corpus.validation.count)), test \(groups.test.count) (\(corpus.test.count))")
        log("  validation kits: \(groups.validation.joined(separator: ", "))")
        log("  test kits: \(groups.test.joined(separator: ", "))")
        log("reference: \(separateReference ? options.reference!.path + " (all \(reference.count) clips)" : "the test kits (\(reference.count) clips)")")

        progress("analysing real clips", 0.5)
        let rate = Double(sampleRate)
        let trainingA = ClipAnalysis.analyse(corpus.training.map(\.samples), sampleRate: rate)
        let validationA = ClipAnalysis.analyse(corpus.validation.map(\.samples), sampleRate: rate)
        let testA = ClipAnalysis.analyse(corpus.test.map(\.samples), sampleRate: rate)
        let referenceA = separateReference ? ClipAnalysis.analyse(reference.map(\.samples), sampleRate: rate) : testA
        progress("analysing real clips", 1)

        // The classifier, cached by corpus, split, version and seed.
        // "other" names no drum class: the classifier learns the named ones only.
        let classes = corpus.classes.filter { $0 != "other" }
        let labelled = corpus.training.indices.filter { classes.contains(corpus.training[$0].className) }
        let manifest = FileManager.default.contents(atPath: datasetURL.appendingPathComponent("manifest.jsonl").path) ?? Data()
        var key = EvalCorpus.stableHash(String(decoding: manifest, as: UTF8.self))
        for text in groups.training + ["|"] + groups.test + ["v\(DrumClassifier.version)", "s\(options.seed)", "n\(options.classifierSteps)"] {
            key = EvalCorpus.stableHash(String(key, radix: 16) + text)
        }
        let cacheURL = options.out.appendingPathComponent("cache/classifier-\(String(key, radix: 16)).pt")
        let classifier: DrumClassifier
        var cached = false
        if let loaded = try? DrumClassifier.load(from: cacheURL, classes: classes) {
            classifier = loaded
            cached = true
            log("classifier: cached \(cacheURL.lastPathComponent)")
        } else {
            let t0 = Date()
            classifier = try DrumClassifier.trainForEvaluation(corpus, trainingA: trainingA, validationA: validationA, classes: classes,
                                                               steps: options.classifierSteps, seed: options.seed) {
                progress("training the classifier", $0)
            }
            try classifier.save(to: cacheURL)
            log(String(format: "classifier: trained on %d training-kit clips (%@) in %.0f s", labelled.count,
                       classes.joined(separator: ", "), Date().timeIntervalSince(t0)))
        }
        func accuracy(_ clips: [EvalCorpus.Clip], _ predictions: [Int]) -> [ClassAccuracy] {
            ClassAccuracy.of(clips, predictions: predictions, classes: classes)
        }

        // Feature spaces, both standardised on the training clips.
        let trainingHand = HandcraftedFeatures.matrix(trainingA)
        let handStandard = Standardiser(fitting: trainingHand)
        let (trainingEmbedding, _) = try classifier.apply(trainingA)
        let embeddingStandard = Standardiser(fitting: trainingEmbedding)
        struct Embedded { var hand: FeatureMatrix; var learned: FeatureMatrix; var predictions: [Int] }
        func embed(_ analyses: [ClipAnalysis]) throws -> Embedded {
            let (e, p) = try classifier.apply(analyses)
            return Embedded(hand: handStandard.apply(HandcraftedFeatures.matrix(analyses)), learned: embeddingStandard.apply(e), predictions: p)
        }
        let training = Embedded(hand: handStandard.apply(trainingHand), learned: embeddingStandard.apply(trainingEmbedding), predictions: [])
        // Realism, copying and diversity compare drums with drums: the named classes only, on
        // every side (`other`, the corpus's guitar strums and loops, is no drum the classifier
        // can name, and a generated strum sits next to the training strums however new it is).
        let drumIndices = reference.indices.filter { classes.contains(reference[$0].className) }
        let realismIndices = drumIndices.isEmpty ? Array(reference.indices) : drumIndices
        let realAll = try embed(referenceA)
        let real = Embedded(hand: realAll.hand.rows(realismIndices), learned: realAll.learned.rows(realismIndices),
                            predictions: realismIndices.map { realAll.predictions[$0] })
        let drumTraining = corpus.training.filter { classes.contains($0.className) }
        let drumValidation = corpus.validation.indices.filter { classes.contains(corpus.validation[$0].className) }
        if realismIndices.count < reference.count {
            log("realism, copying and diversity: the reference's \(realismIndices.count) clips of named classes (\(reference.count - realismIndices.count) of other left out)")
        }
        let test = separateReference ? try embed(testA) : realAll
        let testAccuracy = accuracy(corpus.test, test.predictions)
        var confusion: [String: [String: Int]] = [:]
        for (clip, p) in zip(corpus.test, test.predictions) where classes.contains(clip.className) {
            confusion[clip.className, default: [:]][classes[p], default: 0] += 1
        }
        log("  confusion (true: predicted): " + confusion.sorted { $0.key < $1.key }
            .map { "\($0.key): " + $0.value.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: " ") }
            .joined(separator: "; "))
        log("classifier accuracy on the held-out test kits: " + testAccuracy.filter { $0.clips > 0 }
            .map { String(format: "%@ %.0f%% (%d)", $0.className, $0.accuracy * 100, $0.clips) }.joined(separator: ", "))
        var referenceAccuracy: [ClassAccuracy]?
        if separateReference {
            referenceAccuracy = accuracy(reference, realAll.predictions)
            log("classifier accuracy on the reference: " + referenceAccuracy!.filter { $0.clips > 0 }
                .map { String(format: "%@ %.0f%% (%d)", $0.className, $0.accuracy * 100, $0.clips) }.joined(separator: ", "))
        }
        func histogram(_ predictions: [Int]) -> [String: Double] {
            var h: [String: Double] = [:]
            for c in classes { h[c] = 0 }
            for p in predictions { h[classes[p], default: 0] += 1 / Double(max(predictions.count, 1)) }
            return h
        }
        let realHistogram = histogram(real.predictions)
        let cells = max(1, min(8, realismIndices.count / 30))

        func scores(_ set: Embedded, seed: UInt64) -> (SpaceScores, SpaceScores, [Bool]) {
            var copied: [Bool] = []
            func space(_ g: FeatureMatrix, _ r: FeatureMatrix, _ t: FeatureMatrix) -> SpaceScores {
                let kid = DistributionMetrics.kid(real: r, generated: g, draws: options.bootstrapDraws, seed: seed)
                let m = DistributionMetrics.manifold(real: r, generated: g, k: options.neighbours)
                let c = DistributionMetrics.copying(training: t, heldOut: r, generated: g, cells: cells, seed: options.seed)
                let close = DistributionMetrics.closePairShare(real: r, generated: g, quantile: closePairQuantile)
                if copied.isEmpty { copied = c.copied }
                return SpaceScores(kid: kid.value, kidLow: kid.low, kidHigh: kid.high, precision: m.precision, recall: m.recall,
                                   density: m.density, coverage: m.coverage, meehanZ: c.meehanZ, copyShare: c.copyShare,
                                   closePairShare: close.share)
            }
            let hand = space(set.hand, real.hand, training.hand)
            return (hand, space(set.learned, real.learned, training.learned), copied)
        }
        var rows: [String: DrumBenchRow] = [:]
        var order: [String] = []
        var embeddingsForMap: [(String, FeatureMatrix)] = [("real (reference)", real.learned)]
        func scoreRow(_ name: String, kind: String, audio: [[Float]]? = nil, analyses: [ClipAnalysis]? = nil,
                      intended: [String]? = nil, seed: UInt64) throws -> DrumBenchRow {
            let t0 = Date()
            progress("scoring \(name)", 0)
            let a = analyses ?? ClipAnalysis.analyse(audio!, sampleRate: rate)
            let set = try embed(a)
            let (hand, learned, copied) = scores(set, seed: seed)
            let h = histogram(set.predictions)
            let kl = classes.reduce(0.0) { s, c in
                let p = realHistogram[c] ?? 0, q = max(h[c] ?? 0, 0.001)
                return p > 0 ? s + p * Foundation.log(max(p, 0.001) / q) : s
            }
            var named: [String: Double]?, copiedByClass: [String: Double]?
            if let intended {
                named = [:]
                copiedByClass = [:]
                for c in Set(intended) {
                    let members = intended.indices.filter { intended[$0] == c }
                    if classes.contains(c) {
                        named![c] = Double(members.filter { classes[set.predictions[$0]] == c }.count) / Double(members.count)
                    }
                    if copied.count == intended.count {
                        copiedByClass![c] = Double(members.filter { copied[$0] }.count) / Double(members.count)
                    }
                }
            }
            progress("scoring \(name)", 1)
            if kind != "calibration" && name != "realVsReal" { embeddingsForMap.append((name, set.learned)) }
            return DrumBenchRow(kind: kind, sounds: a.count, handcrafted: hand, classifier: learned, meehanZ: hand.meehanZ,
                                copyShare: hand.copyShare, classHistogram: h, classHistogramKL: kl, namedAsItsClass: named,
                                copyShareByClass: copiedByClass, reconstruction: nil, phase: nil, verdict: nil,
                                featureShifts: FeatureShift.largest(set.hand, reference: real.hand, names: HandcraftedFeatures.names),
                                seconds: Date().timeIntervalSince(t0))
        }

        // The ceiling: training-kit drums standing in for generated sounds (as many as a model makes, at most all).
        let drumTrainingIndices = corpus.training.indices.filter { classes.contains(corpus.training[$0].className) }
        let n = min(options.count, drumTrainingIndices.count)
        var rng = SplitMix64(seed: options.seed)
        let sample = Controls.pick(n, of: drumTrainingIndices.count, rng: &rng).map { drumTrainingIndices[$0] }
        rows["realVsReal"] = try scoreRow("realVsReal", kind: "reference", analyses: sample.map { trainingA[$0] }, seed: options.seed)
        order.append("realVsReal")

        // Retrieval: each reference clip replaced by its nearest training clip in log-mel space.
        do {
            let t0 = Date()
            progress("retrieval", 0)
            let nearest = HeldOutReconstruction.retrieve(targets: referenceA, training: trainingA)
            let reconstruction = try HeldOutReconstruction.score(targets: reference.map(\.samples),
                                                                 outputs: nearest.map { corpus.training[$0].samples },
                                                                 classes: reference.map(\.className), sampleRate: sampleRate,
                                                                 targetAnalyses: referenceA)
            rows["retrieval"] = DrumBenchRow(kind: "reference", sounds: reference.count, reconstruction: reconstruction,
                                             seconds: Date().timeIntervalSince(t0))
            order.append("retrieval")
            progress("retrieval", 1)
        }

        progress("making controls", 0)
        rows["randomPhase"] = try scoreRow("randomPhase", kind: "control",
                                           audio: Controls.randomPhase(drumTraining, count: options.count, seed: options.seed &+ 11),
                                           seed: options.seed)
        rows["noiseBursts"] = try scoreRow("noiseBursts", kind: "control",
                                           audio: Controls.noiseBursts(drumTraining, count: options.count, sampleRate: sampleRate,
                                                                       seed: options.seed &+ 12), seed: options.seed)
        rows["jittered"] = try scoreRow("jittered", kind: "control",
                                        audio: Controls.jittered(sample.map { corpus.training[$0] }, sampleRate: sampleRate,
                                                                seed: options.seed &+ 13),
                                        seed: options.seed)
        rows["collapsed"] = try scoreRow("collapsed", kind: "control",
                                         audio: Controls.collapsed(drumTraining, count: options.count, sampleRate: sampleRate,
                                                                   seed: options.seed &+ 14),
                                         seed: options.seed)
        order += ["randomPhase", "noiseBursts", "jittered", "collapsed"]
        if !drumValidation.isEmpty {
            rows["calibration"] = try scoreRow("calibration", kind: "calibration", analyses: drumValidation.map { validationA[$0] }, seed: options.seed)
            order.append("calibration")
        }

        for run in runs {
            let name = run.folder.url.path
            log("\(name): generating \(options.count) one-shots (temperature \(options.temperature), seed \(options.seed))")
            progress("generating from \(run.folder.url.lastPathComponent)", 0)
            let t0 = Date()
            if !run.priorIsCurrent {
                // A run still training: its prior.json (if any) belongs to older weights. Fit
                // one to these weights on the training clips, as training does at its end.
                if run.split == nil || run.split?.train.sorted() == groups.training.sorted() {
                    log("\(name): fitting the prior to step \(run.step)'s weights on the \(corpus.training.count) training clips" +
                        (run.prior.map { " (its prior.json is from step \($0.step))" } ?? " (it has no prior.json)"))
                    progress("fitting the prior of \(run.folder.url.lastPathComponent)", 0)
                    try run.fitPrior(clips: corpus.training.map(\.samples), classes: corpus.training.map(\.className),
                                     groups: corpus.training.map(\.group))
                } else {
                    log("warning: \(name)'s prior is not from its checkpoint's step and its split is not this corpus's: scored as it is")
                }
            }
            if let spread = run.prior?.spread { log("\(name): prior spread \(String(format: "%.3f", spread)) (fitted leaving one kit out)") }
            let generated = try run.generate(count: options.count, className: nil, temperature: options.temperature, seed: options.seed,
                                             among: Set(classes))
            var row = try scoreRow(name, kind: "model", audio: generated.map(\.1),
                                   intended: run.config.conditional ? generated.map { $0.0 ?? "" } : nil, seed: options.seed)
            row.oneShots = OneShotChecks.measure(generated.map(\.1), sampleRate: rate)
            progress("reconstructing with \(run.folder.url.lastPathComponent)", 0)
            let means = try run.encode(reference.map(\.samples)).map(\.mean)
            let classIndices = reference.map { run.config.classes.firstIndex(of: $0.className) ?? 0 }
            let decoded = try run.render(means, classes: run.config.conditional ? classIndices : nil)
            row.reconstruction = try HeldOutReconstruction.score(targets: reference.map(\.samples), outputs: decoded,
                                                                 classes: reference.map(\.className), sampleRate: sampleRate,
                                                                 targetAnalyses: referenceA)
            row.phase = try PhaseGap.measure(run, clips: reference) { progress("phase gap of \(run.folder.url.lastPathComponent)", $0) }
            row.seconds = Date().timeIntervalSince(t0)
            rows[name] = row
            order.append(name)
        }

        // Verdicts against the ceiling measured above.
        let ceiling = rows["realVsReal"]!
        for name in order {
            guard var row = rows[name], let hand = row.handcrafted, let learned = row.classifier else { continue }
            let pairs = [(hand, ceiling.handcrafted!), (learned, ceiling.classifier!)]
            func passes(_ ok: Bool) -> String { ok ? "passes" : "fails" }
            let realism = pairs.allSatisfy { $0.0.precision >= realismFactor * $0.1.precision && $0.0.recall >= realismFactor * $0.1.recall }
            let recall = pairs.allSatisfy { $0.0.recall >= realismFactor * $0.1.recall }
            let coverage = pairs.allSatisfy { $0.0.coverage >= realismFactor * $0.1.coverage }
            let copying = hand.copyShare <= maximumCopyShare && hand.meehanZ > minimumMeehanZ
            let diverse = [hand, learned].allSatisfy { ($0.closePairShare ?? 0) <= maximumClosePairShare }
            var verdict = Verdict(realism: passes(realism), recall: passes(recall), coverage: passes(coverage), copying: passes(copying),
                                  diversity: passes(diverse),
                                  rule: "realism passes when precision and recall are both at least 0.8 × realVsReal's in each space (handcrafted and classifier); recall and coverage likewise on their own; copying passes when copyShare ≤ 10 % and meehanZ > −3 (handcrafted space); diversity passes when at most 2 % of the row's pairs are closer than the 1st percentile of real pairs, in each space")
            switch name {
            case "randomPhase": verdict.expected = "recall fails and coverage fails"; verdict.asExpected = !recall && !coverage
            case "noiseBursts": verdict.expected = "realism fails"; verdict.asExpected = !realism
            case "jittered": verdict.expected = "realism passes and copying fails"; verdict.asExpected = realism && !copying
            case "calibration": verdict.expected = "copying passes"; verdict.asExpected = copying
            case "collapsed": verdict.expected = "diversity fails"; verdict.asExpected = !diverse
            default: break
            }
            row.verdict = verdict
            rows[name] = row
        }

        let setup = DrumBenchResult.Setup(
            date: ISO8601DateFormatter().string(from: Date()), dataset: datasetURL.path,
            reference: separateReference ? options.reference!.path : "\(datasetURL.path) (test kits)", referenceClips: reference.count,
            trainingClips: corpus.training.count, validationClips: corpus.validation.count,
            split: ["training": groups.training, "validation": groups.validation, "test": groups.test],
            count: options.count, seed: options.seed, temperature: options.temperature, neighbours: options.neighbours,
            bootstrapDraws: options.bootstrapDraws,
            classifierAccuracy: Dictionary(uniqueKeysWithValues: testAccuracy.filter { $0.clips > 0 }.map { ($0.className, $0.accuracy) }),
            classifierTestClips: Dictionary(uniqueKeysWithValues: testAccuracy.map { ($0.className, $0.clips) }),
            classifierConfusion: confusion,
            classifierReferenceAccuracy: referenceAccuracy.map { a in
                Dictionary(uniqueKeysWithValues: a.filter { $0.clips > 0 }.map { ($0.className, $0.accuracy) })
            },
            classifierCached: cached, realClassHistogram: realHistogram, seconds: Date().timeIntervalSince(started))
        var result = DrumBenchResult(setup: setup, order: order, rows: rows)
        for name in order where rows[name]?.kind == "model" {
            let bars = GeneratorBar.judge(name, in: result)
            result.rows[name]?.bars = bars
        }
        progress("writing the report", 0)
        try DrumBenchReport.write(result, embeddings: embeddingsForMap, classes: classes, to: options.out)
        progress("writing the report", 1)
        return result
    }
}

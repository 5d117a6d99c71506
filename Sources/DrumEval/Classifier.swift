import DSP
import Foundation
import Torch

/// The evaluation's drum-class classifier, trained on the training kits: a small network on
/// log-mel whose penultimate layer is the evaluation's learned feature space, and extremely
/// randomised trees on drum descriptors (`DrumDescriptors`); the class a clip is named is the
/// one the two give the most probability together (`networkWeight`).
///
/// Why both: the network alone named kicks of unseen kits as toms (55 % of the hydrogen kits'
/// kicks, leave-one-kit-out) and augmentations standing for other kits made it worse; the
/// descriptors — band shares below 60, 100, 150 Hz …, decay times per register, the body's
/// pitch and its glide — describe what makes a kick a kick in any kit, and trees on them need
/// no scaling of their mixed units. `timbre bench classifier` measures both parts and the
/// blend in the same folds (docs/DRUMVAE.md, "The classifier's accuracy on unseen kits").
///
/// Network input: the first 1.5 s of the 64-band log-mel (hop 256) in dB below the clip's loudest
/// cell, (dB + 80) / 20, so a kit's level does not name its drums. Three strided convolutions
/// (64 → 64 → 96 → 128 channels), mean and max over time, a 64-unit layer (the embedding), then
/// one logit per class. Trained with AdamW (weight decay 0.01), class-balanced batches, time
/// shifts (0–3 frames), mel shifts (±2 bands) and masks of up to 8 bands and 29 frames
/// (SpecAugment), seeded; with validation kits, the weights kept are the best on them. The trees
/// (`trees` of them, classes weighted equally) are fitted on the same clips afterwards.
/// The manifest's `other` (no drum class named) is left out of its classes.
public final class DrumClassifier {
    public static let inputFrames = 259
    public static let embeddingSize = 64
    /// Bumped whenever the architecture or training changes, so caches made by another version are not read.
    public static let version = 5
    /// How much the network's class probabilities count against the trees' when naming a class: chosen
    /// leave-one-kit-out on the hydrogen kits of `data/drums4` among 0, 0.25, 0.4, 0.5, 0.6, 0.75, 1 (PyTorch
    /// prototype; `timbre bench classifier` prints 0.25, 0.5 and 0.75 beside the parts alone).
    public static let networkWeight: Float = 0.25
    /// Trees in the forest.
    public static let trees = 300

    public let classes: [String]
    let parameters: [(String, Tensor)]
    /// The extremely randomised trees on `ClipAnalysis.descriptors`, trained after the network.
    var forest: ExtraTrees?
    var p: [String: Tensor] { Dictionary(uniqueKeysWithValues: parameters) }

    init(classes: [String]) throws {
        self.classes = classes
        func layer(_ name: String, _ shape: [Int], fanIn: Int) throws -> [(String, Tensor)] {
            let bound = 1 / Double(fanIn).squareRoot()
            let w = try Torch.withoutGradients { try (Tensor.rand(shape) * 2.0 - 1.0) * bound }
            let b = try Torch.withoutGradients { try (Tensor.rand([shape[0]]) * 2.0 - 1.0) * bound }
            w.requiresGrad = true
            b.requiresGrad = true
            return [("\(name)_w", w), ("\(name)_b", b)]
        }
        parameters = try layer("c1", [64, ClipAnalysis.bands, 5], fanIn: ClipAnalysis.bands * 5)
            + layer("c2", [96, 64, 5], fanIn: 64 * 5)
            + layer("c3", [128, 96, 3], fanIn: 96 * 3)
            + layer("e", [Self.embeddingSize, 256], fanIn: 256)
            + layer("o", [classes.count, Self.embeddingSize], fanIn: Self.embeddingSize)
    }

    /// [B, bands, frames] → (embedding [B, 64], logits [B, classes]).
    func forward(_ x: Tensor) throws -> (Tensor, Tensor) {
        let p = self.p
        var h = try x.conv1d(p["c1_w"]!, bias: p["c1_b"]!, stride: 2, padding: 2).relu()
        h = try h.conv1d(p["c2_w"]!, bias: p["c2_b"]!, stride: 2, padding: 2).relu()
        h = try h.conv1d(p["c3_w"]!, bias: p["c3_b"]!, stride: 2, padding: 1).relu()
        let pooled = try Tensor.cat([h.mean([2]), h.max([2])], dim: 1)
        let embedding = try pooled.linear(p["e_w"]!, bias: p["e_b"]!).relu()
        return (embedding, try embedding.linear(p["o_w"]!, bias: p["o_b"]!))
    }

    /// The network's input for one clip: the first `inputFrames` frames, band-major, scaled.
    static func input(_ a: ClipAnalysis, shift: Int = 0, bandShift: Int = 0,
                      maskedBands: Range<Int> = 0..<0, maskedFrames: Range<Int> = 0..<0) -> [Float] {
        let bands = ClipAnalysis.bands, frames = inputFrames
        // The loudest cell of the window the network sees: the input is relative to it.
        let peak = a.logMel.prefix(Swift.min(a.frames, frames) * bands).max() ?? 0
        let floor = ClipAnalysis.floorDB
        var out = [Float](repeating: 0, count: bands * frames)
        for t in 0..<frames {
            let source = t - shift
            guard source >= 0 && source < a.frames else { continue }
            for b in 0..<bands {
                // A shift along the mel axis (edge bands repeated) stands for another drum's tuning.
                let from = Swift.min(bands - 1, Swift.max(0, b - bandShift))
                // Masked bands and frames (SpecAugment) read as silence.
                if maskedBands.contains(b) || maskedFrames.contains(t) { continue }
                out[b * frames + t] = (Swift.max(floor, a.logMel[source * bands + from] - peak) - floor) / 20
            }
        }
        return out
    }

    /// Trains on `analyses` labelled `labels` (indices into `classes`) for `steps` steps.
    /// With `validation` clips (held-out kits), the weights are those of the check (every 100 steps)
    /// with the best validation accuracy: early stopping on kits the classifier never trains on.
    public static func train(_ analyses: [ClipAnalysis], labels: [Int], classes: [String], steps: Int = 800,
                             batch: Int = 32, seed: UInt64, validation: (analyses: [ClipAnalysis], labels: [Int])? = nil,
                             progress: (Double) -> Void = { _ in }) throws -> DrumClassifier {
        Torch.manualSeed(seed)
        let model = try DrumClassifier(classes: classes)
        let optimizer = try AdamOptimizer(parameters: model.parameters.map(\.1), learningRate: 2e-3, weightDecay: 1e-2)
        var rng = SplitMix64(seed: seed)
        let byClass = (0..<classes.count).map { c in labels.indices.filter { labels[$0] == c } }.filter { !$0.isEmpty }
        let size = ClipAnalysis.bands * inputFrames
        var best: (score: Double, weights: [[Float]]) = (-1, [])
        for step in 0..<steps {
            if step == steps * 3 / 4 { try optimizer.setLearningRate(5e-4) }
            var x: [Float] = [], y: [Float] = []
            x.reserveCapacity(batch * size)
            for _ in 0..<batch {
                let members = byClass[Int(rng.next() % UInt64(byClass.count))]
                let i = members[Int(rng.next() % UInt64(members.count))]
                let bandStart = Int(rng.next() % UInt64(ClipAnalysis.bands)), frameStart = Int(rng.next() % UInt64(inputFrames))
                x += input(analyses[i], shift: Int(rng.next() % 4),
                           bandShift: Int(rng.next() % 5) - 2, maskedBands: bandStart..<(bandStart + Int(rng.next() % 9)),
                           maskedFrames: frameStart..<(frameStart + Int(rng.next() % 30)))
                var onehot = [Float](repeating: 0, count: classes.count)
                onehot[labels[i]] = 1
                y += onehot
            }
            let (_, logits) = try model.forward(Tensor(x, shape: [batch, ClipAnalysis.bands, inputFrames]))
            let target = try Tensor(y, shape: [batch, classes.count])
            let m = try logits.max([1], keepDims: true).detached()
            let logSumExp = try (logits - m).exp().sum([1], keepDims: true).log() + m
            let loss = try (logSumExp - (logits * target).sum([1], keepDims: true)).mean()
            try optimizer.zeroGrad()
            try loss.backward()
            try optimizer.step()
            progress(Double(step + 1) / Double(steps))
            if let validation, !validation.labels.isEmpty, (step + 1) % 100 == 0 || step + 1 == steps {
                let predicted = try model.apply(validation.analyses).predictions
                // Mean per-class accuracy, so a large class does not decide alone.
                var perClass: [Int: (Int, Int)] = [:]
                for (p, l) in zip(predicted, validation.labels) { perClass[l, default: (0, 0)].0 += p == l ? 1 : 0; perClass[l, default: (0, 0)].1 += 1 }
                let score = perClass.values.map { Double($0.0) / Double($0.1) }.reduce(0, +) / Double(perClass.count)
                if score > best.score { best = (score, try model.parameters.map { try $0.1.floats() }) }
            }
        }
        if !best.weights.isEmpty {
            try Torch.withoutGradients { for (p, w) in zip(model.parameters, best.weights) { try p.1.assign(w) } }
        }
        model.forest = ExtraTrees(x: analyses.map(\.descriptors), y: labels, classes: classes.count, trees: trees, seed: seed)
        return model
    }

    /// The evaluation's classifier: trained on the training kits' clips of `classes`, the weights
    /// chosen on the validation kits'. `trainingA` and `validationA` analyse the corpus's training
    /// and validation clips, in order.
    public static func trainForEvaluation(_ corpus: EvalCorpus, trainingA: [ClipAnalysis], validationA: [ClipAnalysis],
                                          classes: [String], steps: Int, seed: UInt64,
                                          progress: (Double) -> Void = { _ in }) throws -> DrumClassifier {
        let labelled = corpus.training.indices.filter { classes.contains(corpus.training[$0].className) }
        let validating = corpus.validation.indices.filter { classes.contains(corpus.validation[$0].className) }
        return try train(labelled.map { trainingA[$0] }, labels: labelled.map { classes.firstIndex(of: corpus.training[$0].className)! },
                         classes: classes, steps: steps, seed: seed,
                         validation: (validating.map { validationA[$0] },
                                      validating.map { classes.firstIndex(of: corpus.validation[$0].className)! }),
                         progress: progress)
    }

    /// Embeddings (penultimate layer) and predicted class indices of clips.
    public func apply(_ analyses: [ClipAnalysis]) throws -> (embeddings: FeatureMatrix, predictions: [Int]) {
        let named = try name(analyses)
        return (named.embeddings, named.predictions)
    }

    /// Embeddings, the class each clip is named (network and trees together), and what the network
    /// and the trees alone would name it: the reference rows of `timbre bench classifier`.
    public func name(_ analyses: [ClipAnalysis]) throws
        -> (embeddings: FeatureMatrix, predictions: [Int], network: [Int], trees: [Int], probabilities: [(network: [Float], trees: [Float])]) {
        try Torch.withoutGradients {
            var rows: [Double] = [], predictions: [Int] = [], network: [Int] = [], trees: [Int] = []
            var probabilities: [(network: [Float], trees: [Float])] = []
            func argmax(_ v: [Float]) -> Int { v.indices.max { v[$0] < v[$1] }! }
            for start in stride(from: 0, to: analyses.count, by: 64) {
                let chunk = Array(analyses[start..<min(analyses.count, start + 64)])
                let x = try Tensor(chunk.flatMap { Self.input($0) }, shape: [chunk.count, ClipAnalysis.bands, Self.inputFrames])
                let (e, logits) = try forward(x)
                rows += try e.floats().map(Double.init)
                let l = try logits.floats()
                for r in 0..<chunk.count {
                    let row = Array(l[r * classes.count..<(r + 1) * classes.count])
                    let m = row.max()!
                    let exp = row.map { Foundation.exp($0 - m) }
                    let total = exp.reduce(0, +)
                    let soft = exp.map { $0 / total }
                    network.append(argmax(soft))
                    guard let forest else {
                        trees.append(argmax(soft)); predictions.append(argmax(soft)); probabilities.append((soft, soft)); continue
                    }
                    let p = forest.probabilities(chunk[r].descriptors)
                    probabilities.append((soft, p))
                    trees.append(argmax(p))
                    predictions.append(argmax(zip(soft, p).map { Self.networkWeight * $0 + (1 - Self.networkWeight) * $1 }))
                }
            }
            return (FeatureMatrix(count: analyses.count, dimensions: Self.embeddingSize, values: rows), predictions, network, trees, probabilities)
        }
    }

    /// Saves the weights and classes.
    public func save(to url: URL) throws {
        let archive = try TensorArchive()
        for (name, t) in parameters { try archive.write(name, t) }
        if let forest {
            let table = forest.table
            try archive.write("forest_nodes", Tensor(table.nodes, shape: [table.nodes.count]))
            try archive.write("forest_roots", Tensor(table.roots, shape: [table.roots.count]))
        }
        let tmp = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).\(getpid()).tmp")
        try archive.save(to: tmp)
        guard rename(tmp.path, url.path) == 0 else { throw DrumEvalError(path: url.path, reason: "cannot rename into place") }
    }

    /// Loads weights saved by `save` for the same classes.
    public static func load(from url: URL, classes: [String]) throws -> DrumClassifier {
        let model = try DrumClassifier(classes: classes)
        let archive = try TensorArchive(contentsOf: url)
        try Torch.withoutGradients {
            for (name, t) in model.parameters { try t.assign(archive.tensor(name)) }
        }
        model.forest = try ExtraTrees(table: archive.tensor("forest_nodes").floats(), roots: archive.tensor("forest_roots").floats(),
                                      classes: classes.count)
        return model
    }
}

/// Accuracy of predictions per class.
public struct ClassAccuracy: Codable, Sendable, Equatable {
    public var className: String
    public var clips: Int
    public var correct: Int
    public var accuracy: Double { clips > 0 ? Double(correct) / Double(clips) : .nan }

    /// Per class of `classes`: how many of `clips` the `predictions` (indices into `classes`) name right.
    public static func of(_ clips: [EvalCorpus.Clip], predictions: [Int], classes: [String]) -> [ClassAccuracy] {
        classes.map { c in
            let members = clips.indices.filter { clips[$0].className == c }
            return ClassAccuracy(className: c, clips: members.count, correct: members.filter { classes[predictions[$0]] == c }.count)
        }
    }
}

import Foundation
import Torch

/// The bar for generated one-shots, measured: no NaN, no clipping, an onset in
/// the first 20 ms, decaying energy, and neither copies of training clips nor of each
/// other (multi-scale spectral distance to the nearest one above the model's own
/// validation reconstruction distance).
public struct GenerationCheck: Codable, Sendable {
    public struct Shot: Codable, Sendable {
        public var finite: Bool
        public var peak: Double
        public var onsetMilliseconds: Double
        /// RMS of the first 200 ms over RMS of 1.4…1.95 s, in dB.
        public var decayDB: Double
        /// Multi-scale spectral convergence (dB) to the nearest training clip.
        public var nearestTrainingDB: Double
        /// The same to the nearest other generated one-shot.
        public var nearestGeneratedDB: Double
    }

    public var shots: [Shot]
    /// The model's validation reconstruction distance (dB): the threshold for "not a copy".
    public var validationReconstructionDB: Double
    public var allFinite: Bool { shots.allSatisfy(\.finite) }
    public var noClipping: Bool { shots.allSatisfy { $0.peak < 1 } }
    public var onsetsEarly: Bool { shots.allSatisfy { $0.onsetMilliseconds <= 20 } }
    public var allDecay: Bool { shots.allSatisfy { $0.decayDB >= GenerationCheck.minimumDecayDB } }
    public var noTrainingCopies: Bool { shots.allSatisfy { $0.nearestTrainingDB > validationReconstructionDB } }
    public var noMutualCopies: Bool { shots.allSatisfy { $0.nearestGeneratedDB > validationReconstructionDB } }
    public var passes: Bool { allFinite && noClipping && onsetsEarly && allDecay && noTrainingCopies && noMutualCopies }

    /// "Decays rather than stationary noise": the tail is at least this much below the attack.
    public static let minimumDecayDB = 6.0

    /// Generates `count` one-shots from the prior and measures them against the training clips.
    public static func run(_ run: TrainedRun, dataset: OneShotDataset, count: Int, seed: UInt64,
                           temperature: Double = 1) throws -> (GenerationCheck, [[Float]]) {
        let spectrum = try MultiScaleSpectrum.evaluation()
        // The validation reconstruction distance, as training reports it.
        let validation = dataset.validation.map(\.samples)
        let means = try run.encode(validation).map(\.mean)
        let classes = dataset.validation.map { run.config.classes.firstIndex(of: $0.className) ?? 0 }
        let reconstructions = try run.decode(means, classes: run.config.conditional ? classes : nil)
        let reconstructionDB = try spectrum.convergenceDB(validation, reconstructions)
        let threshold = reconstructionDB.reduce(0, +) / Double(reconstructionDB.count)

        let generated = try run.generate(count: count, className: nil, temperature: temperature, seed: seed).map(\.1)
        let training = dataset.training.map(\.samples)
        let nearestTraining = try nearest(generated, among: training, spectrum: spectrum, excludingSelf: false)
        let nearestGenerated = try nearest(generated, among: generated, spectrum: spectrum, excludingSelf: true)
        let rate = Double(run.config.sampleRate)
        let shots = generated.enumerated().map { i, x in
            let peak = Double(x.reduce(0) { max($0, Swift.abs($1)) })
            let onset = x.firstIndex { Double(Swift.abs($0)) >= 0.1 * peak } ?? x.count
            func rms(_ from: Double, _ to: Double) -> Double {
                let slice = x[Int(from * rate)..<min(x.count, Int(to * rate))]
                return (slice.reduce(0) { $0 + Double($1) * Double($1) } / Double(max(1, slice.count))).squareRoot()
            }
            return Shot(finite: x.allSatisfy(\.isFinite), peak: peak, onsetMilliseconds: Double(onset) / rate * 1000,
                        decayDB: 20 * log10(max(rms(0, 0.2), 1e-12) / max(rms(1.4, 1.95), 1e-12)),
                        nearestTrainingDB: nearestTraining[i], nearestGeneratedDB: nearestGenerated[i])
        }
        return (GenerationCheck(shots: shots, validationReconstructionDB: threshold), generated)
    }

    /// For each candidate, the multi-scale convergence (dB) to its nearest reference (as the
    /// reference spectrum). References are ranked by convergence at the coarsest scale first;
    /// the exact multi-scale value is computed for the best three.
    static func nearest(_ candidates: [[Float]], among references: [[Float]], spectrum: MultiScaleSpectrum,
                        excludingSelf: Bool) throws -> [Double] {
        let length = candidates[0].count
        let coarse = try MultiScaleSpectrum(sizes: [spectrum.sizes.max()!])
        let candidateMags = try Torch.withoutGradients {
            try coarse.magnitudes(Tensor(candidates.flatMap { $0 }, shape: [candidates.count, length]), 0)
        }
        var ranking = [[(Double, Int)]](repeating: [], count: candidates.count)
        try Torch.withoutGradients {
            for (j, reference) in references.enumerated() {
                let r = try coarse.magnitudes(Tensor(reference, shape: [1, length]), 0)
                let d = try ((candidateMags - r).norm([1, 2]) / (r.norm() + 1e-9)).floats()
                for i in candidates.indices where !(excludingSelf && i == j) { ranking[i].append((Double(d[i]), j)) }
            }
        }
        return try candidates.indices.map { i in
            let best = ranking[i].sorted { $0.0 < $1.0 }.prefix(3).map(\.1)
            let exact = try spectrum.convergenceDB(best.map { references[$0] }, Array(repeating: candidates[i], count: best.count))
            return exact.min() ?? .infinity
        }
    }
}

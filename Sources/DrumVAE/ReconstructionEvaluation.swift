import DSP
import Foundation
import Torch

/// Validation multi-scale spectral convergence (FFT 2048…128) of
/// reconstructions from the posterior means. A complex run is measured as it decodes; a
/// magnitude-only run twice: inverted with zero phase, and with 32 Griffin-Lim iterations
/// (DSP.PhaseReconstruction, at the decoder's own STFT settings), plus PGHI+FGLA. A complex run
/// also with its phase refined by Fast Griffin-Lim. Both with the ceiling no phase can pass on
/// the decoder's magnitudes: the validation clip's own phase.
public enum ReconstructionEvaluation {
    public struct Row: Codable, Sendable {
        public var run: String
        public var representation: String
        public var inversion: String
        public var step: Int
        public var clips: Int
        /// Mean over clips of the per-clip multi-scale spectral convergence, dB (lower is better).
        public var convergenceDB: Double
        /// The same mean over the clips of each drum class of the validation split.
        public var byClass: [String: Double] = [:]
    }

    public static func run(_ trained: TrainedRun, dataset: OneShotDataset, griffinLimIterations: Int = 32,
                           phaseReconstructionIterations: Int = 100) throws -> [Row] {
        let c = trained.config
        let spectrum = try MultiScaleSpectrum.evaluation()
        let clips = dataset.validation
        let audio = clips.map(\.samples)
        let means = try trained.encode(audio).map(\.mean)
        let classes = clips.map { c.classes.firstIndex(of: $0.className) ?? 0 }
        func row(_ inversion: String, _ outputs: [[Float]]) throws -> Row {
            let db = try spectrum.convergenceDB(audio, outputs)
            let byClass = Dictionary(grouping: zip(clips, db), by: { $0.0.className })
                .mapValues { $0.map(\.1).reduce(0, +) / Double($0.count) }
            return Row(run: trained.folder.url.lastPathComponent, representation: c.representation.rawValue, inversion: inversion,
                       step: trained.step, clips: clips.count, convergenceDB: db.reduce(0, +) / Double(db.count), byClass: byClass)
        }
        // Straight from the decoder: the complex run's own phase, or zero phase.
        let decoded = try trained.decode(means, classes: c.conditional ? classes : nil)
        let straight = switch c.representation { case .complex: "decoder phase"; case .magnitude: "zero phase"; case .synth: "synthesised" }
        var rows = [try row(straight, decoded)]
        let stft = STFT(size: c.fftSize, hop: c.hop, window: .hann)
        let reconstructor = PhaseReconstructor(stft: stft, frames: c.frames, length: c.clipSamples)
        var refined: [[Float]] = [], inverted: [[Float]] = [], best: [[Float]] = [], oracle: [[Float]] = []
        for (i, z) in means.enumerated() {
            let (magnitude, phase) = try trained.decodeSpectrum(z, classIndex: classes[i])
            switch c.representation {
            case .complex:
                // The decoder's phase as the start of Fast Griffin-Lim, which makes the predicted
                // spectrum consistent (the phase it predicts is not required to be).
                if griffinLimIterations > 0 {
                    refined.append(reconstructor.refine(magnitude: magnitude, initialPhase: phase, iterations: griffinLimIterations))
                }
            case .magnitude:
                inverted.append(try PhaseReconstruction.reconstruct(magnitude: magnitude, frames: c.frames, bins: c.bins, stft: stft,
                                                                    method: .gla, iterations: griffinLimIterations,
                                                                    length: c.clipSamples, seed: UInt64(i)))
                if phaseReconstructionIterations > 0 {
                    best.append(try PhaseReconstruction.reconstruct(magnitude: magnitude, frames: c.frames, bins: c.bins, stft: stft,
                                                                    method: .pghiFGLA, iterations: phaseReconstructionIterations,
                                                                    length: c.clipSamples, seed: UInt64(i)))
                }
            case .synth:
                break
            }
            // The ceiling of any phase on these magnitudes: the clip's own phase.
            let truth = stft.analyze(audio[i])
            oracle.append(reconstructor.refine(magnitude: magnitude, initialPhase: Array(truth.phase.prefix(c.frames * c.bins)),
                                               iterations: 0))
        }
        if !refined.isEmpty { rows.append(try row("decoder phase + FGLA \(griffinLimIterations)", refined)) }
        if c.representation == .magnitude {
            rows.append(try row("Griffin-Lim \(griffinLimIterations)", inverted))
            if phaseReconstructionIterations > 0 {
                rows.append(try row("PGHI+FGLA \(phaseReconstructionIterations)", best))
            }
        }
        rows.append(try row("true phase (ceiling)", oracle))
        return rows
    }
}

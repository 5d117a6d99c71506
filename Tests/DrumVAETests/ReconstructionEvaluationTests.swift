import DSP
import Foundation
import Testing
import TestSupport
import Torch
@testable import DrumVAE

/// `timbre bench reconstruction`'s measurement and the complex model's extra losses.
@Suite(.serialized)
struct ReconstructionEvaluationTests {
    /// The supervised phase loss: 0 for the clip's own phase; a constant rotation of every bin
    /// by π/2 costs the phase term fully (1) and the two derivative terms nothing, so a third;
    /// the conjugate phase (time reversed within each frame) costs all three. With the
    /// demodulated phase frame the maps hold the clip's phase turned back by each bin's rotation.
    @Test(arguments: [false, true])
    func phaseLossMeasuresPhaseAndItsDerivatives(demodulated: Bool) throws {
        let clip = Drums.kick(seconds: 0.5) + Drums.snare(seconds: 0.5)
        var config = smallConfig(steps: 2)
        config.representation = .complex
        config.demodulatedPhase = demodulated
        config.clipSamples = clip.count
        let model = try DrumVAEModel(config: config)
        let core = try TrainingCore(model: model)
        let x = try Tensor(clip, shape: [1, clip.count])
        let spec = try x.stft(nFFT: config.fftSize, hop: config.hop, window: model.window)
        let target = try magnitude(spec)
        var re = try spec.narrow(3, start: 0, length: 1).squeeze(3), im = try spec.narrow(3, start: 1, length: 1).squeeze(3)
        if let r = model.rotation {
            // Maps holding the clip's phase turned back by each bin's rotation: the model's
            // direction turns them forward again.
            let maps = try Tensor.cat([target, re * r.cos + im * r.sin, im * r.cos - re * r.sin], dim: 1)
            (re, im) = try model.phaseDirection(maps)
        }
        let own = try core.phaseLoss(re, im, spec: spec, magnitude: target).item()
        let rotated = try core.phaseLoss(im * -1.0, re, spec: spec, magnitude: target).item()
        let conjugate = try core.phaseLoss(re, im * -1.0, spec: spec, magnitude: target).item()
        print("phase loss: own \(own), rotated by π/2 \(rotated), conjugate \(conjugate)")
        #expect(own < 1e-3)
        #expect(Swift.abs(rotated - 1.0 / 3) < 1e-3)
        #expect(conjugate > 0.3)
    }

    /// Every row the benchmark prints, for both representations, on runs trained in the test
    /// (the complex one with the phase loss in its warm-up and the spectrum loss after it).
    @Test(.needsHydrogenKits)
    func rowsForBothRepresentations() throws {
        let kit = try makeTestKit(perKit: 4, kits: ["HardElectro1", "ElectricEmpireKit"])
        let dir = TemporaryDirectory()
        var complex = smallConfig(steps: 4)
        complex.magnitudeWarmupSteps = 2
        complex.phaseWeight = 0.5
        complex.spectrumWeight = 0.5
        var baseline = smallConfig(steps: 4)
        baseline.representation = .magnitude
        try train(kit: kit.url, run: dir.file("complex"), steps: 4, config: complex)
        try train(kit: kit.url, run: dir.file("magnitude"), steps: 4, config: baseline)
        let dataset = try OneShotDataset(directory: kit.url, sampleRate: 44100, clipSamples: 88200)
        let complexRows = try ReconstructionEvaluation.run(TrainedRun(dir.file("complex")), dataset: dataset,
                                                           griffinLimIterations: 2, phaseReconstructionIterations: 2)
        let magnitudeRows = try ReconstructionEvaluation.run(TrainedRun(dir.file("magnitude")), dataset: dataset,
                                                             griffinLimIterations: 2, phaseReconstructionIterations: 2)
        #expect(complexRows.map(\.inversion) == ["decoder phase", "decoder phase + FGLA 2", "true phase (ceiling)"])
        #expect(magnitudeRows.map(\.inversion) == ["zero phase", "Griffin-Lim 2", "PGHI+FGLA 2", "true phase (ceiling)"])
        for row in complexRows + magnitudeRows {
            #expect(row.clips == dataset.validation.count && row.step == 4)
            #expect(row.convergenceDB.isFinite, "\(row.run) \(row.inversion)")
            // Per class: the validation split's classes, and weighted by their clips they
            // give back the row's mean.
            let counts = Dictionary(grouping: dataset.validation, by: \.className).mapValues(\.count)
            #expect(Set(row.byClass.keys) == Set(counts.keys))
            let weighted = row.byClass.reduce(0.0) { $0 + $1.value * Double(counts[$1.key] ?? 0) } / Double(row.clips)
            #expect(Swift.abs(weighted - row.convergenceDB) < 1e-9, "\(row.run) \(row.inversion): \(weighted) against \(row.convergenceDB)")
        }

        // What a listener gets (`render`, used by generate, morph and the drum evaluation):
        // the complex run's own decode, and the magnitude run's spectra with PGHI + FGLA 32
        // instead of zero phase.
        let latents: [[Float]] = (0..<3).map { k in (0..<baseline.latentSize).map { Float(($0 + k) % 5) * 0.3 - 0.6 } }
        let complexRun = try TrainedRun(dir.file("complex")), magnitudeRun = try TrainedRun(dir.file("magnitude"))
        #expect(try complexRun.render(latents) == complexRun.decode(latents))
        let rendered = try magnitudeRun.render(latents)
        let stft = STFT(size: baseline.fftSize, hop: baseline.hop, window: .hann)
        for (i, z) in latents.enumerated() {
            let magnitude = try magnitudeRun.decodeSpectrum(z).magnitude
            let expected = try PhaseReconstruction.reconstruct(magnitude: magnitude, frames: baseline.frames, bins: baseline.bins, stft: stft,
                                                               method: .pghiFGLA, iterations: TrainedRun.magnitudeInversionIterations,
                                                               length: baseline.clipSamples, seed: UInt64(i))
            let gap = zip(rendered[i], expected).map { Swift.abs($0 - $1) }.max() ?? 0
            let peak = expected.map { Swift.abs($0) }.max() ?? 0
            #expect(peak > 0 && gap <= 1e-5 * max(peak, 1e-6), "one-shot \(i): \(gap) against peak \(peak)")
        }
        #expect(try rendered != magnitudeRun.decode(latents), "zero phase is what render replaces")
    }
}

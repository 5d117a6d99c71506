import Foundation
import Testing
import TestSupport
import Torch
@testable import DrumVAE

/// Generated one-shots from a model trained in the test (small and short): 100 straight from
/// the decoder (only the fixed end fade, and one constant gain should a peak clip) with no NaN
/// and no clipping. Realism and copying are judged by DrumEval's bench against held-out kits.
@Suite(.serialized)
struct GenerationTests {
    @Test(.needsHydrogenKits)
    func hundredOneShotsAreFiniteAndDoNotClip() throws {
        let kit = try makeTestKit(perKit: 8, kits: ["HardElectro1", "ElectricEmpireKit", "Millo-Drums_v.1"])
        let dir = TemporaryDirectory()
        let runURL = dir.file("run")
        var config = smallConfig(steps: 150)
        config.klWarmupSteps = 50
        try train(kit: kit.url, run: runURL, steps: 150, config: config)
        let run = try TrainedRun(runURL)
        let dataset = try OneShotDataset(directory: kit.url, sampleRate: 44100, clipSamples: 88200)
        // The prior fitted when training ended: one component per class of the training split.
        let prior = try #require(run.prior, "train writes RUN/prior.json")
        #expect(prior.components.map(\.className) == Array(Set(dataset.training.map(\.className))).sorted())
        #expect(prior.latentSize == config.latentSize && prior.step == 150)
        // A run whose prior.json is missing (or older than its checkpoint) gets one fitted in
        // memory to its weights, as training fits it at its end (what `bench drums` does for a
        // run still training).
        #expect(run.priorIsCurrent)
        try FileManager.default.removeItem(at: RunFolder(runURL).prior)
        let bare = try TrainedRun(runURL)
        #expect(bare.prior == nil && !bare.priorIsCurrent)
        let groups = dataset.training.compactMap(\.group)
        try bare.fitPrior(clips: dataset.training.map(\.samples), classes: dataset.training.map(\.className),
                          groups: groups.count == dataset.training.count ? groups : nil)
        let refit = try #require(bare.prior)
        #expect(bare.priorIsCurrent && refit.components.map(\.className) == prior.components.map(\.className))
        let meanGap = zip(refit.components, prior.components).map { a, b in zip(a.mean, b.mean).map { Swift.abs($0 - $1) }.max()! }.max()!
        #expect(meanGap < 1e-3, "refitted class means differ by \(meanGap)")
        #expect(!FileManager.default.fileExists(atPath: RunFolder(runURL).prior.path), "fitPrior writes nothing")
        // An unconditional run still generates by class, from that class's part of the prior.
        let kicks = try run.generate(count: 3, className: "kick", temperature: 1, seed: 2)
        #expect(kicks.map(\.0) == ["kick", "kick", "kick"])
        let (check, shots) = try GenerationCheck.run(run, count: 100, seed: 11)
        #expect(shots.count == 100)
        func summary(_ values: [Double]) -> String { String(format: "%.2f…%.2f", values.min()!, values.max()!) }
        print("generation check: peak \(summary(check.shots.map(\.peak))), onset \(summary(check.shots.map(\.onsetMilliseconds))) ms,",
              "decay \(summary(check.shots.map(\.decayDB))) dB; onsets within 20 ms \(check.shots.filter { $0.onsetMilliseconds <= 20 }.count)/100,",
              "decaying \(check.shots.filter { $0.decayDB >= GenerationCheck.minimumDecayDB }.count)/100")
        let finite = check.allFinite, noClipping = check.noClipping
        #expect(finite)
        #expect(noClipping)
        // Every one-shot at the corpus's level: -1 dBFS peak (prep's default), not the spread
        // the gain augmentation taught the prior.
        let peaks = check.shots.map { 20 * log10($0.peak) }
        #expect(peaks.allSatisfy { Swift.abs($0 - TrainedRun.generatedPeakDBFS) < 0.001 }, "peaks \(peaks.min()!)…\(peaks.max()!) dBFS")
    }

    /// `levelled` applies one constant gain to reach -1 dBFS, and leaves near-silence alone.
    @Test func levelledSetsThePeakWithOneGain() {
        let x: [Float] = [0, 0.1, -0.25, 0.05]
        let y = TrainedRun.levelled(x)
        let gain = y[2] / x[2]
        #expect(Swift.abs(20 * log10(Double(Swift.abs(y[2]))) + 1) < 1e-4)
        #expect(zip(x, y).allSatisfy { Swift.abs($0 * gain - $1) < 1e-6 })
        let hiss: [Float] = [0, 5e-5, -3e-5]
        #expect(TrainedRun.levelled(hiss) == hiss)
    }
}

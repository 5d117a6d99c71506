import AudioIO
import Dataset
import DrumVAE
import Foundation
import TestSupport
import Torch

/// A folder prepared by `timbre prep`'s pipeline (defaults) from the first `perKit` files of
/// each of Debian's hydrogen kits named: one group per kit. Tests using it are
/// `.needsHydrogenKits`.
func makeTestKit(perKit: Int, kits: [String]) throws -> TemporaryDirectory {
    let dir = TemporaryDirectory("timbre-vae-kit")
    let sources = TemporaryDirectory("timbre-vae-kit-sources")
    try HydrogenKits.stage(perKit: perKit, kits: kits, into: sources.url)
    let summary = try Pipeline.run(inputs: [sources.url], output: dir.url, options: PrepOptions(), workers: 1)
    guard summary.failures.isEmpty else { throw DrumVAEError(path: dir.url.path, reason: "\(summary.failures)") }
    return dir
}

/// A small, fast configuration for tests.
func smallConfig(steps: Int) -> DrumVAEConfig {
    var config = DrumVAEConfig()
    config.channels = 32
    config.latentSize = 8
    config.batchSize = 4
    config.klWarmupSteps = steps / 2
    config.checkpointEvery = 1000
    config.validateEvery = 1000
    config.learningRate = 2e-3
    return config
}

/// Trains a run in `run` and returns the summary.
@discardableResult
func train(kit: URL, run: URL, steps: Int? = nil, minutes: Double? = nil, resume: Bool = false,
           config: DrumVAEConfig) throws -> TrainingSummary {
    let trainer = try Trainer(request: TrainingRequest(dataset: kit, run: run, steps: steps, minutes: minutes,
                                                       resume: resume, config: config))
    return try trainer.run(steps: steps, minutes: minutes, progress: { _ in }, shouldStop: { false })
}

/// Every tensor of a checkpoint, by name.
func checkpointValues(_ run: URL, names: [String]) throws -> [String: [Float]] {
    let archive = try TensorArchive(contentsOf: run.appendingPathComponent("checkpoint.pt"))
    var out: [String: [Float]] = [:]
    for name in names { out[name] = try archive.tensor(name).floats() }
    return out
}

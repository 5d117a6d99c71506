import AudioIO
import DrumVAE
import Foundation
import TestSupport
import Torch

/// A prepared-like drum folder made by scripts/vae-test-kit from Debian's hydrogen kits.
func makeTestKit(perKit: Int, kits: [String]) throws -> TemporaryDirectory {
    let dir = TemporaryDirectory("timbre-vae-kit")
    let script = TestPaths.packageRoot.appendingPathComponent("scripts/vae-test-kit")
    let result = try runProcess(URL(fileURLWithPath: "/bin/bash"), [script.path, dir.url.path, String(perKit)] + kits)
    guard result.status == 0 else { throw DrumVAEError(path: script.path, reason: result.stderr) }
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

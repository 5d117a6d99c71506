import AudioIO
import Foundation
import Testing
import TestSupport
import Torch
@testable import DrumVAE

@Suite(.serialized)
struct TrainingTests {
    static let kits = ["HardElectro1", "ElectricEmpireKit"]

    @Test(.needsHydrogenKits)
    func datasetSplitIsDeterministicAndDisjoint() throws {
        let kit = try makeTestKit(perKit: 6, kits: Self.kits)
        let a = try OneShotDataset(directory: kit.url, sampleRate: 44100, clipSamples: 88200)
        let b = try OneShotDataset(directory: kit.url, sampleRate: 44100, clipSamples: 88200)
        #expect(a.training.map(\.path) == b.training.map(\.path))
        #expect(a.validation.map(\.path) == b.validation.map(\.path))
        #expect(!a.validation.isEmpty && !a.training.isEmpty)
        #expect(Set(a.training.map(\.path)).isDisjoint(with: a.validation.map(\.path)))
        // Two kits, two groups: one trains, the other validates, whole.
        let split = try #require(a.split)
        #expect(split.train.count == 1 && split.validation.count == 1 && split.test.isEmpty)
        #expect(Set(a.training.compactMap(\.group)) == Set(split.train))
        #expect(Set(a.validation.compactMap(\.group)) == Set(split.validation))
        #expect(a.training.allSatisfy { $0.samples.count == 88200 })
        #expect(a.classes == a.classes.sorted() && !a.classes.isEmpty)
    }

    /// Training 6 steps straight equals training 3, stopping, and resuming to 6:
    /// same weights, same optimiser state (the checkpoint holds AdamW's moments), same step;
    /// with the kit split and with `--all-kits`.
    @Test(.needsHydrogenKits, arguments: [false, true])
    func resumeContinuesExactly(allKits: Bool) throws {
        let kit = try makeTestKit(perKit: 4, kits: Self.kits)
        let dir = TemporaryDirectory()
        var config = smallConfig(steps: 6)
        config.checkpointEvery = 3
        if allKits { config.allKits = true }
        let straight = dir.file("straight"), resumed = dir.file("resumed")
        try train(kit: kit.url, run: straight, steps: 6, config: config)
        try train(kit: kit.url, run: resumed, steps: 3, config: config)
        let summary = try train(kit: kit.url, run: resumed, steps: 6, resume: true, config: config)
        #expect(summary.step == 6)
        let names = try DrumVAEModel(config: DrumVAEConfig.read(from: straight.appendingPathComponent("config.json")))
            .namedParameters.map(\.name)
        let a = try checkpointValues(straight, names: names + ["step"])
        let b = try checkpointValues(resumed, names: names + ["step"])
        for name in names + ["step"] { #expect(a[name] == b[name], "\(name) differs after resuming") }
        // A fresh run refuses a folder that already holds one.
        #expect(throws: DrumVAEError.self) { try train(kit: kit.url, run: straight, steps: 1, config: config) }
        // The log holds each logged step once, in order.
        let steps = try String(contentsOf: resumed.appendingPathComponent("log.jsonl"), encoding: .utf8)
            .split(separator: "\n").compactMap { line -> Int? in
                let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
                return object?["loss"] != nil ? object?["step"] as? Int : nil
            }
        #expect(steps == steps.sorted() && Set(steps).count == steps.count && steps.last == 6)
    }

    @Test func missingManifestIsAOneLineError() throws {
        let dir = TemporaryDirectory()
        let error = try #require(throws: DrumVAEError.self) {
            try OneShotDataset(directory: dir.url, sampleRate: 44100, clipSamples: 88200)
        }
        #expect(error.description.contains("manifest.jsonl") && !error.description.contains("\n"))
    }
}

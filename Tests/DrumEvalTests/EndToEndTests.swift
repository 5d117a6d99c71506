import Dataset
import Foundation
import Testing
import TestSupport
@testable import DrumEval

/// The whole evaluation on real kits (hydrogen-drumkits, prepared by timbre prep's pipeline): the
/// controls must get the verdicts they must, and the calibration row must pass the copy test.
@Suite(.serialized)
struct EndToEndTests {
    @Test(.needsHydrogenKits)
    func controlsGetTheirVerdictsOnRealKits() throws {
        let kit = TemporaryDirectory("timbre-drumeval-kit")
        let sources = TemporaryDirectory("timbre-drumeval-sources")
        let kits = try FileManager.default.contentsOfDirectory(atPath: TestPaths.hydrogenKits.path).sorted()
        try HydrogenKits.stage(perKit: Self.perKit, kits: kits, into: sources.url)
        let summary = try Pipeline.run(inputs: [sources.url], output: kit.url, options: PrepOptions(), workers: 2)
        try #require(summary.failures.isEmpty, "\(summary.failures)")
        try Self.groupByKit(kit.url)
        let out = TemporaryDirectory("timbre-drumeval-out")
        var options = DrumBenchOptions(runs: [], dataset: kit.url, out: out.url)
        options.count = Self.count
        options.bootstrapDraws = 200
        options.classifierSteps = 300
        options.seed = 3
        print("EndToEndTests seed \(options.seed), \(Self.perKit) clips per kit, \(Self.count) sounds per row")
        let result = try DrumBench.run(options, log: { print($0) })
        for line in DrumBenchReport.table(result) { print(line) }
        // No kit on two sides.
        let split = result.setup.split
        let sides = [Set(split["training"]!), Set(split["validation"]!), Set(split["test"]!)]
        #expect(sides[0].isDisjoint(with: sides[1]) && sides[0].isDisjoint(with: sides[2]) && sides[1].isDisjoint(with: sides[2]))
        for name in ["randomPhase", "noiseBursts", "jittered", "collapsed", "calibration"] {
            let verdict = try #require(result.rows[name]?.verdict, "no verdict for \(name)")
            #expect(verdict.asExpected == true, "\(name): \(verdict)")
        }
        // Drums against drums: the ceiling and the calibration row hold no `other` clip.
        let corpus = try EvalCorpus(directory: kit.url, sampleRate: DrumBench.sampleRate, clipSamples: DrumBench.clipSamples)
        let namedTraining = corpus.training.filter { $0.className != "other" }.count
        let namedValidation = corpus.validation.filter { $0.className != "other" }.count
        print("named-class clips: training \(namedTraining) of \(corpus.training.count), validation \(namedValidation) of \(corpus.validation.count)")
        #expect(result.rows["realVsReal"]?.sounds == min(Self.count, namedTraining))
        #expect(result.rows["calibration"]?.sounds == namedValidation)
        #expect(FileManager.default.fileExists(atPath: out.file("report.html").path))
    }

    static let perKit = 15
    static let count = 120

    /// Sets each clip's group to its kit. Prep's near-identical grouping currently links most
    /// hydrogen kits into one group (a clap 1.4 dB from a cymbal counts as near-identical), which
    /// leaves no kit to hold out; the evaluation's own check of the split is the point here.
    static func groupByKit(_ folder: URL) throws {
        let url = folder.appendingPathComponent("manifest.jsonl")
        let lines = try String(contentsOf: url, encoding: .utf8).split(separator: "\n").map { line -> String in
            var object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
            object["group"] = object["kit"]
            return String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
        }
        try (lines.joined(separator: "\n") + "\n").write(to: url, atomically: true, encoding: .utf8)
    }
}

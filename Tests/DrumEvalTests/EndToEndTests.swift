import Dataset
import Foundation
import Testing
import TestSupport
@testable import DrumEval

/// The whole evaluation on real kits (hydrogen-drumkits, prepared by scripts/vae-test-kit): the
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
        let out = TemporaryDirectory("timbre-drumeval-out")
        var options = DrumBenchOptions(runs: [], dataset: kit.url, out: out.url)
        options.count = Self.count
        options.bootstrapDraws = 200
        options.seed = 3
        print("EndToEndTests seed \(options.seed), \(Self.perKit) clips per kit, \(Self.count) sounds per row")
        let result = try DrumBench.run(options, log: { print($0) })
        for line in DrumBenchReport.table(result) { print(line) }
        // No kit on two sides.
        let split = result.setup.split
        let sides = [Set(split["training"]!), Set(split["validation"]!), Set(split["test"]!)]
        #expect(sides[0].isDisjoint(with: sides[1]) && sides[0].isDisjoint(with: sides[2]) && sides[1].isDisjoint(with: sides[2]))
        for name in ["randomPhase", "noiseBursts", "jittered", "calibration"] {
            let verdict = try #require(result.rows[name]?.verdict, "no verdict for \(name)")
            #expect(verdict.asExpected == true, "\(name): \(verdict)")
        }
        #expect(FileManager.default.fileExists(atPath: out.file("report.html").path))
    }

    static let perKit = 40
    static let count = 200
}

import Foundation
import Testing
import TestSupport
@testable import DrumEval

/// The whole evaluation on real kits (hydrogen-drumkits, prepared by scripts/vae-test-kit): the
/// controls must get the verdicts they must, and the calibration row must pass the copy test.
@Suite(.serialized)
struct EndToEndTests {
    static let hydrogen = FileManager.default.fileExists(atPath: "/usr/share/hydrogen/data/drumkits")

    @Test(.enabled(if: hydrogen, "needs hydrogen-drumkits (apt-get install hydrogen-drumkits)"))
    func controlsGetTheirVerdictsOnRealKits() throws {
        let kit = TemporaryDirectory("timbre-drumeval-kit")
        let script = TestPaths.packageRoot.appendingPathComponent("scripts/vae-test-kit")
        let made = try runProcess(URL(fileURLWithPath: "/bin/bash"), [script.path, kit.url.path, "\(Self.perKit)"])
        try #require(made.status == 0, "\(made.stderr)")
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

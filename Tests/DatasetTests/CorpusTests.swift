import AudioIO
@testable import Dataset
import Foundation
import Testing
import TestSupport

/// The release `timbre` binary (`make test` builds it: the corpus is ~5 400 files, which the
/// unoptimised build would take hours over).
let releaseTimbre = TestPaths.packageRoot.appendingPathComponent(".build/release/timbre")
/// The executable the front end hands `corpus` to, built beside it.
let releaseTimbreCore = TestPaths.packageRoot.appendingPathComponent(".build/release/timbre-core")

/// The real drum corpus, built from Debian's packages twice, from nothing, with different
/// worker counts, by the `timbre corpus` command as a user runs it (release build; about
/// 200 s of CPU per build).
@Suite(.serialized)
struct CorpusTests {
    /// What must be the same in two builds of the manifest: each clip's path, samples, class,
    /// kit and group.
    struct Line: Equatable {
        var path: String, hash: String, drumClass: DrumClass, kit: String?, group: String?
    }

    @Test(.needsDrumCorpusSources,
          .enabled(if: FileManager.default.isExecutableFile(atPath: releaseTimbre.path)
                       && FileManager.default.isExecutableFile(atPath: releaseTimbreCore.path),
                   "needs the release build of timbre and timbre-core (make release; make test builds them)"))
    func corpusBuildsTheSameManifestTwiceAndNoGroupSpansTwoSides() throws {
        let dir = TemporaryDirectory("timbre-corpus")
        for (name, jobs) in [("a", "2"), ("b", "1")] {
            let result = try runProcess(releaseTimbre, ["corpus", "--out", dir.file(name).path, "--jobs", jobs])
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stdout.contains("corpus built in"))
            if name == "a" { print(result.stdout) }
        }
        let a = try Manifest.read(dir.file("a")), b = try Manifest.read(dir.file("b"))
        let split = try KitSplit.make(a)
        let lines = { (m: [ManifestEntry]) in m.map { Line(path: $0.path, hash: $0.hash, drumClass: $0.drumClass, kit: $0.kit, group: $0.group) } }
        #expect(lines(a) == lines(b))
        #expect(try KitSplit.make(b) == split)
        #expect(try Data(contentsOf: dir.file("a/groups.json")) == Data(contentsOf: dir.file("b/groups.json")))

        // Only the corpus's sources: hydrogen's kits and the renders.
        #expect(a.allSatisfy { $0.source.hasPrefix(DrumCorpus.hydrogenKits.path + "/") || $0.source.hasPrefix(dir.file("a-gm").path + "/") })
        #expect(Set(a.compactMap(\.kit).filter { $0.hasPrefix("FluidR3 GM") }).count >= 9)

        // No group on two sides; every group on one.
        let groups = Set(a.compactMap(\.group))
        #expect(a.allSatisfy { $0.group != nil })
        for group in groups {
            let sides = SplitSide.allCases.filter { split.groups($0).contains(group) }
            #expect(sides.count == 1, "\(group) is on \(sides)")
        }
        #expect(Set(split.train + split.validation + split.test) == groups)
        // No kit in two groups, and the held-out sides hold kicks, snares and hats.
        let groupsOfKit = Dictionary(grouping: a, by: { $0.kit ?? "" }).mapValues { Set($0.compactMap(\.group)) }
        #expect(groupsOfKit.values.allSatisfy { $0.count == 1 })
        for side in [SplitSide.validation, .test] {
            let classes = Set(split.entries(side, in: a).map(\.drumClass))
            #expect(classes.isSuperset(of: [.kick, .snare, .hat]), "\(side): \(classes)")
        }
    }
}

import AudioIO
@testable import Dataset
import Foundation
import Testing
import TestSupport

/// The real drum corpus, built from Debian's packages: twice, from nothing, with different
/// worker counts. Slow (two full builds: renders of 31 presets and prep of ~5 400 files).
@Suite(.serialized)
struct CorpusTests {
    /// What must be the same in two builds of the manifest: each clip's path, samples, class,
    /// kit and group.
    struct Line: Equatable {
        var path: String, hash: String, drumClass: DrumClass, kit: String?, group: String?
    }

    @Test(.needsDrumCorpusSources)
    func corpusBuildsTheSameManifestTwiceAndNoGroupSpansTwoSides() throws {
        let dir = TemporaryDirectory("timbre-corpus")
        let first = try DrumCorpus.build(output: dir.file("a"), renders: dir.file("a-gm"), workers: 2)
        let second = try DrumCorpus.build(output: dir.file("b"), renders: dir.file("b-gm"), workers: 1)
        let a = try Manifest.read(dir.file("a")), b = try Manifest.read(dir.file("b"))
        print("corpus: \(a.count) clips, \(first.prep.groups) groups, \(first.render.files) rendered files; "
              + DrumClass.allCases.map { "\($0.rawValue) \(first.clipsPerClass[$0] ?? 0)" }.joined(separator: ", "))
        print(first.split.summary(of: a))
        let lines = { (m: [ManifestEntry]) in m.map { Line(path: $0.path, hash: $0.hash, drumClass: $0.drumClass, kit: $0.kit, group: $0.group) } }
        #expect(lines(a) == lines(b))
        #expect(first.split == second.split)
        #expect(try Data(contentsOf: dir.file("a/groups.json")) == Data(contentsOf: dir.file("b/groups.json")))

        // Only the corpus's sources: hydrogen's kits and the renders.
        #expect(a.allSatisfy { $0.source.hasPrefix(DrumCorpus.hydrogenKits.path + "/") || $0.source.hasPrefix(dir.file("a-gm").path + "/") })
        #expect(first.render.presets >= 9 && first.prep.failures.isEmpty)

        // No group on two sides; every group on one.
        let split = first.split
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

import AudioIO
@testable import Dataset
import DSP
import Foundation
import Testing
import TestSupport

/// Kits, groups and the split by group.
@Suite(.serialized)
struct GroupingTests {
    /// A manifest line with only what grouping and splitting read.
    static func entry(_ path: String, _ cls: DrumClass, group: String?) -> ManifestEntry {
        ManifestEntry(path: path, source: "/src/" + path, sliceStart: 0, sliceEnd: 1, drumClass: cls, sampleRate: 44100,
                      channels: 1, peakDBFS: -1, loudnessLUFS: nil, loudnessGated: false, rmsDBFS: -20,
                      durationBeforePadding: 1, hash: path, warnings: [], onset: 0, kit: group, group: group)
    }

    /// 24 kits of 5 to 40 clips, kick/snare/hat in all, toms, cymbals and claps in some, one
    /// huge kit; drawn with a printed seed.
    static func syntheticManifest(seed: UInt64) -> [ManifestEntry] {
        var g = SplitMix(seed: seed)
        var entries = [ManifestEntry]()
        for k in 0..<24 {
            let name = "kit\(k)"
            let size = k == 7 ? 400 : 5 + Int(g.uniform() * 35)
            var classes: [DrumClass] = [.kick, .snare, .hat]
            if k % 2 == 0 { classes.append(.tom) }
            if k % 3 == 0 { classes.append(.cymbal) }
            if k % 5 == 0 { classes.append(.clap) }
            if k == 11 { classes.append(.other) }
            for i in 0..<size {
                entries.append(entry("\(name)/\(i).wav", classes[i % classes.count], group: name))
            }
        }
        return entries
    }

    @Test func kitIsTheFirstFolderBelowTheRoot() {
        let root = URL(fileURLWithPath: "/data/kits")
        #expect(Grouping.kit(relativePath: "Forzee/sub/Kick.wav", root: root, rootIsFile: false) == "Forzee")
        #expect(Grouping.kit(relativePath: "Kick.wav", root: root, rootIsFile: false) == "kits")
        #expect(Grouping.kit(relativePath: "Kick.wav", root: URL(fileURLWithPath: "/x/MyKit/Kick.wav"), rootIsFile: true) == "MyKit")
    }

    @Test(arguments: [UInt64(1), 2, 3])
    func splitHoldsWholeGroupsOutAndIsDeterministic(seed: UInt64) throws {
        print("splitHoldsWholeGroupsOutAndIsDeterministic seed \(seed)")
        let manifest = Self.syntheticManifest(seed: seed)
        let split = try KitSplit.make(manifest)
        // The order of the manifest's lines does not matter.
        var g = SplitMix(seed: seed &+ 100)
        let shuffled = manifest.map { ($0, g.next()) }.sorted { $0.1 < $1.1 }.map(\.0)
        #expect(try KitSplit.make(shuffled) == split)
        // Every group on exactly one side.
        let all = split.train + split.validation + split.test
        #expect(all.count == Set(all).count && Set(all) == Set(manifest.compactMap(\.group)))
        // Every class held by at least three kits is in test, in validation and in training.
        for side in SplitSide.allCases {
            let classes = Set(split.entries(side, in: manifest).map(\.drumClass))
            #expect(classes.isSuperset(of: [.kick, .snare, .hat, .tom, .cymbal, .clap]), "\(side): \(classes)")
        }
        // The huge kit trains; the held-out sides hold about a tenth each.
        #expect(split.train.contains("kit7"))
        for side in [SplitSide.validation, .test] {
            let share = Double(split.entries(side, in: manifest).count) / Double(manifest.count)
            #expect(share > 0.05 && share < 0.2, "\(side): \(share)")
        }
        print(split.summary(of: manifest))
    }

    @Test func splitNeedsGroups() throws {
        #expect(throws: PrepError.self) { try KitSplit.make([Self.entry("a.wav", .kick, group: nil), Self.entry("b.wav", .kick, group: nil)]) }
        #expect(throws: PrepError.self) { try KitSplit.make([Self.entry("a.wav", .kick, group: "a"), Self.entry("b.wav", .kick, group: "a")]) }
        let two = try KitSplit.make([Self.entry("a.wav", .kick, group: "a"), Self.entry("b.wav", .kick, group: "b")])
        #expect(two.train.count == 1 && two.validation.count == 1 && two.test.isEmpty)
        // Three small kits (as the generation test makes): every side gets one.
        let three = try KitSplit.make(["a", "b", "c"].flatMap { g in
            [DrumClass.kick, .snare, .hat].map { Self.entry("\(g)/\($0.rawValue).wav", $0, group: g) }
        })
        #expect(three.train.count == 1 && three.validation.count == 1 && three.test.count == 1, "\(three)")
    }

    @Test func splitRoundTripsThroughItsFile() throws {
        let dir = TemporaryDirectory()
        let split = try KitSplit.make(Self.syntheticManifest(seed: 1))
        try split.write(to: dir.file("split.json"))
        #expect(try KitSplit.read(from: dir.file("split.json")) == split)
    }

    /// Four kits: kit B holds kit A's hit at another level, filtered and re-encoded
    /// (near-identical); kit C holds a different drum, and kit D an exact copy of C's file.
    /// A and B become group "A", C and D group "C".
    @Test func nearIdenticalClipsMergeTheirKits() throws {
        let dir = TemporaryDirectory()
        let input = dir.file("in")
        let fm = FileManager.default
        for kit in ["A", "B", "C", "D"] { try fm.createDirectory(at: input.appendingPathComponent(kit), withIntermediateDirectories: true) }
        let hit = Fixtures.hit(seconds: 0.5, seed: 1)
        try AudioFile.write(AudioBuffer(sampleRate: 44100, channels: [hit]), to: input.appendingPathComponent("A/snare.wav"))
        // B: the same hit 6 dB down, gently low-passed and saved as 16-bit PCM (as another
        // kit or preset would reuse a sample).
        let soft = hit.indices.map { i in 0.5 * (0.9 * hit[i] + 0.1 * (i > 0 ? hit[i - 1] : 0)) }
        try AudioFile.write(AudioBuffer(sampleRate: 44100, channels: [soft]), to: input.appendingPathComponent("B/snare-soft.wav"),
                            format: .pcm16)
        // C: the same kind of hit but another tone (a different drum).
        let other = (0..<hit.count).map { i -> Float in
            let t = Double(i) / 44100
            return Float(sin(2 * .pi * 95 * t) * exp(-t * 9) * 0.8)
        }
        try AudioFile.write(AudioBuffer(sampleRate: 44100, channels: [other]), to: input.appendingPathComponent("C/kick.wav"))
        // D: a byte-identical copy of C's file.
        try fm.copyItem(at: input.appendingPathComponent("C/kick.wav"), to: input.appendingPathComponent("D/kick.wav"))
        let out = dir.file("out")
        let summary = try Pipeline.run(inputs: [input], output: out, options: PrepOptions())
        let manifest = try Manifest.read(out)
        let groupOf = Dictionary(uniqueKeysWithValues: manifest.map { ($0.kit!, $0.group!) })
        #expect(groupOf == ["A": "A", "B": "A", "C": "C"], "\(groupOf)")
        #expect(summary.skipped["duplicate"] == 1 && summary.groups == 2 && summary.mergedGroups == 2)
        let records = try JSONDecoder().decode([GroupRecord].self, from: Data(contentsOf: out.appendingPathComponent("groups.json")))
        #expect(records.map(\.group) == ["A", "C"] && records.map(\.kits) == [["A", "B"], ["C", "D"]])
        let near = try #require(records.first?.links.first)
        print("near-identical link: \(near.a) ~ \(near.b) at \(near.distanceDB) dB")
        #expect(near.distanceDB < Grouping.nearIdenticalDB)
        // The two different drums are far apart.
        let a = manifest.first { $0.kit == "A" }!, c = manifest.first { $0.kit == "C" }!
        let stft = DSPFingerprint.stft, mel = DSPFingerprint.mel
        let fa = Grouping.fingerprint(try AudioFile.read(out.appendingPathComponent(a.path)).channels[0], sampleRate: 44100, stft: stft, mel: mel)
        let fc = Grouping.fingerprint(try AudioFile.read(out.appendingPathComponent(c.path)).channels[0], sampleRate: 44100, stft: stft, mel: mel)
        #expect(Grouping.distance(fa, fc) > 3 * Grouping.nearIdenticalDB)
    }

    /// Every General MIDI note's file name is classified as the class the note is.
    @Test func generalMIDINoteNamesClassifyAsTheirDrums() {
        for note in GeneralMIDIKits.notes {
            let name = GeneralMIDIKits.fileName(note, velocity: 80)
            #expect(DrumClass.guess(relativePath: "FluidR3 GM 000 Standard/" + name) == note.drumClass, "\(name)")
        }
        #expect(GeneralMIDIKits.notes.map(\.note) == Array(35...81))
    }

    @Test func midiFileHasOneSlotPerNoteAndVelocity() {
        let options = GeneralMIDIKits.Options()
        let bytes = [UInt8](GeneralMIDIKits.midiFile(program: 25, options: options))
        #expect(Array(bytes.prefix(4)) == Array("MThd".utf8) && Array(bytes[14..<18]) == Array("MTrk".utf8))
        let trackLength = Int(bytes[18]) << 24 | Int(bytes[19]) << 16 | Int(bytes[20]) << 8 | Int(bytes[21])
        #expect(trackLength == bytes.count - 22)
        // Note-ons on channel 10 (0x99): one per note and velocity.
        var noteOns = 0
        for i in 0..<(bytes.count - 2) where bytes[i] == 0x99 && (35...81).contains(Int(bytes[i + 1])) && options.velocities.contains(Int(bytes[i + 2])) {
            noteOns += 1
        }
        #expect(noteOns == GeneralMIDIKits.notes.count * options.velocities.count)
    }

    @Test(.needsDrumCorpusSources)
    func soundFontListsItsDrumPresets() throws {
        let presets = try GeneralMIDIKits.drumPresets(in: TestPaths.generalMIDISoundFont)
        #expect(presets.count >= 9 && presets.allSatisfy { $0.bank == 128 })
        #expect(presets.first?.name == "Standard" && presets.contains { $0.name == "TR-808" && $0.program == 25 })
    }
}

/// The fingerprint's STFT and mel bank as prep makes them.
enum DSPFingerprint {
    static let stft = DSP.STFT(size: Grouping.fftSize, hop: Grouping.hop)
    static let mel = DSP.MelFilterbank(sampleRate: 44100, fftSize: Grouping.fftSize, bands: Grouping.bands,
                                       minimumHz: 30, maximumHz: 16000)
}

import AudioIO
import Dataset
import DrumVAE
import Foundation

/// A prepared folder's clips with their class and group (kit), split by group into training,
/// validation and test kits: no kit has clips on two sides.
public struct EvalCorpus: Sendable {
    public struct Clip: Sendable {
        public var path: String
        public var className: String
        /// The kit (or preset) the clip comes from.
        public var group: String
        public var samples: [Float]
    }

    /// One manifest line as the evaluation reads it (unknown keys ignored; `group` when the corpus
    /// wrote one, otherwise derived from `source`).
    struct Entry: Decodable {
        var path: String
        var `class`: String
        var source: String?
        var group: String?
    }

    public var directory: URL
    public var training: [Clip]
    public var validation: [Clip]
    public var test: [Clip]
    public var classes: [String]
    public var sampleRate: Int

    /// Every clip, training first.
    public var all: [Clip] { training + validation + test }

    /// Groups on each side, sorted.
    public var groups: (training: [String], validation: [String], test: [String]) {
        (Set(training.map(\.group)).sorted(), Set(validation.map(\.group)).sorted(), Set(test.map(\.group)).sorted())
    }

    /// Reads DIR/manifest.jsonl and its WAVs (mono, cut or padded to `clipSamples`) and splits by group:
    /// with `split` (a run's RUN/split.json), as it says; otherwise with Dataset's `KitSplit.make`
    /// when the manifest has groups (the current `timbre prep`), or, for older manifests, by a
    /// stable hash of the kit derived from each clip's source (`testFraction`, `validationFraction`).
    public init(directory: URL, sampleRate: Int, clipSamples: Int, split: KitSplit? = nil, testFraction: Double = 0.2,
                validationFraction: Double = 0.1) throws {
        self.directory = directory
        self.sampleRate = sampleRate
        let entries = try Self.entries(directory: directory)
        let clips = try Self.clips(directory: directory, entries: entries, sampleRate: sampleRate, clipSamples: clipSamples)
        classes = Set(clips.map(\.className)).sorted()
        let sides: (training: Set<String>, validation: Set<String>, test: Set<String>)
        if let split {
            sides = (Set(split.train), Set(split.validation), Set(split.test))
        } else if entries.allSatisfy({ $0.group != nil }) {
            let made: KitSplit
            do {
                made = try KitSplit.make(Manifest.read(directory))
            } catch let error as PrepError {
                throw DrumEvalError(path: error.path, reason: error.reason)
            }
            sides = (Set(made.train), Set(made.validation), Set(made.test))
        } else {
            sides = Self.split(clips.map { ($0.group, 1) }, testFraction: testFraction, validationFraction: validationFraction)
        }
        training = clips.filter { sides.training.contains($0.group) }
        validation = clips.filter { sides.validation.contains($0.group) }
        test = clips.filter { sides.test.contains($0.group) }
        guard !training.isEmpty, !test.isEmpty else {
            throw DrumEvalError(path: directory.path, reason: "the split by kit leaves \(training.isEmpty ? "no training" : "no test") kit (\(Set(clips.map(\.group)).count) groups); give --reference")
        }
    }

    /// The manifest's entries.
    static func entries(directory: URL) throws -> [Entry] {
        let manifest = directory.appendingPathComponent("manifest.jsonl")
        guard let data = FileManager.default.contents(atPath: manifest.path) else {
            throw DrumEvalError(path: manifest.path, reason: "no manifest (prepare the folder with `timbre prep`)")
        }
        var entries: [Entry] = []
        for (number, line) in String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline).enumerated() {
            let text = line.trimmingCharacters(in: .whitespaces)
            if text.isEmpty { continue }
            guard let entry = try? JSONDecoder().decode(Entry.self, from: Data(text.utf8)) else {
                throw DrumEvalError(path: manifest.path, reason: "line \(number + 1) is not a manifest entry")
            }
            entries.append(entry)
        }
        guard entries.count >= 10 else {
            throw DrumEvalError(path: manifest.path, reason: "needs at least 10 one-shots, has \(entries.count)")
        }
        return entries
    }

    /// Every clip of a prepared folder with its group, in path order (no split): a reference folder.
    public static func clips(directory: URL, sampleRate: Int, clipSamples: Int) throws -> [Clip] {
        try clips(directory: directory, entries: entries(directory: directory), sampleRate: sampleRate, clipSamples: clipSamples)
    }

    static func clips(directory: URL, entries: [Entry], sampleRate: Int, clipSamples: Int) throws -> [Clip] {
        let root = Self.commonFolder(entries.compactMap(\.source))
        var clips: [Clip] = []
        for entry in entries.sorted(by: { $0.path < $1.path }) {
            let mono = try OneShotDataset.loadMono(directory.appendingPathComponent(entry.path),
                                                   sampleRate: sampleRate, clipSamples: clipSamples)
            let group = entry.group ?? entry.source.map { Self.groupOf(source: $0, root: root) } ?? entry.path
            clips.append(Clip(path: entry.path, className: entry.class, group: group, samples: mono))
        }
        return clips
    }

    /// The deepest folder every source lies under (the root given to prep when there was one).
    static func commonFolder(_ paths: [String]) -> [Substring] {
        guard var prefix = paths.first.map({ Array($0.split(separator: "/").dropLast()) }) else { return [] }
        for p in paths.dropFirst() {
            let parts = p.split(separator: "/").dropLast()
            var n = 0
            while n < min(prefix.count, parts.count) && prefix[n] == parts[parts.startIndex + n] { n += 1 }
            prefix.removeLast(prefix.count - n)
        }
        return prefix
    }

    /// The first folder below `root` on a source's path: the kit.
    static func groupOf(source: String, root: [Substring]) -> String {
        let parts = source.split(separator: "/")
        if parts.count > root.count + 1 { return String(parts[root.count]) }
        return String(parts.dropLast().last ?? "")
    }

    /// Deterministic group split: groups ordered by a stable hash of their name; test groups are taken
    /// from the front until they hold `testFraction` of the clips, then validation groups until
    /// `validationFraction`; the rest train. At least one group trains and one is tested.
    static func split(_ clipGroups: [(String, Int)], testFraction: Double, validationFraction: Double)
        -> (training: Set<String>, validation: Set<String>, test: Set<String>) {
        var sizes: [String: Int] = [:]
        for (g, n) in clipGroups { sizes[g, default: 0] += n }
        let total = Double(sizes.values.reduce(0, +))
        let ordered = sizes.keys.sorted { (stableHash($0), $0) < (stableHash($1), $1) }
        var test: Set<String> = [], validation: Set<String> = [], training: Set<String> = []
        var testCount = 0, validationCount = 0
        for (i, g) in ordered.enumerated() {
            let remaining = ordered.count - i
            if (Double(testCount) < testFraction * total || test.isEmpty) && remaining > 1 {
                test.insert(g); testCount += sizes[g]!
            } else if Double(validationCount) < validationFraction * total && remaining > 1 && ordered.count > 2 {
                validation.insert(g); validationCount += sizes[g]!
            } else {
                training.insert(g)
            }
        }
        return (training, validation, test)
    }

    /// FNV-1a over the UTF-8 bytes.
    static func stableHash(_ text: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 { hash ^= UInt64(byte); hash = hash &* 0x100_0000_01b3 }
        return hash
    }
}

/// A failure of the evaluation, naming the file or folder and the reason.
public struct DrumEvalError: Error, CustomStringConvertible, Sendable {
    public var path: String
    public var reason: String
    public init(path: String, reason: String) { (self.path, self.reason) = (path, reason) }
    public var description: String { "\(path): \(reason)" }
}

import AudioIO
import Dataset
import Foundation

/// The one-shots of a prepared folder, in memory, split into training, validation and test.
///
/// The manifest is Dataset's (`Manifest.read`): the contract `timbre prep` writes. A run made
/// since kit splits exist holds whole groups out (`KitSplit`); a run made before keeps the
/// path-hash split it was trained with (about 10% of files, any kit, no test side).
public struct OneShotDataset: Sendable {
    /// One clip: its manifest path, class, group and mono samples.
    public struct Clip: Sendable {
        public var path: String
        public var className: String
        /// The clip's group (nil in manifests made before groups existed).
        public var group: String?
        public var samples: [Float]
    }

    public var training: [Clip]
    public var validation: [Clip]
    /// Clips of the test groups: never trained on, never used to choose anything during training.
    /// Empty for the path-hash split.
    public var test: [Clip]
    /// Every class in the manifest, sorted.
    public var classes: [String]
    /// The split by kit, or nil for the path-hash split of older runs.
    public let split: KitSplit?
    /// True when every clip trains (`--all-kits`): `validation` is then a part of `training`.
    public let allKits: Bool

    /// The split a new run uses for the folder: by kit when every clip has a group and there
    /// are at least two; nil (the path-hash split) otherwise, e.g. for a single kit.
    public static func defaultSplit(directory: URL) throws -> KitSplit? {
        let manifest = try readManifest(directory)
        guard manifest.allSatisfy({ $0.group != nil }), Set(manifest.compactMap(\.group)).count >= 2 else { return nil }
        return try KitSplit.make(manifest)
    }

    /// Reads DIR/manifest.jsonl and its WAVs. Every clip is checked for the rate and cut or
    /// zero-padded to `clipSamples` (prep writes them exactly that long). With `split`, clips go
    /// to the side of their group (a clip of a group the split does not name is left out);
    /// without, a stable hash of the path puts `validationFraction` of them in validation.
    /// With `allKits` (and no split) every clip trains and the path-hash part is validated on
    /// as well: nothing is held out, the validation passes only follow the fit.
    public init(directory: URL, sampleRate: Int, clipSamples: Int, split: KitSplit?,
                validationFraction: Double = 0.1, allKits: Bool = false) throws {
        precondition(!(allKits && split != nil), "a run on every kit has no kit split")
        let entries = try Self.readManifest(directory)
        guard entries.count >= 2 else {
            throw DrumVAEError(path: directory.appendingPathComponent("manifest.jsonl").path,
                               reason: "needs at least 2 one-shots, has \(entries.count)")
        }
        var clips: [Clip] = []
        for entry in entries.sorted(by: { $0.path < $1.path }) {
            let mono = try Self.loadMono(directory.appendingPathComponent(entry.path), sampleRate: sampleRate, clipSamples: clipSamples)
            clips.append(Clip(path: entry.path, className: entry.drumClass.rawValue, group: entry.group, samples: mono))
        }
        classes = Array(Set(clips.map(\.className))).sorted()
        self.split = split
        self.allKits = allKits
        if let split {
            let sides = clips.map { clip in clip.group.flatMap { split.side(ofGroup: $0) } }
            training = zip(clips, sides).filter { $0.1 == .train }.map(\.0)
            validation = zip(clips, sides).filter { $0.1 == .validation }.map(\.0)
            test = zip(clips, sides).filter { $0.1 == .test }.map(\.0)
            guard !training.isEmpty, !validation.isEmpty else {
                throw DrumVAEError(path: directory.path, reason: "the kit split leaves no clips for training or for validation")
            }
            return
        }
        test = []
        // A stable hash of the path decides, so adding clips never moves existing ones between sets.
        let isValidation = clips.map { KitSplit.stableHash($0.path) % 1000 < UInt64(validationFraction * 1000) }
        validation = zip(clips, isValidation).filter { $0.1 }.map(\.0)
        training = zip(clips, isValidation).filter { !$0.1 }.map(\.0)
        if validation.isEmpty {
            let pick = clips.indices.min(by: { KitSplit.stableHash(clips[$0].path) < KitSplit.stableHash(clips[$1].path) })!
            validation = [clips[pick]]
            training = clips.enumerated().filter { $0.offset != pick }.map(\.element)
        }
        if allKits { training = clips }
    }

    /// The split for the terminal: per side, its groups and clips per class.
    public var splitDescription: String {
        if allKits {
            let groups = Set(training.compactMap(\.group)).count
            return "every kit trains (--all-kits): \(training.count) clips of \(groups) groups; the validation passes "
                + "re-measure \(validation.count) of them (nothing held out)"
        }
        guard let split else {
            return "split by path hash (one group, or a run made before kit splits): validation holds "
                + "\(validation.count) clips of the training kits"
        }
        func line(_ side: SplitSide, _ clips: [Clip]) -> String {
            let perClass = Dictionary(grouping: clips, by: \.className).mapValues(\.count)
            let classes = perClass.keys.sorted().map { "\($0) \(perClass[$0]!)" }.joined(separator: ", ")
            let groups = split.groups(side)
            return "  \(side.rawValue): \(groups.count) groups, \(clips.count) clips (\(classes))"
                + (side == .train ? "" : ": " + groups.joined(separator: ", "))
        }
        return "split by kit (whole groups held out):\n" + [line(.train, training), line(.validation, validation),
                                                          line(.test, test)].joined(separator: "\n")
    }

    /// The folder split as a new run would split it (`defaultSplit`).
    public init(directory: URL, sampleRate: Int, clipSamples: Int) throws {
        try self.init(directory: directory, sampleRate: sampleRate, clipSamples: clipSamples,
                      split: try Self.defaultSplit(directory: directory))
    }

    /// Dataset's manifest reader, its error turned into this module's.
    /// One prepared clip as training and evaluation see it: the channels averaged to mono,
    /// cut or zero-padded to `clipSamples`; a file at another rate is refused, naming it.
    public static func loadMono(_ url: URL, sampleRate: Int, clipSamples: Int) throws -> [Float] {
        let buffer = try AudioFile.read(url)
        guard Int(buffer.sampleRate.rounded()) == sampleRate else {
            throw DrumVAEError(path: url.path, reason: "sample rate \(Int(buffer.sampleRate)) Hz, expected \(sampleRate) Hz")
        }
        var mono = buffer.channels[0]
        if buffer.channelCount > 1 {
            for c in 1..<buffer.channelCount { for i in mono.indices { mono[i] += buffer.channels[c][i] } }
            let scale = 1 / Float(buffer.channelCount)
            for i in mono.indices { mono[i] *= scale }
        }
        if mono.count > clipSamples { mono.removeLast(mono.count - clipSamples) }
        if mono.count < clipSamples { mono += [Float](repeating: 0, count: clipSamples - mono.count) }
        return mono
    }

    static func readManifest(_ directory: URL) throws -> [ManifestEntry] {
        do {
            return try Manifest.read(directory.appendingPathComponent("manifest.jsonl"))
        } catch let error as PrepError {
            throw DrumVAEError(path: error.path, reason: error.reason)
        }
    }
}

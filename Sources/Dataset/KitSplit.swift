import Foundation

/// One side of a split.
public enum SplitSide: String, Codable, Sendable, CaseIterable {
    case train, validation, test
}

/// Which groups (kits, or kits merged because they share sounds) train, validate and test a
/// model. Whole groups only: no group has clips on two sides, so validation and test measure
/// sounds of kits the model never heard, not velocity layers of drums it trained on.
///
/// Built deterministically from a manifest by `make`: the same manifest gives the same split,
/// whatever order its lines come in. Saved as JSON (`RUN/split.json` for a training run).
public struct KitSplit: Codable, Sendable, Equatable {
    /// Groups to train on, sorted.
    public var train: [String]
    /// Groups for validation during training, sorted.
    public var validation: [String]
    /// Groups held out for the final evaluation, sorted (empty with fewer than three groups).
    public var test: [String]

    /// Makes a split from its three lists (sorted here).
    public init(train: [String], validation: [String], test: [String]) {
        self.train = train.sorted()
        self.validation = validation.sorted()
        self.test = test.sorted()
    }

    /// The groups of one side.
    public func groups(_ side: SplitSide) -> [String] {
        switch side {
        case .train: return train
        case .validation: return validation
        case .test: return test
        }
    }

    /// The side holding `group`, or nil for a group the split does not name (a clip added to
    /// the folder after the split was made).
    public func side(ofGroup group: String) -> SplitSide? {
        if train.contains(group) { return .train }
        if validation.contains(group) { return .validation }
        if test.contains(group) { return .test }
        return nil
    }

    /// The side of one manifest entry (by its group), or nil.
    public func side(of entry: ManifestEntry) -> SplitSide? {
        entry.group.flatMap { side(ofGroup: $0) }
    }

    /// The entries of `manifest` on `side`, in the manifest's order.
    public func entries(_ side: SplitSide, in manifest: [ManifestEntry]) -> [ManifestEntry] {
        let names = Set(groups(side))
        return manifest.filter { $0.group.map(names.contains) ?? false }
    }

    /// Share of clips held out for validation and for test by `make`.
    public static let defaultHeldOutFraction = 0.1
    /// A group holding more than this share of the clips always trains: holding it out would
    /// leave too little to learn from.
    public static let largestHeldOutShare = 0.25

    /// Splits a manifest by group. Every entry must have a group (a manifest from the current
    /// `timbre prep`), and there must be at least two groups.
    ///
    /// The rule: groups are taken in the order of a hash of their names (stable, independent of
    /// the manifest's order). Test is filled first, then validation: each takes, while it lacks
    /// a class that is in at least three groups ("major"; `other` is never one), the group that
    /// adds most missing classes, then further groups until it holds `heldOutFraction` of the
    /// clips. A group is held out only if every major class it holds stays in some group left
    /// for training. Groups above `largestHeldOutShare` of the clips always train (with five
    /// groups or more). With two groups, test is empty and validation takes one; if the class
    /// rule leaves validation empty, it takes the next group in hash order.
    public static func make(_ manifest: [ManifestEntry], heldOutFraction: Double = defaultHeldOutFraction) throws -> KitSplit {
        if let missing = manifest.first(where: { $0.group == nil }) {
            throw PrepError(path: missing.path, reason: "has no group (the manifest was made by an older `timbre prep`; run it again)")
        }
        var members: [String: [ManifestEntry]] = [:]
        for entry in manifest { members[entry.group!, default: []].append(entry) }
        guard members.count >= 2 else {
            throw PrepError(path: "manifest", reason: "\(members.count) group; a split by kit needs at least 2")
        }
        let total = manifest.count
        let classesOf = members.mapValues { Set($0.map(\.drumClass)) }
        let groupsPerClass = Dictionary(grouping: classesOf.flatMap { name, classes in classes.map { ($0, name) } }, by: \.0)
            .mapValues(\.count)
        let major = Set(groupsPerClass.filter { $0.key != .other && $0.value >= 3 }.keys)
        var remaining = members.keys.sorted { (stableHash($0), $0) < (stableHash($1), $1) }
        // With fewer than five groups there is no choice to make: any may be held out.
        let eligible = { (name: String) in
            members.count < 5 || Double(members[name]!.count) <= largestHeldOutShare * Double(total)
        }
        func fill(keepingForLater: Int, limitToOne: Bool) -> [String] {
            var chosen = [String]()
            var covered = Set<DrumClass>()
            var count = 0
            let target = heldOutFraction * Double(total)
            while true {
                // A group may go only if each major class it holds stays in enough other groups.
                // (Any other class but `other` must keep one group for training.)
                let candidates = remaining.filter { name in
                    eligible(name) && classesOf[name]!.subtracting([.other]).allSatisfy { cls in
                        remaining.filter { $0 != name && classesOf[$0]!.contains(cls) }.count
                            >= (major.contains(cls) ? keepingForLater : 1)
                    }
                }
                guard !candidates.isEmpty, remaining.count > 1 else { break }
                let missing = major.subtracting(covered)
                let gain = { (name: String) in classesOf[name]!.intersection(missing).count }
                let top = candidates.map(gain).max() ?? 0
                let pick: String?
                if top > 0 {
                    // The first in hash order among those adding the most missing classes.
                    pick = candidates.first { gain($0) == top }
                } else if Double(count) < target {
                    // Enough classes: the next group in hash order that does not overshoot by much.
                    pick = candidates.first { Double(count + members[$0]!.count) <= target * 1.5 || count == 0 }
                } else {
                    pick = nil
                }
                guard let pick else { break }
                chosen.append(pick)
                covered.formUnion(classesOf[pick]!)
                count += members[pick]!.count
                remaining.removeAll { $0 == pick }
                if limitToOne { break }
            }
            return chosen
        }
        if members.count == 2 {
            let validation = fill(keepingForLater: 1, limitToOne: true)
            let picked = validation.isEmpty ? [remaining.removeLast()] : validation
            return KitSplit(train: remaining, validation: picked, test: [])
        }
        var test = fill(keepingForLater: 2, limitToOne: false)
        var validation = fill(keepingForLater: 1, limitToOne: false)
        // Few groups: the class rule can leave validation empty. Validation must hold something
        // (training picks nothing without it), so it takes the next group in hash order that
        // leaves at least one for training, or else the last test group.
        if validation.isEmpty {
            if remaining.count >= 2 {
                validation = [remaining.removeFirst()]
            } else if let moved = test.popLast() {
                validation = [moved]
            }
        }
        return KitSplit(train: remaining, validation: validation, test: test)
    }

    /// Reads a split saved by `write`.
    public static func read(from url: URL) throws -> KitSplit {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw PrepError(path: url.path, reason: "no such file")
        }
        do {
            return try JSONDecoder().decode(KitSplit.self, from: data)
        } catch {
            throw PrepError(path: url.path, reason: "not a kit split (\(error.localizedDescription))")
        }
    }

    /// Writes the split as pretty JSON with sorted keys, atomically.
    public func write(to url: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try AtomicFile.write(try encoder.encode(self) + Data("\n".utf8), to: url)
    }

    /// Lines for the terminal: per side, its groups and clips per class.
    public func summary(of manifest: [ManifestEntry]) -> String {
        SplitSide.allCases.map { side in
            let entries = self.entries(side, in: manifest)
            let perClass = Dictionary(grouping: entries, by: \.drumClass).mapValues(\.count)
            let classes = DrumClass.allCases.compactMap { c in perClass[c].map { "\(c.rawValue) \($0)" } }
            return "\(side.rawValue): \(groups(side).count) groups, \(entries.count) clips"
                + (classes.isEmpty ? "" : " (" + classes.joined(separator: ", ") + ")")
                + (groups(side).isEmpty ? "" : "\n  " + groups(side).joined(separator: ", "))
        }.joined(separator: "\n")
    }

    /// FNV-1a over the UTF-8 bytes: the same on every machine and every run (Swift's `hashValue` is not).
    public static func stableHash(_ text: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        return hash
    }
}

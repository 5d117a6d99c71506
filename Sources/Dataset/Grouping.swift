import AudioIO
import DSP
import Foundation
import Synchronization

/// Two clips of different kits found to be the same sound: why their kits share a group.
public struct GroupLink: Codable, Sendable, Equatable {
    /// The two clips (manifest paths; for an exact duplicate, the second is the copy prep dropped).
    public var a: String, b: String
    /// Their log-mel distance in dB (0 for an exact duplicate).
    public var distanceDB: Double
}

/// One group of a prepared folder: a line of `DIR/groups.json`'s list.
public struct GroupRecord: Codable, Sendable, Equatable {
    /// The group's name (its first kit in sorted order).
    public var group: String
    /// The kits merged into it, sorted (one for a kit that shares nothing).
    public var kits: [String]
    /// Clips in the manifest.
    public var clips: Int
    /// For each pair of kits joined directly, the closest pair of clips that joined them.
    public var links: [GroupLink]
}

/// Kits, and the groups that splits respect: a kit is the first folder below an input root;
/// kits sharing an identical or near-identical clip are merged (union-find) into one group.
public enum Grouping {
    /// Two clips of different kits closer than this in `distance` are the same sound reused.
    ///
    /// Measured on the drum corpus (docs/PREP.md, "Groups"): re-renders of one sample by
    /// different General MIDI presets and re-encodings of one recording sit below it; distinct
    /// recordings of one drum (velocity layers and round-robins within a hydrogen kit) above it.
    public static let nearIdenticalDB = 2.0

    /// The kit of a source: the first folder of its path below the root it was found in; for a
    /// file directly in the root, the root folder's name; for a file given alone, its folder's name.
    public static func kit(relativePath: String, root: URL, rootIsFile: Bool) -> String {
        let parts = relativePath.split(separator: "/")
        if parts.count >= 2 { return String(parts[0]) }
        let folder = rootIsFile ? root.deletingLastPathComponent() : root
        let name = folder.standardizedFileURL.lastPathComponent
        return name.isEmpty ? "/" : name
    }

    /// `DIR/groups.json`'s encoder: pretty, sorted keys.
    static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return e
    }()

    /// Frames, bands and FFT of the fingerprint: 32 mel bands (30 Hz–16 kHz) of a 2048-point
    /// STFT with hop 1024 over the first second after the start of the clip (prep puts every
    /// onset at the pre-roll, so clips are aligned).
    static let bands = 32, fftSize = 2048, hop = 1024, seconds = 1.0
    /// dB below the loudest mel cell where the fingerprint stops caring (tails, silence).
    static let floorDB: Float = 80

    /// A clip's fingerprint: its log-mel cells in dB relative to the loudest, floored at -80 dB,
    /// so the level a clip was normalised to does not matter.
    public static func fingerprint(_ samples: [Float], sampleRate: Double, stft: STFT, mel: MelFilterbank) -> [Float] {
        let length = Int(seconds * sampleRate)
        var head = Array(samples.prefix(length))
        if head.count < length { head += [Float](repeating: 0, count: length - head.count) }
        let spectrum = stft.analyze(head)
        var power = spectrum.magnitude
        for i in power.indices { power[i] *= power[i] }
        var cells = mel.apply(power, frames: spectrum.frames)
        var top: Float = -.infinity
        for i in cells.indices {
            cells[i] = 10 * log10(max(cells[i], 1e-20))
            top = max(top, cells[i])
        }
        for i in cells.indices { cells[i] = max(cells[i] - top, -floorDB) }
        return cells
    }

    /// The mean absolute difference of two fingerprints, in dB.
    public static func distance(_ a: [Float], _ b: [Float]) -> Double {
        precondition(a.count == b.count)
        var sum: Float = 0
        a.withUnsafeBufferPointer { x in
            b.withUnsafeBufferPointer { y in
                for i in 0..<x.count { sum += abs(x[i] - y[i]) }
            }
        }
        return Double(sum) / Double(a.count)
    }

    /// Per-band means over frames: the mean absolute difference of two of these never exceeds
    /// `distance` of the fingerprints (|mean(x)| ≤ mean|x|), so it rules out most pairs cheaply.
    static func bandMeans(_ cells: [Float]) -> [Float] {
        let frames = cells.count / bands
        var means = [Float](repeating: 0, count: bands)
        for t in 0..<frames { for b in 0..<bands { means[b] += cells[t * bands + b] } }
        return means.map { $0 / Float(frames) }
    }

    /// Fingerprints of the prepared clips (read from `folder`), in parallel on `workers` threads.
    static func fingerprints(of entries: [ManifestEntry], in folder: URL, workers: Int) throws -> [[Float]] {
        guard let rate = entries.first.map({ Double($0.sampleRate) }) else { return [] }
        let width = max(1, workers)
        // FFTW's planner is not thread-safe: every plan is made here, before the threads run.
        let stfts = (0..<width).map { _ in STFT(size: fftSize, hop: hop) }
        let mel = MelFilterbank(sampleRate: rate, fftSize: fftSize, bands: bands, minimumHz: 30, maximumHz: 16000)
        let results = Mutex([Int: Result<[Float], PrepError>]())
        let next = Atomic<Int>(0)
        DispatchQueue.concurrentPerform(iterations: width) { worker in
            while true {
                let index = next.wrappingAdd(1, ordering: .relaxed).oldValue
                guard index < entries.count else { break }
                let url = folder.appendingPathComponent(entries[index].path)
                let outcome: Result<[Float], PrepError>
                do {
                    let buffer = try AudioFile.read(url)
                    var mono = buffer.channels[0]
                    for c in buffer.channels.dropFirst() { for i in mono.indices { mono[i] += c[i] } }
                    outcome = .success(fingerprint(mono, sampleRate: buffer.sampleRate, stft: stfts[worker], mel: mel))
                } catch {
                    outcome = .failure(PrepError(path: url.path, reason: "cannot read for grouping: \(error)"))
                }
                results.withLock { $0[index] = outcome }
            }
        }
        let all = results.withLock { $0 }
        return try entries.indices.map { try all[$0]!.get() }
    }

    /// Pairs of clips in different kits closer than `threshold` dB, sorted.
    static func nearPairs(_ prints: [[Float]], kits: [String], threshold: Double, workers: Int) -> [(Int, Int, Double)] {
        let means = prints.map(bandMeans)
        let found = Mutex([(Int, Int, Double)]())
        let next = Atomic<Int>(0)
        let n = prints.count
        let bound = Float(threshold) * Float(bands)
        DispatchQueue.concurrentPerform(iterations: max(1, workers)) { _ in
            var local = [(Int, Int, Double)]()
            while true {
                let i = next.wrappingAdd(1, ordering: .relaxed).oldValue
                guard i < n else { break }
                means[i].withUnsafeBufferPointer { mi in
                    for j in (i + 1)..<max(i + 1, n) where kits[j] != kits[i] {
                        var lower: Float = 0
                        means[j].withUnsafeBufferPointer { mj in
                            for b in 0..<bands { lower += abs(mi[b] - mj[b]) }
                        }
                        guard lower < bound else { continue }
                        let d = distance(prints[i], prints[j])
                        if d < threshold { local.append((i, j, d)) }
                    }
                }
            }
            found.withLock { $0 += local }
        }
        return found.withLock { $0 }.sorted { ($0.0, $0.1) < ($1.0, $1.1) }
    }

    /// A one-shot prep dropped because another source gave the same samples.
    struct DroppedDuplicate {
        /// The kept clip's manifest path; the dropped clip's path and kit.
        var kept: String, dropped: String, droppedKit: String
    }

    /// Sets each entry's `group`: kits joined by an exact duplicate (a clip and the copy of it
    /// prep dropped) or by near-identical clips are merged; each group is named after its first
    /// kit in sorted order. Returns the groups, sorted by name.
    static func assign(_ entries: inout [ManifestEntry], folder: URL, duplicates: [DroppedDuplicate],
                       threshold: Double = nearIdenticalDB, workers: Int) throws -> [GroupRecord] {
        let kits = entries.map { $0.kit ?? "" }
        var parent: [String: String] = [:]
        for k in kits { parent[k] = k }
        func find(_ k: String) -> String {
            var root = k
            while parent[root]! != root { root = parent[root]! }
            var walk = k
            while parent[walk]! != root { let up = parent[walk]!; parent[walk] = root; walk = up }
            return root
        }
        // The closest link per pair of kits, for groups.json.
        var closest: [String: GroupLink] = [:]
        func join(_ a: String, _ b: String, _ link: GroupLink) {
            let key = min(a, b) + "\u{0}" + max(a, b)
            if closest[key].map({ link.distanceDB < $0.distanceDB }) ?? true { closest[key] = link }
            let ra = find(a), rb = find(b)
            if ra != rb { if ra < rb { parent[rb] = ra } else { parent[ra] = rb } }
        }
        let kitOfPath = Dictionary(uniqueKeysWithValues: zip(entries.map(\.path), kits))
        for d in duplicates {
            guard let kept = kitOfPath[d.kept], kept != d.droppedKit else { continue }
            parent[d.droppedKit] = parent[d.droppedKit] ?? d.droppedKit
            join(kept, d.droppedKit, GroupLink(a: d.kept, b: d.dropped, distanceDB: 0))
        }
        let prints = try fingerprints(of: entries, in: folder, workers: workers)
        for (i, j, d) in nearPairs(prints, kits: kits, threshold: threshold, workers: workers) {
            join(kits[i], kits[j], GroupLink(a: entries[i].path, b: entries[j].path, distanceDB: (d * 1000).rounded() / 1000))
        }
        // `join` always keeps the smaller root, so every root is its group's first kit in sorted order.
        for i in entries.indices { entries[i].group = find(kits[i]) }
        var records: [String: GroupRecord] = [:]
        for k in parent.keys {
            let g = find(k)
            records[g, default: GroupRecord(group: g, kits: [], clips: 0, links: [])].kits.append(k)
        }
        for e in entries { records[e.group!]?.clips += 1 }
        for (key, link) in closest {
            let a = String(key.split(separator: "\u{0}")[0])
            records[find(a)]?.links.append(link)
        }
        return records.values.map { r in
            var r = r
            r.kits.sort()
            r.links.sort { ($0.a, $0.b) < ($1.a, $1.b) }
            return r
        }.sorted { $0.group < $1.group }
    }
}

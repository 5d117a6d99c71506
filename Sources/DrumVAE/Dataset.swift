import AudioIO
import Foundation

/// One line of a `timbre prep` manifest (unknown keys are ignored).
public struct ManifestEntry: Codable, Sendable, Equatable {
    public var path: String
    public var `class`: String
    public var sampleRate: Int?
}

/// The one-shots of a prepared folder, in memory, split deterministically into training and validation.
public struct OneShotDataset: Sendable {
    public struct Clip: Sendable {
        public var path: String
        public var className: String
        public var samples: [Float]
    }

    public var training: [Clip]
    public var validation: [Clip]
    /// Every class in the manifest, sorted.
    public var classes: [String]

    /// Reads DIR/manifest.jsonl and its WAVs. Every clip is checked for the rate and
    /// cut or zero-padded to `clipSamples` (prep writes them exactly that long).
    public init(directory: URL, sampleRate: Int, clipSamples: Int, validationFraction: Double = 0.1) throws {
        let manifestURL = directory.appendingPathComponent("manifest.jsonl")
        guard let data = FileManager.default.contents(atPath: manifestURL.path) else {
            throw DrumVAEError(path: manifestURL.path, reason: "no manifest (prepare the folder with `timbre prep`)")
        }
        var entries: [ManifestEntry] = []
        for (number, line) in String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline).enumerated() {
            let text = line.trimmingCharacters(in: .whitespaces)
            if text.isEmpty { continue }
            do {
                entries.append(try JSONDecoder().decode(ManifestEntry.self, from: Data(text.utf8)))
            } catch {
                throw DrumVAEError(path: manifestURL.path, reason: "line \(number + 1) is not a manifest entry")
            }
        }
        guard entries.count >= 2 else {
            throw DrumVAEError(path: manifestURL.path, reason: "needs at least 2 one-shots, has \(entries.count)")
        }
        var clips: [Clip] = []
        for entry in entries.sorted(by: { $0.path < $1.path }) {
            let url = directory.appendingPathComponent(entry.path)
            let buffer = try AudioFile.read(url)
            guard Int(buffer.sampleRate.rounded()) == sampleRate else {
                throw DrumVAEError(path: url.path, reason: "sample rate \(Int(buffer.sampleRate)) Hz, the run uses \(sampleRate) Hz")
            }
            var mono = buffer.channels[0]
            if buffer.channelCount > 1 {
                for c in 1..<buffer.channelCount { for i in mono.indices { mono[i] += buffer.channels[c][i] } }
                let scale = 1 / Float(buffer.channelCount)
                for i in mono.indices { mono[i] *= scale }
            }
            if mono.count > clipSamples { mono.removeLast(mono.count - clipSamples) }
            if mono.count < clipSamples { mono += [Float](repeating: 0, count: clipSamples - mono.count) }
            clips.append(Clip(path: entry.path, className: entry.class, samples: mono))
        }
        classes = Array(Set(clips.map(\.className))).sorted()
        // A stable hash of the path decides, so adding clips never moves existing ones between sets.
        let isValidation = clips.map { Self.stableHash($0.path) % 1000 < UInt64(validationFraction * 1000) }
        validation = zip(clips, isValidation).filter { $0.1 }.map(\.0)
        training = zip(clips, isValidation).filter { !$0.1 }.map(\.0)
        if validation.isEmpty {
            let pick = clips.indices.min(by: { Self.stableHash(clips[$0].path) < Self.stableHash(clips[$1].path) })!
            validation = [clips[pick]]
            training = clips.enumerated().filter { $0.offset != pick }.map(\.element)
        }
    }

    /// FNV-1a over the UTF-8 bytes.
    static func stableHash(_ text: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        return hash
    }
}


import Foundation

/// One line of `DIR/manifest.jsonl`: one output one-shot (the contract `timbre train` reads;
/// readers ignore keys they do not know).
public struct ManifestEntry: Codable, Sendable, Equatable {
    /// The output, relative to the dataset folder: `<class>/<name>.wav`.
    public var path: String
    /// The source file's absolute path.
    public var source: String
    /// Seconds in the source where the output's audio starts (after trimming; the pre-roll included).
    public var sliceStart: Double
    /// Seconds in the source where the output's audio ends (before the fixed length pads or cuts it).
    public var sliceEnd: Double
    /// The guessed drum class.
    public var drumClass: DrumClass
    /// Output frames per second.
    public var sampleRate: Int
    /// Output channels.
    public var channels: Int
    /// Sample peak of the output, dBFS.
    public var peakDBFS: Double
    /// Loudness of the output's audio before padding (BS.1770), LUFS; nil only for a clip libebur128 cannot measure.
    public var loudnessLUFS: Double?
    /// False when the clip was shorter than the 400 ms gating block and the ungated measure was used.
    public var loudnessGated: Bool
    /// RMS of the output's audio before padding, dBFS.
    public var rmsDBFS: Double
    /// Seconds of audio before padding to (or cutting at) the fixed length.
    public var durationBeforePadding: Double
    /// SHA-256 (hex) of the output's float samples, channel after channel, little-endian.
    public var hash: String
    /// Anything worth a look (phase cancellation, loudness held by the ceiling, cut length, ...).
    public var warnings: [String]
    /// Seconds in the source of the hit's onset (sits at the pre-roll in the output). Extra key.
    public var onset: Double
    /// The kit the source belongs to: the first folder below the input root it was found in (the
    /// root's own name for a file directly in it, the parent folder's for a file given alone).
    /// Nil in manifests written before groups existed.
    public var kit: String?
    /// The group for splits: the kit, or, when clips of two kits are identical or near-identical,
    /// the union of those kits (named after its first kit in sorted order; `DIR/groups.json` says
    /// why). Splits never put two clips of one group on different sides. Nil in older manifests.
    public var group: String?
    /// The Hydrogen instrument that plays the source (its kit's `drumkit.xml`), when one does: the
    /// class comes from it when it names one. Nil for other sources and older manifests.
    public var instrument: String?

    enum CodingKeys: String, CodingKey {
        case path, source, sliceStart, sliceEnd, drumClass = "class", sampleRate, channels, peakDBFS, loudnessLUFS
        case loudnessGated, rmsDBFS, durationBeforePadding, hash, warnings, onset, kit, group, instrument
    }

    /// Makes an entry (prep fills every field; tests and tools that write manifests use this too).
    public init(path: String, source: String, sliceStart: Double, sliceEnd: Double, drumClass: DrumClass,
                sampleRate: Int, channels: Int, peakDBFS: Double, loudnessLUFS: Double?, loudnessGated: Bool,
                rmsDBFS: Double, durationBeforePadding: Double, hash: String, warnings: [String], onset: Double,
                kit: String? = nil, group: String? = nil, instrument: String? = nil) {
        self.path = path
        self.source = source
        self.sliceStart = sliceStart
        self.sliceEnd = sliceEnd
        self.drumClass = drumClass
        self.sampleRate = sampleRate
        self.channels = channels
        self.peakDBFS = peakDBFS
        self.loudnessLUFS = loudnessLUFS
        self.loudnessGated = loudnessGated
        self.rmsDBFS = rmsDBFS
        self.durationBeforePadding = durationBeforePadding
        self.hash = hash
        self.warnings = warnings
        self.onset = onset
        self.kit = kit
        self.group = group
        self.instrument = instrument
    }

    /// One JSON line (sorted keys, no escaped slashes), without the newline.
    public func jsonLine() throws -> String {
        String(decoding: try Manifest.encoder.encode(self), as: UTF8.self)
    }
}

/// A source that could not be prepared: a line of `DIR/errors.jsonl`.
public struct FailedSource: Codable, Sendable, Equatable, Error {
    /// The source's path.
    public var source: String
    /// Why, one line.
    public var reason: String
}

/// Reading and writing the dataset's JSON Lines files.
public enum Manifest {
    static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return e
    }()

    /// Reads `DIR/manifest.jsonl` (or the file itself when `url` names one). Throws a one-line
    /// `PrepError` naming the file: missing, or the first line that is not a manifest entry.
    public static func read(_ url: URL) throws -> [ManifestEntry] {
        var isDirectory: ObjCBool = false
        let file = FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) && isDirectory.boolValue
            ? url.appendingPathComponent("manifest.jsonl") : url
        guard let data = FileManager.default.contents(atPath: file.path) else {
            throw PrepError(path: file.path, reason: "no manifest (prepare the folder with `timbre prep`)")
        }
        var entries = [ManifestEntry]()
        let decoder = JSONDecoder()
        for (number, line) in String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline).enumerated() {
            let text = line.trimmingCharacters(in: .whitespaces)
            if text.isEmpty { continue }
            do {
                entries.append(try decoder.decode(ManifestEntry.self, from: Data(text.utf8)))
            } catch {
                throw PrepError(path: file.path, reason: "line \(number + 1) is not a manifest entry (made by an older `timbre prep`? run it again)")
            }
        }
        return entries
    }

    /// Writes JSON Lines atomically.
    static func write<T: Encodable>(_ items: [T], to url: URL) throws {
        var text = ""
        for item in items { text += String(decoding: try encoder.encode(item), as: UTF8.self) + "\n" }
        try AtomicFile.write(Data(text.utf8), to: url)
    }
}

/// Whole-file writes that are never seen half-done: a hidden temporary file in the same folder,
/// renamed over the target.
enum AtomicFile {
    /// Marks the hidden temporary files a killed run may leave behind (cleared by the next run).
    static let temporaryMarker = ".tmp-"

    static func write(_ data: Data, to url: URL) throws {
        let directory = url.deletingLastPathComponent()
        let temp = directory.appendingPathComponent(
            ".\(url.lastPathComponent)\(temporaryMarker)\(ProcessInfo.processInfo.processIdentifier)-\(UInt32.random(in: .min ... .max))")
        do {
            try data.write(to: temp)
            if rename(temp.path, url.path) != 0 {
                throw PrepError(path: url.path, reason: "cannot rename into place: \(String(cString: strerror(errno)))")
            }
        } catch let error as PrepError {
            try? FileManager.default.removeItem(at: temp)
            throw error
        } catch {
            try? FileManager.default.removeItem(at: temp)
            throw PrepError(path: url.path, reason: "cannot write: \(error.localizedDescription)")
        }
    }
}

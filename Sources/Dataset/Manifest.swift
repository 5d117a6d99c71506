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

    enum CodingKeys: String, CodingKey {
        case path, source, sliceStart, sliceEnd, drumClass = "class", sampleRate, channels, peakDBFS, loudnessLUFS
        case loudnessGated, rmsDBFS, durationBeforePadding, hash, warnings, onset
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

    /// Reads `DIR/manifest.jsonl`.
    public static func read(_ url: URL) throws -> [ManifestEntry] {
        let text = try String(contentsOf: url, encoding: .utf8)
        return try text.split(separator: "\n").map { try JSONDecoder().decode(ManifestEntry.self, from: Data($0.utf8)) }
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

import AudioIO
import DSP
import Foundation
import Synchronization

/// A source file found by the scan.
public struct SourceFile: Sendable, Equatable {
    /// Absolute, standardised location.
    public var url: URL
    /// Path relative to the input folder it was found in (the file name for a file given directly):
    /// the output's name and the class guess come from it.
    public var relativePath: String
    /// Bytes, and modification time in nanoseconds: a rerun trusts a journal entry only when both match.
    public var size: Int
    public var modificationNanos: Int64
    /// The kit: the first folder below the input root (see `Grouping.kit`).
    public var kit: String = ""
    /// The Hydrogen instrument that plays this file, when a `drumkit.xml` in its folder names one.
    public var instrument: String? = nil
}

/// What the scan found.
public struct ScanResult: Sendable {
    /// Files with an audio extension, sorted by absolute path.
    public var sources: [SourceFile]
    /// Files skipped because their extension is not audio.
    public var notAudio: [String]
    /// Inputs that do not exist.
    public var missing: [FailedSource]
}

/// One output one-shot before it is written: the audio and what the manifest says about it.
public struct PreparedShot: Sendable {
    /// Exactly `options.frameCount` frames at `options.sampleRate`.
    public var buffer: AudioBuffer
    /// Index of the slice in its source (0 for a file that stays whole).
    public var sliceIndex: Int
    /// Seconds in the source: first and one-past-last kept frame, and the onset.
    public var sliceStart: Double, sliceEnd: Double, onset: Double
    /// Seconds of audio before the fixed length padded or cut it.
    public var durationBeforePadding: Double
    public var peakDBFS: Double, rmsDBFS: Double
    public var loudness: LoudnessMeasurement?
    public var hash: String
    public var warnings: [String]
}

/// What a run did, for the summary and the exit status.
public struct PrepSummary: Sendable {
    /// Audio sources decoded (or found done in the journal).
    public var filesRead = 0
    /// Of those, how many a journal entry from an earlier run vouched for.
    public var resumed = 0
    /// Lines in the manifest.
    public var oneShotsWritten = 0
    /// Skipped things by reason: "not audio" (files), "duplicate" and "silent" (one-shots).
    public var skipped: [String: Int] = [:]
    /// Failed sources, sorted by path.
    public var failures: [FailedSource] = []
    /// Failed sources counted by reason.
    public var failedByReason: [String: Int] {
        failures.reduce(into: [:]) { $0[$1.reason, default: 0] += 1 }
    }
    /// Groups in the manifest, and how many of them merge more than one kit.
    public var groups = 0, mergedGroups = 0
    /// Wall time of the run in seconds.
    public var seconds = 0.0
}

/// The journal entry of one finished source: `DIR/.prep/<sha256 of the source path>.json`.
struct JournalEntry: Codable, Equatable {
    /// 2 since manifest lines carry the kit, 3 since Hydrogen instrument names decide classes:
    /// older entries are redone.
    var version = 3
    var source: String
    var size: Int
    var modificationNanos: Int64
    var options: String
    var outputs: [ManifestEntry]
    var silent: Int

    func matches(_ file: SourceFile, fingerprint: String) -> Bool {
        version == 3 && source == file.url.path && size == file.size && modificationNanos == file.modificationNanos
            && options == fingerprint
    }
}

/// `timbre prep`: scan, then per source (in parallel) decode → high-pass → slice → balance/downmix →
/// trim → denoise (and trim again) → fix length → normalise → write; then duplicates, manifest
/// and errors. (Why the high-pass and the channel stage come earlier than the order:
/// docs/PREP.md.)
public enum Pipeline {
    /// Extensions taken as audio (what libsndfile reads). A file with one of these that cannot be
    /// read is a failure; anything else is skipped and counted.
    public static let audioExtensions: Set<String> = [
        "wav", "wave", "flac", "aif", "aiff", "aifc", "ogg", "oga", "opus", "caf", "w64", "rf64", "au", "snd", "mp3",
        "voc", "paf", "sf", "ircam", "mat", "pvf", "xi", "htk", "sds", "avr", "wve", "mpc", "sd2",
    ]

    // MARK: Scan

    /// Finds every file under the inputs (folders recursively; hidden files and folders and
    /// `excluding` left out), sorted by path.
    public static func scan(_ inputs: [URL], excluding: URL? = nil) -> ScanResult {
        var found: [String: SourceFile] = [:]
        var notAudio: [String] = []
        var missing: [FailedSource] = []
        let excluded = excluding?.standardizedFileURL.resolvingSymlinksInPath().path
        let fm = FileManager.default
        // Each folder's drumkit.xml, read once.
        var kitNames: [String: [String: String]] = [:]
        func instrument(of url: URL) -> String? {
            let folder = url.deletingLastPathComponent()
            if kitNames[folder.path] == nil {
                kitNames[folder.path] = HydrogenKit.instrumentNames(drumkitXML: folder.appendingPathComponent("drumkit.xml"))
            }
            return kitNames[folder.path]![url.lastPathComponent]
        }
        func consider(_ url: URL, relative: String, root: URL, rootIsFile: Bool) {
            let ext = url.pathExtension.lowercased()
            guard audioExtensions.contains(ext) else { notAudio.append(url.path); return }
            guard let attributes = try? fm.attributesOfItem(atPath: url.resolvingSymlinksInPath().path) else {
                missing.append(FailedSource(source: url.path, reason: "cannot read the file's attributes"))
                return
            }
            let size = (attributes[.size] as? NSNumber)?.intValue ?? 0
            let date = (attributes[.modificationDate] as? Date) ?? .distantPast
            found[url.path] = SourceFile(url: url, relativePath: relative, size: size,
                                         modificationNanos: Int64((date.timeIntervalSince1970 * 1e9).rounded()),
                                         kit: Grouping.kit(relativePath: relative, root: root, rootIsFile: rootIsFile),
                                         instrument: instrument(of: url))
        }
        for input in inputs {
            // Paths stay as the user sees them (a symlinked folder keeps its own name in the
            // manifest and the output names); only the exclusion check resolves links.
            let root = input.standardizedFileURL
            var isDirectory: ObjCBool = false
            guard fm.fileExists(atPath: root.path, isDirectory: &isDirectory) else {
                missing.append(FailedSource(source: input.path, reason: "no such file or folder"))
                continue
            }
            if !isDirectory.boolValue {
                consider(root, relative: root.lastPathComponent, root: root, rootIsFile: true)
                continue
            }
            guard let walker = fm.enumerator(at: root, includingPropertiesForKeys: [.isDirectoryKey],
                                             options: [.skipsHiddenFiles]) else { continue }
            for case let url as URL in walker {
                let file = url.standardizedFileURL
                if let excluded {
                    let resolved = file.resolvingSymlinksInPath().path
                    if resolved == excluded || resolved.hasPrefix(excluded + "/") {
                        walker.skipDescendants()
                        continue
                    }
                }
                if (try? file.resourceValues(forKeys: [.isDirectoryKey]).isDirectory) == true { continue }
                guard file.path.hasPrefix(root.path) else { continue }
                var relative = String(file.path.dropFirst(root.path.count))
                while relative.hasPrefix("/") { relative.removeFirst() }
                consider(file, relative: relative, root: root, rootIsFile: false)
            }
        }
        return ScanResult(sources: found.values.sorted { $0.url.path < $1.url.path },
                          notAudio: notAudio.sorted(), missing: missing.sorted { $0.source < $1.source })
    }

    // MARK: One source, in memory

    /// Every stage after decoding, for one decoded buffer (already at `options.sampleRate`):
    /// pure, no files touched. Returns the one-shots and how many slices were silent.
    public static func prepare(_ decoded: AudioBuffer, options: PrepOptions, stft: STFT,
                               noiseProfile: [Float]? = nil) -> (shots: [PreparedShot], silent: Int) {
        let rate = Double(options.sampleRate)
        // The high-pass runs first, on the whole file: a DC offset would otherwise fool the slicer's
        // envelope and trim's threshold (measured: hydrogen's finger snaps start 2.8 ms late without it).
        let decoded = Stages.highPass(decoded, frequency: options.highPassHz)
        let slices = options.slice ? Stages.slice(decoded)
            : [Stages.Slice(start: 0, end: decoded.frameCount, residualLevel: 0)]
        let preroll = Int((options.prerollSeconds * rate).rounded())
        let gate = SpectralGate(strength: options.denoise)
        var shots = [PreparedShot]()
        var silent = 0
        for (index, region) in slices.enumerated() {
            var warnings = [String]()
            var piece = AudioBuffer(sampleRate: rate, channels: decoded.channels.map { Array($0[region.start..<region.end]) })
            // Channels are shaped before trimming (the order has them after): the onset must be
            // found on the signal that is written, and a mono mix can start later than either channel.
            let balanced = Stages.balance(piece)
            piece = balanced.0
            warnings += balanced.1
            let shaped = options.channels == .mono ? Stages.downmix(piece) : Stages.stereo(piece)
            piece = shaped.0
            warnings += shaped.1
            guard let trimmed = Stages.trim(piece, prerollFrames: preroll, residualLevel: region.residualLevel) else {
                silent += 1
                continue
            }
            var buffer = trimmed.buffer
            // Frames of the trimmed clip (before its lead padding) that the output starts and its onset sits at.
            var firstKept = trimmed.keptRange.lowerBound - trimmed.leadPadding
            var onsetFrame = trimmed.onsetFrame
            if options.denoise > 0 {
                buffer = gate.apply(buffer, stft: stft, profile: noiseProfile)
                // The gate can only turn things down, so the onset may now come later (measured on
                // hydrogen at --denoise 0.5: 46 of 875 one-shots, up to 87 ms): trim again so it
                // sits at the pre-roll.
                guard let again = Stages.trim(buffer, prerollFrames: preroll) else {
                    silent += 1
                    continue
                }
                let shift = again.onsetFrame - preroll
                onsetFrame += shift
                firstKept += again.keptRange.lowerBound - again.leadPadding
                buffer = again.buffer
            }
            let (fixed, contentFrames) = Stages.fixLength(buffer, frames: options.frameCount,
                                                          fadeFrames: Int((0.02 * rate).rounded()))
            if contentFrames > options.frameCount {
                warnings.append(String(format: "cut from %.3f s to %.3f s with a 20 ms fade-out",
                                       Double(contentFrames) / rate, options.lengthSeconds))
            }
            let kept = min(contentFrames, options.frameCount)
            let (level, levelInfo) = Stages.normalize(fixed, mode: options.normalize, target: options.resolvedTarget,
                                                      ceilingDB: options.peakCeilingDBFS, contentFrames: kept)
            if let w = levelInfo.warning { warnings.append(w) }
            let peak = Double(Stages.peak(level.channels))
            guard peak > 0 else { silent += 1; continue }
            let content = level.channels.map { Array($0.prefix(kept)) }
            let rmsValue = content.map { Double(Stages.rms($0)) }.reduce(0, +) / Double(content.count)
            var hasher = SHA256()
            for c in level.channels { hasher.update(samples: c) }
            let startFrame = region.start + max(0, firstKept)
            shots.append(PreparedShot(
                buffer: level, sliceIndex: index,
                sliceStart: Double(startFrame) / rate,
                sliceEnd: Double(region.start + trimmed.keptRange.upperBound) / rate,
                onset: Double(region.start + onsetFrame) / rate,
                durationBeforePadding: Double(kept) / rate,
                peakDBFS: 20 * log10(peak), rmsDBFS: 20 * log10(max(rmsValue, 1e-12)),
                loudness: Loudness.measure(content, sampleRate: rate),
                hash: hasher.finalizeHex(), warnings: warnings))
        }
        return (shots, silent)
    }

    // MARK: Naming

    /// Output names, one per source, unique across the run: the relative path with folders joined
    /// by "_" and unsafe characters replaced; a clash (two inputs with the same relative path)
    /// gets 8 hex digits of the source path's hash. Deterministic: depends only on the sorted sources.
    public static func stems(for sources: [SourceFile]) -> [String: String] {
        func sanitize(_ relative: String) -> String {
            let noExtension = (relative as NSString).deletingPathExtension
            var out = ""
            for scalar in noExtension.unicodeScalars {
                switch scalar {
                case "a"..."z", "A"..."Z", "0"..."9", "-", ".": out.unicodeScalars.append(scalar)
                default: if !out.hasSuffix("_") { out += "_" }
                }
            }
            while out.hasPrefix("_") || out.hasPrefix(".") { out.removeFirst() }
            if out.isEmpty { out = "sample" }
            return String(out.prefix(150))
        }
        var byStem: [String: [SourceFile]] = [:]
        for s in sources { byStem[sanitize(s.relativePath), default: []].append(s) }
        var result: [String: String] = [:]
        for (stem, group) in byStem {
            for s in group {
                result[s.url.path] = group.count == 1 ? stem : stem + "-" + String(SHA256.hex(s.url.path).prefix(8))
            }
        }
        return result
    }

    // MARK: The run

    /// Runs the whole job over `inputs` into `output`, resuming from the journal.
    ///
    /// Sources run in parallel on `workers` threads; results do not depend on scheduling: names
    /// come from paths, every output and journal entry is written atomically, the duplicate kept
    /// is the first in sorted (source, slice) order, and the manifest is rebuilt from the journal
    /// in path order at the end.
    public static func run(inputs: [URL], output: URL, options: PrepOptions,
                           workers: Int = ProcessInfo.processInfo.activeProcessorCount,
                           progress: @escaping @Sendable (Double) -> Void = { _ in }) throws -> PrepSummary {
        let started = Date()
        var options = options
        try options.validate()
        let fm = FileManager.default
        let journalDir = output.appendingPathComponent(".prep")
        do {
            try fm.createDirectory(at: journalDir, withIntermediateDirectories: true)
        } catch {
            throw PrepError(path: output.path, reason: "cannot create the output folder: \(error.localizedDescription)")
        }
        let rate = Double(options.sampleRate)
        // One STFT per worker, made here, before any thread runs: FFTW's planner must not run
        // on two threads at once (aubio plans under its own lock, see `Onsets`).
        let width = max(1, workers)
        let stfts = (0..<width).map { _ in SpectralGate.makeSTFT(sampleRate: rate) }
        var noiseProfile: [Float]?
        if let path = options.noiseProfile {
            let url = URL(fileURLWithPath: path)
            guard let bytes = try? Data(contentsOf: url) else { throw PrepError(path: path, reason: "cannot read the noise profile") }
            options.noiseProfileHash = SHA256.hex(bytes)
            let noise = try Stages.decode(url, sampleRate: options.sampleRate)
            noiseProfile = SpectralGate(strength: options.denoise).profile(ofNoise: noise, stft: stfts[0])
        }
        let fingerprint = options.fingerprint

        let scan = Self.scan(inputs, excluding: output)
        let sources = scan.sources
        let stems = Self.stems(for: sources)
        clearTemporaries(in: output)

        // Phase 1: every source not vouched for by the journal, in parallel.
        let results = Mutex([Int: Result<JournalEntry, FailedSource>]())
        let resumedCount = Atomic<Int>(0)
        let next = Atomic<Int>(0), done = Atomic<Int>(0)
        let total = sources.count
        let frozenOptions = options
        let frozenProfile = noiseProfile
        DispatchQueue.concurrentPerform(iterations: width) { worker in
            let stft = stfts[worker]
            while true {
                let index = next.wrappingAdd(1, ordering: .relaxed).oldValue
                guard index < total else { break }
                let source = sources[index]
                let journalURL = journalDir.appendingPathComponent(SHA256.hex(source.url.path) + ".json")
                let outcome: Result<JournalEntry, FailedSource>
                if let data = try? Data(contentsOf: journalURL),
                   let entry = try? JSONDecoder().decode(JournalEntry.self, from: data),
                   entry.matches(source, fingerprint: fingerprint),
                   entry.outputs.allSatisfy({ fm.fileExists(atPath: output.appendingPathComponent($0.path).path) }) {
                    outcome = .success(entry)
                    resumedCount.wrappingAdd(1, ordering: .relaxed)
                } else {
                    do {
                        let entry = try processSource(source, stem: stems[source.url.path]!, output: output,
                                                      options: frozenOptions, fingerprint: fingerprint, stft: stft,
                                                      noiseProfile: frozenProfile)
                        try AtomicFile.write(try Manifest.encoder.encode(entry), to: journalURL)
                        outcome = .success(entry)
                    } catch let error as PrepError {
                        outcome = .failure(FailedSource(source: source.url.path, reason: error.reason))
                    } catch {
                        outcome = .failure(FailedSource(source: source.url.path, reason: "\(error)"))
                    }
                }
                results.withLock { $0[index] = outcome }
                let finished = done.wrappingAdd(1, ordering: .relaxed).newValue
                progress(Double(finished) / Double(max(total, 1)))
            }
        }
        if total == 0 { progress(1) }

        // Phase 2: duplicates (first in sorted source/slice order kept), manifest, errors.
        var summary = PrepSummary()
        summary.resumed = resumedCount.load(ordering: .relaxed)
        summary.skipped["not audio"] = scan.notAudio.count
        var failures = scan.missing
        var entries = [ManifestEntry]()
        var silent = 0
        let all = results.withLock { $0 }
        for index in 0..<total {
            switch all[index]! {
            case .success(let entry):
                summary.filesRead += 1
                entries += entry.outputs
                silent += entry.silent
            case .failure(let failure):
                failures.append(failure)
            }
        }
        var seen = [String: String]()
        var kept = [ManifestEntry]()
        var duplicates = [Grouping.DroppedDuplicate]()
        for entry in entries.sorted(by: { ($0.source, $0.sliceStart, $0.path) < ($1.source, $1.sliceStart, $1.path) }) {
            if let first = seen[entry.hash] {
                duplicates.append(Grouping.DroppedDuplicate(kept: first, dropped: entry.path, droppedKit: entry.kit ?? ""))
                try? fm.removeItem(at: output.appendingPathComponent(entry.path))
            } else {
                seen[entry.hash] = entry.path
                kept.append(entry)
            }
        }
        kept.sort { $0.path < $1.path }
        // Groups: kits sharing an identical or near-identical clip become one (Grouping).
        let groups = try Grouping.assign(&kept, folder: output, duplicates: duplicates, workers: width)
        summary.groups = groups.count
        summary.mergedGroups = groups.filter { $0.kits.count > 1 }.count
        try AtomicFile.write(try Grouping.encoder.encode(groups) + Data("\n".utf8), to: output.appendingPathComponent("groups.json"))
        summary.skipped["duplicate"] = duplicates.count
        summary.skipped["silent"] = silent
        summary.oneShotsWritten = kept.count
        summary.failures = failures.sorted { $0.source < $1.source }
        try Manifest.write(kept, to: output.appendingPathComponent("manifest.jsonl"))
        try Manifest.write(summary.failures, to: output.appendingPathComponent("errors.jsonl"))
        clearTemporaries(in: output)
        summary.seconds = Date().timeIntervalSince(started)
        return summary
    }

    /// Decodes, prepares and writes one source's one-shots; returns its journal entry.
    static func processSource(_ source: SourceFile, stem: String, output: URL, options: PrepOptions,
                              fingerprint: String, stft: STFT, noiseProfile: [Float]?) throws -> JournalEntry {
        let decoded = try Stages.decode(source.url, sampleRate: options.sampleRate)
        // A sample a Hydrogen kit plays as an instrument is one hit by construction: slicing would cut
        // a semi-open hat's rattle or a cymbal's swell into fragments that start mid-decay.
        var options = options
        if source.instrument != nil { options.slice = false }
        let (shots, silent) = prepare(decoded, options: options, stft: stft, noiseProfile: noiseProfile)
        // A Hydrogen kit's instrument name is its author's label of the sound; the path is the fallback.
        let classGuess = source.instrument.flatMap(DrumClass.match) ?? DrumClass.guess(relativePath: source.relativePath)
        let sliced = shots.count > 1 || (shots.first.map { $0.sliceIndex > 0 } ?? false)
        var outputs = [ManifestEntry]()
        for shot in shots {
            let name = sliced ? stem + String(format: "-s%03d", shot.sliceIndex + 1) : stem
            let relative = "\(classGuess.rawValue)/\(name).wav"
            let url = output.appendingPathComponent(relative)
            try? FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            do {
                try AudioFile.write(shot.buffer, to: url, format: options.sampleFormat)
            } catch let error as AudioFileError {
                throw PrepError(path: source.url.path, reason: "writing \(relative): \(error.reason)")
            }
            outputs.append(ManifestEntry(
                path: relative, source: source.url.path, sliceStart: shot.sliceStart, sliceEnd: shot.sliceEnd,
                drumClass: classGuess, sampleRate: options.sampleRate, channels: shot.buffer.channelCount,
                peakDBFS: shot.peakDBFS, loudnessLUFS: shot.loudness?.lufs, loudnessGated: shot.loudness?.gated ?? false,
                rmsDBFS: shot.rmsDBFS, durationBeforePadding: shot.durationBeforePadding, hash: shot.hash,
                warnings: shot.warnings, onset: shot.onset, kit: source.kit, instrument: source.instrument))
        }
        return JournalEntry(source: source.url.path, size: source.size, modificationNanos: source.modificationNanos,
                            options: fingerprint, outputs: outputs, silent: silent)
    }

    /// Removes the hidden temporary files a killed run leaves (ours and AudioIO's) from the
    /// dataset folder, its class folders and the journal.
    static func clearTemporaries(in output: URL) {
        let fm = FileManager.default
        var folders = [output, output.appendingPathComponent(".prep")]
        folders += DrumClass.allCases.map { output.appendingPathComponent($0.rawValue) }
        for folder in folders {
            for name in (try? fm.contentsOfDirectory(atPath: folder.path)) ?? []
            where name.hasPrefix(".") && name.contains(".tmp-") {
                try? fm.removeItem(at: folder.appendingPathComponent(name))
            }
        }
    }
}

import AudioIO
import Foundation

/// The General MIDI drum kits of a SoundFont (bank 128), rendered note by note to one-shot WAVs
/// with the `fluidsynth` program: one folder per preset (so a preset is a kit, and a group),
/// one file per drum note and velocity.
///
/// Each preset is played from a generated MIDI file on the drum channel: every note of
/// `notes` at every velocity of `velocities`, one per `slotSeconds`, each note released after
/// `holdSeconds` and all sound stopped just before the next slot; reverb and chorus off.
/// The render is cut at the slots, so no onset detection is involved. Same SoundFont, same
/// fluidsynth, same options: the same samples (the WAV header's PEAK chunk carries a time, the
/// samples do not).
public enum GeneralMIDIKits {
    /// One General MIDI drum note: its number, its name and the class prep should find in the
    /// file name made from them.
    public struct DrumNote: Sendable, Equatable {
        public var note: Int
        public var name: String
        public var drumClass: DrumClass
    }

    /// The General MIDI Level 1 percussion map, notes 35–81.
    public static let notes: [DrumNote] = [
        (35, "Acoustic Bass Drum", DrumClass.kick), (36, "Bass Drum 1", .kick), (37, "Side Stick", .perc),
        (38, "Acoustic Snare", .snare), (39, "Hand Clap", .clap), (40, "Electric Snare", .snare),
        (41, "Low Floor Tom", .tom), (42, "Closed Hi-Hat", .hat), (43, "High Floor Tom", .tom),
        (44, "Pedal Hi-Hat", .hat), (45, "Low Tom", .tom), (46, "Open Hi-Hat", .hat), (47, "Low-Mid Tom", .tom),
        (48, "Hi-Mid Tom", .tom), (49, "Crash Cymbal 1", .cymbal), (50, "High Tom", .tom),
        (51, "Ride Cymbal 1", .cymbal), (52, "Chinese Cymbal", .cymbal), (53, "Ride Bell", .cymbal),
        (54, "Tambourine", .perc), (55, "Splash Cymbal", .cymbal), (56, "Cowbell", .perc),
        (57, "Crash Cymbal 2", .cymbal), (58, "Vibraslap", .perc), (59, "Ride Cymbal 2", .cymbal),
        (60, "Hi Bongo", .perc), (61, "Low Bongo", .perc), (62, "Mute Hi Conga", .perc), (63, "Open Hi Conga", .perc),
        (64, "Low Conga", .perc), (65, "High Timbale", .perc), (66, "Low Timbale", .perc), (67, "High Agogo", .perc),
        (68, "Low Agogo", .perc), (69, "Cabasa", .perc), (70, "Maracas", .perc), (71, "Short Whistle", .perc),
        (72, "Long Whistle", .perc), (73, "Short Guiro", .perc), (74, "Long Guiro", .perc), (75, "Claves", .perc),
        (76, "Hi Wood Block", .perc), (77, "Low Wood Block", .perc), (78, "Mute Cuica", .perc),
        (79, "Open Cuica", .perc), (80, "Mute Triangle", .perc), (81, "Open Triangle", .perc),
    ].map { DrumNote(note: $0.0, name: $0.1, drumClass: $0.2) }

    /// How the kits are played.
    public struct Options: Codable, Sendable, Equatable {
        /// MIDI velocities each note is played at.
        public var velocities = [40, 80, 120]
        /// Seconds from one note to the next; each output file is this long minus the silence gap.
        public var slotSeconds = 4.0
        /// Seconds before the note-off (most drum sounds ignore it; whistles and guiros do not).
        public var holdSeconds = 1.5
        /// Seconds of each slot that are kept (all sound is stopped at this point).
        public var keptSeconds = 3.5
        /// fluidsynth's output gain (its default 0.2 is quiet; prep normalises anyway).
        public var gain = 0.5
        public var sampleRate = 44100
        /// Slots whose peak is below this (linear) are notes the preset does not play: not written.
        public var silentPeak: Float = 1e-5

        /// The defaults: velocities 40, 80 and 120, 4 s slots of which 3.5 s are kept, gain 0.5, 44.1 kHz.
        public init() {}
    }

    /// A drum preset of the SoundFont.
    public struct Preset: Sendable, Equatable {
        public var bank: Int, program: Int
        public var name: String
        /// The kit folder's name: `<prefix> <program, 3 digits> <preset name>`.
        public func folderName(prefix: String) -> String {
            let clean = name.unicodeScalars.map { CharacterSet.alphanumerics.contains($0) || " -+.".unicodeScalars.contains($0) ? Character($0) : "_" }
            return "\(prefix) \(String(format: "%03d", program)) \(String(clean).trimmingCharacters(in: .whitespaces))"
        }
    }

    /// What a render did.
    public struct Summary: Sendable {
        /// Drum presets found, and of those, how many an earlier render had already done.
        public var presets = 0, reused = 0
        /// One-shot files in the kit folders, and slots left out as silent (notes a preset does not play).
        public var files = 0, silentSlots = 0
        public var seconds = 0.0
    }

    /// The drum presets (bank 128) of a SoundFont 2 file, sorted by program: read from its
    /// `pdta/phdr` chunk.
    public static func drumPresets(in soundFont: URL) throws -> [Preset] {
        guard let data = FileManager.default.contents(atPath: soundFont.path) else {
            throw PrepError(path: soundFont.path, reason: "cannot read the SoundFont")
        }
        let bytes = [UInt8](data)
        func u32(_ i: Int) -> Int { Int(bytes[i]) | Int(bytes[i + 1]) << 8 | Int(bytes[i + 2]) << 16 | Int(bytes[i + 3]) << 24 }
        func u16(_ i: Int) -> Int { Int(bytes[i]) | Int(bytes[i + 1]) << 8 }
        func tag(_ i: Int) -> String { String(decoding: bytes[i..<(i + 4)], as: UTF8.self) }
        guard bytes.count > 12, tag(0) == "RIFF", tag(8) == "sfbk" else {
            throw PrepError(path: soundFont.path, reason: "not a SoundFont 2 file")
        }
        // Top-level LIST chunks; inside pdta, the phdr chunk of 38-byte preset headers.
        var i = 12
        while i + 8 <= bytes.count {
            let size = u32(i + 4)
            if tag(i) == "LIST", i + 12 <= bytes.count, tag(i + 8) == "pdta" {
                var j = i + 12
                while j + 8 <= min(bytes.count, i + 8 + size) {
                    let sub = u32(j + 4)
                    if tag(j) == "phdr" {
                        var presets = [Preset]()
                        // The last record is the terminal "EOP".
                        for r in 0..<max(0, sub / 38 - 1) {
                            let at = j + 8 + r * 38
                            let name = String(decoding: bytes[at..<(at + 20)].prefix { $0 != 0 }, as: UTF8.self)
                            presets.append(Preset(bank: u16(at + 22), program: u16(at + 20), name: name))
                        }
                        return presets.filter { $0.bank == 128 }.sorted { $0.program < $1.program }
                    }
                    j += 8 + sub + (sub & 1)
                }
            }
            i += 8 + size + (size & 1)
        }
        throw PrepError(path: soundFont.path, reason: "no preset headers (pdta/phdr) in the SoundFont")
    }

    /// The file name of one note at one velocity; starts with the class so prep's guess finds it.
    public static func fileName(_ note: DrumNote, velocity: Int) -> String {
        let name = note.name.replacingOccurrences(of: " ", with: "-")
        return "\(note.drumClass.rawValue)-\(note.note)-\(name)-v\(String(format: "%03d", velocity)).wav"
    }

    /// A type-0 standard MIDI file playing `program` on the drum channel: every note at every
    /// velocity, one per slot (1 tick = 1 ms: 1000 ticks per quarter at 60 bpm).
    public static func midiFile(program: Int, options: Options) -> Data {
        func vlq(_ value: Int) -> [UInt8] {
            var v = value, out = [UInt8(v & 0x7f)]
            v >>= 7
            while v > 0 { out.insert(UInt8(v & 0x7f) | 0x80, at: 0); v >>= 7 }
            return out
        }
        var events: [(Int, [UInt8])] = [(0, [0xC9, UInt8(program)])]
        var slot = 0
        for note in notes {
            for velocity in options.velocities {
                let start = Int((Double(slot) * options.slotSeconds * 1000).rounded())
                events.append((start, [0x99, UInt8(note.note), UInt8(velocity)]))
                events.append((start + Int(options.holdSeconds * 1000), [0x89, UInt8(note.note), 0]))
                // All Sound Off: nothing rings into the next slot.
                events.append((start + Int(options.keptSeconds * 1000), [0xB9, 120, 0]))
                slot += 1
            }
        }
        events.sort { $0.0 < $1.0 }
        var track: [UInt8] = [0x00, 0xFF, 0x51, 0x03, 0x0F, 0x42, 0x40]  // tempo: 1 000 000 µs per quarter
        var last = 0
        for (time, bytes) in events {
            track += vlq(time - last) + bytes
            last = time
        }
        track += vlq(Int(options.slotSeconds * 1000)) + [0xFF, 0x2F, 0x00]
        func be32(_ v: Int) -> [UInt8] { [UInt8(v >> 24 & 0xff), UInt8(v >> 16 & 0xff), UInt8(v >> 8 & 0xff), UInt8(v & 0xff)] }
        let header: [UInt8] = Array("MThd".utf8) + be32(6) + [0, 0, 0, 1, 0x03, 0xE8]
        return Data(header + Array("MTrk".utf8) + be32(track.count) + track)
    }

    /// What an earlier render of a kit folder must match to be reused (`.render.json`).
    struct Stamp: Codable, Equatable {
        var soundFont: String, soundFontSize: Int, fluidsynth: String, program: Int
        var options: Options
    }

    /// Renders every drum preset of `soundFont` into `folder/<kit>/` with the `fluidsynth`
    /// program (found on PATH unless given). A kit folder whose `.render.json` matches the
    /// SoundFont, the fluidsynth version and the options is kept as it is (so prep's journal
    /// stays valid); any other is rendered anew.
    public static func render(soundFont: URL, into folder: URL, prefix: String = "FluidR3 GM",
                              options: Options = Options(), fluidsynth: URL? = nil,
                              progress: @escaping @Sendable (Double) -> Void = { _ in }) throws -> Summary {
        let started = Date()
        let program = try fluidsynth ?? findProgram("fluidsynth")
        let version = try run(program, ["--version"]).split(separator: "\n").first.map(String.init) ?? "unknown"
        let presets = try drumPresets(in: soundFont)
        guard !presets.isEmpty else { throw PrepError(path: soundFont.path, reason: "no drum presets (bank 128)") }
        let size = (try? FileManager.default.attributesOfItem(atPath: soundFont.path)[.size] as? NSNumber)?.intValue ?? 0
        try Self.createFolder(folder)
        var summary = Summary()
        summary.presets = presets.count
        let decoder = JSONDecoder()
        for (index, preset) in presets.enumerated() {
            defer { progress(Double(index + 1) / Double(presets.count)) }
            let kit = folder.appendingPathComponent(preset.folderName(prefix: prefix))
            let stamp = Stamp(soundFont: soundFont.standardizedFileURL.path, soundFontSize: size, fluidsynth: version,
                              program: preset.program, options: options)
            let stampURL = kit.appendingPathComponent(".render.json")
            if let data = FileManager.default.contents(atPath: stampURL.path),
               let old = try? decoder.decode(Stamp.self, from: data), old == stamp {
                summary.reused += 1
                summary.files += ((try? FileManager.default.contentsOfDirectory(atPath: kit.path)) ?? []).filter { $0.hasSuffix(".wav") }.count
                continue
            }
            try? FileManager.default.removeItem(at: kit)
            try Self.createFolder(kit)
            let midi = kit.appendingPathComponent(".notes.mid"), wav = kit.appendingPathComponent(".render.wav")
            try AtomicFile.write(midiFile(program: preset.program, options: options), to: midi)
            _ = try run(program, ["-n", "-i", "-q", "-R", "0", "-C", "0", "-g", String(options.gain),
                                  "-r", String(options.sampleRate), "-O", "float", "-T", "wav", "-F", wav.path,
                                  soundFont.path, midi.path])
            let rendered = try AudioFile.read(wav)
            let slot = Int((options.slotSeconds * Double(options.sampleRate)).rounded())
            let kept = Int((options.keptSeconds * Double(options.sampleRate)).rounded())
            var number = 0
            for note in notes {
                for velocity in options.velocities {
                    let start = number * slot
                    number += 1
                    let end = min(start + kept, rendered.frameCount)
                    guard start < end else { summary.silentSlots += 1; continue }
                    let channels = rendered.channels.map { Array($0[start..<end]) }
                    let peak = channels.map { $0.reduce(Float(0)) { max($0, abs($1)) } }.max() ?? 0
                    guard peak >= options.silentPeak else { summary.silentSlots += 1; continue }
                    try AudioFile.write(AudioBuffer(sampleRate: rendered.sampleRate, channels: channels),
                                        to: kit.appendingPathComponent(fileName(note, velocity: velocity)), format: .float32)
                    summary.files += 1
                }
            }
            try? FileManager.default.removeItem(at: wav)
            try? FileManager.default.removeItem(at: midi)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            try AtomicFile.write(try encoder.encode(stamp), to: stampURL)
        }
        summary.seconds = Date().timeIntervalSince(started)
        return summary
    }

    /// The first executable called `name` on PATH.
    static func findProgram(_ name: String) throws -> URL {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for folder in path.split(separator: ":") {
            let candidate = URL(fileURLWithPath: String(folder)).appendingPathComponent(name)
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        throw PrepError(path: name, reason: "not found on PATH (apt-get install fluidsynth)")
    }

    /// Creates a folder, or throws one line naming it (FileManager's own error is a dump).
    static func createFolder(_ url: URL) throws {
        do {
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        } catch {
            throw PrepError(path: url.path, reason: "cannot create the folder: \((error as NSError).localizedFailureReason ?? error.localizedDescription)")
        }
    }

    /// Runs a program to completion; its stdout, or an error with its stderr's last line.
    static func run(_ program: URL, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = program
        process.arguments = arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            throw PrepError(path: program.path, reason: "cannot start: \(error.localizedDescription)")
        }
        nonisolated(unsafe) var errData = Data()
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async {
            errData = err.fileHandleForReading.readDataToEndOfFile()
            group.leave()
        }
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            let last = String(decoding: errData, as: UTF8.self).split(separator: "\n").last.map(String.init) ?? ""
            throw PrepError(path: program.path, reason: "exited with status \(process.terminationStatus): \(last)")
        }
        return String(decoding: outData, as: UTF8.self)
    }
}

import AudioIO
@testable import Dataset
import DSP
import Foundation
import Testing
import TestSupport

/// Signals and helpers shared by the Dataset tests.
enum Fixtures {
    static let rate = 44100.0
    static let hydrogen = TestPaths.hydrogenKits
    static let amen = TestPaths.sonicPiSamples.appendingPathComponent("loop_amen.flac")

    /// A synthetic drum hit: 1 ms linear attack, then a decaying 180 Hz tone plus decaying
    /// (deterministic) noise, peak about 0.8.
    static func hit(seconds: Double = 0.3, seed: UInt64 = 1) -> [Float] {
        var g = SplitMix(seed: seed)
        let n = Int(seconds * rate), attack = Int(0.001 * rate)
        return (0..<n).map { i in
            let t = Double(i) / rate
            let env = i < attack ? Double(i) / Double(attack) : exp(-(t - 0.001) * 18)
            let tone = sin(2 * .pi * 180 * t) * 0.6, noise = g.gaussian() * 0.15 * exp(-t * 40)
            return Float(env * (tone + noise))
        }
    }

    /// Deterministic white noise with RMS `rmsDB` dBFS.
    static func whiteNoise(count: Int, rmsDB: Double, seed: UInt64 = 7) -> [Float] {
        var g = SplitMix(seed: seed)
        let a = pow(10, rmsDB / 20)
        return (0..<count).map { _ in Float(g.gaussian() * a) }
    }

    /// Hydrogen's files (sorted); tests using them are `.needsHydrogenKits`.
    static func hydrogenFiles() -> [SourceFile] {
        Pipeline.scan([hydrogen]).sources
    }

    static func rmsDB(_ x: ArraySlice<Float>) -> Double {
        20 * log10(Double(Stages.rms(Array(x))))
    }

    /// Seconds from the first sample reaching 10 % of the peak to the first reaching 90 %.
    static func attackTime(_ x: [Float]) -> Double {
        let p = x.map(abs).max()!
        let a = x.firstIndex { abs($0) >= 0.1 * p }!, b = x.firstIndex { abs($0) >= 0.9 * p }!
        return Double(b - a) / rate
    }
}

/// A small deterministic generator (tests must not depend on the system RNG).
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func uniform() -> Double { Double(next() >> 11) / Double(1 << 53) }
    mutating func gaussian() -> Double {
        let u = max(uniform(), 1e-300), v = uniform()
        return (-2 * log(u)).squareRoot() * cos(2 * .pi * v)
    }
}

@Suite struct HashTests {
    @Test func sha256KnownVectors() {
        #expect(SHA256.hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        // One million 'a' fed in uneven pieces: exercises the block buffering.
        var h = SHA256()
        let chunk = Data(repeating: UInt8(ascii: "a"), count: 777)
        var fed = 0
        while fed < 1_000_000 {
            let n = min(777, 1_000_000 - fed)
            h.update(chunk.prefix(n))
            fed += n
        }
        #expect(h.finalizeHex() == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }
}

@Suite struct StageTests {
    @Test func trimPutsTheOnsetAtThePreroll() throws {
        let silence = [Float](repeating: 0, count: 10000)
        let noiseFloor = Fixtures.whiteNoise(count: 10000, rmsDB: -90)
        let signal = zip(silence + Fixtures.hit(), noiseFloor + [Float](repeating: 0, count: Fixtures.hit().count)).map { $0 + $1 }
        let preroll = 221
        let t = try #require(Stages.trim(AudioBuffer(sampleRate: Fixtures.rate, channels: [signal]), prerollFrames: preroll))
        #expect(Stages.peakOnset(t.buffer.channels) == preroll)
        #expect(t.onsetFrame >= 10000 && t.onsetFrame < 10050)
        // A hit at the very start gets zeros in front, so its onset sits at the pre-roll too.
        let early = try #require(Stages.trim(AudioBuffer(sampleRate: Fixtures.rate, channels: [Fixtures.hit()]), prerollFrames: preroll))
        #expect(Stages.peakOnset(early.buffer.channels) == preroll)
        #expect(early.leadPadding > 0)
        // Trailing silence goes.
        #expect(t.buffer.frameCount < silence.count + Fixtures.hit().count - 100 || t.buffer.frameCount <= preroll + Fixtures.hit().count)
    }

    @Test func silentClipsAreDropped() {
        let quiet = Fixtures.whiteNoise(count: 44100, rmsDB: -100)
        #expect(Stages.trim(AudioBuffer(sampleRate: Fixtures.rate, channels: [quiet]), prerollFrames: 221) == nil)
        #expect(Stages.trim(AudioBuffer(sampleRate: Fixtures.rate, channelCount: 2, frameCount: 1000), prerollFrames: 221) == nil)
    }

    @Test func fixLengthPadsOrCutsWithAFade() {
        let short = AudioBuffer(sampleRate: Fixtures.rate, channels: [Fixtures.hit(seconds: 0.5)])
        let (padded, n) = Stages.fixLength(short, frames: 88200, fadeFrames: 882)
        #expect(padded.frameCount == 88200 && n == 22050)
        #expect(padded.channels[0][22050...].allSatisfy { $0 == 0 })
        let long = AudioBuffer(sampleRate: Fixtures.rate, channels: [[Float](repeating: 0.5, count: 100_000)])
        let (cut, m) = Stages.fixLength(long, frames: 88200, fadeFrames: 882)
        #expect(cut.frameCount == 88200 && m == 100_000)
        #expect(cut.channels[0][88199] == 0)  // faded to nothing: no click
        #expect(cut.channels[0][88200 - 882 - 1] == 0.5)
        #expect(abs(cut.channels[0][88200 - 441] - 0.25) < 0.01)
    }

    @Test(arguments: [-1.0, -6.0, -0.1, -20.0])
    func peakModeIsExact(target: Double) {
        let b = AudioBuffer(sampleRate: Fixtures.rate, channels: [Fixtures.hit().map { $0 * 0.3 }])
        let (out, _) = Stages.normalize(b, mode: .peak, target: target, ceilingDB: -1, contentFrames: b.frameCount)
        let peak = 20 * log10(Double(Stages.peak(out.channels)))
        #expect(abs(peak - target) < 0.001)
    }

    @Test func loudnessModeHitsItsTargetUnderTheCeiling() throws {
        // A long steady tone: the gated measure, at target.
        let tone = (0..<88200).map { Float(sin(2 * Double.pi * 1000 * Double($0) / Fixtures.rate) * 0.1) }
        let (out, level) = Stages.normalize(AudioBuffer(sampleRate: Fixtures.rate, channels: [tone]), mode: .loudness,
                                            target: -20, ceilingDB: -1, contentFrames: 88200)
        let measured = try #require(Loudness.measure(out.channels, sampleRate: Fixtures.rate))
        #expect(measured.gated)
        #expect(abs(measured.lufs + 20) < 0.05)
        #expect(level.warning == nil)
        // A short, peaky hit asked to be very loud: held under the ceiling, with a warning.
        let hit = AudioBuffer(sampleRate: Fixtures.rate, channels: [Fixtures.hit(seconds: 0.2)])
        let (loud, info) = Stages.normalize(hit, mode: .loudness, target: -3, ceilingDB: -1, contentFrames: hit.frameCount)
        #expect(20 * log10(Double(Stages.peak(loud.channels))) <= -1 + 1e-4)
        #expect(info.warning != nil)
        // Shorter than the 400 ms gating block: the ungated measure, noted.
        let short = try #require(Loudness.measure(hit.channels, sampleRate: Fixtures.rate))
        #expect(!short.gated)
    }

    @Test func balanceEqualisesChannelsAndDownmixWarnsOfCancellation() {
        let left = Fixtures.hit(), right = left.map { $0 * 0.25 }
        let (balanced, _) = Stages.balance(AudioBuffer(sampleRate: Fixtures.rate, channels: [left, right]))
        let l = Stages.rms(balanced.channels[0]), r = Stages.rms(balanced.channels[1])
        #expect(abs(20 * log10(Double(l / r))) < 0.01)
        let (_, fine) = Stages.downmix(balanced)
        #expect(fine.isEmpty)
        let (_, warned) = Stages.downmix(AudioBuffer(sampleRate: Fixtures.rate, channels: [left, left.map { -$0 * 0.98 }]))
        #expect(warned.count == 1 && warned[0].contains("phase"))
    }

    @Test func highPassRemovesDC() {
        let x = Fixtures.hit().map { $0 * 0.5 + 0.2 }
        let y = Stages.highPass(AudioBuffer(sampleRate: Fixtures.rate, channels: [x + [Float](repeating: 0.2, count: 44100)]), frequency: 20)
        let tail = y.channels[0].suffix(4410)
        #expect(abs(tail.reduce(0, +) / Float(tail.count)) < 1e-3)
    }

    @Test func classesFromHydrogenStyleNames() {
        let cases: [(String, DrumClass)] = [
            ("GMRockKit/Kick-Soft.wav", .kick), ("kit/BD_01.aiff", .kick), ("Millo/bd_05.flac", .kick),
            ("kit/SN_03.aiff", .snare), ("x/PearlSnareRimshot-Hard.wav", .snare), ("x/sd_2.flac", .snare),
            ("x/HandClap-Med.wav", .clap), ("x/EE_Clap_Hard.flac", .clap),
            ("x/HiHatClosed-1.wav", .hat), ("x/HH_02.aiff", .hat), ("x/closehihat.flac", .hat), ("x/SabianHatOpen-Soft.wav", .hat),
            ("x/TomLow-0.wav", .tom), ("x/PearlTomFloor-Hard.wav", .tom), ("x/floortom_1.flac", .tom),
            ("x/Crash-1.wav", .cymbal), ("x/RideBell-2.wav", .cymbal), ("x/China-0.wav", .cymbal), ("x/ZildjianSplash-Med.wav", .cymbal),
            ("x/Cowbell-Hard.wav", .perc), ("x/Tambourine-Soft.wav", .perc), ("x/EE_Conga_1.flac", .perc), ("x/WoodBlock-Med.wav", .perc),
            ("Snares/take 3.wav", .snare), ("misc/beats_01-13.flac", .other),
        ]
        for (path, expected) in cases { #expect(DrumClass.guess(relativePath: path) == expected, "\(path)") }
    }

    /// A Hydrogen kit's drumkit.xml names the instrument of each sample (directly or in layers, entities
    /// decoded); prep's scan carries the name and the class follows it before the file name.
    @Test func hydrogenInstrumentNamesDecideClasses() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("timbre-hydrogen-\(getpid())/Kit")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder.deletingLastPathComponent()) }
        let xml = """
        <drumkit_info><name>Kit</name><instrumentList>
        <instrument><id>0</id><name>c3 - bass drum 1</name><filename>beats_06-38.flac</filename></instrument>
        <instrument><id>1</id><name>Hi-Hat &amp; Pedal</name><layer><min>0</min><filename>beats_01-13.flac</filename></layer>
          <layer><filename>beats_01-14.flac</filename></layer></instrument>
        <instrument><id>2</id><name>Sample: beats_09-01.flac</name><filename>beats_09-01.flac</filename></instrument>
        </instrumentList></drumkit_info>
        """
        try Data(xml.utf8).write(to: folder.appendingPathComponent("drumkit.xml"))
        let names = HydrogenKit.instrumentNames(drumkitXML: folder.appendingPathComponent("drumkit.xml"))
        #expect(names == ["beats_06-38.flac": "c3 - bass drum 1", "beats_01-13.flac": "Hi-Hat & Pedal",
                          "beats_01-14.flac": "Hi-Hat & Pedal", "beats_09-01.flac": "Sample: beats_09-01.flac"])
        for file in ["beats_06-38.flac", "beats_01-13.flac", "beats_09-01.flac", "beats_02-02.flac"] {
            try Data([0]).write(to: folder.appendingPathComponent(file))
        }
        let scanned = Dictionary(uniqueKeysWithValues: Pipeline.scan([folder.deletingLastPathComponent()]).sources
            .map { ($0.url.lastPathComponent, $0.instrument) })
        #expect(scanned["beats_06-38.flac"] == "c3 - bass drum 1")
        #expect(scanned["beats_01-13.flac"] == "Hi-Hat & Pedal")
        #expect(scanned["beats_02-02.flac"] == .some(nil), "a sample no instrument plays has no instrument")
        #expect(DrumClass.match("c3 - bass drum 1") == .kick)
        #expect(DrumClass.match("Hi-Hat & Pedal") == .hat)
        // The class named first wins: "custom" ends in "tom" and a dunun's bell is percussion.
        #expect(DrumClass.match("Ride (Custom, Zagrebin 22\")") == .cymbal)
        #expect(DrumClass.match("Ride Bell (Custom, Zagrebin 22\")") == .cymbal)
        #expect(DrumClass.match("Dununba1 Bell Mute") == .perc)
        #expect(DrumClass.match("Crash/Ride Bell (Paiste Rude Crash/Ride 18\")") == .cymbal)
        #expect(DrumClass.match("Snare 2 Rimshot (Pearl Free Floating Maple 14x3.5)") == .snare)
        #expect(DrumClass.match("Pearl Side Stick") == .perc)
        #expect(DrumClass.match("Sample: beats_09-01.flac") == nil, "a name that says no class falls back to the path")
    }
}

@Suite struct DenoiseTests {
    /// The bar: a hit in white noise at -40 dBFS keeps its peak (1 dB) and attack time (1 ms)
    /// while the noise floor drops by at least 15 dB.
    @Test func gatingLowersTheFloorAndKeepsTheAttack() {
        let n = Int(2 * Fixtures.rate), at = Int(0.5 * Fixtures.rate)
        let clean = [Float](repeating: 0, count: at) + Fixtures.hit(seconds: 0.3) + [Float](repeating: 0, count: n - at - Int(0.3 * Fixtures.rate))
        let noise = Fixtures.whiteNoise(count: n, rmsDB: -40)
        let noisy = zip(clean, noise).map { $0 + $1 }
        let stft = SpectralGate.makeSTFT(sampleRate: Fixtures.rate)
        let out = SpectralGate(strength: 1).apply(AudioBuffer(sampleRate: Fixtures.rate, channels: [noisy]), stft: stft).channels[0]

        let floorRange = Int(1.2 * Fixtures.rate)..<Int(1.9 * Fixtures.rate)
        let before = Fixtures.rmsDB(noisy[floorRange]), after = Fixtures.rmsDB(out[floorRange])
        let leadBefore = Fixtures.rmsDB(noisy[0..<Int(0.4 * Fixtures.rate)]), leadAfter = Fixtures.rmsDB(out[0..<Int(0.4 * Fixtures.rate)])
        let peakIn = 20 * log10(Double(noisy.map(abs).max()!)), peakOut = 20 * log10(Double(out.map(abs).max()!))
        let hitRange = at..<(at + Int(0.05 * Fixtures.rate))
        let attackIn = Fixtures.attackTime(Array(noisy[hitRange])), attackOut = Fixtures.attackTime(Array(out[hitRange]))
        print(String(format: "denoise: floor %.1f -> %.1f dB (lead-in %.1f -> %.1f), peak %.2f -> %.2f dBFS, attack %.3f -> %.3f ms",
                     before, after, leadBefore, leadAfter, peakIn, peakOut, attackIn * 1000, attackOut * 1000))
        #expect(before - after >= 15)
        #expect(leadBefore - leadAfter >= 15)
        #expect(abs(peakIn - peakOut) <= 1)
        #expect(abs(attackIn - attackOut) <= 0.001)
    }

    /// `--noise-profile FILE`: the gate takes its profile from a recording of the noise alone.
    @Test func noiseProfileFromAFile() throws {
        let dir = TemporaryDirectory()
        let noiseFile = dir.file("room.wav"), take = dir.file("snare.wav")
        try AudioFile.write(AudioBuffer(sampleRate: Fixtures.rate, channels: [Fixtures.whiteNoise(count: 44100, rmsDB: -45, seed: 3)]),
                            to: noiseFile)
        // A hit with noise all the way through and no quiet stretch before it.
        let hit = Fixtures.hit(seconds: 1.5)
        let noisy = zip(hit, Fixtures.whiteNoise(count: hit.count, rmsDB: -45, seed: 4)).map { $0 + $1 }
        try AudioFile.write(AudioBuffer(sampleRate: Fixtures.rate, channels: [noisy]), to: take)
        var options = PrepOptions()
        options.denoise = 1
        options.noiseProfile = noiseFile.path
        options.slice = false
        let out = dir.file("out")
        let summary = try Pipeline.run(inputs: [take], output: out, options: options)
        #expect(summary.oneShotsWritten == 1)
        let audio = try AudioFile.read(out.appendingPathComponent("snare/snare.wav")).channels[0]
        // Where only noise is left (the hit has decayed by 1.0 s), it is at least 15 dB lower
        // relative to the hit's peak than before.
        let inFloor = Fixtures.rmsDB(noisy[Int(1.1 * Fixtures.rate)..<Int(1.45 * Fixtures.rate)]) - 20 * log10(Double(noisy.map(abs).max()!))
        let outFloor = Fixtures.rmsDB(audio[Int(1.1 * Fixtures.rate)..<Int(1.45 * Fixtures.rate)]) - 20 * log10(Double(audio.map(abs).max()!))
        print(String(format: "noise profile file: floor re peak %.1f -> %.1f dB", inFloor, outFloor))
        #expect(inFloor - outFloor >= 15)
        // The profile's content is part of the options: a new profile redoes the work.
        try AudioFile.write(AudioBuffer(sampleRate: Fixtures.rate, channels: [Fixtures.whiteNoise(count: 44100, rmsDB: -50, seed: 5)]),
                            to: noiseFile)
        let again = try Pipeline.run(inputs: [take], output: out, options: options)
        #expect(again.resumed == 0)
    }

    @Test func cleanAudioPassesUntouched() {
        // Digital silence makes a zero noise profile: nothing is gated.
        let x = [Float](repeating: 0, count: 20000) + Fixtures.hit() + [Float](repeating: 0, count: 20000)
        let stft = SpectralGate.makeSTFT(sampleRate: Fixtures.rate)
        let y = SpectralGate(strength: 1).apply(AudioBuffer(sampleRate: Fixtures.rate, channels: [x]), stft: stft).channels[0]
        let err = zip(x, y).map { abs($0 - $1) }.max()!
        #expect(err < 1e-4)
    }
}

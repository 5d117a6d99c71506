import AudioIO
@testable import Dataset
import DSP
import Foundation
import Testing
import TestSupport

/// Whole runs of the pipeline on real recordings. Serialized: each uses both cores.
@Suite(.serialized) struct PipelineTests {
    /// The bar: 20 different hydrogen hits placed at known times in one long file come out as
    /// 20 one-shots whose onsets sit at the pre-roll, within 5 ms of where each was placed. Two
    /// picks: every k-th of the sorted candidates, and a fixed list that holds a ringing low tom
    /// (ForzeeStereo/TomMid-0, whose waveform's zero crossings once split it).
    @Test(.needsHydrogenKits, arguments: ["every k-th", "ringing tom"])
    func twentyPlacedHitsComeOutAsTwentyOneShots(pick: String) throws {
        let files = Fixtures.hydrogenFiles()
        // Twenty different short hits: kicks, snares, toms, hats, claps, percussion from several kits.
        let candidates = files.filter {
            let c = DrumClass.guess(relativePath: $0.relativePath)
            // Not the articulations that are several strokes by design: an open hat closing, a
            // swish, a roll, a flam, a loop.
            let path = $0.relativePath.lowercased()
            return [.kick, .snare, .tom, .hat, .clap, .perc].contains(c)
                && !["open", "swish", "roll", "flam", "beats"].contains { path.contains($0) }
        }
        try #require(candidates.count >= 20)
        let picked: [SourceFile]
        if pick == "every k-th" {
            let stride = candidates.count / 20
            picked = (0..<20).map { candidates[$0 * stride] }
        } else {
            let list = [
                "Audiophob/101450__menegass__tomh.wav", "BJA_Pacific/CB2_02.aiff", "BJA_Pacific/HH_06.aiff",
                "BJA_Pacific/TM2_01.aiff", "ColomboAcousticDrumkit/snare-opaque-normal-mic-normal_shot2.flac",
                "ElectricEmpireKit/EE_Kick_Dist.flac", "ForzeeStereo/AgogoLow-0.wav", "ForzeeStereo/RimClick-3.wav",
                "ForzeeStereo/Stick-1.wav", "ForzeeStereo/TomMid-0.wav", "Gimme A Hand 1.0/Cowbell-Soft.wav",
                "Gimme A Hand 1.0/WaterglassHi-Hardest.wav", "HardElectro1/PowR_HH_2.flac",
                "Millo_MultiLayered2/clap_03.flac", "Millo_MultiLayered2/tom_04.flac", "Millo_MultiLayered3/sd_04.flac",
                "The Black Pearl 1.0/PearlSideStick-Hard.wav", "The Black Pearl 1.0/PearlTom2-Soft.wav",
                "The Black Pearl 1.0/SabianHatClosed-Hardest.wav", "circAfrique v4/Djembe2 Bass.wav",
            ]
            picked = try list.map { path in try #require(candidates.first { $0.relativePath == path }, "\(path) not a candidate") }
        }
        print("placed hits: \(picked.map(\.relativePath).joined(separator: ", "))")
        var timeline = [Float](repeating: 0, count: Int(0.3 * Fixtures.rate))
        var placed = [Double]()
        var g = SplitMix(seed: 20)
        for source in picked {
            var hit = Stages.mix(try Stages.decode(source.url, sampleRate: 44100).channels)
            hit = Stages.highPass(AudioBuffer(sampleRate: Fixtures.rate, channels: [hit]), frequency: 20).channels[0]
            // At most 0.45 s of each, faded out, so hits may still ring into the gap.
            let keep = min(hit.count, Int(0.45 * Fixtures.rate))
            hit = Array(hit[0..<keep])
            let fade = min(keep, 2205)
            for i in 0..<fade { hit[keep - fade + i] *= Float(1 - Double(i) / Double(fade)) }
            let peak = hit.map(abs).max()!
            hit = hit.map { $0 / peak * 0.7 }
            let onsetInHit = try #require(Stages.peakOnset([hit]))
            let start = timeline.count
            placed.append(Double(start + onsetInHit) / Fixtures.rate)
            print("  \(source.relativePath) at \(placed.last!) s, \(hit.count) frames")
            timeline += hit
            // 0.1 to 0.3 s before the next one.
            timeline += [Float](repeating: 0, count: Int((0.1 + 0.2 * g.uniform()) * Fixtures.rate))
        }
        timeline += Fixtures.whiteNoise(count: 4410, rmsDB: -100)
        let dir = TemporaryDirectory()
        let take = dir.file("take.wav")
        try AudioFile.write(AudioBuffer(sampleRate: Fixtures.rate, channels: [timeline]), to: take, format: .pcm24)
        let out = dir.file("out")
        let summary = try Pipeline.run(inputs: [take], output: out, options: PrepOptions())
        let manifest = try Manifest.read(out.appendingPathComponent("manifest.jsonl"))
        #expect(summary.oneShotsWritten == 20)
        #expect(manifest.count == 20)
        let onsets = manifest.map(\.onset).sorted()
        for (p, o) in zip(placed, onsets) {
            #expect(abs(p - o) <= 0.005, "placed at \(p) s, found at \(o) s")
        }
        for entry in manifest {
            let audio = try AudioFile.read(out.appendingPathComponent(entry.path))
            let onset = try #require(Stages.peakOnset(audio.channels))
            #expect(abs(onset - 221) <= 44, "\(entry.path): onset at frame \(onset)")
        }
    }

    /// The bar: sonic-pi's amen loop comes out as its separate hits (12 in its one bar, on the
    /// 16th-note grid at steps 0 2 4 6 7 8 9 10 11 12 14 15).
    @Test(.needsSonicPiSamples)
    func amenSplitsIntoItsHits() throws {
        let dir = TemporaryDirectory()
        let out = dir.file("out")
        _ = try Pipeline.run(inputs: [Fixtures.amen], output: out, options: PrepOptions())
        let manifest = try Manifest.read(out.appendingPathComponent("manifest.jsonl"))
        let step = 1.753311 / 16
        let truth = [0, 2, 4, 6, 7, 8, 9, 10, 11, 12, 14, 15].map { Double($0) * step }
        let onsets = manifest.map(\.onset).sorted()
        print("amen onsets: \(onsets.map { String(format: "%.3f", $0) }.joined(separator: " "))")
        #expect(onsets.count == truth.count)
        for t in truth { #expect(onsets.contains { abs($0 - t) < 0.02 }, "no slice at \(t) s") }
    }

    /// The hydrogen bar, on a fixed selection of 40 files (every n-th of the sorted list): in peak
    /// mode, and in loudness mode with the denoiser on (onsets still at the pre-roll, peaks under the ceiling).
    @Test(.needsHydrogenKits, arguments: ["peak", "loudness+denoise"])
    func hydrogenSubsetMeetsTheBar(mode: String) throws {
        let files = Fixtures.hydrogenFiles()
        let stride = max(1, files.count / 40)
        let picked = (0..<40).map { files[min(files.count - 1, $0 * stride)] }
        let dir = TemporaryDirectory()
        let inputs = dir.file("in")
        try FileManager.default.createDirectory(at: inputs, withIntermediateDirectories: true)
        for (i, f) in picked.enumerated() {
            try FileManager.default.createSymbolicLink(
                at: inputs.appendingPathComponent(String(format: "%02d-", i) + f.url.lastPathComponent), withDestinationURL: f.url)
        }
        let out = dir.file("out")
        var options = PrepOptions()
        if mode != "peak" {
            options.normalize = .loudness
            options.denoise = 0.5
        }
        let summary = try Pipeline.run(inputs: [inputs], output: out, options: options)
        #expect(summary.failures.isEmpty)
        #expect(summary.filesRead == 40)
        let manifest = try Manifest.read(out.appendingPathComponent("manifest.jsonl"))
        #expect(manifest.count == summary.oneShotsWritten)
        #expect(manifest.map(\.path) == manifest.map(\.path).sorted())
        var written = [String]()
        for cls in DrumClass.allCases {
            for name in (try? FileManager.default.contentsOfDirectory(atPath: out.appendingPathComponent(cls.rawValue).path)) ?? []
            where name.hasSuffix(".wav") { written.append("\(cls.rawValue)/\(name)") }
        }
        #expect(written.sorted() == manifest.map(\.path))
        for entry in manifest {
            let audio = try AudioFile.read(out.appendingPathComponent(entry.path))
            #expect(audio.frameCount == 88200 && audio.sampleRate == 44100 && audio.channelCount == 1, "\(entry.path)")
            let peak = 20 * log10(Double(Stages.peak(audio.channels)))
            if mode == "peak" {
                #expect(abs(peak + 1) <= 0.1, "\(entry.path): peak \(peak)")
                #expect(abs(entry.peakDBFS + 1) <= 0.1)
            } else {
                #expect(peak <= -1 + 0.001, "\(entry.path): peak \(peak) over the ceiling")
                let lufs = try #require(entry.loudnessLUFS)
                let held = entry.warnings.contains { $0.contains("ceiling") }
                #expect(held || abs(lufs + 20) < 0.1, "\(entry.path): \(lufs) LUFS")
                #expect(entry.loudnessGated == (entry.durationBeforePadding >= 0.4))
            }
            let onset = try #require(Stages.peakOnset(audio.channels))
            #expect(Double(onset) / 44100 <= 0.005 + 0.001, "\(entry.path): onset \(Double(onset) / 44.1) ms")
            var h = SHA256()
            h.update(samples: audio.channels[0])
            #expect(h.finalizeHex() == entry.hash)
        }
    }

    /// Real samples mixed with broken files: every real sample comes out, each broken file is
    /// reported by name with its reason, non-audio files are counted, and the run goes on.
    @Test func brokenFilesAreReportedAndTheRestComesOut() throws {
        let dir = TemporaryDirectory()
        let inputs = dir.file("in")
        try FileManager.default.createDirectory(at: inputs, withIntermediateDirectories: true)
        var good = 0
        for i in 0..<4 {
            try AudioFile.write(AudioBuffer(sampleRate: 48000, channels: [Fixtures.hit(seed: UInt64(i + 1)), Fixtures.hit(seed: UInt64(i + 9))]),
                                to: inputs.appendingPathComponent("kick-\(i).wav"), format: .pcm16)
            good += 1
        }
        let wav = try Data(contentsOf: inputs.appendingPathComponent("kick-0.wav"))
        try Data().write(to: inputs.appendingPathComponent("empty.wav"))
        try wav.prefix(40).write(to: inputs.appendingPathComponent("truncated.wav"))
        try Data((0..<3000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }).write(to: inputs.appendingPathComponent("random.flac"))
        try Data("not audio at all\n".utf8).write(to: inputs.appendingPathComponent("text.aiff"))
        var nan = Fixtures.hit()
        nan[100] = .nan
        try AudioFile.write(AudioBuffer(sampleRate: 44100, channels: [nan]), to: inputs.appendingPathComponent("nan.wav"))
        try Data("readme".utf8).write(to: inputs.appendingPathComponent("README.txt"))
        try Data("<drumkit/>".utf8).write(to: inputs.appendingPathComponent("drumkit.xml"))

        let out = dir.file("out")
        let summary = try Pipeline.run(inputs: [inputs, dir.file("missing-folder")], output: out, options: PrepOptions())
        #expect(summary.oneShotsWritten == good)
        #expect(summary.skipped["not audio"] == 2)
        let failed = Set(summary.failures.map { URL(fileURLWithPath: $0.source).lastPathComponent })
        #expect(failed == ["empty.wav", "truncated.wav", "random.flac", "text.aiff", "nan.wav", "missing-folder"])
        for f in summary.failures { #expect(!f.reason.isEmpty) }
        #expect(summary.failures.first { $0.source.hasSuffix("nan.wav") }?.reason.contains("NaN") == true)
        let errors = try String(contentsOf: out.appendingPathComponent("errors.jsonl"), encoding: .utf8)
        #expect(errors.split(separator: "\n").count == 6)
    }

    /// Same output whatever the scheduling, and a rerun resumes from the journal.
    @Test(.needsHydrogenKits, .needsSonicPiSamples)
    func deterministicAndResumable() throws {
        let files = Fixtures.hydrogenFiles()
        let picked = Array(files.prefix(12)) + [SourceFile(url: Fixtures.amen, relativePath: "loop_amen.flac", size: 0, modificationNanos: 0)]
        let dir = TemporaryDirectory()
        let one = dir.file("one"), two = dir.file("two")
        var options = PrepOptions()
        options.denoise = 0.5
        options.normalize = .loudness
        _ = try Pipeline.run(inputs: picked.map(\.url), output: one, options: options, workers: 1)
        _ = try Pipeline.run(inputs: picked.map(\.url), output: two, options: options, workers: 2)
        let a = try String(contentsOf: one.appendingPathComponent("manifest.jsonl"), encoding: .utf8)
        let b = try String(contentsOf: two.appendingPathComponent("manifest.jsonl"), encoding: .utf8)
        #expect(a == b)
        #expect(!a.isEmpty)
        let again = try Pipeline.run(inputs: picked.map(\.url), output: two, options: options, workers: 2)
        #expect(again.resumed == picked.count)
        #expect(try String(contentsOf: two.appendingPathComponent("manifest.jsonl"), encoding: .utf8) == a)
        // New options redo the work.
        options.prerollSeconds = 0.01
        let redone = try Pipeline.run(inputs: picked.map(\.url), output: two, options: options, workers: 2)
        #expect(redone.resumed == 0)
    }

    /// Exact duplicates (same samples from different files) keep the first in sorted order.
    @Test func duplicatesKeepTheFirstPath() throws {
        let dir = TemporaryDirectory()
        let inputs = dir.file("in")
        try FileManager.default.createDirectory(at: inputs, withIntermediateDirectories: true)
        let hit = AudioBuffer(sampleRate: 44100, channels: [Fixtures.hit()])
        // A copy of the same file under another name, in another folder (libsndfile's FLAC and WAV
        // writers round floats differently, so "the same hit saved twice" is not always a duplicate).
        try AudioFile.write(hit, to: inputs.appendingPathComponent("b-snare.wav"), format: .pcm24)
        try FileManager.default.createDirectory(at: inputs.appendingPathComponent("a"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: inputs.appendingPathComponent("b-snare.wav"), to: inputs.appendingPathComponent("a/snare.wav"))
        let out = dir.file("out")
        let summary = try Pipeline.run(inputs: [inputs], output: out, options: PrepOptions())
        let manifest = try Manifest.read(out.appendingPathComponent("manifest.jsonl"))
        #expect(manifest.map(\.path) == ["snare/a_snare.wav"])
        #expect(summary.skipped["duplicate"] == 1)
        // The copy sat in another kit (the root's own files are kit "in"): the two kits are one group.
        #expect(manifest.map(\.kit) == ["a"] && manifest.map(\.group) == ["a"] && summary.mergedGroups == 1)
        #expect(!FileManager.default.fileExists(atPath: out.appendingPathComponent("snare/b-snare.wav").path))
    }
}

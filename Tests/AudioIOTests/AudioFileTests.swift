import AudioIO
import Foundation
import Testing
import TestSupport

/// One lossless round-trip configuration.
struct RoundTripCase: CustomTestStringConvertible, Sendable {
    var fileExtension: String
    var format: SampleFormat
    var channelCount: Int
    var sampleRate: Double

    var testDescription: String { "\(fileExtension) \(format.rawValue) \(channelCount)ch \(Int(sampleRate))Hz" }

    /// The largest error quantisation may cause: one step of the integer grid (the write scale
    /// 2^(n-1)-1 and the read scale 2^(n-1) differ slightly, plus half a step of rounding).
    var tolerance: Float {
        switch format {
        case .pcm16: 1.5 / 32768
        case .pcm24: 1.5 / 8_388_608
        case .float32: 0
        }
    }

    var expectedFormat: String {
        let container = fileExtension == "flac" ? "FLAC" : fileExtension.uppercased()
        let encoding =
            switch format {
            case .pcm16: "16-bit PCM"
            case .pcm24: "24-bit PCM"
            case .float32: "32-bit float"
            }
        return "\(container) \(encoding)"
    }

    static let all: [RoundTripCase] = {
        var cases: [RoundTripCase] = []
        for (ext, formats) in [("wav", [SampleFormat.pcm16, .pcm24, .float32]), ("flac", [.pcm16, .pcm24]), ("aiff", [.pcm16, .float32])] {
            for format in formats {
                for channels in [1, 2, 6] {
                    for rate in [22050.0, 44100, 48000, 96000] {
                        cases.append(RoundTripCase(fileExtension: ext, format: format, channelCount: channels, sampleRate: rate))
                    }
                }
            }
        }
        return cases
    }()
}

@Suite struct AudioFileTests {
    @Test(arguments: RoundTripCase.all)
    func losslessRoundTrip(_ c: RoundTripCase) throws {
        let dir = TemporaryDirectory()
        let url = dir.file("roundtrip.\(c.fileExtension)")
        let frames = Int(c.sampleRate / 8) + 17
        let original = Signals.buffer(channelCount: c.channelCount, frames: frames, sampleRate: c.sampleRate)
        try AudioFile.write(original, to: url, format: c.format)

        let info = try AudioFile.info(url)
        #expect(info.sampleRate == c.sampleRate)
        #expect(info.channelCount == c.channelCount)
        #expect(info.frameCount == frames)
        #expect(info.format == c.expectedFormat)

        let back = try AudioFile.read(url)
        #expect(back.sampleRate == c.sampleRate)
        #expect(back.channelCount == c.channelCount)
        #expect(back.frameCount == frames)
        for ch in 0..<c.channelCount {
            let error = Signals.maxDifference(original.channels[ch], back.channels[ch])
            #expect(error <= c.tolerance, "channel \(ch): max error \(error)")
        }
        if c.format != .float32 {
            // Quantised, not merely rescaled: the error is there but tiny.
            #expect(back != original)
        }
    }

    @Test func manyFramesCrossChunkBoundaries() throws {
        let dir = TemporaryDirectory()
        let url = dir.file("long.wav")
        let original = Signals.buffer(channelCount: 3, frames: 200_003, sampleRate: 44100, seed: 7)
        try AudioFile.write(original, to: url)
        let back = try AudioFile.read(url)
        #expect(back == original)
    }

    @Test func emptyBufferWritesAZeroFrameFile() throws {
        let dir = TemporaryDirectory()
        let url = dir.file("empty.wav")
        try AudioFile.write(AudioBuffer(sampleRate: 8000, channelCount: 2, frameCount: 0), to: url, format: .pcm16)
        let back = try AudioFile.read(url)
        #expect(back.channelCount == 2)
        #expect(back.frameCount == 0)
        #expect(back.sampleRate == 8000)
    }

    @Test func float32ToFlacIsWrittenAs24Bit() throws {
        let dir = TemporaryDirectory()
        let url = dir.file("float.flac")
        let original = Signals.buffer(channelCount: 2, frames: 4096, sampleRate: 48000)
        try AudioFile.write(original, to: url, format: .float32)
        #expect(try AudioFile.info(url).format == "FLAC 24-bit PCM")
        let back = try AudioFile.read(url)
        for ch in 0..<2 {
            #expect(Signals.maxDifference(original.channels[ch], back.channels[ch]) <= 1.5 / 8_388_608)
        }
    }

    @Test(arguments: ["clip.wav", "clip.flac", "clip.aiff"], [SampleFormat.pcm16, .pcm24])
    func outOfRangeFloatsClipInsteadOfWrapping(name: String, format: SampleFormat) throws {
        let dir = TemporaryDirectory()
        let url = dir.file(name)
        let values: [Float] = [1.5, -1.5, 4, -4, 0.5, -0.5, 1, -1]
        try AudioFile.write(AudioBuffer(sampleRate: 44100, channels: [values]), to: url, format: format)
        let back = try AudioFile.read(url).channels[0]
        let expected: [Float] = [1, -1, 1, -1, 0.5, -0.5, 1, -1]
        #expect(Signals.maxDifference(back, expected) <= 1.0 / 16384, "read back \(back)")
    }

    @Test func floatWavKeepsOutOfRangeValues() throws {
        let dir = TemporaryDirectory()
        let url = dir.file("hot.wav")
        let values: [Float] = [1.5, -2, 0.25]
        try AudioFile.write(AudioBuffer(sampleRate: 44100, channels: [values]), to: url, format: .float32)
        #expect(try AudioFile.read(url).channels[0] == values)
    }

    @Test func writingReplacesAnExistingFileAndLeavesNoTemporaryFiles() throws {
        let dir = TemporaryDirectory()
        let url = dir.file("out.wav")
        try AudioFile.write(Signals.buffer(channelCount: 1, frames: 1000, sampleRate: 44100), to: url)
        let second = Signals.buffer(channelCount: 2, frames: 500, sampleRate: 48000, seed: 9)
        try AudioFile.write(second, to: url)
        #expect(try AudioFile.read(url) == second)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.url.path) == ["out.wav"])
    }

    // MARK: Other formats, made by sox and by libsndfile.

    /// Writes a known 16-bit WAV and converts it with sox; returns the original and the converted file.
    private func convertWithSox(_ dir: TemporaryDirectory, to name: String, extraArguments: [String] = []) throws -> (AudioBuffer, URL) {
        let wav = dir.file("source.wav")
        let original = Signals.buffer(channelCount: 2, frames: 22050, sampleRate: 44100, seed: 3)
        try AudioFile.write(original, to: wav, format: .pcm16)
        let converted = dir.file(name)
        let result = try runProcess(URL(fileURLWithPath: "/usr/bin/sox"), [wav.path] + extraArguments + [converted.path])
        try #require(result.status == 0, "sox failed: \(result.stderr)")
        return (try AudioFile.read(wav), converted)
    }

    @Test func readsAiffMadeBySox() throws {
        let dir = TemporaryDirectory()
        let (original, aiff) = try convertWithSox(dir, to: "sox.aiff")
        #expect(try AudioFile.info(aiff).format == "AIFF 16-bit PCM")
        let back = try AudioFile.read(aiff)
        #expect(back == original)
    }

    @Test func readsFlac24MadeBySox() throws {
        let dir = TemporaryDirectory()
        let (original, flac) = try convertWithSox(dir, to: "sox.flac", extraArguments: ["-b", "24"])
        #expect(try AudioFile.info(flac).format == "FLAC 24-bit PCM")
        let back = try AudioFile.read(flac)
        #expect(back.frameCount == original.frameCount)
        for ch in 0..<2 {
            #expect(Signals.maxDifference(back.channels[ch], original.channels[ch]) <= 1e-6)
        }
    }

    @Test func readsOggVorbisMadeBySox() throws {
        let dir = TemporaryDirectory()
        let (original, ogg) = try convertWithSox(dir, to: "sox.ogg")
        try checkLossy(original, ogg)
    }

    @Test func writesAndReadsOggVorbis() throws {
        let dir = TemporaryDirectory()
        let url = dir.file("ours.ogg")
        let original = Signals.buffer(channelCount: 2, frames: 22050, sampleRate: 44100, seed: 5)
        try AudioFile.write(original, to: url)
        try checkLossy(original, url)
    }

    private func checkLossy(_ original: AudioBuffer, _ url: URL) throws {
        let info = try AudioFile.info(url)
        #expect(info.format == "OGG Vorbis")
        let back = try AudioFile.read(url)
        #expect(back.sampleRate == original.sampleRate)
        #expect(back.channelCount == original.channelCount)
        #expect(abs(back.frameCount - original.frameCount) <= 2048)
        for ch in 0..<original.channelCount {
            let r = Signals.correlation(back.channels[ch], original.channels[ch])
            #expect(r > 0.9, "channel \(ch): correlation \(r)")
        }
    }

    @Test(.needsHydrogenKits)
    func readsHydrogenDrumSamples() throws {
        let root = TestPaths.hydrogenKits
        let enumerator = try #require(FileManager.default.enumerator(at: root, includingPropertiesForKeys: nil))
        let samples = enumerator.compactMap { $0 as? URL }
            .filter { ["wav", "flac"].contains($0.pathExtension.lowercased()) }
            .sorted { $0.path < $1.path }
            .prefix(5)
        #expect(!samples.isEmpty, "no samples under \(root.path)")
        for url in samples {
            let info = try AudioFile.info(url)
            let buffer = try AudioFile.read(url)
            #expect(buffer.frameCount == info.frameCount)
            #expect(buffer.channelCount == info.channelCount)
            #expect(buffer.channels.allSatisfy { $0.allSatisfy { $0.isFinite && abs($0) <= 1.0001 } })
            #expect(Signals.rms(buffer.channels[0]) > 0, "\(url.lastPathComponent) is silent")
        }
    }

    // MARK: Errors.

    @Test func missingFileIsAnErrorNamingIt() throws {
        let dir = TemporaryDirectory()
        let url = dir.file("does-not-exist.wav")
        let error = try #require(throws: AudioFileError.self) { try AudioFile.read(url) }
        #expect(error.path == url.path)
        #expect(error.reason.localizedCaseInsensitiveContains("no such file"), "\(error)")
        #expect(isOneLineNaming(error, url.path))
        #expect(throws: AudioFileError.self) { try AudioFile.info(url) }
    }

    @Test func emptyFileIsAnErrorNamingIt() throws {
        let dir = TemporaryDirectory()
        let url = dir.file("empty.wav")
        try Data().write(to: url)
        let error = try #require(throws: AudioFileError.self) { try AudioFile.read(url) }
        #expect(isOneLineNaming(error, url.path), "\(error)")
        #expect(!error.reason.isEmpty)
    }

    @Test(arguments: [(0, "RIFF"), (12, "fmt ")])
    func corruptedWavHeaderIsAnErrorNamingIt(offset: Int, chunk: String) throws {
        let dir = TemporaryDirectory()
        let url = dir.file("broken.wav")
        try AudioFile.write(Signals.buffer(channelCount: 2, frames: 1000, sampleRate: 44100), to: url, format: .pcm16)
        var bytes = [UInt8](try Data(contentsOf: url))
        try #require(Array(bytes[offset..<offset + 4]) == Array(chunk.utf8))
        bytes.replaceSubrange(offset..<offset + 4, with: Array("XXXX".utf8))
        try Data(bytes).write(to: url)
        let error = try #require(throws: AudioFileError.self) { try AudioFile.read(url) }
        #expect(isOneLineNaming(error, url.path), "\(error)")
        #expect(!error.reason.isEmpty)
    }

    @Test(arguments: ["out.mp3", "out", "out.wav.txt"])
    func unknownExtensionOnWriteIsAnErrorNamingIt(name: String) throws {
        let dir = TemporaryDirectory()
        let url = dir.file(name)
        let error = try #require(throws: AudioFileError.self) {
            try AudioFile.write(Signals.buffer(channelCount: 1, frames: 10, sampleRate: 44100), to: url)
        }
        #expect(isOneLineNaming(error, url.path), "\(error)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.url.path).isEmpty)
    }

    @Test func writingIntoAMissingFolderIsAnErrorNamingTheFile() throws {
        let dir = TemporaryDirectory()
        let url = dir.file("no/such/folder/out.wav")
        let error = try #require(throws: AudioFileError.self) {
            try AudioFile.write(Signals.buffer(channelCount: 1, frames: 10, sampleRate: 44100), to: url)
        }
        #expect(isOneLineNaming(error, url.path), "\(error)")
    }

    @Test func failedWriteLeavesNothingBehind() throws {
        let dir = TemporaryDirectory()
        // FLAC holds at most 8 channels.
        let url = dir.file("nine.flac")
        let error = try #require(throws: AudioFileError.self) {
            try AudioFile.write(Signals.buffer(channelCount: 9, frames: 100, sampleRate: 44100), to: url, format: .pcm16)
        }
        #expect(isOneLineNaming(error, url.path), "\(error)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.url.path).isEmpty)
    }

    @Test func failedRenameRemovesTheTemporaryFile() throws {
        let dir = TemporaryDirectory()
        // A folder in the way: libsndfile writes the whole temporary file, then the rename fails.
        let url = dir.file("taken.wav")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: false)
        let error = try #require(throws: AudioFileError.self) {
            try AudioFile.write(Signals.buffer(channelCount: 2, frames: 1000, sampleRate: 44100), to: url)
        }
        #expect(isOneLineNaming(error, url.path), "\(error)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.url.path) == ["taken.wav"])
    }

    @Test func invalidBuffersAreRejected() throws {
        let dir = TemporaryDirectory()
        let url = dir.file("bad.wav")
        #expect(throws: AudioFileError.self) {
            try AudioFile.write(AudioBuffer(sampleRate: 44100, channels: [[0, 0], [0]]), to: url)
        }
        #expect(throws: AudioFileError.self) {
            try AudioFile.write(AudioBuffer(sampleRate: 44100, channels: []), to: url)
        }
        #expect(throws: AudioFileError.self) {
            try AudioFile.write(AudioBuffer(sampleRate: 44100.5, channels: [[0]]), to: url)
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.url.path).isEmpty)
    }

    @Test func errorDescriptionIsPathColonReason() {
        let error = AudioFileError(path: "/a/b.wav", reason: "broken\nheader ")
        #expect(error.description == "/a/b.wav: broken header")
    }
}

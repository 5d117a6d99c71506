import AudioIO
import Foundation
import Testing

@Suite struct AudioBufferTests {
    @Test func zeroedInitialiserHasTheRequestedShape() {
        let buffer = AudioBuffer(sampleRate: 48000, channelCount: 3, frameCount: 24000)
        #expect(buffer.channelCount == 3)
        #expect(buffer.frameCount == 24000)
        #expect(buffer.duration == 0.5)
        #expect(buffer.channels.allSatisfy { $0.count == 24000 && $0.allSatisfy { $0 == 0 } })
    }

    @Test func emptyBufferHasNoFrames() {
        let buffer = AudioBuffer(sampleRate: 44100, channels: [])
        #expect(buffer.channelCount == 0)
        #expect(buffer.frameCount == 0)
        #expect(buffer.duration == 0)
    }

    @Test(arguments: [
        ("16", SampleFormat.pcm16), ("pcm16", .pcm16), ("24", .pcm24), ("PCM24", .pcm24),
        ("float", .float32), ("f32", .float32), ("float32", .float32),
    ])
    func sampleFormatUserNames(name: String, expected: SampleFormat) {
        #expect(SampleFormat(userName: name) == expected)
    }

    @Test func unknownSampleFormatNameIsNil() {
        #expect(SampleFormat(userName: "8") == nil)
        #expect(SampleFormat(userName: "") == nil)
        #expect(SampleFormat.allCases.map(\.rawValue) == ["pcm16", "pcm24", "float32"])
    }

    @Test(arguments: [
        ("a.wav", AudioFileType.wav), ("B.WAV", .wav), ("c.flac", .flac), ("d.aif", .aiff),
        ("e.AIFF", .aiff), ("f.ogg", .ogg), ("g.oga", .ogg),
    ])
    func fileTypeFromExtension(name: String, expected: AudioFileType) {
        #expect(AudioFileType(url: URL(fileURLWithPath: "/tmp/\(name)")) == expected)
    }

    @Test func unknownExtensionIsNil() {
        #expect(AudioFileType(url: URL(fileURLWithPath: "/tmp/x.mp3")) == nil)
        #expect(AudioFileType(url: URL(fileURLWithPath: "/tmp/noextension")) == nil)
    }
}

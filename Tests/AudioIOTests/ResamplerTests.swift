import AudioIO
import Foundation
import Testing

@Suite struct ResamplerTests {
    @Test(arguments: [
        (44100.0, 48000.0, 44100), (48000, 44100, 12345), (22050, 96000, 1000), (96000, 22050, 777),
        (44100, 16000, 1), (16000, 44100, 3), (48000, 32000, 100_001), (8000, 8001, 5000),
    ])
    func outputLengthIsRoundedRatio(from: Double, to: Double, frames: Int) throws {
        let input = Signals.buffer(channelCount: 2, frames: frames, sampleRate: from)
        let output = try Resampler.resample(input, to: to)
        #expect(output.sampleRate == to)
        #expect(output.channelCount == 2)
        #expect(output.frameCount == Int((Double(frames) * to / from).rounded()))
        #expect(output.channels.allSatisfy { $0.count == output.frameCount && $0.allSatisfy(\.isFinite) })
    }

    @Test func sameRateReturnsTheInput() throws {
        let input = Signals.buffer(channelCount: 3, frames: 999, sampleRate: 44100)
        #expect(try Resampler.resample(input, to: 44100) == input)
    }

    @Test func emptyInputGivesEmptyOutput() throws {
        let output = try Resampler.resample(AudioBuffer(sampleRate: 44100, channelCount: 2, frameCount: 0), to: 48000)
        #expect(output.channelCount == 2)
        #expect(output.frameCount == 0)
        #expect(output.sampleRate == 48000)
    }

    @Test(arguments: [(44100.0, 48000.0), (48000, 44100), (44100, 96000), (96000, 22050)])
    func outputIsTimeAlignedWithTheInput(from: Double, to: Double) throws {
        let seconds = 0.5
        let input = AudioBuffer(
            sampleRate: from, channels: [Signals.sine(frequency: 1000, sampleRate: from, frames: Int(from * seconds))])
        let output = try Resampler.resample(input, to: to)
        let expected = Signals.sine(frequency: 1000, sampleRate: to, frames: output.frameCount)
        // Away from the ends (where the filter sees the signal start and stop).
        let middle = (output.frameCount / 4)..<(3 * output.frameCount / 4)
        let error = Signals.maxDifference(Array(output.channels[0][middle]), Array(expected[middle]))
        #expect(error < 1e-3, "max error \(error)")
    }

    @Test func roundTripThroughAnotherRateMatchesTheOriginal() throws {
        let original = AudioBuffer(
            sampleRate: 44100, channels: [Signals.sine(frequency: 1000, sampleRate: 44100, frames: 44100)])
        let there = try Resampler.resample(original, to: 48000)
        let back = try Resampler.resample(there, to: 44100)
        #expect(back.frameCount == original.frameCount)
        let middle = 11025..<33075
        let error = Signals.maxDifference(Array(back.channels[0][middle]), Array(original.channels[0][middle]))
        #expect(error < 1e-3, "max error \(error)")
    }

    @Test func channelsAreResampledIndependently() throws {
        let a = Signals.sine(frequency: 440, sampleRate: 48000, frames: 4800)
        let b = Signals.sine(frequency: 3000, sampleRate: 48000, frames: 4800, amplitude: 0.25)
        let both = try Resampler.resample(AudioBuffer(sampleRate: 48000, channels: [a, b, a]), to: 44100)
        let onlyA = try Resampler.resample(AudioBuffer(sampleRate: 48000, channels: [a]), to: 44100)
        let onlyB = try Resampler.resample(AudioBuffer(sampleRate: 48000, channels: [b]), to: 44100)
        #expect(Signals.maxDifference(both.channels[0], onlyA.channels[0]) < 1e-6)
        #expect(Signals.maxDifference(both.channels[1], onlyB.channels[0]) < 1e-6)
        #expect(Signals.maxDifference(both.channels[2], onlyA.channels[0]) < 1e-6)
    }

    @Test func badRatesAreErrors() {
        let input = Signals.buffer(channelCount: 1, frames: 100, sampleRate: 44100)
        #expect(throws: ResamplerError.self) { try Resampler.resample(input, to: 0) }
        #expect(throws: ResamplerError.self) { try Resampler.resample(input, to: -48000) }
        #expect(throws: ResamplerError.self) { try Resampler.resample(input, to: .nan) }
        #expect(throws: ResamplerError.self) { try StreamingResampler(from: 0, to: 48000, channelCount: 1) }
        #expect(throws: ResamplerError.self) { try StreamingResampler(from: 44100, to: 48000, channelCount: 0) }
    }
}

@Suite struct StreamingResamplerTests {
    /// Feeds `input` cut into blocks of the given sizes (cycled) and returns process outputs + flush.
    private func stream(_ input: [[Float]], through resampler: StreamingResampler, blockSizes: [Int]) throws -> [[Float]] {
        var output = [[Float]](repeating: [], count: input.count)
        let frames = input[0].count
        var start = 0
        var k = 0
        while start < frames {
            let end = min(frames, start + blockSizes[k % blockSizes.count])
            k += 1
            let block = try resampler.process(input.map { Array($0[start..<end]) })
            #expect(block.count == input.count)
            #expect(block.allSatisfy { $0.count == block[0].count })
            for c in output.indices { output[c] += block[c] }
            start = end
        }
        let tail = try resampler.flush()
        for c in output.indices { output[c] += tail[c] }
        return output
    }

    @Test(arguments: [(44100.0, 48000.0), (48000, 22050), (22050, 96000)], [ResamplerQuality.high, .veryHigh])
    func randomBlocksEqualOneBlock(rates: (Double, Double), quality: ResamplerQuality) throws {
        let (from, to) = rates
        let input = Signals.buffer(channelCount: 2, frames: 30_011, sampleRate: from, seed: 11).channels
        var random = SeededGenerator(seed: UInt64(from + to))
        let sizes = (0..<64).map { _ in Int.random(in: 0...3000, using: &random) } + [1, 7, 4096]

        let whole = try stream(input, through: StreamingResampler(from: from, to: to, channelCount: 2, quality: quality), blockSizes: [input[0].count])
        let pieces = try stream(input, through: StreamingResampler(from: from, to: to, channelCount: 2, quality: quality), blockSizes: sizes)
        #expect(whole[0].count == pieces[0].count)
        for c in 0..<2 {
            let error = Signals.maxDifference(whole[c], pieces[c])
            #expect(error <= 1e-5, "channel \(c): max error \(error)")
        }
        // The whole stream comes out, about frames * ratio long.
        let expected = Double(input[0].count) * to / from
        #expect(abs(Double(whole[0].count) - expected) <= 2, "got \(whole[0].count), expected about \(expected)")
    }

    @Test func veryHighStreamMatchesWholeBufferResampling() throws {
        let input = Signals.buffer(channelCount: 2, frames: 20_000, sampleRate: 44100, seed: 13)
        let whole = try Resampler.resample(input, to: 48000)
        let resampler = try StreamingResampler(from: 44100, to: 48000, channelCount: 2, quality: .veryHigh)
        let streamed = try stream(input.channels, through: resampler, blockSizes: [512, 333, 1024])
        let n = whole.frameCount
        try #require(streamed[0].count >= n - 1)
        for c in 0..<2 {
            let common = min(n, streamed[c].count)
            #expect(Signals.maxDifference(Array(streamed[c].prefix(common)), Array(whole.channels[c].prefix(common))) <= 1e-5)
        }
    }

    @Test func flushClearsForAFreshStream() throws {
        let input = Signals.buffer(channelCount: 1, frames: 5000, sampleRate: 48000, seed: 17).channels
        let resampler = try StreamingResampler(from: 48000, to: 44100, channelCount: 1)
        let first = try stream(input, through: resampler, blockSizes: [1000])
        let second = try stream(input, through: resampler, blockSizes: [700])
        #expect(first[0].count == second[0].count)
        #expect(Signals.maxDifference(first[0], second[0]) <= 1e-5)
    }

    @Test func delayIsReportedWhileInputIsHeldBack() throws {
        let resampler = try StreamingResampler(from: 44100, to: 48000, channelCount: 1)
        #expect(resampler.delayFrames >= 0)
        var given = 0
        var returned = 0
        for _ in 0..<4 {
            let block = Signals.sine(frequency: 440, sampleRate: 44100, frames: 256)
            given += block.count
            returned += try resampler.process([block])[0].count
        }
        let delay = resampler.delayFrames
        #expect(delay.isFinite && delay > 0)
        // What is held back plus what came out accounts for all the input, in output frames.
        #expect(abs(Double(returned) + delay - Double(given) * 48000 / 44100) < 2, "returned \(returned), delay \(delay)")
        let tail = try resampler.flush()[0].count
        #expect(abs(Double(returned + tail) - Double(given) * 48000 / 44100) <= 2)
    }

    @Test func wrongBlockShapesAreErrors() throws {
        let resampler = try StreamingResampler(from: 44100, to: 48000, channelCount: 2)
        #expect(throws: ResamplerError.self) { try resampler.process([[0, 0]]) }
        #expect(throws: ResamplerError.self) { try resampler.process([[0, 0], [0]]) }
        let empty = try resampler.process([[], []])
        #expect(empty.count == 2)
    }
}

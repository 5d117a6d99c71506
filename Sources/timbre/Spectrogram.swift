import ArgumentParser
import AudioIO
import Foundation
import Plot

extension ColorMap: ExpressibleByArgument {}

struct Spectrogram: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Draw a file's spectrogram as a PNG: time across, frequency up, level as colour.",
        discussion: """
        Channels are mixed to mono. Levels are in dB below the loudest bin; --range sets how far \
        down the colour bar goes (quieter is black). --mel spaces frequencies as the ear does \
        (128 mel bands from 20 Hz), which shows a kick's low thump; the default linear axis shows \
        the top octaves of hats and cymbals in detail.
        """)

    @Flag(help: "Mel frequency axis.")
    var mel = false

    @Option(help: "Dynamic range shown, in dB.")
    var range: Float = 80

    @Option(help: "FFT size (Hann window).")
    var fft: Int = 2048

    @Option(help: "Hop in samples.")
    var hop: Int = 256

    @Option(help: "Colour map: magma, inferno or viridis.")
    var colors: ColorMap = .magma

    @Option(help: "Picture size in pixels, WIDTHxHEIGHT.")
    var size: String = "1000x500"

    @Argument(help: "Input audio file.")
    var input: String

    @Argument(help: "Output PNG.")
    var output: String

    func run() throws {
        guard range > 0 else { throw UserError("--range must be positive, not \(range)") }
        guard fft >= 16, fft % 2 == 0, hop >= 1, hop <= fft else { throw UserError("--fft must be even and ≥ 16, and 1 ≤ --hop ≤ --fft") }
        let dims = size.split(separator: "x").compactMap { Int($0) }
        guard dims.count == 2, dims[0] >= 300, dims[1] >= 200, dims[0] <= 10000, dims[1] <= 10000 else {
            throw UserError("--size must be WIDTHxHEIGHT, at least 300x200, e.g. 1000x500")
        }
        let audio = try AudioFile.read(URL(fileURLWithPath: input))
        guard audio.frameCount > 0 else { throw UserError("\(input): the file has no samples") }
        var mono = [Float](repeating: 0, count: audio.frameCount)
        for channel in audio.channels { for i in mono.indices { mono[i] += channel[i] / Float(audio.channelCount) } }
        var picture = SpectrogramPicture(samples: mono, sampleRate: audio.sampleRate, mel: mel, rangeDB: range, fftSize: fft, hop: hop)
        picture.colorMap = colors
        picture.width = dims[0]
        picture.height = dims[1]
        picture.title = URL(fileURLWithPath: input).lastPathComponent
        do {
            try picture.write(to: URL(fileURLWithPath: output))
        } catch let error as PlotError {
            throw UserError(error.description)
        }
        print(output)
    }
}

import DSP
import Foundation

/// A spectrogram as a picture: time across, frequency up (linear or mel), level as colour
/// from a perceptual map, with labelled axes and a colour bar in dB.
public struct SpectrogramPicture: Sendable {
    /// The frequency axis of the picture.
    public enum FrequencyAxis: Sendable, Equatable {
        /// Rows are FFT bins from 0 Hz to `maximumHz` (Nyquist).
        case linear(maximumHz: Double)
        /// Rows are mel bands evenly spaced on the mel scale between the two frequencies.
        case mel(minimumHz: Double, maximumHz: Double)
    }

    /// Levels in dB, `frames × rows` (frame-major, row 0 the lowest frequency); 0 dB is the top of the colour bar.
    public var decibels: [Float]
    public var frames: Int
    public var rows: Int
    /// Seconds the frames cover.
    public var seconds: Double
    public var frequencyAxis: FrequencyAxis
    /// Levels this far below 0 dB are drawn black (the bottom of the colour bar).
    public var rangeDB: Float
    public var colorMap: ColorMap = .magma
    public var title: String = ""
    public var width: Int = 1000
    public var height: Int = 500

    public init(decibels: [Float], frames: Int, rows: Int, seconds: Double, frequencyAxis: FrequencyAxis, rangeDB: Float = 80) {
        precondition(decibels.count == frames * rows && frames > 0 && rows > 0)
        self.decibels = decibels
        self.frames = frames
        self.rows = rows
        self.seconds = seconds
        self.frequencyAxis = frequencyAxis
        self.rangeDB = rangeDB
    }

    /// The spectrogram of mono `samples`: a Hann STFT (`fftSize`, `hop`), in dB relative to its loudest bin,
    /// on a linear or a mel (`melBands` bands from 20 Hz) frequency axis.
    public init(samples: [Float], sampleRate: Double, mel: Bool = false, rangeDB: Float = 80,
                fftSize: Int = 2048, hop: Int = 256, melBands: Int = 128) {
        let stft = STFT(size: fftSize, hop: hop)
        let frames = stft.frameCount(length: samples.count)
        var magnitude = stft.analyze(samples).magnitude
        let nyquist = sampleRate / 2
        var rows = stft.bins
        var axis = FrequencyAxis.linear(maximumHz: nyquist)
        if mel {
            let bank = MelFilterbank(sampleRate: sampleRate, fftSize: fftSize, bands: melBands, minimumHz: 20)
            // Mel bands sum power, then back to an amplitude so dB mean the same on both axes.
            let power = magnitude.map { $0 * $0 }
            magnitude = bank.apply(power, frames: frames).map { $0.squareRoot() }
            rows = melBands
            axis = .mel(minimumHz: 20, maximumHz: nyquist)
        }
        self.init(decibels: LogMagnitude.decibels(magnitude, rangeDB: rangeDB), frames: frames, rows: rows,
                  seconds: Double(samples.count) / sampleRate, frequencyAxis: axis, rangeDB: rangeDB)
    }

    /// Where the spectrogram itself sits in the picture (pixels): tests look inside it.
    public var plotArea: PixelRect {
        PixelRect(x: 78, y: 40, width: Double(width) - 78 - 110, height: Double(height) - 40 - 58)
    }

    /// The frequency axis as a chart axis.
    public var frequencyChartAxis: Axis {
        switch frequencyAxis {
        case .linear(let top): return Axis("frequency (Hz)", from: 0, to: top, units: .hertz)
        case .mel(let lo, let top): return Axis("frequency (Hz, mel scale)", from: lo, to: top, scale: .mel, units: .hertz)
        }
    }

    /// Draws the picture.
    public func render() throws -> Canvas {
        let canvas = try Canvas(width: width, height: height)
        let area = plotArea
        // At most about two data columns per pixel column: pool by maximum so short hits stay visible.
        let pool = max(1, frames / max(1, Int(area.width) * 2))
        let columns = (frames + pool - 1) / pool
        var colors = [Color](repeating: .black, count: columns * rows)
        for c in 0..<columns {
            for r in 0..<rows {
                var level = -Float.infinity
                for t in (c * pool)..<min(frames, (c + 1) * pool) { level = max(level, decibels[t * rows + r]) }
                let v = Double((level + rangeDB) / rangeDB)
                colors[(rows - 1 - r) * columns + c] = colorMap.color(at: v)
            }
        }
        canvas.image(colors, columns: columns, rows: rows, in: area)
        let frame = ChartFrame(canvas: canvas, area: area, x: Axis("time (s)", from: 0, to: max(seconds, 1e-3)), y: frequencyChartAxis)
        frame.drawAxes(title: title, grid: false)
        frame.drawBorder()
        // The colour bar.
        let bar = PixelRect(x: area.x + area.width + 22, y: area.y, width: 16, height: area.height)
        let steps = 256
        canvas.image((0..<steps).map { colorMap.color(at: 1 - Double($0) / Double(steps - 1)) }, columns: 1, rows: steps, in: bar)
        canvas.stroke(bar, Color(red: 0.2, green: 0.2, blue: 0.2))
        let dbAxis = Axis("level", from: -Double(rangeDB), to: 0, units: .decibels)
        for t in dbAxis.ticks(target: 5) {
            let py = bar.y + (1 - dbAxis.fraction(t)) * bar.height
            canvas.line([(bar.x + bar.width, py), (bar.x + bar.width + 4, py)], .black, lineWidth: 1)
            canvas.text(dbAxis.format(t), x: bar.x + bar.width + 7, y: py, size: 10)
        }
        return canvas
    }

    /// Draws the picture and writes it as PNG (atomically).
    public func write(to url: URL) throws {
        try render().writePNG(to: url)
    }
}

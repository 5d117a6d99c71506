import AudioIO
import DSP
import Foundation
import TestSupport
import Testing
@testable import Plot

/// Set TIMBRE_PLOT_OUT=/some/dir to keep the pictures the tests draw, to look at them.
func keep(_ canvas: Canvas, _ name: String) throws {
    guard let dir = ProcessInfo.processInfo.environment["TIMBRE_PLOT_OUT"] else { return }
    try canvas.writePNG(to: URL(fileURLWithPath: dir).appendingPathComponent(name))
}

struct ColorMapTests {
    /// Perceptual maps run dark to bright: luminance rises from one end to the other.
    @Test(arguments: ColorMap.allCases)
    func brightnessRisesMonotonically(map: ColorMap) {
        func lum(_ c: Color) -> Double { 0.2126 * c.red + 0.7152 * c.green + 0.0722 * c.blue }
        let values = (0...64).map { lum(map.color(at: Double($0) / 64)) }
        #expect(values.first! < 0.1)
        #expect(values.last! > 0.75)
        for i in 1..<values.count { #expect(values[i] >= values[i - 1] - 0.01, "step \(i)") }
        #expect(map.color(at: -1) == map.color(at: 0) && map.color(at: 2) == map.color(at: 1))
    }
}

struct PictureFileTests {
    @Test func pngRoundTripsAndIsWrittenAtomically() throws {
        let dir = TemporaryDirectory()
        let canvas = try Canvas(width: 320, height: 200)
        canvas.fill(PixelRect(x: 10, y: 20, width: 50, height: 40), Color(hex: 0xff0000))
        canvas.text("12 kHz", x: 100, y: 100, size: 14)
        let url = dir.file("a.png")
        try canvas.writePNG(to: url)
        let back = try Raster.read(png: url)
        #expect(back.width == 320 && back.height == 200)
        #expect(back.color(x: 30, y: 40) == Color(hex: 0xff0000))
        #expect(back.color(x: 5, y: 5) == .white)
        // The label drew dark pixels.
        #expect(back.meanLuminance(in: PixelRect(x: 100, y: 90, width: 50, height: 20)) < 0.95)
        // Only the picture is left in the folder: no temporary file.
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.url.path) == ["a.png"])
    }

    @Test func unwritableAndUnreadableFilesAreErrorsNamingTheFile() throws {
        let canvas = try Canvas(width: 320, height: 200)
        #expect(throws: PlotError.self) { try canvas.writePNG(to: URL(fileURLWithPath: "/nonexistent-dir/x.png")) }
        let dir = TemporaryDirectory()
        let junk = dir.file("junk.png")
        try Data("not a png".utf8).write(to: junk)
        do {
            _ = try Raster.read(png: junk)
            Issue.record("reading junk should fail")
        } catch let error as PlotError {
            #expect(error.description.contains("junk.png"))
        }
    }
}

/// Where the energy of a kick, a snare and a hat sits in their spectrogram pictures, read
/// back from the PNG: a kick is a low thump, a snare a broadband crack, a hat high noise.
struct SpectrogramPictureTests {
    struct Bands {
        var low: Double, mid: Double, high: Double
        /// Of the bright pixels (luminance > 0.3) during the hit, the fraction above 5 kHz.
        var brightAbove5k: Double
    }

    /// Mean brightness during the first `hitSeconds` in three frequency bands.
    static func bands(of samples: [Float], sampleRate: Double, mel: Bool, hitSeconds: Double = 0.08, name: String) throws -> Bands {
        let dir = TemporaryDirectory()
        var picture = SpectrogramPicture(samples: samples, sampleRate: sampleRate, mel: mel, rangeDB: 80)
        picture.title = name
        let url = dir.file("\(name).png")
        try picture.write(to: url)
        try keep(picture.render(), "\(name)-\(mel ? "mel" : "linear").png")
        let raster = try Raster.read(png: url)
        #expect(raster.width == picture.width && raster.height == picture.height)
        let area = picture.plotArea, axis = picture.frequencyChartAxis
        let width = area.width * hitSeconds / picture.seconds
        func band(_ lo: Double, _ hi: Double) -> Double {
            let top = area.y + (1 - axis.fraction(hi)) * area.height
            let bottom = area.y + (1 - axis.fraction(lo)) * area.height
            return raster.meanLuminance(in: PixelRect(x: area.x + 1, y: top, width: width, height: bottom - top))
        }
        let split = area.y + (1 - axis.fraction(5000)) * area.height
        var bright = 0.0, brightHigh = 0.0
        for y in Int(area.y)..<Int(area.y + area.height) {
            for x in Int(area.x + 1)..<Int(area.x + 1 + width) where raster.luminance(x: x, y: y) > 0.3 {
                bright += 1
                if Double(y) < split { brightHigh += 1 }
            }
        }
        let b = Bands(low: band(30, 150), mid: band(1000, 5000), high: band(8000, 18000), brightAbove5k: brightHigh / max(bright, 1))
        print("\(name) (\(mel ? "mel" : "linear")): low \(b.low), mid \(b.mid), high \(b.high), bright above 5k \(b.brightAbove5k)")
        return b
    }

    static func check(kind: String, _ b: Bands, source: String) {
        switch kind {
        case "kick":
            #expect(b.low > 2 * b.high, "\(source): a kick's energy is low")
            #expect(b.low > 1.5 * b.mid, "\(source): a kick's energy is low")
            #expect(b.brightAbove5k < 0.2, "\(source): a kick's energy is low")
        case "snare":
            #expect(b.mid > 0.1 && b.high > 0.08, "\(source): a snare is broadband")
            #expect(min(b.low, b.mid, b.high) > 0.25 * max(b.low, b.mid, b.high), "\(source): a snare is broadband")
            #expect(b.brightAbove5k > 0.15 && b.brightAbove5k < 0.6, "\(source): a snare is broadband")
        default:
            #expect(b.high > 0.3, "\(source): a hat's energy is high")
            #expect(b.brightAbove5k > 0.6, "\(source): a hat's energy is high")
        }
    }

    @Test(arguments: ["kick", "snare", "hat"])
    func syntheticHitsLookRight(kind: String) throws {
        let x = kind == "kick" ? Drums.kick() : kind == "snare" ? Drums.snare() : Drums.hat()
        Self.check(kind: kind, try Self.bands(of: x, sampleRate: Drums.rate, mel: true, name: "synthetic-\(kind)"), source: "synthetic \(kind)")
        if kind == "hat" {
            Self.check(kind: kind, try Self.bands(of: x, sampleRate: Drums.rate, mel: false, name: "synthetic-\(kind)"), source: "synthetic \(kind), linear")
        }
    }

    @Test(.needsHydrogenKits, arguments: ["kick", "snare", "hat"])
    func realHydrogenHitsLookRight(kind: String) throws {
        let urls = Drums.hydrogen(kind)
        #expect(!urls.isEmpty, "no \(kind) samples in hydrogen-drumkits")
        for url in urls {
            let audio = try AudioFile.read(url)
            let x = Array(audio.channels[0].prefix(Int(audio.sampleRate)))
            let name = url.deletingPathExtension().lastPathComponent
            // Hats on the linear axis, where their top octaves get the room an engineer looks at;
            // on the mel axis a real hat's stick click and bleed fill the lower half too.
            Self.check(kind: kind, try Self.bands(of: x, sampleRate: audio.sampleRate, mel: kind != "hat", name: name), source: name)
        }
    }

    @Test func axesAreLabelled() throws {
        var picture = SpectrogramPicture(samples: Drums.snare(), sampleRate: Drums.rate, mel: true)
        picture.title = "snare"
        let raster = try picture.render().raster
        let area = picture.plotArea
        // Tick labels left of the plot and below it, the colour bar to the right: not blank.
        #expect(raster.meanLuminance(in: PixelRect(x: 20, y: area.y, width: area.x - 25, height: area.height)) < 0.99)
        #expect(raster.meanLuminance(in: PixelRect(x: area.x, y: area.y + area.height + 8, width: area.width, height: 40)) < 0.995)
        #expect(raster.meanLuminance(in: PixelRect(x: area.x + area.width + 22, y: area.y, width: 16, height: area.height)) < 0.7)
        #expect(picture.frequencyChartAxis.ticks().contains(1000))
    }
}

struct ChartTests {
    @Test func linePlotDrawsEachSeriesAndALegend() throws {
        let steps = (0..<200).map(Double.init)
        var plot = LinePlot(series: [
            .init("train", x: steps, y: steps.map { 2 * exp(-$0 / 50) + 0.1 }),
            .init("validation", x: steps, y: steps.map { 2.2 * exp(-$0 / 60) + 0.15 }, dashed: true),
        ], title: "loss", logarithmicY: true)
        plot.width = 700
        let dir = TemporaryDirectory()
        try plot.write(to: dir.file("loss.png"))
        try keep(plot.render(), "loss.png")
        let raster = try Raster.read(png: dir.file("loss.png"))
        func count(_ c: Color) -> Int {
            raster.pixels.filter { p in
                let q = Color(hex: p & 0xffffff)
                return abs(q.red - c.red) + abs(q.green - c.green) + abs(q.blue - c.blue) < 0.15
            }.count
        }
        #expect(count(Color.category(0)) > 200)
        #expect(count(Color.category(1)) > 100)
        #expect(Axis("loss", from: 0.1, to: 2.5, scale: .logarithmic).ticks().contains(1))
    }

    @Test func scatterPlotColoursPointsByCategory() throws {
        var points: [ScatterPlot.Point] = []
        for c in 0..<3 {
            for i in 0..<40 {
                let a = Double(i) * 0.7
                points.append(.init(x: Double(c) * 3 + cos(a), y: sin(a) - Double(c), category: c))
            }
        }
        let plot = ScatterPlot(points: points, categories: ["kick", "snare", "hat"], title: "latent map", xLabel: "z1", yLabel: "z2")
        let canvas = try plot.render()
        try keep(canvas, "latent-map.png")
        let raster = canvas.raster
        let area = plot.plotArea
        // The kicks (category 0) sit left, the hats (category 2) right.
        func meanX(of c: Color) -> Double {
            var sum = 0.0, n = 0.0
            for y in Int(area.y + 60)..<Int(area.y + area.height) {
                for x in Int(area.x)..<Int(area.x + area.width) {
                    let q = raster.color(x: x, y: y)
                    if abs(q.red - c.red) + abs(q.green - c.green) + abs(q.blue - c.blue) < 0.1 { sum += Double(x); n += 1 }
                }
            }
            return n > 0 ? sum / n : .nan
        }
        #expect(meanX(of: Color.category(0)) < meanX(of: Color.category(2)))
    }

    @Test func niceTicks() {
        #expect(Axis("t", from: 0, to: 2).ticks() == [0, 0.5, 1, 1.5, 2])
        #expect(Axis("f", from: 0, to: 22050, units: .hertz).format(5000) == "5k")
        #expect(Axis("f", from: 0, to: 22050, units: .hertz).format(2500) == "2.5k")
        #expect(Axis("l", from: -80, to: 0, units: .decibels).format(-20) == "-20 dB")
    }
}

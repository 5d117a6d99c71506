import Foundation

/// Lines against a shared x axis, each named in a legend: loss curves, learning rates, levels over time.
public struct LinePlot: Sendable {
    /// One named line.
    public struct Series: Sendable {
        public var name: String
        public var x: [Double]
        public var y: [Double]
        public var dashed: Bool
        public init(_ name: String, x: [Double], y: [Double], dashed: Bool = false) {
            precondition(x.count == y.count, "a series needs as many x as y values")
            (self.name, self.x, self.y, self.dashed) = (name, x, y, dashed)
        }
        /// A series over 0, 1, 2, … (steps, epochs).
        public init(_ name: String, y: [Double], dashed: Bool = false) {
            self.init(name, x: y.indices.map(Double.init), y: y, dashed: dashed)
        }
    }

    public var series: [Series]
    public var title: String
    public var xLabel: String
    public var yLabel: String
    /// A logarithmic y axis (losses spanning decades).
    public var logarithmicY: Bool
    public var width: Int = 900
    public var height: Int = 500

    public init(series: [Series], title: String = "", xLabel: String = "step", yLabel: String = "loss", logarithmicY: Bool = false) {
        self.series = series
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.logarithmicY = logarithmicY
    }

    /// Where the lines are drawn (pixels).
    public var plotArea: PixelRect { PixelRect(x: 84, y: 44, width: Double(width) - 84 - 24, height: Double(height) - 44 - 58) }

    public func render() throws -> Canvas {
        let canvas = try Canvas(width: width, height: height)
        let xs = series.flatMap(\.x), ys = series.flatMap(\.y)
        let frame = ChartFrame(canvas: canvas, area: plotArea,
                               x: Axis.fitting(xLabel, values: xs, padding: 0.01),
                               y: Axis.fitting(yLabel, values: ys, scale: logarithmicY ? .logarithmic : .linear))
        frame.drawAxes(title: title, grid: true)
        for (i, s) in series.enumerated() {
            // Non-finite values (a diverged loss) break the line rather than wreck the axis.
            var run: [(Double, Double)] = []
            for (x, y) in zip(s.x, s.y) {
                if x.isFinite && y.isFinite && (!logarithmicY || y > 0) {
                    run.append(frame.point(x, y))
                } else {
                    frame.canvas.line(run, Color.category(i), dash: s.dashed)
                    run = []
                }
            }
            if run.count == 1 { canvas.disc(x: run[0].0, y: run[0].1, radius: 2.5, Color.category(i)) }
            canvas.line(run, Color.category(i), dash: s.dashed)
        }
        frame.drawBorder()
        frame.drawLegend(series.enumerated().map { ($0.element.name, Color.category($0.offset), false) })
        return canvas
    }

    public func write(to url: URL) throws { try render().writePNG(to: url) }
}

/// Points coloured by category with a legend: latent maps (a 2-D projection of each
/// one-shot's latent, coloured by kick, snare, hat, …).
public struct ScatterPlot: Sendable {
    /// One point and the index of its category in `categories`.
    public struct Point: Sendable {
        public var x: Double, y: Double, category: Int
        public init(x: Double, y: Double, category: Int) { (self.x, self.y, self.category) = (x, y, category) }
    }

    public var points: [Point]
    public var categories: [String]
    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var width: Int = 800
    public var height: Int = 640
    public var radius: Double = 3.5

    public init(points: [Point], categories: [String], title: String = "", xLabel: String = "x", yLabel: String = "y") {
        self.points = points
        self.categories = categories
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
    }

    public var plotArea: PixelRect { PixelRect(x: 84, y: 44, width: Double(width) - 84 - 24, height: Double(height) - 44 - 58) }

    public func render() throws -> Canvas {
        let canvas = try Canvas(width: width, height: height)
        let frame = ChartFrame(canvas: canvas, area: plotArea,
                               x: Axis.fitting(xLabel, values: points.map(\.x)),
                               y: Axis.fitting(yLabel, values: points.map(\.y)))
        frame.drawAxes(title: title, grid: true)
        for p in points where p.x.isFinite && p.y.isFinite {
            let (px, py) = frame.point(p.x, p.y)
            canvas.disc(x: px, y: py, radius: radius, Color.category(p.category), alpha: 0.75)
        }
        frame.drawBorder()
        frame.drawLegend(categories.enumerated().map { ($0.element, Color.category($0.offset), true) })
        return canvas
    }

    public func write(to url: URL) throws { try render().writePNG(to: url) }
}

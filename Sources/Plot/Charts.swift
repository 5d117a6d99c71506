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
        frame.drawLegend(series.enumerated().map { ($0.element.name, Color.category($0.offset), $0.element.dashed ? .dashed : .line) })
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
        frame.drawLegend(categories.enumerated().map { ($0.element, Color.category($0.offset), .point) })
        return canvas
    }

    public func write(to url: URL) throws { try render().writePNG(to: url) }
}

/// Grouped bars: one group per category (drum classes) on the x axis, one coloured bar per
/// series (runs, reference rows) in each group, named in a legend.
public struct BarChart: Sendable {
    /// One named series: a value per category (NaN leaves the bar out).
    public struct Series: Sendable {
        public var name: String
        public var values: [Double]
        public init(_ name: String, values: [Double]) { (self.name, self.values) = (name, values) }
    }

    public var categories: [String]
    public var series: [Series]
    public var title: String
    public var yLabel: String
    public var width: Int = 900
    public var height: Int = 500

    public init(categories: [String], series: [Series], title: String = "", yLabel: String = "") {
        precondition(series.allSatisfy { $0.values.count == categories.count }, "a series needs a value per category")
        (self.categories, self.series, self.title, self.yLabel) = (categories, series, title, yLabel)
    }

    public var plotArea: PixelRect { PixelRect(x: 84, y: 44, width: Double(width) - 84 - 24, height: Double(height) - 44 - 58) }

    public func render() throws -> Canvas {
        let canvas = try Canvas(width: width, height: height)
        let values = series.flatMap(\.values).filter(\.isFinite)
        // Bars start at zero, so zero is always on the axis.
        let frame = ChartFrame(canvas: canvas, area: plotArea,
                               x: Axis("", from: 0, to: Double(max(categories.count, 1))),
                               y: Axis.fitting(yLabel, values: values + [0]))
        let area = plotArea
        if !title.isEmpty { canvas.text(title, x: area.x + area.width / 2, y: area.y - 18, size: 15, align: .centre, bold: true) }
        let grey = Color(red: 0.88, green: 0.88, blue: 0.88)
        for t in frame.y.ticks() {
            let py = frame.point(0, t).1
            canvas.line([(area.x, py), (area.x + area.width, py)], grey, lineWidth: 1)
            canvas.text(frame.y.format(t), x: area.x - 8, y: py, size: 11, align: .right)
        }
        canvas.text(yLabel, x: area.x - 58, y: area.y + area.height / 2, size: 13, align: .centre, rotated: true)
        let groupWidth = area.width / Double(max(categories.count, 1))
        let barWidth = groupWidth * 0.8 / Double(max(series.count, 1))
        let zero = frame.point(0, 0).1
        for (c, name) in categories.enumerated() {
            let left = area.x + Double(c) * groupWidth + groupWidth * 0.1
            for (s, one) in series.enumerated() where one.values[c].isFinite {
                let top = frame.point(0, one.values[c]).1
                canvas.fill(PixelRect(x: left + Double(s) * barWidth, y: min(top, zero), width: barWidth * 0.92,
                                      height: Swift.abs(zero - top)), Color.category(s))
            }
            canvas.text(name, x: left + groupWidth * 0.4, y: area.y + area.height + 15, size: 11, align: .centre)
        }
        frame.drawBorder()
        frame.drawLegend(series.enumerated().map { ($0.element.name, Color.category($0.offset), .point) })
        return canvas
    }

    public func write(to url: URL) throws { try render().writePNG(to: url) }
}

import DSP
import Foundation

/// One axis of a chart: the range of values it shows, how values map to positions, and
/// how its tick labels read.
public struct Axis: Sendable {
    /// How values are spaced along the axis.
    public enum Scale: Sendable {
        case linear
        /// Powers of ten are equally spaced (values must be positive).
        case logarithmic
        /// Hertz on the mel scale (Slaney's, as `MelScale`): the spacing of a mel spectrogram.
        case mel
    }

    /// How tick labels are written.
    public enum Units: Sendable {
        case plain
        /// Hertz, with "k" for thousands: 500, 1k, 2.5k.
        case hertz
        /// Decibels: "-20 dB".
        case decibels
    }

    public var label: String
    public var minimum: Double, maximum: Double
    public var scale: Scale
    public var units: Units

    public init(_ label: String, from minimum: Double, to maximum: Double, scale: Scale = .linear, units: Units = .plain) {
        self.label = label
        self.minimum = minimum
        self.maximum = maximum > minimum ? maximum : minimum + 1
        self.scale = scale
        self.units = units
    }

    /// An axis covering `values` with a little room on both sides (none below 0 for positive data... unless negative).
    public static func fitting(_ label: String, values: [Double], scale: Scale = .linear, padding: Double = 0.04) -> Axis {
        let finite = values.filter { $0.isFinite && (scale != .logarithmic || $0 > 0) }
        guard var lo = finite.min(), var hi = finite.max() else { return Axis(label, from: 0, to: 1, scale: scale) }
        if scale == .logarithmic {
            return Axis(label, from: lo / pow(10, padding * 4), to: hi * pow(10, padding * 4), scale: scale)
        }
        if hi == lo { lo -= 0.5; hi += 0.5 }
        let pad = (hi - lo) * padding
        return Axis(label, from: lo - pad, to: hi + pad, scale: scale)
    }

    private func transform(_ v: Double) -> Double {
        switch scale {
        case .linear: return v
        case .logarithmic: return log10(max(v, 1e-300))
        case .mel: return MelScale.mel(hertz: max(v, 0))
        }
    }

    /// Where `value` falls along the axis, 0 at `minimum` and 1 at `maximum`.
    public func fraction(_ value: Double) -> Double {
        let a = transform(minimum), b = transform(maximum)
        return (transform(value) - a) / (b - a)
    }

    /// The value at a fraction along the axis (the inverse of `fraction`).
    public func value(atFraction f: Double) -> Double {
        let a = transform(minimum), b = transform(maximum)
        let t = a + f * (b - a)
        switch scale {
        case .linear: return t
        case .logarithmic: return pow(10, t)
        case .mel: return MelScale.hertz(mel: t)
        }
    }

    /// Tick values: 1-2-5 steps for linear axes, powers of ten (and 2, 5 between when few)
    /// for logarithmic ones, round frequencies for mel.
    public func ticks(target: Int = 6) -> [Double] {
        switch scale {
        case .linear:
            let raw = (maximum - minimum) / Double(max(target, 2))
            let magnitude = pow(10, floor(log10(raw)))
            let step = [1.0, 2, 2.5, 5, 10].map { $0 * magnitude }.first { $0 >= raw } ?? 10 * magnitude
            var out: [Double] = []
            var v = (minimum / step).rounded(.up) * step
            while v <= maximum + step * 1e-9 {
                out.append(abs(v) < step * 1e-9 ? 0 : v)
                v += step
            }
            return out
        case .logarithmic:
            let lo = Int(floor(log10(minimum))), hi = Int(ceil(log10(maximum)))
            let multipliers: [Double] = hi - lo <= 2 ? [1, 2, 5] : [1]
            return (lo...hi).flatMap { e in multipliers.map { $0 * pow(10, Double(e)) } }
                .filter { $0 >= minimum * 0.999 && $0 <= maximum * 1.001 }
        case .mel:
            return [0, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000]
                .filter { $0 >= minimum && $0 <= maximum * 1.0001 }
        }
    }

    /// The label for a tick.
    public func format(_ v: Double) -> String {
        func plain(_ x: Double) -> String {
            if x == x.rounded() && abs(x) < 1e7 { return String(Int(x)) }
            let a = abs(x)
            if a >= 1e5 || a < 1e-3 { return String(format: "%.1e", x) }
            if a >= 10 { return String(format: "%.1f", x) }
            if a >= 1 { return String(format: "%.2f", x).replacingOccurrences(of: #"\.?0+$"#, with: "", options: .regularExpression) }
            return String(format: "%.3f", x).replacingOccurrences(of: #"\.?0+$"#, with: "", options: .regularExpression)
        }
        switch units {
        case .plain: return plain(v)
        case .hertz: return v >= 1000 ? plain(v / 1000) + "k" : plain(v)
        case .decibels: return plain(v) + " dB"
        }
    }
}

/// The frame of a chart: a plot area inside margins, axes with ticks, labels and a title.
struct ChartFrame {
    let canvas: Canvas
    let area: PixelRect
    let x: Axis, y: Axis

    /// Pixel position of a data point.
    func point(_ vx: Double, _ vy: Double) -> (Double, Double) {
        (area.x + x.fraction(vx) * area.width, area.y + (1 - y.fraction(vy)) * area.height)
    }

    /// Draws the title, tick marks and labels, axis titles, the frame, and optional grid lines.
    func drawAxes(title: String, grid: Bool) {
        if !title.isEmpty {
            canvas.text(title, x: area.x + area.width / 2, y: area.y - 18, size: 15, align: .centre, bold: true)
        }
        let tickColor = Color(red: 0.25, green: 0.25, blue: 0.25)
        for t in x.ticks() {
            let px = area.x + x.fraction(t) * area.width
            if grid { canvas.line([(px, area.y), (px, area.y + area.height)], Color(red: 0.88, green: 0.88, blue: 0.88), lineWidth: 1) }
            canvas.line([(px, area.y + area.height), (px, area.y + area.height + 5)], tickColor, lineWidth: 1)
            canvas.text(x.format(t), x: px, y: area.y + area.height + 15, size: 11, align: .centre)
        }
        // Labels closer than a line of text to the last one drawn are left out (the mel
        // axis crowds 0, 50 and 100 Hz together); their tick marks stay.
        var lastLabel = Double.infinity
        for t in y.ticks() {
            let py = area.y + (1 - y.fraction(t)) * area.height
            if grid { canvas.line([(area.x, py), (area.x + area.width, py)], Color(red: 0.88, green: 0.88, blue: 0.88), lineWidth: 1) }
            canvas.line([(area.x - 5, py), (area.x, py)], tickColor, lineWidth: 1)
            if lastLabel - py >= 14 {
                canvas.text(y.format(t), x: area.x - 8, y: py, size: 11, align: .right)
                lastLabel = py
            }
        }
        canvas.text(x.label, x: area.x + area.width / 2, y: area.y + area.height + 36, size: 13, align: .centre)
        canvas.text(y.label, x: area.x - 58, y: area.y + area.height / 2, size: 13, align: .centre, rotated: true)
    }

    func drawBorder() {
        canvas.stroke(area, Color(red: 0.2, green: 0.2, blue: 0.2), lineWidth: 1)
    }

    /// A legend box in the top-right corner of the plot area: a swatch and a name per entry.
    func drawLegend(_ entries: [(String, Color, Bool)]) {
        guard !entries.isEmpty else { return }
        let size = 11.0, rowHeight = 17.0
        let widest = entries.map { canvas.textWidth($0.0, size: size) }.max() ?? 0
        let box = PixelRect(x: area.x + area.width - widest - 48, y: area.y + 8,
                            width: widest + 40, height: Double(entries.count) * rowHeight + 8)
        canvas.fill(box, .white, alpha: 0.85)
        canvas.stroke(box, Color(red: 0.7, green: 0.7, blue: 0.7))
        for (i, entry) in entries.enumerated() {
            let cy = box.y + 4 + rowHeight * (Double(i) + 0.5)
            if entry.2 {
                canvas.disc(x: box.x + 15, y: cy, radius: 4, entry.1)
            } else {
                canvas.line([(box.x + 6, cy), (box.x + 24, cy)], entry.1, lineWidth: 2.5)
            }
            canvas.text(entry.0, x: box.x + 30, y: cy, size: size)
        }
    }
}

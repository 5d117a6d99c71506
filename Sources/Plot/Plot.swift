import Foundation

/// Pictures people look at, drawn with cairo: spectrograms, loss curves, latent maps.
///
/// Everything here renders into a `Picture` (an RGB image held by cairo), which writes a
/// PNG atomically or hands back its pixels (`Raster`) for tests. This module is the only
/// one that imports CCairo.
public enum Plot {}

/// A reason a picture could not be made, read or written, as one line naming the file.
public struct PlotError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// An sRGB colour with components in 0...1.
public struct Color: Sendable, Equatable {
    public var red: Double, green: Double, blue: Double
    public init(red: Double, green: Double, blue: Double) { (self.red, self.green, self.blue) = (red, green, blue) }

    /// A colour from a hex triple such as `0x1f77b4`.
    public init(hex: UInt32) {
        self.init(red: Double((hex >> 16) & 0xff) / 255, green: Double((hex >> 8) & 0xff) / 255, blue: Double(hex & 0xff) / 255)
    }

    public static let black = Color(red: 0, green: 0, blue: 0)
    public static let white = Color(red: 1, green: 1, blue: 1)
    public static let grey = Color(red: 0.5, green: 0.5, blue: 0.5)

    /// Ten distinct colours for categories and series (Tableau 10, matplotlib's default cycle).
    public static let categorical: [Color] = [
        0x1f77b4, 0xff7f0e, 0x2ca02c, 0xd62728, 0x9467bd, 0x8c564b, 0xe377c2, 0x7f7f7f, 0xbcbd22, 0x17becf,
    ].map { Color(hex: $0) }

    /// The n-th categorical colour (cycling).
    public static func category(_ n: Int) -> Color { categorical[((n % 10) + 10) % 10] }
}

/// Perceptually uniform colour maps, dark to bright: equal steps in value look like equal
/// steps in colour, and brightness rises monotonically (so a grey print still reads right).
public enum ColorMap: String, CaseIterable, Sendable {
    case magma, inferno, viridis

    private static let tables: [ColorMap: [Color]] = {
        func parse(_ hex: String) -> [Color] {
            let bytes = Array(hex.utf8)
            func nibble(_ c: UInt8) -> UInt32 { UInt32(c <= 57 ? c - 48 : c - 87) }
            return stride(from: 0, to: bytes.count, by: 6).map { i in
                var v: UInt32 = 0
                for j in 0..<6 { v = v << 4 | nibble(bytes[i + j]) }
                return Color(hex: v)
            }
        }
        return [.magma: parse(ColorMapTables.magma), .inferno: parse(ColorMapTables.inferno),
                .viridis: parse(ColorMapTables.viridis)]
    }()

    /// The colour at `value` in 0...1 (clamped).
    public func color(at value: Double) -> Color {
        let table = Self.tables[self]!
        let v = min(max(value.isNaN ? 0 : value, 0), 1) * Double(table.count - 1)
        return table[Int(v.rounded())]
    }
}

/// A rectangle in pixels (origin top left).
public struct PixelRect: Sendable, Equatable {
    public var x: Double, y: Double, width: Double, height: Double
    public init(x: Double, y: Double, width: Double, height: Double) {
        (self.x, self.y, self.width, self.height) = (x, y, width, height)
    }
}

/// Pixels read back from a picture or a PNG file, for checking what a picture shows.
public struct Raster: Sendable {
    public let width: Int, height: Int
    /// 0xAARRGGBB per pixel, row-major from the top.
    public let pixels: [UInt32]

    public init(width: Int, height: Int, pixels: [UInt32]) {
        precondition(pixels.count == width * height)
        (self.width, self.height, self.pixels) = (width, height, pixels)
    }

    /// The colour at (x, y).
    public func color(x: Int, y: Int) -> Color {
        let p = pixels[y * width + x]
        return Color(hex: p & 0xffffff)
    }

    /// Relative luminance (Rec. 709 weights on sRGB values) of a pixel, 0...1.
    public func luminance(x: Int, y: Int) -> Double {
        let c = color(x: x, y: y)
        return 0.2126 * c.red + 0.7152 * c.green + 0.0722 * c.blue
    }

    /// Mean luminance over a rectangle (clipped to the image).
    public func meanLuminance(in rect: PixelRect) -> Double {
        let x0 = max(0, Int(rect.x.rounded())), x1 = min(width, Int((rect.x + rect.width).rounded()))
        let y0 = max(0, Int(rect.y.rounded())), y1 = min(height, Int((rect.y + rect.height).rounded()))
        guard x1 > x0, y1 > y0 else { return 0 }
        var sum = 0.0
        for y in y0..<y1 { for x in x0..<x1 { sum += luminance(x: x, y: y) } }
        return sum / Double((x1 - x0) * (y1 - y0))
    }

    /// Reads a PNG file.
    public static func read(png url: URL) throws -> Raster {
        try Canvas.readPNG(url)
    }
}

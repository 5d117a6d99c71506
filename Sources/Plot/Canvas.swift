import CCairo
import Foundation

/// cairo, wrapped once: an RGB image surface and its drawing context. Every cairo call
/// in timbre goes through here, and its status codes become `PlotError`s.
///
/// Text uses cairo's "toy" API (one font face, no shaping): enough for axis labels
/// in Latin script, with no extra library.
public final class Canvas {
    public let width: Int, height: Int
    let surface: OpaquePointer
    let context: OpaquePointer

    /// A blank white canvas.
    public init(width: Int, height: Int) throws {
        precondition(width > 0 && height > 0)
        self.width = width
        self.height = height
        guard let s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, Int32(width), Int32(height)) else {
            throw PlotError("cairo could not make a \(width)×\(height) image")
        }
        let status = cairo_surface_status(s)
        guard status == CAIRO_STATUS_SUCCESS else {
            cairo_surface_destroy(s)
            throw PlotError("cairo could not make a \(width)×\(height) image: \(String(cString: cairo_status_to_string(status)))")
        }
        surface = s
        context = cairo_create(s)
        cairo_select_font_face(context, "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL)
        fill(PixelRect(x: 0, y: 0, width: Double(width), height: Double(height)), .white)
    }

    deinit {
        cairo_destroy(context)
        cairo_surface_destroy(surface)
    }

    /// Sets the colour for what is drawn next.
    public func setColor(_ c: Color, alpha: Double = 1) {
        cairo_set_source_rgba(context, c.red, c.green, c.blue, alpha)
    }

    /// Fills a rectangle.
    public func fill(_ r: PixelRect, _ c: Color, alpha: Double = 1) {
        setColor(c, alpha: alpha)
        cairo_rectangle(context, r.x, r.y, r.width, r.height)
        cairo_fill(context)
    }

    /// Outlines a rectangle.
    public func stroke(_ r: PixelRect, _ c: Color, lineWidth: Double = 1) {
        setColor(c)
        cairo_set_line_width(context, lineWidth)
        cairo_rectangle(context, r.x, r.y, r.width, r.height)
        cairo_stroke(context)
    }

    /// A polyline through points (pixels); `dash` draws it dashed.
    public func line(_ points: [(Double, Double)], _ c: Color, lineWidth: Double = 1.5, dash: Bool = false) {
        guard let first = points.first else { return }
        setColor(c)
        cairo_set_line_width(context, lineWidth)
        cairo_set_line_join(context, CAIRO_LINE_JOIN_ROUND)
        if dash {
            var d: [Double] = [4, 3]
            cairo_set_dash(context, &d, 2, 0)
        }
        cairo_move_to(context, first.0, first.1)
        for p in points.dropFirst() { cairo_line_to(context, p.0, p.1) }
        cairo_stroke(context)
        if dash { cairo_set_dash(context, nil, 0, 0) }
    }

    /// A filled disc.
    public func disc(x: Double, y: Double, radius: Double, _ c: Color, alpha: Double = 1) {
        setColor(c, alpha: alpha)
        cairo_new_sub_path(context)
        cairo_arc(context, x, y, radius, 0, 2 * Double.pi)
        cairo_fill(context)
    }

    /// Horizontal placement of text relative to its anchor point.
    public enum Alignment { case left, centre, right }

    /// Draws text with its baseline-middle (vertically centred on x-height) at (x, y).
    /// `rotated` turns it 90° anticlockwise (for a vertical axis title).
    public func text(_ s: String, x: Double, y: Double, size: Double = 12, align: Alignment = .left,
                     color: Color = .black, rotated: Bool = false, bold: Bool = false) {
        cairo_save(context)
        cairo_select_font_face(context, "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL,
                               bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL)
        cairo_set_font_size(context, size)
        var extents = cairo_text_extents_t()
        cairo_text_extents(context, s, &extents)
        let dx: Double
        switch align {
        case .left: dx = 0
        case .centre: dx = -extents.x_advance / 2
        case .right: dx = -extents.x_advance
        }
        cairo_translate(context, x, y)
        if rotated { cairo_rotate(context, -Double.pi / 2) }
        setColor(color)
        cairo_move_to(context, dx, size * 0.36)
        cairo_show_text(context, s)
        cairo_restore(context)
    }

    /// Width of text in pixels at a size.
    public func textWidth(_ s: String, size: Double = 12) -> Double {
        cairo_save(context)
        cairo_set_font_size(context, size)
        var extents = cairo_text_extents_t()
        cairo_text_extents(context, s, &extents)
        cairo_restore(context)
        return extents.x_advance
    }

    /// Paints an image given as colours (`columns × rows`, row-major from the top) stretched into `rect`.
    public func image(_ colors: [Color], columns: Int, rows: Int, in rect: PixelRect) {
        precondition(colors.count == columns * rows && columns > 0 && rows > 0)
        guard let img = cairo_image_surface_create(CAIRO_FORMAT_RGB24, Int32(columns), Int32(rows)) else { return }
        defer { cairo_surface_destroy(img) }
        cairo_surface_flush(img)
        let stride = Int(cairo_image_surface_get_stride(img))
        guard let data = cairo_image_surface_get_data(img) else { return }
        for y in 0..<rows {
            let row = UnsafeMutableRawPointer(data + y * stride).assumingMemoryBound(to: UInt32.self)
            for x in 0..<columns {
                let c = colors[y * columns + x]
                row[x] = UInt32(c.red * 255 + 0.5) << 16 | UInt32(c.green * 255 + 0.5) << 8 | UInt32(c.blue * 255 + 0.5)
            }
        }
        cairo_surface_mark_dirty(img)
        cairo_save(context)
        cairo_translate(context, rect.x, rect.y)
        cairo_scale(context, rect.width / Double(columns), rect.height / Double(rows))
        cairo_set_source_surface(context, img, 0, 0)
        // Nearest neighbour: each cell stays a crisp block when enlarged.
        cairo_pattern_set_filter(cairo_get_source(context), CAIRO_FILTER_NEAREST)
        cairo_paint(context)
        cairo_restore(context)
    }

    /// The pixels drawn so far.
    public var raster: Raster {
        cairo_surface_flush(surface)
        return Self.raster(of: surface)
    }

    /// Writes a PNG: to a temporary file beside `url`, renamed into place, so a reader never
    /// sees half a picture.
    public func writePNG(to url: URL) throws {
        cairo_surface_flush(surface)
        let dir = url.deletingLastPathComponent()
        let temp = dir.appendingPathComponent(".\(url.lastPathComponent).tmp-\(UUID().uuidString)")
        let status = cairo_surface_write_to_png(surface, temp.path)
        guard status == CAIRO_STATUS_SUCCESS else {
            try? FileManager.default.removeItem(at: temp)
            throw PlotError("\(url.path): cannot write PNG: \(String(cString: cairo_status_to_string(status)))")
        }
        guard rename(temp.path, url.path) == 0 else {
            let reason = String(cString: strerror(errno))
            try? FileManager.default.removeItem(at: temp)
            throw PlotError("\(url.path): cannot write PNG: \(reason)")
        }
    }

    static func readPNG(_ url: URL) throws -> Raster {
        guard let s = cairo_image_surface_create_from_png(url.path) else { throw PlotError("\(url.path): cannot read PNG") }
        defer { cairo_surface_destroy(s) }
        let status = cairo_surface_status(s)
        guard status == CAIRO_STATUS_SUCCESS else {
            throw PlotError("\(url.path): cannot read PNG: \(String(cString: cairo_status_to_string(status)))")
        }
        return raster(of: s)
    }

    private static func raster(of s: OpaquePointer) -> Raster {
        let w = Int(cairo_image_surface_get_width(s)), h = Int(cairo_image_surface_get_height(s))
        let stride = Int(cairo_image_surface_get_stride(s))
        var pixels = [UInt32](repeating: 0, count: w * h)
        if let data = cairo_image_surface_get_data(s) {
            for y in 0..<h {
                let row = UnsafeRawPointer(data + y * stride).assumingMemoryBound(to: UInt32.self)
                for x in 0..<w { pixels[y * w + x] = row[x] | 0xff00_0000 }
            }
        }
        return Raster(width: w, height: h, pixels: pixels)
    }
}

import AudioIO
import Foundation
import Plot
import Torch

/// RUN/report.html: one self-contained page (pictures and sounds inlined as data URIs,
/// no scripts, nothing fetched) with the loss curves, validation reconstructions beside
/// their originals, generated one-shots, and a 2-D map of the validation latents by class.
public enum RunReport {
    /// Writes the report for a trained run and the dataset it was trained on.
    public static func write(_ run: TrainedRun, dataset: OneShotDataset, reconstructions: Int = 4, generated: Int = 6,
                             seed: UInt64 = 1) throws {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("timbre-report-\(getpid())-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        var counter = 0
        func file(_ ext: String) -> URL { counter += 1; return scratch.appendingPathComponent("\(counter).\(ext)") }
        func png(_ write: (URL) throws -> Void) throws -> String {
            let url = file("png")
            try write(url)
            return "data:image/png;base64," + (try Data(contentsOf: url)).base64EncodedString()
        }
        func wav(_ samples: [Float]) throws -> String {
            let url = file("wav")
            try AudioFile.write(AudioBuffer(sampleRate: Double(run.config.sampleRate), channels: [samples]), to: url, format: .pcm16)
            return "data:audio/wav;base64," + (try Data(contentsOf: url)).base64EncodedString()
        }
        func spectrogram(_ samples: [Float], _ title: String) throws -> String {
            var picture = SpectrogramPicture(samples: samples, sampleRate: Double(run.config.sampleRate), mel: true)
            picture.title = title
            picture.width = 520
            picture.height = 300
            return try png { try picture.write(to: $0) }
        }
        let c = run.config
        var html = """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><title>timbre drum VAE: \(escape(run.folder.url.lastPathComponent))</title>
        <style>body{font-family:sans-serif;margin:24px;background:#fafafa;color:#222}img{max-width:100%;border:1px solid #ddd}
        .row{display:flex;gap:16px;flex-wrap:wrap;margin-bottom:18px}.cell{background:#fff;padding:8px;border:1px solid #e4e4e4}
        audio{display:block;width:100%;margin-top:4px}</style></head><body>
        <h1>Drum VAE run \(escape(run.folder.url.lastPathComponent))</h1>
        <p>Step \(run.step) · \(c.representation.rawValue) decoder · latent \(c.latentSize) · \(c.channels) channels ·
        \(dataset.training.count) training and \(dataset.validation.count) validation one-shots\(c.conditional ? " · conditional on " + escape(c.classes.joined(separator: ", ")) : "").</p>

        """

        // Loss curves from the log.
        var train: ([Double], [Double]) = ([], []), validation: ([Double], [Double]) = ([], []), convergence: ([Double], [Double]) = ([], [])
        if let data = FileManager.default.contents(atPath: run.folder.log.path) {
            for line in String(decoding: data, as: UTF8.self).split(separator: "\n") {
                guard let o = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], let s = o["step"] as? Int else { continue }
                if let v = o["loss"] as? Double { train.0.append(Double(s)); train.1.append(v) }
                if let v = o["validationLoss"] as? Double { validation.0.append(Double(s)); validation.1.append(v) }
                if let v = o["validationConvergenceDB"] as? Double { convergence.0.append(Double(s)); convergence.1.append(v) }
            }
        }
        html += "<h2>Losses</h2><div class=\"row\">"
        if !train.0.isEmpty {
            var series = [LinePlot.Series("training", x: train.0, y: train.1)]
            if !validation.0.isEmpty { series.append(LinePlot.Series("validation", x: validation.0, y: validation.1, dashed: true)) }
            var plot = LinePlot(series: series, title: "loss (reconstruction + β·KL; validation: reconstruction)")
            plot.width = 640
            plot.height = 360
            html += "<div class=\"cell\"><img alt=\"loss curves\" src=\"\(try png { try plot.write(to: $0) })\"></div>"
        }
        if !convergence.0.isEmpty {
            var plot = LinePlot(series: [LinePlot.Series("validation", x: convergence.0, y: convergence.1)],
                                title: "validation multi-scale spectral convergence", yLabel: "dB (lower is better)")
            plot.width = 640
            plot.height = 360
            html += "<div class=\"cell\"><img alt=\"validation spectral convergence\" src=\"\(try png { try plot.write(to: $0) })\"></div>"
        }
        html += "</div>\n"

        // Validation reconstructions.
        let shown = Array(dataset.validation.prefix(reconstructions))
        let codes = try run.encode(shown.map(\.samples)).map(\.mean)
        let classes = shown.map { c.classes.firstIndex(of: $0.className) ?? 0 }
        let decoded = try run.decode(codes, classes: c.conditional ? classes : nil).map(run.finish)
        html += "<h2>Validation reconstructions</h2>\n"
        for (clip, output) in zip(shown, decoded) {
            html += "<div class=\"row\">"
            html += "<div class=\"cell\"><b>original</b> \(escape(clip.path))<br><img alt=\"original spectrogram\" src=\"\(try spectrogram(clip.samples, "original"))\"><audio controls src=\"\(try wav(clip.samples))\"></audio></div>"
            html += "<div class=\"cell\"><b>reconstruction</b><br><img alt=\"reconstruction spectrogram\" src=\"\(try spectrogram(output, "reconstruction"))\"><audio controls src=\"\(try wav(output))\"></audio></div>"
            html += "</div>\n"
        }

        // Generated one-shots.
        html += "<h2>Generated one-shots (prior, temperature 1, seed \(seed))</h2><div class=\"row\">\n"
        for (i, shot) in try run.generate(count: generated, className: nil, temperature: 1, seed: seed).enumerated() {
            html += "<div class=\"cell\"><b>\(escape(shot.0 ?? "one-shot")) \(i + 1)</b><br><img alt=\"generated spectrogram\" src=\"\(try spectrogram(shot.1, "generated \(i + 1)"))\"><audio controls src=\"\(try wav(shot.1))\"></audio></div>\n"
        }
        html += "</div>\n"

        // Latent map: the validation (and training) means projected on their two principal axes.
        let all = dataset.validation + dataset.training.prefix(max(0, 300 - dataset.validation.count))
        let means = try run.encode(all.map(\.samples)).map(\.mean)
        let names = Array(Set(all.map(\.className))).sorted()
        let projected = principalPlane(means)
        let points = zip(projected, all).map { p, clip in ScatterPlot.Point(x: p.0, y: p.1, category: names.firstIndex(of: clip.className)!) }
        var scatter = ScatterPlot(points: points, categories: names, title: "latent means (first two principal axes)",
                                  xLabel: "axis 1", yLabel: "axis 2")
        scatter.width = 700
        scatter.height = 560
        html += "<h2>Latent map by class</h2><div class=\"cell\"><img alt=\"latent map\" src=\"\(try png { try scatter.write(to: $0) })\"></div>\n"
        html += "<p>\(dataset.validation.count) validation and \(all.count - dataset.validation.count) training one-shots.</p></body></html>\n"
        try writeAtomically(Data(html.utf8), to: run.folder.report)
    }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    /// Coordinates on the two leading principal axes (power iteration on the covariance).
    static func principalPlane(_ rows: [[Float]]) -> [(Double, Double)] {
        guard let d = rows.first?.count, rows.count > 1 else { return rows.map { _ in (0, 0) } }
        let n = Double(rows.count)
        let mean = (0..<d).map { j in rows.reduce(0) { $0 + Double($1[j]) } / n }
        let centred = rows.map { r in (0..<d).map { Double(r[$0]) - mean[$0] } }
        var cov = [[Double]](repeating: [Double](repeating: 0, count: d), count: d)
        for r in centred { for i in 0..<d { for j in 0..<d { cov[i][j] += r[i] * r[j] / n } } }
        var axes: [[Double]] = []
        for k in 0..<2 {
            var v = [Double](repeating: 0.01, count: d)
            v[k % d] = 1
            for _ in 0..<100 {
                var w = [Double](repeating: 0, count: d)
                for i in 0..<d {
                    var sum = 0.0
                    for j in 0..<d { sum += cov[i][j] * v[j] }
                    w[i] = sum
                }
                for a in axes {
                    var p = 0.0
                    for i in 0..<d { p += w[i] * a[i] }
                    for i in 0..<d { w[i] -= p * a[i] }
                }
                var norm = 0.0
                for i in 0..<d { norm += w[i] * w[i] }
                norm = norm.squareRoot()
                if norm < 1e-12 { break }
                v = w.map { $0 / norm }
            }
            axes.append(v)
        }
        func dot(_ a: [Double], _ b: [Double]) -> Double {
            var sum = 0.0
            for i in a.indices { sum += a[i] * b[i] }
            return sum
        }
        return centred.map { r in (dot(r, axes[0]), dot(r, axes[1])) }
    }
}

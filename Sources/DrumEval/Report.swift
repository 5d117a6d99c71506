import Foundation
import Plot

/// OUT/result.json, OUT/report.html and its pictures, and the terminal table.
public enum DrumBenchReport {
    /// Writes the three files (each to a temporary name, then renamed into place).
    static func write(_ result: DrumBenchResult, embeddings: [(String, FeatureMatrix)], classes: [String], to out: URL) throws {
        try atomicWrite(try result.json(), to: out.appendingPathComponent("result.json"))
        // The embedding map: a 2-D PCA of the classifier features, fitted on all points shown.
        let all = embeddings.map(\.1)
        let (projection, explained) = pca2(all)
        var points: [ScatterPlot.Point] = []
        var offset = 0
        for (category, set) in all.enumerated() {
            for i in 0..<set.count {
                points.append(ScatterPlot.Point(x: projection[offset + i].0, y: projection[offset + i].1, category: category))
            }
            offset += set.count
        }
        var scatter = ScatterPlot(points: points, categories: embeddings.map { short($0.0) },
                                  title: "Classifier features: real reference and generated sounds (PCA)",
                                  xLabel: String(format: "PC1 (%.0f%%)", explained.0 * 100), yLabel: String(format: "PC2 (%.0f%%)", explained.1 * 100))
        scatter.radius = 2.5
        try scatter.write(to: out.appendingPathComponent("embedding.png"))

        let scored = result.order.filter { result.rows[$0]?.classHistogram != nil }
        try BarChart(categories: classes,
                     series: [BarChart.Series("real (reference)", values: classes.map { result.setup.realClassHistogram[$0] ?? 0 })]
                         + scored.map { name in BarChart.Series(short(name), values: classes.map { result.rows[name]!.classHistogram![$0] ?? 0 }) },
                     title: "Classifier's class histogram", yLabel: "share of sounds")
            .write(to: out.appendingPathComponent("classes.png"))
        let reconstructed = result.order.filter { result.rows[$0]?.reconstruction != nil }
        try BarChart(categories: classes,
                     series: reconstructed.map { name in
                         BarChart.Series(short(name), values: classes.map { result.rows[name]!.reconstruction![$0]?.spectralConvergenceDB ?? .nan })
                     },
                     title: "Held-out reconstruction per class (lower is better)", yLabel: "multi-scale spectral convergence, dB")
            .write(to: out.appendingPathComponent("reconstruction.png"))
        try atomicWrite(Data(html(result, classes: classes).utf8), to: out.appendingPathComponent("report.html"))
    }

    static func short(_ name: String) -> String { name.hasPrefix("/") ? URL(fileURLWithPath: name).lastPathComponent : name }

    static func atomicWrite(_ data: Data, to url: URL) throws {
        let tmp = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).\(getpid()).tmp")
        do { try data.write(to: tmp) } catch { throw DrumEvalError(path: url.path, reason: "cannot write: \(error.localizedDescription)") }
        guard rename(tmp.path, url.path) == 0 else { throw DrumEvalError(path: url.path, reason: "cannot rename into place") }
    }

    /// The first two principal components (power iteration with deflation) and their shares of the variance.
    static func pca2(_ sets: [FeatureMatrix]) -> ([(Double, Double)], (Double, Double)) {
        guard let d = sets.first?.dimensions, d > 0 else { return ([], (0, 0)) }
        let rows = sets.flatMap { s in (0..<s.count).map { s.row($0) } }
        let n = Double(max(rows.count, 1))
        var mean = [Double](repeating: 0, count: d)
        for r in rows { for k in 0..<d { mean[k] += r[k] / n } }
        var cov = [Double](repeating: 0, count: d * d)
        for r in rows {
            for i in 0..<d { let a = r[i] - mean[i]; for j in 0..<d { cov[i * d + j] += a * (r[j] - mean[j]) / n } }
        }
        let total = (0..<d).reduce(0.0) { $0 + cov[$1 * d + $1] }
        var components: [[Double]] = [], values: [Double] = []
        for c in 0..<2 {
            var v = (0..<d).map { Double(($0 * 7 + c * 3) % 11) + 1 }
            var lambda = 0.0
            for _ in 0..<200 {
                var w = [Double](repeating: 0, count: d)
                for i in 0..<d { for j in 0..<d { w[i] += cov[i * d + j] * v[j] } }
                lambda = (w.reduce(0) { $0 + $1 * $1 }).squareRoot()
                guard lambda > 0 else { break }
                v = w.map { $0 / lambda }
            }
            components.append(v)
            values.append(lambda)
            for i in 0..<d { for j in 0..<d { cov[i * d + j] -= lambda * v[i] * v[j] } }
        }
        let projected = rows.map { r -> (Double, Double) in
            var x = 0.0, y = 0.0
            for k in 0..<d { x += (r[k] - mean[k]) * components[0][k]; y += (r[k] - mean[k]) * components[1][k] }
            return (x, y)
        }
        return (projected, total > 0 ? (values[0] / total, values[1] / total) : (0, 0))
    }

    /// The terminal table: realism, copying and verdicts per row, then reconstruction and phase per class.
    public static func table(_ result: DrumBenchResult) -> [String] {
        func f(_ v: Double?, _ format: String = "%.3f") -> String { v.map { String(format: format, $0) } ?? "—" }
        func pad(_ s: String, _ w: Int) -> String { String(repeating: " ", count: max(0, w - s.count)) + s }
        var lines: [String] = []
        for (space, pick) in [("handcrafted", { (r: DrumBenchRow) in r.handcrafted }), ("classifier", { (r: DrumBenchRow) in r.classifier })] {
            lines.append("\(space) features: KID [95% interval], precision, recall, density, coverage (k = \(result.setup.neighbours)); copy test and close pairs (diversity) in this space")
            lines.append("row".padding(toLength: 22, withPad: " ", startingAt: 0) + pad("KID", 9) + pad("interval", 20) + pad("prec", 7)
                         + pad("recall", 7) + pad("dens", 7) + pad("cover", 7) + pad("Z", 8) + pad("copy", 7) + pad("close", 7))
            for name in result.order {
                guard let row = result.rows[name], let s = pick(row) else { continue }
                lines.append(short(name).padding(toLength: 22, withPad: " ", startingAt: 0) + pad(f(s.kid, "%.4f"), 9)
                             + pad("[\(f(s.kidLow, "%.4f")), \(f(s.kidHigh, "%.4f"))]", 20) + pad(f(s.precision, "%.2f"), 7)
                             + pad(f(s.recall, "%.2f"), 7) + pad(f(s.density, "%.2f"), 7) + pad(f(s.coverage, "%.2f"), 7)
                             + pad(f(s.meehanZ, "%.1f"), 8) + pad(f(s.copyShare * 100, "%.0f%%"), 7)
                             + pad(f(s.closePairShare.map { $0 * 100 }, "%.1f%%"), 7))
            }
            lines.append("")
        }
        lines.append("verdicts (realism: precision and recall ≥ 0.8 × realVsReal in both spaces; copying: copyShare ≤ 10 % and meehanZ > −3, handcrafted space; diversity: close pairs ≤ 2 % in both spaces)")
        for name in result.order {
            guard let v = result.rows[name]?.verdict else { continue }
            var line = short(name).padding(toLength: 22, withPad: " ", startingAt: 0)
                + "realism \(v.realism), recall \(v.recall), coverage \(v.coverage), copying \(v.copying)"
                + (v.diversity.map { ", diversity \($0)" } ?? "")
            if let expected = v.expected { line += " — must: \(expected): \(v.asExpected == true ? "as it must" : "WRONG")" }
            lines.append(line)
        }
        for name in result.order {
            guard let bars = result.rows[name]?.bars, !bars.isEmpty else { continue }
            lines.append("")
            lines.append("\(short(name)): issue 15's bars, \(bars.filter(\.passes).count) of \(bars.count) pass")
            for bar in bars {
                lines.append("  " + bar.name.padding(toLength: 15, withPad: " ", startingAt: 0) + (bar.passes ? "pass  " : "FAIL  ") + bar.detail)
            }
        }
        lines.append("")
        lines.append("held-out reconstruction per class: spectral convergence dB / log-mel distance dB / onset error ms / decay error ms")
        for name in result.order {
            guard let rec = result.rows[name]?.reconstruction else { continue }
            lines.append(short(name) + ":")
            for (c, s) in rec.sorted(by: { $0.key < $1.key }) {
                lines.append("  " + c.padding(toLength: 8, withPad: " ", startingAt: 0)
                             + String(format: "%4d clips  %7.2f  %6.2f  %7.1f  %7.1f", s.clips, s.spectralConvergenceDB, s.logMelDistanceDB,
                                      s.onsetErrorMs, s.decayErrorMs))
            }
            if let phase = result.rows[name]?.phase {
                lines.append("  phase gap closure G = (SC_GL32 − SC_model) / (SC_GL32 − SC_truephase):")
                for (c, g) in phase.sorted(by: { $0.key < $1.key }) {
                    lines.append("  " + c.padding(toLength: 8, withPad: " ", startingAt: 0)
                                 + String(format: "%4d clips  GL32 %6.2f  model %6.2f  true phase %6.2f dB  G ", g.clips, g.griffinLimDB, g.modelDB, g.truePhaseDB)
                                 + (g.gapClosure.map { String(format: "%.2f", $0) } ?? "n/a (GL32 − true phase < 1 dB)"))
                }
            }
            if let shifts = result.rows[name]?.featureShifts, !shifts.isEmpty {
                lines.append("  handcrafted features furthest from the reference (mean shift in reference SDs, spread ratio): "
                             + shifts.map { String(format: "%@ %+.2f ×%.2f", $0.feature, $0.shift, $0.spreadRatio) }.joined(separator: "; "))
            }
            if let named = result.rows[name]?.namedAsItsClass {
                lines.append("  named as its class: " + named.sorted { $0.key < $1.key }.map { String(format: "%@ %.0f%%", $0.key, $0.value * 100) }.joined(separator: ", "))
            }
            if let copied = result.rows[name]?.copyShareByClass, !copied.isEmpty {
                lines.append("  copies by class generated: " + copied.sorted { $0.key < $1.key }.map { String(format: "%@ %.0f%%", $0.key, $0.value * 100) }.joined(separator: ", "))
            }
        }
        return lines
    }

    static func html(_ result: DrumBenchResult, classes: [String]) -> String {
        func e(_ s: String) -> String {
            s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
        }
        let table = table(result).map(e).joined(separator: "\n")
        let accuracy = result.setup.classifierAccuracy.sorted { $0.key < $1.key }
            .map { String(format: "%@ %.0f%% (%d clips)", $0.key, $0.value * 100, result.setup.classifierTestClips[$0.key] ?? 0) }
            .joined(separator: ", ")
        // Each run's bars as a grid: green passes, red fails, the detail on hover.
        let runs = result.order.filter { result.rows[$0]?.bars?.isEmpty == false }
        var grid = ""
        if let names = runs.first.flatMap({ result.rows[$0]?.bars?.map(\.name) }) {
            grid = "<h2>Issue 15's bars</h2><table style=\"border-collapse:collapse\"><tr><th></th>"
                + names.map { "<th style=\"padding:4px 8px\">\(e($0))</th>" }.joined() + "</tr>"
            for run in runs {
                grid += "<tr><td style=\"padding:4px 8px\">\(e(short(run)))</td>"
                for bar in result.rows[run]!.bars! {
                    grid += "<td title=\"\(e(bar.detail))\" style=\"padding:4px 8px;text-align:center;color:#fff;background:\(bar.passes ? "#2e7d32" : "#c62828")\">\(bar.passes ? "pass" : "fail")</td>"
                }
                grid += "</tr>"
            }
            grid += "</table><p>Hover a cell for what was measured; the same lines are in the table below.</p>"
        }
        return """
        <!doctype html>
        <html><head><meta charset="utf-8"><title>timbre bench drums</title>
        <style>body{font-family:sans-serif;max-width:1100px;margin:2em auto}pre{font-size:12px;background:#f6f6f6;padding:1em;overflow-x:auto}</style>
        </head><body>
        <h1>Drum evaluation</h1>
        <p>\(e(result.setup.date)) — dataset <code>\(e(result.setup.dataset))</code>, reference \(e(result.setup.reference))
        (\(result.setup.referenceClips) clips), \(result.setup.count) sounds per row, seed \(result.setup.seed),
        temperature \(result.setup.temperature); \(String(format: "%.0f", result.setup.seconds)) s.</p>
        <p>Split by kit — training: \(e(result.setup.split["training"]?.joined(separator: ", ") ?? "")); validation:
        \(e(result.setup.split["validation"]?.joined(separator: ", ") ?? "")); test: \(e(result.setup.split["test"]?.joined(separator: ", ") ?? "")).</p>
        <p>Classifier accuracy on the held-out test kits: \(e(accuracy)).</p>
        \(grid)
        <pre>\(table)</pre>
        <h2>Embedding map</h2><img src="embedding.png" alt="PCA of classifier features">
        <h2>Classes</h2><img src="classes.png" alt="class histogram">
        <h2>Reconstruction</h2><img src="reconstruction.png" alt="reconstruction per class">
        <p>Rows and every number: <a href="result.json">result.json</a>.</p>
        </body></html>
        """
    }
}

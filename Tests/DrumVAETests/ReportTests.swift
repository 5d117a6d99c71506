import Foundation
import Testing
import TestSupport
@testable import DrumVAE

/// RUN/report.html opened in Debian's headless Chromium: the screenshot is not blank and
/// the page logs nothing to the console; everything it shows is inlined.
@Suite(.serialized)
struct ReportTests {
    static let pngVariety = """
    import sys, zlib
    data = open(sys.argv[1], "rb").read()
    assert data[:8] == b"\\x89PNG\\r\\n\\x1a\\n", "not a PNG"
    i, idat = 8, b""
    while i < len(data):
        n = int.from_bytes(data[i:i + 4], "big")
        kind = data[i + 4:i + 8]
        if kind == b"IDAT":
            idat += data[i + 8:i + 8 + n]
        i += 12 + n
    raw = zlib.decompress(idat)
    print(len(set(raw)), len(raw))
    """

    @Test(.needsHydrogenKits)
    func reportOpensInHeadlessChromium() throws {
        let chromium = URL(fileURLWithPath: "/usr/bin/chromium")
        try #require(FileManager.default.fileExists(atPath: chromium.path), "chromium is missing: run scripts/bootstrap")
        let kit = try makeTestKit(perKit: 3, kits: ["HardElectro1", "ElectricEmpireKit"])
        let dir = TemporaryDirectory()
        let runURL = dir.file("run")
        try train(kit: kit.url, run: runURL, steps: 3, config: smallConfig(steps: 3))
        let run = try TrainedRun(runURL)
        let dataset = try OneShotDataset(directory: kit.url, sampleRate: 44100, clipSamples: 88200)
        try RunReport.write(run, dataset: dataset, reconstructions: 2, generated: 2)
        let html = try String(contentsOf: run.folder.report, encoding: .utf8)
        #expect(html.contains("<h2>Losses</h2>") && html.contains("<h2>Latent map by class</h2>"))
        #expect(html.components(separatedBy: "<audio controls src=\"data:audio/wav;base64,").count - 1 == 2 * min(2, dataset.validation.count) + 2)
        let sources = html.components(separatedBy: "src=\"").dropFirst().map { $0.prefix(5) }
        #expect(!sources.isEmpty && sources.allSatisfy { $0 == "data:" }, "the page refers to something outside itself")
        #expect(!html.contains("<script"))

        let screenshot = dir.file("shot.png")
        let result = try runProcess(chromium, ["--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr", "--v=0",
                                               "--window-size=1200,1600", "--screenshot=\(screenshot.path)", run.folder.report.absoluteString])
        #expect(result.status == 0, "\(result.stderr)")
        let console = result.stderr.split(separator: "\n").filter { $0.contains(":CONSOLE") }
        #expect(console.isEmpty, "console messages: \(console)")
        let script = dir.file("variety.py")
        try Self.pngVariety.write(to: script, atomically: true, encoding: .utf8)
        let variety = try runPython(script, [screenshot.path])
        try #require(variety.status == 0, "\(variety.stderr)")
        let distinct = Int(variety.stdout.split(separator: " ")[0]) ?? 0
        #expect(distinct > 64, "the screenshot looks blank (\(distinct) distinct byte values)")
    }
}

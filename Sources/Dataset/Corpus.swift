import Foundation

/// The drum corpus: Debian's hydrogen kits (hydrogen-drumkits and hydrogen-drumkits-effects
/// install into one folder) and the General MIDI drum kits of fluid-soundfont-gm, rendered note
/// by note, prepared into one folder with kits and groups. Nothing else goes in: other drum
/// sources (sonic-pi-samples, ...) stay out of training and tuning for independent checks.
public enum DrumCorpus {
    /// Where Debian's hydrogen packages put their kits.
    public static let hydrogenKits = URL(fileURLWithPath: "/usr/share/hydrogen/data/drumkits")
    /// fluid-soundfont-gm's SoundFont.
    public static let generalMIDISoundFont = URL(fileURLWithPath: "/usr/share/sounds/sf2/FluidR3_GM.sf2")

    /// What a build did.
    public struct Summary: Sendable {
        public var render: GeneralMIDIKits.Summary
        public var prep: PrepSummary
        /// Clips per class in the manifest.
        public var clipsPerClass: [DrumClass: Int]
        /// The split a new training run makes of the corpus.
        public var split: KitSplit
        /// Wall time of the whole build.
        public var seconds: Double
    }

    /// Renders the General MIDI kits into `renders` (kept, so a rebuild reuses them), then runs
    /// prep with its defaults over `hydrogen` and `renders` into `output`.
    public static func build(output: URL, renders: URL, hydrogen: URL = hydrogenKits,
                             soundFont: URL = generalMIDISoundFont,
                             workers: Int = ProcessInfo.processInfo.activeProcessorCount,
                             progress: @escaping @Sendable (String, Double) -> Void = { _, _ in }) throws -> Summary {
        let started = Date()
        for (url, package) in [(hydrogen, "hydrogen-drumkits"), (soundFont, "fluid-soundfont-gm")]
        where !FileManager.default.fileExists(atPath: url.path) {
            throw PrepError(path: url.path, reason: "missing (apt-get install \(package), or run scripts/bootstrap)")
        }
        let render = try GeneralMIDIKits.render(soundFont: soundFont, into: renders, progress: { progress("render", $0) })
        let prep = try Pipeline.run(inputs: [hydrogen, renders], output: output, options: PrepOptions(),
                                    workers: workers, progress: { progress("prep", $0) })
        let manifest = try Manifest.read(output.appendingPathComponent("manifest.jsonl"))
        let split = try KitSplit.make(manifest)
        return Summary(render: render, prep: prep,
                       clipsPerClass: Dictionary(grouping: manifest, by: \.drumClass).mapValues(\.count),
                       split: split, seconds: Date().timeIntervalSince(started))
    }
}

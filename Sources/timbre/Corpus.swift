import ArgumentParser
import Dataset
import Foundation
import Synchronization

struct Corpus: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Build the drum corpus from Debian's hydrogen kits and General MIDI SoundFont.",
        discussion: """
        Renders every drum preset (bank 128) of fluid-soundfont-gm note by note (General MIDI \
        notes 35-81 at velocities 40, 80, 120) into --renders with fluidsynth, then prepares \
        the hydrogen kits and the renders with `timbre prep`'s defaults into --out: one group \
        per kit, kits sharing sounds merged (see docs/PREP.md). Prints clips per class, the \
        groups and the split a new training run makes. A rerun reuses what is done.
        """)

    @Option(help: "The dataset folder to write.")
    var out: String = "data/drums"

    @Option(help: "Where the General MIDI renders go (default: the --out folder's name + \"-gm\").")
    var renders: String?

    @Option(help: "The hydrogen drum kits folder.")
    var hydrogen: String = DrumCorpus.hydrogenKits.path

    @Option(help: "The General MIDI SoundFont.")
    var soundfont: String = DrumCorpus.generalMIDISoundFont.path

    @Option(help: "Parallel workers (the default is the number of cores).")
    var jobs: Int = ProcessInfo.processInfo.activeProcessorCount

    func validate() throws {
        if jobs < 1 { throw ValidationError("--jobs must be at least 1") }
    }

    func run() throws {
        let output = URL(fileURLWithPath: out).standardizedFileURL
        let rendersURL = renders.map { URL(fileURLWithPath: $0) }
            ?? output.deletingLastPathComponent().appendingPathComponent(output.lastPathComponent + "-gm")
        let reporter = Mutex([String: ProgressReporter]())
        let s = try DrumCorpus.build(output: output, renders: rendersURL, hydrogen: URL(fileURLWithPath: hydrogen),
                                     soundFont: URL(fileURLWithPath: soundfont), workers: jobs,
                                     progress: { stage, fraction in
                                         reporter.withLock { reporters in
                                             // A class: the dictionary must hold it, or each call would make a new one.
                                             let r = reporters[stage] ?? ProgressReporter(stage)
                                             reporters[stage] = r
                                             r.update(fraction)
                                         }
                                     })
        print(String(format: "renders: %d General MIDI drum presets, %d one-shot files (%d reused presets, %d silent slots) in %.1f s → %@",
                     s.render.presets, s.render.files, s.render.reused, s.render.silentSlots, s.render.seconds, rendersURL.path))
        print(Prep.render(s.prep, out: output.path))
        print("clips per class: " + DrumClass.allCases.map { "\($0.rawValue) \(s.clipsPerClass[$0] ?? 0)" }.joined(separator: ", "))
        print(s.split.summary(of: try Manifest.read(output.appendingPathComponent("manifest.jsonl"))))
        print(String(format: "corpus built in %.1f s", s.seconds))
        if !s.prep.failures.isEmpty { throw ExitCode(3) }
    }
}

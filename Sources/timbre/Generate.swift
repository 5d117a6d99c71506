import ArgumentParser
import DrumVAE
import Foundation

struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Generate new drum one-shots from a trained run's prior, as WAV files.",
        discussion: "Without a run (or with `default`), from the model timbre ships (Resources/default).")

    @Argument(help: ArgumentHelp("The run folder made by `timbre train` (default: the shipped model).", valueName: "run"))
    var runFolder: String?

    @Option(help: "How many one-shots.")
    var count: Int = 12

    @Option(name: .customLong("class"), help: "The drum class: drawn from that class's part of the run's fitted prior (RUN/prior.json), and decoded with it as the condition for a --conditional run.")
    var className: String?

    @Option(help: "Scale of the prior's standard deviation (lower: tamer, higher: wilder).")
    var temperature: Double = 1.0

    @Option(help: "Seed for the latent draws (and a synth run's noise).")
    var seed: UInt64 = 1

    @Option(help: "Folder for the WAV files.")
    var out: String

    @Flag(help: "Also measure each one-shot: NaN, clipping, onset, decay (realism and copying: `timbre bench drums`).")
    var check = false

    @OptionGroup var torch: TorchOptions

    func validate() throws {
        if count < 1 { throw ValidationError("--count must be at least 1") }
        if !(temperature > 0) { throw ValidationError("--temperature must be above 0") }
    }

    func run() throws {
        torch.apply()
        let trained = try TrainedRun(DefaultModel.resolve(runFolder))
        let outURL = URL(fileURLWithPath: out)
        try FileManager.default.createDirectory(at: outURL, withIntermediateDirectories: true)
        if check {
            let (report, shots) = try GenerationCheck.run(trained, count: count, seed: seed, temperature: temperature)
            for (i, shot) in shots.enumerated() {
                try trained.write(shot, to: outURL.appendingPathComponent(String(format: "oneshot-%03d.wav", i + 1)))
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try encoder.encode(report).write(to: outURL.appendingPathComponent("check.json"))
            func range(_ values: [Double]) -> String { String(format: "%.2f … %.2f", values.min() ?? 0, values.max() ?? 0) }
            func tally(_ ok: (GenerationCheck.Shot) -> Bool) -> String { "\(report.shots.filter(ok).count)/\(report.shots.count)" }
            print("\(count) one-shots in \(out) (details in check.json)")
            print("no NaN                     \(report.allFinite ? "pass" : "FAIL")")
            print("no clipping                \(report.noClipping ? "pass" : "FAIL")  peak \(range(report.shots.map(\.peak)))")
            print("onset within 20 ms         \(report.onsetsEarly ? "pass" : "FAIL")  \(tally { $0.onsetMilliseconds <= 20 })  \(range(report.shots.map(\.onsetMilliseconds))) ms")
            print("energy decays (>= \(Int(GenerationCheck.minimumDecayDB)) dB)    \(report.allDecay ? "pass" : "FAIL")  \(tally { $0.decayDB >= GenerationCheck.minimumDecayDB })  \(range(report.shots.map(\.decayDB))) dB")
            return
        }
        let shots = try trained.generate(count: count, className: className, temperature: temperature, seed: seed)
        for (i, shot) in shots.enumerated() {
            let url = outURL.appendingPathComponent(String(format: "%@-%03d.wav", shot.0 ?? "oneshot", i + 1))
            try trained.write(shot.1, to: url)
            print(url.path)
        }
    }
}

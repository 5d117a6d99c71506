import ArgumentParser
import DrumVAE
import Foundation
import Synchronization
import Torch

/// Set by SIGINT/SIGTERM; the training loop checkpoints and stops at the next step.
private let stopSignal = Atomic<Int32>(0)

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train the drum one-shot VAE on a folder made by `timbre prep`.",
        discussion: """
        Writes RUN/config.json, RUN/checkpoint.pt (every --checkpoint-every steps, and on \
        Ctrl-C or SIGTERM), RUN/log.jsonl and RUN/split.json. `--resume` continues a run \
        after an interruption or a crash with the same step count and optimiser state. \
        `--from RUN` (or `--from default`, the shipped model) fine-tunes: the source's \
        architecture and weights, a fresh optimiser and step count, this folder's own split \
        and this command line's training options.
        """)

    @Argument(help: "The prepared dataset folder (manifest.jsonl + WAVs).")
    var dataset: String

    @Option(help: "The run folder to write.")
    var out: String

    @Option(help: "Train for this many minutes of wall time.")
    var minutes: Double?

    @Option(help: "Train until this total step count.")
    var steps: Int?

    @Option(help: "Clips per step.")
    var batch: Int = 8

    @Option(help: "Latent dimensions (default 16).")
    var latent: Int?

    @Option(help: "Seed for initialisation, data order and noise.")
    var seed: UInt64 = 1

    @Flag(help: "Condition the decoder on the manifest's drum classes.")
    var conditional = false

    @Flag(help: "Continue the run in --out from its checkpoint.")
    var resume = false

    @Option(help: ArgumentHelp("Start a new run from a trained run's weights (or `default`, the shipped model): its architecture, a fresh optimiser and step count, this run's own split and settings.", valueName: "run"))
    var from: String?

    @Flag(help: "Train on every clip, holding no kit out (for a model to ship; evaluate the recipe with the default split).")
    var allKits = false

    @Option(help: "Decoder output: complex (phase-aware, the default), magnitude (the baseline) or synth (sinusoids, filtered noise and a transient).")
    var representation: Representation?

    @Option(help: "Synth model: sinusoids (default 32).")
    var sinusoids: Int?

    @Option(help: "Synth model: filtered-noise bands (default 64).")
    var noiseBands: Int?

    @Option(help: "Synth model: samples of the learned transient (default 2048).")
    var transientSamples: Int?

    @Option(help: "Synth model: damped sinusoids (mel-spaced, per-clip gain and decay) the transient is made of; 0: its samples come straight from a linear head, as in runs made before 2026-12-08 (default 64).")
    var transientBands: Int?

    @Flag(inversion: .prefixedNo, help: "Synth model: each noise band gets a per-clip onset level and decay, as each sinusoid does (default on; off in runs made before it existed).")
    var noiseEnvelope: Bool?

    @Option(help: ArgumentHelp("Augmentation: random gain per clip and step within ± this many dB (0: off).", valueName: "dB"))
    var gainAugmentation: Double = 6

    @Option(help: ArgumentHelp("Augmentation: random time shift per clip and step within ± this many ms, never cutting the onset (0: off).", valueName: "ms"))
    var shiftAugmentation: Double = 10

    @Option(help: "Convolution channels (default 96).")
    var channels: Int?

    @Option(help: "KL weight after warm-up.")
    var beta: Double = 1e-4

    @Option(help: "Steps of KL warm-up.")
    var klWarmup: Int = 1000

    @Option(help: ArgumentHelp("FFT sizes of the training loss, comma-separated powers of two from 16 up (the evaluation always uses 2048,1024,512,256,128).", valueName: "sizes"))
    var lossScales: LossScales = LossScales(sizes: [1024])

    @Option(help: "Weight of the log-magnitude term of the loss (spectral convergence has weight 1).")
    var logWeight: Double = 1

    @Option(help: "Complex model: steps trained on the magnitude maps alone (the baseline's loss) before the waveform loss.")
    var magnitudeWarmup: Int = 0

    @Option(help: "Complex model: weight of the supervised phase loss (phase, group delay, instantaneous frequency) during the magnitude warm-up.")
    var phaseWeight: Double = 0

    @Option(help: "Complex model: weight of the magnitude loss on the decoder's own spectrum, added to the waveform loss after the warm-up.")
    var spectrumWeight: Double = 0

    @Flag(inversion: .prefixedNo, help: "Complex model: the phase maps give each bin's phase relative to its own rotation per frame (steady partials and clicks give maps constant in time; the default).")
    var demodulatedPhase: Bool?

    @Option(help: "Learning rate (AdamW).")
    var learningRate: Double = 1e-3

    @Option(help: "Steps between checkpoints.")
    var checkpointEvery: Int = 200

    @Option(help: "Steps between validation passes.")
    var validateEvery: Int = 200

    @Flag(help: "Skip writing RUN/report.html at the end.")
    var noReport = false

    @OptionGroup var torch: TorchOptions

    func validate() throws {
        if minutes == nil && steps == nil { throw ValidationError("give --minutes or --steps") }
        if let minutes, !(minutes > 0) { throw ValidationError("--minutes must be more than 0") }
        if let steps, steps < 1 { throw ValidationError("--steps must be at least 1") }
        if batch < 1 || (latent ?? 16) < 1 || (channels ?? 96) < 16 { throw ValidationError("--batch and --latent must be at least 1, --channels at least 16") }
        if !(logWeight >= 0) || magnitudeWarmup < 0 || !(phaseWeight >= 0) || !(spectrumWeight >= 0) {
            throw ValidationError("--log-weight, --magnitude-warmup, --phase-weight and --spectrum-weight must be 0 or more")
        }
        if !(beta >= 0) || klWarmup < 0 { throw ValidationError("--beta and --kl-warmup must be 0 or more") }
        if !(learningRate > 0) { throw ValidationError("--learning-rate must be more than 0") }
        if checkpointEvery < 1 || validateEvery < 1 { throw ValidationError("--checkpoint-every and --validate-every must be at least 1") }
        // Options that would do nothing are refused rather than silently ignored.
        // With --from the representation is the source's: the trainer checks these against it.
        if (representation ?? .complex) != .complex && (magnitudeWarmup > 0 || phaseWeight > 0 || spectrumWeight > 0 || demodulatedPhase == false) {
            throw ValidationError("--magnitude-warmup, --phase-weight, --spectrum-weight and --no-demodulated-phase are for the complex model")
        }
        if phaseWeight > 0 && magnitudeWarmup == 0 && spectrumWeight == 0 {
            throw ValidationError("--phase-weight acts on the magnitude loss: give --magnitude-warmup or --spectrum-weight with it")
        }
        if (sinusoids ?? 32) < 2 || (noiseBands ?? 64) < 2 || (transientSamples ?? 2048) < 1 || (transientBands ?? 64) < 0 {
            throw ValidationError("--sinusoids and --noise-bands need at least 2, --transient-samples at least 1, --transient-bands at least 0")
        }
        if gainAugmentation < 0 || shiftAugmentation < 0 { throw ValidationError("--gain-augmentation and --shift-augmentation are not negative") }
        if from != nil && resume { throw ValidationError("--from starts a new run, --resume continues one: give one of them") }
    }

    func run() throws {
        torch.apply()
        var config = DrumVAEConfig()
        config.batchSize = batch
        config.seed = seed
        config.beta = beta
        config.klWarmupSteps = klWarmup
        config.learningRate = learningRate
        config.logWeight = logWeight
        config.magnitudeWarmupSteps = magnitudeWarmup
        config.phaseWeight = phaseWeight
        config.spectrumWeight = spectrumWeight
        config.gainAugmentation = gainAugmentation
        config.shiftAugmentation = shiftAugmentation
        config.lossScales = lossScales.sizes
        config.checkpointEvery = checkpointEvery
        config.validateEvery = validateEvery
        if allKits { config.allKits = true }
        var choice = ArchitectureChoice()
        choice.latentSize = latent
        choice.channels = channels
        choice.representation = representation
        choice.conditional = conditional ? true : nil
        choice.demodulatedPhase = demodulatedPhase
        choice.sinusoids = sinusoids
        choice.noiseBands = noiseBands
        choice.transientSamples = transientSamples
        choice.transientBands = transientBands
        choice.noiseEnvelope = noiseEnvelope
        choice.apply(to: &config)
        let request = TrainingRequest(dataset: URL(fileURLWithPath: dataset), run: URL(fileURLWithPath: out),
                                      steps: steps, minutes: minutes, resume: resume, config: config,
                                      from: try from.map(DefaultModel.resolve), architectureChoice: choice)
        let trainer = try Trainer(request: request)
        signal(SIGINT) { _ in stopSignal.store(SIGINT, ordering: .relaxed) }
        signal(SIGTERM) { _ in stopSignal.store(SIGTERM, ordering: .relaxed) }
        // A parent may hand us a blocked signal mask (Foundation's Process does): unblock the two we handle.
        var handled = sigset_t()
        sigemptyset(&handled)
        sigaddset(&handled, SIGINT)
        sigaddset(&handled, SIGTERM)
        sigprocmask(SIG_UNBLOCK, &handled, nil)
        let c = trainer.config
        FileHandle.standardError.write(Data((trainer.dataset.splitDescription + "\n").utf8))
        FileHandle.standardError.write(Data(("train: \(trainer.dataset.training.count) training + \(trainer.dataset.validation.count) validation clips, "
            + "\(c.representation.rawValue) model, \(trainer.model.parameterCount) parameters, from step \(trainer.step)"
            + (c.initialWeights.map { " (weights of \($0))" } ?? "") + "\n").utf8))
        let bar = TrainingBar()
        let summary = try trainer.run(steps: steps, minutes: minutes, progress: bar.update,
                                      shouldStop: { stopSignal.load(ordering: .relaxed) != 0 })
        bar.finish()
        print(String(format: "step %d: validation loss %.4f, multi-scale spectral convergence %.2f dB, %.2f steps/s",
                     summary.step, summary.validationLoss, summary.validationConvergenceDB, summary.stepsPerSecond))
        if !noReport {
            try RunReport.write(TrainedRun(URL(fileURLWithPath: out)), dataset: trainer.dataset)
            print("report: \(trainer.folder.report.path)")
        }
        let signalNumber = stopSignal.load(ordering: .relaxed)
        if summary.interrupted {
            print("interrupted: checkpoint saved at step \(summary.step); continue with --resume")
            Foundation.exit(128 + signalNumber)
        }
    }
}

/// The training progress line: a bar with the step, loss, steps per second and time left.
final class TrainingBar {
    private let isTerminal = isatty(STDERR_FILENO) == 1
    private var lastDraw = Date.distantPast
    private var lastLine = Date.distantPast

    func update(_ p: TrainingProgress) {
        let now = Date()
        let width = 24, filled = Int(p.fraction * Double(width))
        let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
        let text = String(format: "train %@ %3.0f%% step %d  loss %.4f  %.2f steps/s  %@ left",
                          bar, p.fraction * 100, p.step, p.loss, p.stepsPerSecond, Self.clock(p.secondsLeft))
        if isTerminal {
            guard now.timeIntervalSince(lastDraw) > 0.2 else { return }
            lastDraw = now
            FileHandle.standardError.write(Data("\r\(text) ".utf8))
        } else if now.timeIntervalSince(lastLine) > 10 {
            lastLine = now
            FileHandle.standardError.write(Data("\(text)\n".utf8))
        }
    }

    func finish() {
        if isTerminal { FileHandle.standardError.write(Data("\n".utf8)) }
    }

    static func clock(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String(format: "%d:%02d", s / 60, s % 60)
    }
}

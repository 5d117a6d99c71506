import Foundation
import Testing
import TestSupport
import Torch
@testable import DrumVAE

/// The synth decoder (`SynthDecoder`): shapes, the sinusoids' frequency and phase, and the
/// training augmentation.
@Suite(.serialized)
struct SynthTests {
    static func config() -> DrumVAEConfig {
        var config = smallConfig(steps: 6)
        config.representation = .synth
        config.sinusoids = 8
        config.noiseBands = 16
        return config
    }

    @Test func shapesOfMapsControlsAndAudio() throws {
        let config = Self.config()
        let model = try DrumVAEModel(config: config)
        let synth = try #require(model.synth)
        let z = try Tensor.randn([2, config.latentSize])
        let maps = try model.decoderMaps(z, condition: nil)
        #expect(maps.shape == [2, 2 * 8 + 16, config.frames])
        let clip = try synth.clip(model.decoderInput(z, condition: nil))
        #expect(clip.shape == [2, 4 * 8])
        let (frequency, amplitude) = try synth.controls(maps: maps, clipControls: clip)
        #expect(frequency.shape == [2, 8, config.frames] && amplitude.shape == [2, 8, config.frames])
        #expect(try synth.toSamples(frequency).shape == [2, 8, config.clipSamples / 4])
        #expect(try synth.oscillatorSpectrum(frequency: frequency, amplitude: amplitude).shape == [2, config.bins, config.frames, 2])
        let audio = try model.decode(z)
        #expect(audio.shape == [2, config.clipSamples])
        let values = try audio.floats()
        #expect(values.allSatisfy { $0.isFinite })
        #expect(values.contains { $0 != 0 })
        // The band matrix splits every bin between two neighbouring bands.
        let bands = try synth.bands.floats(), bins = config.bins
        for k in 0..<bins {
            let column = (0..<16).map { bands[$0 * bins + k] }
            #expect(Swift.abs(column.reduce(0, +) - 1) < 1e-5 && column.filter { $0 > 0 }.count <= 2)
        }
        // No STFT maps to invert: the spectrum comes from the synthesised audio.
        #expect(try model.decodeSpectrum(z, condition: nil).shape == [2, bins, config.frames, 2])
    }

    /// The transient bank: one band at gain 1, the middle decay (300 per second) and the middle
    /// delay (10 ms) is one damped sinusoid at its mel-spaced frequency from 10 ms on, faded,
    /// silent before and after T samples; a
    /// configuration from before the bank (no `transientBands`) keeps the linear head's samples.
    @Test func transientBankIsDampedSinusoids() throws {
        var config = Self.config()
        config.transientBands = 8
        config.transientSamples = 1024
        let model = try DrumVAEModel(config: config)
        let synth = try #require(model.synth)
        #expect(synth.transient.weight.shape == [17, config.latentSize])
        let j = 5
        try Torch.withoutGradients {
            try synth.transient.weight.assign(synth.transient.weight * 0.0)
            try synth.transient.bias.assign((0..<17).map { $0 < 8 ? ($0 == j ? 0 : -40) : 0 })
        }
        let shot = try synth.transientAudio(model.decoderInput(Tensor.zeros([1, config.latentSize]), condition: nil)).floats()
        #expect(shot.count == config.clipSamples)
        let f = SynthDecoder.melSpaced(count: 8, from: 40, to: 16000)[j]
        let window = try synth.transientWindow.floats()
        var worst = 0.0
        for n in 0..<1024 {
            let t = max(0, Double(n) / Double(config.sampleRate) - 0.01)
            let expected = Foundation.sin(2 * Double.pi * f * t) * Foundation.exp(-300 * t) * Double(window[n])
            worst = max(worst, Swift.abs(Double(shot[n]) - expected))
        }
        // float32 arguments: 2π·f·τ reaches about 600 rad here, held to 4e-5 rad.
        #expect(worst < 1e-4, "largest difference from e^(-300τ)·sin(2π·\(f)·τ), τ = t − 10 ms: \(worst)")
        #expect(shot[0..<441].allSatisfy { $0 == 0 } && shot[441..<460].contains { $0 != 0 })
        #expect(shot[1024...].allSatisfy { $0 == 0 })

        // A run's configuration from before the bank reads as the linear transient.
        var old = try JSONSerialization.jsonObject(with: JSONEncoder().encode(Self.config())) as! [String: Any]
        old.removeValue(forKey: "transientBands")
        let decoded = try JSONDecoder().decode(DrumVAEConfig.self, from: JSONSerialization.data(withJSONObject: old))
        #expect(decoded.transientBandCount == 0)
        let linear = try #require(try DrumVAEModel(config: decoded).synth)
        #expect(linear.transient.weight.shape == [decoded.transientLength, config.latentSize] && linear.clickFrequencies == nil)
    }

    /// The noise envelope: with the head's onset at 1 and its decay at 10·e^(2.5·tanh 0.5) per
    /// second for every band, each bin of the noise's STFT is e^(1 − decay·t) times what the maps
    /// alone give, t the frame's time; a configuration from before the envelope has no head.
    @Test func noiseEnvelopeScalesEachFrame() throws {
        let config = Self.config()
        #expect(config.hasNoiseEnvelope)
        let model = try DrumVAEModel(config: config)
        let synth = try #require(model.synth)
        let head = try #require(synth.noiseHead)
        let m = config.noiseBandCount, f = config.frames
        try Torch.withoutGradients {
            try head.weight.assign(head.weight * 0.0)
            try head.bias.assign((0..<(2 * m)).map { $0 < m ? 1 : 0.5 })
        }
        let maps = try Tensor.randn([1, synth.mapCount, f]), noise = try synth.noise(rows: 1)
        let input = try model.decoderInput(Tensor.zeros([1, config.latentSize]), condition: nil)
        let shaped = try synth.noiseSpectrum(maps: maps, input: input, noise: noise).floats()
        var plain = config
        plain.noiseEnvelope = false
        let flat = try #require(try DrumVAEModel(config: plain).synth)
        #expect(flat.noiseHead == nil)
        let reference = try flat.noiseSpectrum(maps: maps, input: input, noise: noise).floats()
        let decay = 10 * Foundation.exp(2.5 * Foundation.tanh(0.5))
        var worst = 0.0
        for bin in 0..<config.bins {
            for t in 0..<f {
                let time = Double(t * config.hop) / Double(config.sampleRate)
                for part in 0..<2 {
                    let i = (bin * f + t) * 2 + part
                    let expected = Double(reference[i]) * Foundation.exp(1 - decay * time)
                    worst = max(worst, Swift.abs(Double(shaped[i]) - expected) / (Swift.abs(expected) + 1e-6))
                }
            }
        }
        #expect(worst < 1e-4, "largest relative difference from e^(1 − decay·t) × the maps' noise: \(worst)")
        var old = try JSONSerialization.jsonObject(with: JSONEncoder().encode(Self.config())) as! [String: Any]
        old.removeValue(forKey: "noiseEnvelope")
        let decoded = try JSONDecoder().decode(DrumVAEConfig.self, from: JSONSerialization.data(withJSONObject: old))
        let oldSynth = try #require(try DrumVAEModel(config: decoded).synth)
        #expect(!decoded.hasNoiseEnvelope && oldSynth.noiseHead == nil)
    }

    /// Frame controls [1, K, F]: sinusoid `j` with offset map `offset` and onset level 0, every
    /// other sinusoid silent, no glide, the slowest decay.
    static func controls(_ synth: SynthDecoder, config: DrumVAEConfig, sinusoid j: Int, offset: Float) throws -> (Tensor, Tensor) {
        let k = synth.sinusoids, f = config.frames
        var maps = [Float](repeating: 0, count: synth.mapCount * f)
        for t in 0..<f { maps[j * f + t] = offset }
        var clip = [Float](repeating: 0, count: 4 * k)
        for i in 0..<k {
            clip[i] = i == j ? 0 : -40  // onset log-amplitude
            clip[k + i] = -20  // tanh → -1: decay 10·e^-2.5 per second
        }
        return try synth.controls(maps: Tensor(maps, shape: [1, synth.mapCount, f]), clipControls: Tensor(clip, shape: [1, 4 * k]))
    }

    /// The frequency of the largest peak of a 16384-point Hann-windowed FFT of the signal's
    /// samples 8192…24575 (the centred STFT's second frame: no reflected padding in it).
    static func peakFrequency(_ audio: Tensor, sampleRate: Int) throws -> Double {
        let n = 16384
        let spec = try audio.narrow(1, start: 0, length: 2 * n).stft(nFFT: n, hop: n, window: Tensor.hannWindow(n))
        let magnitude = try magnitude(spec).narrow(2, start: 1, length: 1).floats()
        let peak = magnitude.indices.max { magnitude[$0] < magnitude[$1] }!
        return Double(peak) * Double(sampleRate) / Double(n)
    }

    @Test(arguments: [(2, Float(0)), (5, Float(0.5)), (7, Float(-0.9))])
    func steadySinusoidHasTheExpectedFrequency(sinusoid j: Int, offset: Float) throws {
        let config = Self.config()
        let model = try DrumVAEModel(config: config)
        let synth = try #require(model.synth)
        let (frequency, amplitude) = try Self.controls(synth, config: config, sinusoid: j, offset: offset)
        let base = SynthDecoder.lowest * pow(SynthDecoder.highest / SynthDecoder.lowest, Double(j) / 7)
        let expected = base * pow(2, Double(tanh(offset)) * synth.offsetRange)
        let f = try frequency.floats()
        #expect(Swift.abs(Double(f[j * config.frames]) / expected - 1) < 1e-5)
        let audio = try synth.oscillators(frequency: frequency, amplitude: amplitude, window: model.window)
        let peak = try Self.peakFrequency(audio, sampleRate: config.sampleRate)
        // Within one FFT bin (2.7 Hz) of the head's frequency.
        #expect(Swift.abs(peak - expected) <= Double(config.sampleRate) / 16384, "peak at \(peak) Hz, expected \(expected)")
    }

    /// Frequencies that jump between frames (200 Hz and 1 kHz in turn): the waveform never
    /// jumps (each sample moves by at most about 2π·f/sr), and at every 4th sample (the
    /// quarter-rate samples, which the band-limited interpolation passes through) it is the
    /// sine of the running sum of the interpolated frequency, computed here in double precision.
    @Test func phaseIsContinuousAcrossFrames() throws {
        let config = Self.config()
        let model = try DrumVAEModel(config: config)
        let synth = try #require(model.synth)
        let f = config.frames
        let hz = (0..<f).map { Float($0 % 2 == 0 ? 200 : 1000) }
        let frequency = try Tensor(hz, shape: [1, 1, f]), amplitude = try Tensor.full([1, 1, f], 1)
        let x = try synth.oscillators(frequency: frequency, amplitude: amplitude, window: model.window).floats()
        let step = 2 * Double.pi * 1000 / Double(config.sampleRate)
        var worst = 0.0
        for i in 1024..<(x.count - 1024) { worst = max(worst, Double(Swift.abs(x[i] - x[i - 1]))) }
        #expect(worst <= step * 1.01, "largest sample-to-sample change \(worst), a sinusoid at 1 kHz moves at most \(step)")
        var phase = 0.0, largest = 0.0
        let lowHop = Double(config.hop / 4), lowRate = Double(config.sampleRate) / 4
        for m in 0..<(x.count / 4 - 256) {
            let position = Double(m) / lowHop, t = Int(position), w = position - Double(t)
            phase += 2 * Double.pi * (Double(hz[t]) * (1 - w) + Double(hz[t + 1]) * w) / lowRate
            if m >= 256 { largest = max(largest, Swift.abs(sin(phase) - Double(x[4 * m]))) }
        }
        print("phase continuity: largest step \(worst) (bound \(step)), largest difference from the double-precision phase \(largest)")
        #expect(largest < 2e-3, "differs from the double-precision running sum by \(largest)")
    }

    /// `toSamples` is linear interpolation between frames (frame t at quarter-rate sample t·R,
    /// the last frame held), and `phase` the running sum over samples of 2π·f/rate of that
    /// interpolation, as a double-precision sum gives it (modulo 2π), at every sample of the
    /// clip, for frequencies drawn between 30 Hz and 4 kHz (seeded).
    @Test func closedFormPhaseIsTheRunningSum() throws {
        var config = Self.config()
        config.clipSamples = 88200
        let model = try DrumVAEModel(config: config)
        let synth = try #require(model.synth)
        let seed: UInt64 = 20261207
        print("closedFormPhaseIsTheRunningSum: seed \(seed)")
        var state = seed
        func uniform() -> Double {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Double(state >> 11) / Double(1 << 53)
        }
        let f = config.frames, k = 2, r = synth.samplesPerFrame, n = synth.lowSamples
        let hz = (0..<(k * f)).map { _ in Float(30 * Foundation.pow(4000 / 30, uniform())) }
        let frequency = try Tensor(hz, shape: [1, k, f])
        let phase = try synth.phase(frequency: frequency).floats(), level = try synth.toSamples(frequency).floats()
        #expect(phase.count == k * n && level.count == k * n)
        var worstPhase = 0.0, worstLevel = 0.0
        for j in 0..<k {
            var sum = 0.0
            for m in 0..<n {
                let t = min(m / r, f - 1), w = Double(m % r) / Double(r)
                let next = t + 1 < f ? Double(hz[j * f + t + 1]) : Double(hz[j * f + t])
                let value = m / r >= f - 1 ? Double(hz[j * f + f - 1]) : Double(hz[j * f + t]) * (1 - w) + next * w
                sum += 2 * Double.pi * value / synth.lowRate
                let got = Double(phase[j * n + m])
                worstPhase = max(worstPhase, Swift.abs(Foundation.atan2(Foundation.sin(got - sum), Foundation.cos(got - sum))))
                worstLevel = max(worstLevel, Swift.abs(Double(level[j * n + m]) - value) / value)
            }
        }
        print("closed-form phase: largest error \(worstPhase) rad, interpolation \(worstLevel) (relative)")
        #expect(worstPhase < 1e-3 && worstLevel < 1e-5)
    }

    @Test func augmentationIsSeededBoundedAndKeepsTheOnset() throws {
        var config = Self.config()
        config.gainAugmentation = 6
        config.shiftAugmentation = 10
        let augmentation = Augmentation(config: config)
        #expect(augmentation.shiftSamples == 441)
        // A clip whose onset is at sample 100: a decaying burst.
        var clip = [Float](repeating: 0, count: 4000)
        for i in 100..<4000 { clip[i] = Float(exp(-Double(i - 100) / 500) * sin(Double(i) * 0.3)) }
        let onset = Augmentation.onset(clip)
        var shifts = Set<Int>(), gains: [Float] = []
        for step in 0..<200 {
            let (gain, shift) = augmentation.draw(step: step, row: step % 3)
            #expect(gain >= Float(pow(10, -6.0 / 20)) - 1e-6 && gain <= Float(pow(10, 6.0 / 20)) + 1e-6)
            #expect(Swift.abs(shift) <= 441)
            shifts.insert(shift)
            gains.append(gain)
            let out = augmentation.apply(clip, step: step, row: step % 3)
            #expect(out == augmentation.apply(clip, step: step, row: step % 3), "not a function of (step, row)")
            // The onset moves by the shift, but never before the start: the attack is whole.
            let moved = Augmentation.onset(out)
            #expect(moved == onset + max(shift, -onset))
            let peak = out.reduce(0) { max($0, Swift.abs($1)) }, original = clip.reduce(0) { max($0, Swift.abs($1)) }
            #expect(Swift.abs(peak - original * gain) < 1e-5)
        }
        #expect(shifts.count > 50 && shifts.contains { $0 < 0 } && shifts.contains { $0 > 0 })
        #expect(gains.contains { $0 < 0.8 } && gains.contains { $0 > 1.25 })
        // Off: the clip itself.
        config.gainAugmentation = 0
        config.shiftAugmentation = 0
        #expect(Augmentation(config: config).apply(clip, step: 3, row: 1) == clip)
        // A run made before augmentation existed reads as off.
        let old = try JSONDecoder().decode(DrumVAEConfig.self, from: Data(#"{"sampleRate":44100,"clipSamples":88200,"fftSize":1024,"hop":256,"latentSize":16,"channels":96,"representation":"complex","conditional":false,"classes":[],"batchSize":8,"learningRate":0.001,"beta":0.0001,"klWarmupSteps":1000,"gradientClip":1,"seed":1,"checkpointEvery":200,"validateEvery":200,"lossScales":[1024]}"#.utf8))
        #expect(old.gainAugmentation == nil && old.shiftAugmentation == nil && Augmentation(config: old).isOff)
    }

    /// The synth run trained 6 steps straight equals 3 steps, stop, resume to 6, with
    /// augmentation on (its draws change the batch) and the synth's noise drawn every step.
    @Test func synthResumeWithAugmentationIsExact() throws {
        let kit = try makeTestKit(perKit: 4, kits: ["HardElectro1", "ElectricEmpireKit"])
        let dir = TemporaryDirectory()
        var config = Self.config()
        config.checkpointEvery = 3
        config.gainAugmentation = 6
        config.shiftAugmentation = 10
        let straight = dir.file("straight"), resumed = dir.file("resumed")
        let first = try train(kit: kit.url, run: straight, steps: 6, config: config)
        #expect(first.validationLoss.isFinite)
        try train(kit: kit.url, run: resumed, steps: 3, config: config)
        let summary = try train(kit: kit.url, run: resumed, steps: 6, resume: true, config: config)
        #expect(summary.step == 6)
        #expect(summary.validationLoss == first.validationLoss)
        let saved = try DrumVAEConfig.read(from: straight.appendingPathComponent("config.json"))
        #expect(saved.gainAugmentation == 6 && saved.shiftAugmentation == 10 && saved.representation == .synth)
        let names = try DrumVAEModel(config: saved).namedParameters.map(\.name)
        #expect(names.contains("synth_clip_w") && names.contains("synth_transient_w"))
        let a = try checkpointValues(straight, names: names + ["step"])
        let b = try checkpointValues(resumed, names: names + ["step"])
        for name in names + ["step"] { #expect(a[name] == b[name], "\(name) differs after resuming") }
        // The augmentation did change the batch it trained on.
        let dataset = try OneShotDataset(directory: kit.url, sampleRate: 44100, clipSamples: 88200)
        let clip = dataset.training[0].samples
        #expect(Augmentation(config: saved).apply(clip, step: 4, row: 0) != clip)
    }
}

import Foundation
import Torch

/// The synth decoder's heads and fixed tables (`Representation.synth`): differentiable
/// synthesis in the DDSP (Engel et al. 2020) / Drumblender (Shier et al. 2023) family.
///
/// The shared trunk's 1×1 output conv gives, per STFT frame (hop 256), 2K + M maps: K
/// frequency offsets, K log-amplitude offsets and M noise-band log-magnitudes. A linear head
/// on (z, class) gives, per one-shot, each sinusoid's onset log-amplitude, decay rate, glide
/// (octaves) and glide rate, and a second one the transient's samples. The one-shot is
///
/// - **K sinusoids**: log₂ f_k(t) = base_k + R·tanh(offset) + glide_k·e^(−t·rate_k) (bases
///   log-spaced 30 Hz … 4 kHz, R = 1.5 spacings), log A_k(t) = onset_k − decay_k·t + offset,
///   both at frame rate, linearly interpolated to the samples of a quarter rate (11 025 Hz);
///   the phase is the running sum of 2π·f/rate over those samples, so it is synthesised,
///   continuous and never predicted; sinusoids above 0.45 × that rate are muted. The sum is
///   brought to the full rate band-limited: its STFT at N/4, hop/4 with a Hann window is,
///   bin for bin, ×4, the full-rate STFT at N, hop of the band-limited interpolation (a Hann
///   window is one cosine, so it interpolates exactly), added to the noise's STFT before
///   the one inverse STFT. (Sinusoids at the full rate cost 4× as much: 6 s a step here.)
/// - **filtered noise**: complex Gaussian noise on the decoder's STFT grid (N 1024, hop 256)
///   scaled per bin by the M band magnitudes (mel-spaced, linearly interpolated to the
///   bins); with `noiseEnvelope` each band's log-magnitude is onset_b − decay_b·t + map_b(t),
///   onset and decay per clip from a third linear head, as the sinusoids' amplitudes are;
/// - **a transient**: T samples (2048, 46 ms) from the latent, faded out over their second
///   half;
///
/// summed. Gradients reach every control through the waveform's spectral loss.
struct SynthDecoder {
    let config: DrumVAEConfig
    /// (z, class) → onset log-amplitude, decay, glide and glide rate of each sinusoid.
    let clip: Linear
    /// (z, class) → the transient: its samples, or with `transientBands` each band's
    /// log-gain and decay.
    let transient: Linear
    /// With `noiseEnvelope`: (z, class) → each noise band's onset log-magnitude and decay.
    let noiseHead: Linear?
    /// log₂ of each sinusoid's base frequency, [1, K, 1].
    let base: Tensor
    /// Each frame's time in seconds (frame t at sample t·hop), [1, 1, F].
    let times: Tensor
    /// Band magnitudes → bin magnitudes, [M, bins].
    let bands: Tensor
    /// The transient's fade, [T].
    let transientWindow: Tensor
    /// With `transientBands`: each band's angular frequency 2π·f_b, [1, M_t, 1], and each
    /// sample's time in seconds, [1, 1, T]; nil for the linear transient.
    let clickFrequencies: Tensor?
    let clickTimes: Tensor?
    /// The Hann window of the sinusoids' STFT at the quarter rate, [N / 4].
    let lowWindow: Tensor
    /// Per sample s of a frame (R = hop / 4 of them), [R]: s/R (`toSamples`), c·(s + 1) and
    /// c·s(s + 1)/(2R) with c = 2π/rate (`phase`).
    let rampFraction: Tensor, rampFrequency: Tensor, rampGlide: Tensor

    static let lowest = 30.0, highest = 4000.0
    /// The sinusoids run at the sample rate divided by this.
    static let divisor = 4

    var sinusoids: Int { config.sinusoidCount }
    var noiseBands: Int { config.noiseBandCount }
    var transientBands: Int { config.transientBandCount }
    /// The transient bank's frequencies, mel-spaced.
    static let clickLowest = 40.0, clickHighest = 16000.0
    /// Maps the trunk's output conv gives per frame.
    var mapCount: Int { 2 * sinusoids + noiseBands }
    /// Octaves each sinusoid's per-frame offset reaches either side of its base.
    var offsetRange: Double { 1.5 * log2(Self.highest / Self.lowest) / Double(max(1, sinusoids - 1)) }
    /// The sinusoids' sample rate.
    var lowRate: Double { Double(config.sampleRate) / Double(Self.divisor) }
    /// Samples per one-shot at that rate.
    var lowSamples: Int { config.clipSamples / Self.divisor }
    /// Sinusoids above this frequency are muted (aliasing).
    var ceiling: Double { 0.45 * lowRate }
    /// Bins of the quarter-rate STFT (the first of the decoder's bins).
    var lowBins: Int { config.fftSize / Self.divisor / 2 + 1 }

    init(config: DrumVAEConfig, _ params: ParameterList) throws {
        self.config = config
        for (name, value) in [("clip samples", config.clipSamples), ("hop", config.hop), ("FFT size", config.fftSize)]
        where value % (2 * Self.divisor) != 0 {
            throw DrumVAEError(path: "", reason: "the synth decoder needs a \(name) divisible by \(2 * Self.divisor), not \(value)")
        }
        let k = config.sinusoidCount, m = config.noiseBandCount, t = config.transientLength
        let inputs = config.latentSize + config.conditionSize
        let clip = try Linear("synth_clip", inputs, 4 * k, params)
        let bank = config.transientBandCount
        let transient = try Linear("synth_transient", inputs, bank > 0 ? 2 * bank + 1 : t, params)
        try Torch.withoutGradients {
            // Onsets start quiet (e^-3 per sinusoid), the transient near silence (e^-5 per band
            // of the bank, each decaying at 300 per second, 2.4 ms in, to begin with).
            var bias = try clip.bias.floats()
            for i in 0..<k { bias[i] -= 3 }
            try clip.bias.assign(bias)
            try transient.weight.assign(transient.weight * 0.05)
            if bank > 0 {
                try transient.bias.assign((0...(2 * bank)).map { $0 < bank ? Float(-5) : $0 == 2 * bank ? -1 : 0 })
            } else {
                try transient.bias.assign(transient.bias * 0.05)
            }
        }
        self.clip = clip
        self.transient = transient
        if config.hasNoiseEnvelope {
            // Starts as the maps alone do (onset 0 over their −4), decays at 10 per second. A
            // louder start (+3, e^-1 per bin) gave generated hats their noise sooner (step 1 000)
            // but a higher validation loss at every step to 7 000 (docs/DRUMVAE.md).
            let head = try Linear("synth_noise", inputs, 2 * m, params)
            try Torch.withoutGradients {
                try head.weight.assign(head.weight * 0.05)
                try head.bias.assign(head.bias * 0.0)
            }
            noiseHead = head
        } else {
            noiseHead = nil
        }
        let low = log2(Self.lowest), span = log2(Self.highest) - low
        base = try Tensor((0..<k).map { Float(low + span * Double($0) / Double(max(1, k - 1))) }, shape: [1, k, 1])
        times = try Tensor((0..<config.frames).map { Float(Double($0 * config.hop) / Double(config.sampleRate)) },
                           shape: [1, 1, config.frames])
        bands = try Tensor(Self.bandMatrix(bands: m, bins: config.bins, sampleRate: config.sampleRate), shape: [m, config.bins])
        let half = t / 2
        transientWindow = try Tensor((0..<t).map { i in
            i < half ? 1 : Float(0.5 * (1 + Foundation.cos(Double.pi * Double(i - half) / Double(t - half))))
        }, shape: [t])
        lowWindow = try Tensor.hannWindow(config.fftSize / Self.divisor)
        let r = config.hop / Self.divisor, c = 2 * Double.pi * Double(Self.divisor) / Double(config.sampleRate)
        rampFraction = try Tensor((0..<r).map { Float(Double($0) / Double(r)) }, shape: [r])
        rampFrequency = try Tensor((0..<r).map { Float(c * Double($0 + 1)) }, shape: [r])
        rampGlide = try Tensor((0..<r).map { Float(c * Double($0 * ($0 + 1)) / Double(2 * r)) }, shape: [r])
        if bank > 0 {
            let frequencies = Self.melSpaced(count: bank, from: Self.clickLowest, to: Self.clickHighest)
            let rate = Double(config.sampleRate)
            clickFrequencies = try Tensor(frequencies.map { Float(2 * Double.pi * $0) }, shape: [1, bank, 1])
            clickTimes = try Tensor((0..<t).map { Float(Double($0) / rate) }, shape: [1, 1, t])
        } else {
            clickFrequencies = nil
            clickTimes = nil
        }
    }

    /// `count` frequencies equally spaced in mel from `low` to `high` Hz.
    static func melSpaced(count: Int, from low: Double, to high: Double) -> [Double] {
        func mel(_ f: Double) -> Double { 2595 * log10(1 + f / 700) }
        func hz(_ m: Double) -> Double { 700 * (Foundation.pow(10, m / 2595) - 1) }
        let a = mel(low), b = mel(high)
        return (0..<count).map { hz(a + (b - a) * Double($0) / Double(max(1, count - 1))) }
    }

    /// Linear interpolation weights [bands × bins] from M band centres equally spaced in mel
    /// (0 … sr/2) to the STFT's bins: each bin is a mix of its two nearest band centres.
    static func bandMatrix(bands m: Int, bins: Int, sampleRate: Int) -> [Float] {
        func mel(_ f: Double) -> Double { 2595 * log10(1 + f / 700) }
        let top = mel(Double(sampleRate) / 2)
        var w = [Float](repeating: 0, count: m * bins)
        for k in 0..<bins {
            let position = mel(Double(k) * Double(sampleRate) / Double(2 * (bins - 1))) / top * Double(m - 1)
            let i = min(m - 2, Int(position)), frac = position - Double(i)
            w[i * bins + k] += Float(1 - frac)
            w[(i + 1) * bins + k] += Float(frac)
        }
        return w
    }

    // MARK: Controls

    /// Each sinusoid's frequency (Hz) and amplitude per frame, [B, K, F] each, from the
    /// trunk's maps [B, 2K + M, F] and the per-clip controls [B, 4K].
    func controls(maps: Tensor, clipControls c: Tensor) throws -> (frequency: Tensor, amplitude: Tensor) {
        let k = sinusoids
        let offset = try maps.narrow(1, start: 0, length: k), level = try maps.narrow(1, start: k, length: k)
        let onset = try c.narrow(1, start: 0, length: k).unsqueeze(2)
        let decay = try Self.decayRate(c.narrow(1, start: k, length: k)).unsqueeze(2)
        let glide = try (c.narrow(1, start: 2 * k, length: k).tanh() * 2.0).unsqueeze(2)
        let rate = try ((c.narrow(1, start: 3 * k, length: k).tanh() * -2.0).exp() * 50.0).unsqueeze(2)
        let log2f = try base + offset.tanh() * offsetRange + glide * (rate * times * -1.0).exp()
        let frequency = try (log2f * M_LN2).exp()
        let audible = try (ceiling - frequency).greater(than: 0)
        let amplitude = try (onset + level - decay * times).clamp(max: 2).exp() * audible
        return (frequency, amplitude)
    }

    /// A decay rate per second, 10·e^(2.5·tanh(x)) (0.82–122), from a head's output: the
    /// sinusoids' and the noise bands' (`decayRate(_: String)` is its TorchScript).
    static func decayRate(_ x: Tensor) throws -> Tensor { try (x.tanh() * 2.5).exp() * 10.0 }
    static func decayRate(_ x: String) -> String { "((\(x).tanh() * 2.5).exp() * 10.0)" }

    /// Quarter-rate samples per frame (hop / 4): frame t sits at sample t·R.
    var samplesPerFrame: Int { config.hop / Self.divisor }

    /// Each frame's step to the next frame, [B, K, F]: x_{t+1} − x_t, 0 for the last (held).
    func frameSteps(_ x: Tensor) throws -> Tensor {
        let f = config.frames
        return try (x.narrow(2, start: 1, length: f - 1) - x.narrow(2, start: 0, length: f - 1)).pad([0, 1])
    }

    /// Frame-rate values [B, K, F, R] laid out as [B, K, F·R] samples, cut to the clip's
    /// quarter-rate length [B, K, clipSamples / 4].
    func frameSamples(_ x: Tensor) throws -> Tensor {
        try x.reshape([x.shape[0], x.shape[1], config.frames * samplesPerFrame]).narrow(2, start: 0, length: lowSamples)
    }

    /// Frame-rate controls [B, K, F] at every quarter-rate sample [B, K, clipSamples / 4]:
    /// linear between frames (sample t·R + s is x_t + (x_{t+1} − x_t)·s/R), the last frame held
    /// to the end. The same values as `F.interpolate(align_corners=True)` to (F−1)·R + 1
    /// samples, computed as one broadcast product (with `phase`, a training step went from
    /// 1.96 to 2.44 steps/s: docs/BENCHMARKS.md).
    func toSamples(_ x: Tensor) throws -> Tensor {
        try frameSamples(x.unsqueeze(3) + frameSteps(x).unsqueeze(3) * rampFraction)
    }

    /// The phase [B, K, clipSamples / 4] of sinusoids whose frequencies (Hz) [B, K, F] are
    /// interpolated linearly between frames: the running sum of 2π·f/rate over samples, in
    /// closed form. Within frame t (frequency f_t, step d_t), sample s has
    /// Φ_t + c·((s + 1)·f_t + d_t·s(s + 1)/(2R)), c = 2π/rate, and Φ_t, the sum over the
    /// frames before, c·Σ(R·f + (R − 1)/2·d), is accumulated in float64 over frames and reduced
    /// modulo 2π (a float32 running sum over 22 050 samples reaches 10⁴ rad, where float32
    /// values are 0.001 rad apart); within a frame the phase stays below c·R·f ≈ 150 rad.
    func phase(frequency: Tensor) throws -> Tensor {
        let r = Double(samplesPerFrame), c = 2 * Double.pi / lowRate, f = config.frames
        let step = try frameSteps(frequency)
        let advance = try (frequency * r + step * ((r - 1) / 2)) * c
        let before = try Tensor.cat([Tensor.zeros([frequency.shape[0], frequency.shape[1], 1]),
                                     advance.narrow(2, start: 0, length: f - 1).cumsum(2, float64: true).remainder(2 * Double.pi).toFloat()], dim: 2)
        return try frameSamples(before.unsqueeze(3) + frequency.unsqueeze(3) * rampFrequency + step.unsqueeze(3) * rampGlide)
    }

    /// The STFT [B, bins, F, 2] (the decoder's grid) of the sum of sinusoids for frame-rate
    /// frequencies (Hz) and amplitudes [B, K, F]: at the quarter rate (`phase`, `toSamples`);
    /// its STFT at N/4, hop/4, ×4, zero above.
    func oscillatorSpectrum(frequency: Tensor, amplitude: Tensor) throws -> Tensor {
        let x = try (phase(frequency: frequency).sin() * toSamples(amplitude)).sum([1])
        let spec = try x.stft(nFFT: config.fftSize / Self.divisor, hop: config.hop / Self.divisor, window: lowWindow)
        let above = try Tensor.zeros([x.shape[0], config.bins - lowBins, config.frames, 2])
        return try Tensor.cat([spec, above], dim: 1) * Double(Self.divisor)
    }

    /// The sum of sinusoids [B, clipSamples] at the full rate (`oscillatorSpectrum` inverted).
    func oscillators(frequency: Tensor, amplitude: Tensor, window: Tensor) throws -> Tensor {
        try oscillatorSpectrum(frequency: frequency, amplitude: amplitude)
            .istft(nFFT: config.fftSize, hop: config.hop, window: window, length: config.clipSamples)
    }

    /// Complex Gaussian noise [rows, bins, F, 2] from libtorch's generator, drawn one row at a
    /// time so a row's noise does not depend on how rows are batched (the export draws the same).
    func noise(rows: Int) throws -> Tensor {
        try Tensor.cat((0..<rows).map { _ in try Tensor.randn([1, config.bins, config.frames, 2]) }, dim: 0)
    }

    /// The filtered noise's STFT [B, bins, F, 2]: `noise` scaled per bin by the band
    /// magnitudes: e^(map) from `maps`, or with the noise envelope
    /// e^(onset_b − decay_b·t + map_b(t)), onset and decay (0.8–120 per second) per clip from
    /// decoder inputs `input` (z, class) [B, D + K].
    func noiseSpectrum(maps: Tensor, input: Tensor, noise: Tensor) throws -> Tensor {
        var level = try maps.narrow(1, start: 2 * sinusoids, length: noiseBands)
        if let noiseHead {
            let m = noiseBands, h = try noiseHead(input)
            let onset = try h.narrow(1, start: 0, length: m).unsqueeze(2)
            let decay = try Self.decayRate(h.narrow(1, start: m, length: m)).unsqueeze(2)
            level = try level + onset - decay * times
        }
        let band = try level.clamp(max: 8).exp()
        let magnitude = try band.transpose(1, 2).matmul(bands).transpose(1, 2)
        return try noise * magnitude.unsqueeze(3)
    }

    /// The transient [B, clipSamples] for decoder inputs (z, class) [B, D + K]: the linear
    /// head's samples, or the bank's Σ_b g_b·e^(−r_b·τ)·sin(2π·f_b·τ), τ = max(0, t − d), with
    /// log g_b (at most 4), r_b = 300·e^(2.5·tanh(·)) per second (time constants 0.27–41 ms) and
    /// the delay d = 10 ms·(1 + tanh(·)) (0–20 ms: training clips start anywhere in the ±10 ms
    /// of the shift augmentation) from the head; faded.
    ///
    /// Why a bank: AdamW moves every weight by about the learning rate each step, so a head
    /// that writes samples directly random-walks into white noise wherever the loss's gradient
    /// is mostly batch noise (above 8 kHz, in a kick's first 46 ms: synth-d3's transient
    /// carries 40 dB more there than any training kit). Log-gains per band get a consistent
    /// gradient instead.
    func transientAudio(_ input: Tensor) throws -> Tensor {
        let t = config.transientLength, l = config.clipSamples
        let shot: Tensor
        if let clickFrequencies, let clickTimes {
            let m = transientBands, h = try transient(input)
            let gain = try h.narrow(1, start: 0, length: m).clamp(max: 4).exp().unsqueeze(2)
            let rate = try ((h.narrow(1, start: m, length: m).tanh() * 2.5).exp() * 300.0).unsqueeze(2)
            let delay = try ((h.narrow(1, start: 2 * m, length: 1).tanh() + 1.0) * 0.01).unsqueeze(2)
            let local = try (clickTimes - delay).clamp(min: 0)
            shot = try (gain * (rate * local * -1.0).exp() * (clickFrequencies * local).sin()).sum([1]) * transientWindow
        } else {
            shot = try transient(input) * transientWindow
        }
        guard l > t else { return try shot.narrow(1, start: 0, length: l) }
        return try Tensor.cat([shot, Tensor.zeros([input.shape[0], l - t])], dim: 1)
    }

    /// The one-shot [B, clipSamples]: sinusoids + filtered noise + transient.
    func audio(maps: Tensor, input: Tensor, noise: Tensor, window: Tensor) throws -> Tensor {
        let (frequency, amplitude) = try controls(maps: maps, clipControls: clip(input))
        let spec = try noiseSpectrum(maps: maps, input: input, noise: noise) + oscillatorSpectrum(frequency: frequency, amplitude: amplitude)
        return try spec.istft(nFFT: config.fftSize, hop: config.hop, window: window, length: config.clipSamples)
            + transientAudio(input)
    }

    // MARK: Export

    /// The buffers the script reads, by name.
    var buffers: [(String, Tensor)] {
        [("synth_base", base), ("synth_times", times), ("synth_bands", bands), ("synth_transient_window", transientWindow),
         ("synth_low_window", lowWindow), ("synth_ramp_fraction", rampFraction), ("synth_ramp_frequency", rampFrequency),
         ("synth_ramp_glide", rampGlide)]
            + [clickFrequencies.map { ("synth_click_frequencies", $0) }, clickTimes.map { ("synth_click_times", $0) }].compactMap { $0 }
    }

    /// TorchScript lines computing `x` [B, clipSamples] from `maps`, `inp` (z and class) and
    /// `z` (for the batch size), with the same aten operations in the same order as `audio`;
    /// the noise is drawn per row from torch's generator, as `noise(rows:)`.
    func script() -> [String] {
        let k = sinusoids, m = noiseBands, c = config
        let l = lowSamples, f = c.frames, t = c.transientLength, d = Self.divisor, r = samplesPerFrame
        func steps(_ x: String) -> String {
            "torch.constant_pad_nd(\(x).narrow(2, 1, \(f - 1)) - \(x).narrow(2, 0, \(f - 1)), [0, 1], 0.0)"
        }
        func samples(_ x: String) -> String { "\(x).reshape([freq.shape[0], \(k), \(f * r)]).narrow(2, 0, \(l))" }
        var lines = [
            "c = \(clip.script("inp"))",
            "offset = maps.narrow(1, 0, \(k))",
            "level = maps.narrow(1, \(k), \(k))",
            "onset = c.narrow(1, 0, \(k)).unsqueeze(2)",
            "decay = \(Self.decayRate("c.narrow(1, \(k), \(k))")).unsqueeze(2)",
            "glide = (c.narrow(1, \(2 * k), \(k)).tanh() * 2.0).unsqueeze(2)",
            "rate = ((c.narrow(1, \(3 * k), \(k)).tanh() * -2.0).exp() * 50.0).unsqueeze(2)",
            "log2f = self.synth_base + offset.tanh() * \(offsetRange) + glide * (rate * self.synth_times * -1.0).exp()",
            "freq = (log2f * \(M_LN2)).exp()",
            "audible = ((\(ceiling) - freq) > 0.0).float()",
            "amp = torch.clamp_max(onset + level - decay * self.synth_times, 2.0).exp() * audible",
            "fstep = \(steps("freq"))",
            "advance = (freq * \(Double(r)) + fstep * \(Double(r - 1) / 2)) * \(2 * Double.pi / lowRate)",
            "before = torch.cat([torch.zeros([freq.shape[0], \(k), 1]), torch.remainder(torch.cumsum(advance.narrow(2, 0, \(f - 1)), 2, dtype=7), \(2 * Double.pi)).float()], 2)",
            "phase = \(samples("(before.unsqueeze(3) + freq.unsqueeze(3) * self.synth_ramp_frequency + fstep.unsqueeze(3) * self.synth_ramp_glide)"))",
            "lamp = \(samples("(amp.unsqueeze(3) + \(steps("amp")).unsqueeze(3) * self.synth_ramp_fraction)"))",
            "low = (phase.sin() * lamp).sum([1])",
            "low = torch.view_as_real(torch.stft(low, \(c.fftSize / d), \(c.hop / d), \(c.fftSize / d), self.synth_low_window, True, 'reflect', False, True, True))",
            "sines = torch.cat([low, torch.zeros([low.shape[0], \(c.bins - lowBins), \(f), 2])], 1) * \(Double(d))",
            "nlevel = maps.narrow(1, \(2 * k), \(m))",
        ] + (noiseHead.map { head in [
            "nh = \(head.script("inp"))",
            "nlevel = nlevel + nh.narrow(1, 0, \(m)).unsqueeze(2) - \(Self.decayRate("nh.narrow(1, \(m), \(m))")).unsqueeze(2) * self.synth_times",
        ] } ?? []) + [
            "band = torch.clamp_max(nlevel, 8.0).exp()",
            "nmag = band.transpose(1, 2).matmul(self.synth_bands).transpose(1, 2)",
            "parts: List[Tensor] = []",
            "for _ in range(z.shape[0]):",
            "    parts.append(torch.randn([1, \(c.bins), \(f), 2]))",
            "spec = torch.cat(parts, 0) * nmag.unsqueeze(3) + sines",
            "x = torch.istft(torch.view_as_complex(spec.contiguous()), \(c.fftSize), \(c.hop), \(c.fftSize), self.window, True, False, True, \(c.clipSamples), False)",
        ]
        if clickFrequencies != nil {
            let mt = transientBands
            lines += ["h = \(transient.script("inp"))",
                      "tgain = torch.clamp_max(h.narrow(1, 0, \(mt)), 4.0).exp().unsqueeze(2)",
                      "trate = ((h.narrow(1, \(mt), \(mt)).tanh() * 2.5).exp() * 300.0).unsqueeze(2)",
                      "tdelay = ((h.narrow(1, \(2 * mt), 1).tanh() + 1.0) * 0.01).unsqueeze(2)",
                      "tlocal = torch.clamp_min(self.synth_click_times - tdelay, 0.0)",
                      "shot = (tgain * (trate * tlocal * -1.0).exp() * (self.synth_click_frequencies * tlocal).sin()).sum([1]) * self.synth_transient_window"]
        } else {
            lines.append("shot = \(transient.script("inp")) * self.synth_transient_window")
        }
        let full = c.clipSamples
        lines.append(full > t ? "x = x + torch.cat([shot, torch.zeros([z.shape[0], \(full - t)])], 1)" : "x = x + shot.narrow(1, 0, \(full))")
        return lines
    }
}

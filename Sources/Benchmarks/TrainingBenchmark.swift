import DrumVAE
import AudioIO
import DSP
import Foundation
import Torch

/// `timbre bench train`: training steps per second of the Swift model against the same
/// architecture written in PyTorch (Debian's python3-torch, the same libtorch), on the same
/// batch, interleaved round by round in one run; and the time to generate one 2-second
/// one-shot (decoder and inverse STFT, phase included) on one thread.
public enum TrainingBenchmark {
    public struct Result: Codable, Sendable {
        public var batch: Int
        public var threads: Int
        public var parameters: Int
        /// Steps per second of each timed round.
        public var timbreRounds: [Double]
        public var pytorchRounds: [Double]
        public var timbreStepsPerSecond: Double
        public var pytorchStepsPerSecond: Double
        /// timbre / PyTorch (≥ 1 means at least as fast).
        public var ratio: Double
        public var generationMedianSeconds: Double
        /// Clip seconds per second of generation.
        public var generationRealTimeFactor: Double
    }

    /// A deterministic batch of decaying noise bursts with a pitched body (no dataset needed).
    public static func syntheticBatch(_ config: DrumVAEConfig, count: Int) -> [Float] {
        var rng = SplitMix64(seed: 7)
        var out = [Float]()
        out.reserveCapacity(count * config.clipSamples)
        for k in 0..<count {
            let decay = 0.05 + 0.1 * Double(k % 4)
            let pitch = 50.0 + 30.0 * Double(k)
            for i in 0..<config.clipSamples {
                let t = Double(i) / Double(config.sampleRate)
                let noise = Double(rng.next() >> 11) / Double(1 << 53) * 2 - 1
                out.append(Float(exp(-t / decay) * (0.5 * noise + 0.5 * sin(2 * .pi * pitch * t))))
            }
        }
        return out
    }

    public static func run(config: DrumVAEConfig, steps: Int, rounds: Int, python: URL,
                           progress: (Double) -> Void) throws -> Result {
        Torch.applyDefaults()
        TrainingAllocator.configure()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("timbre-bench-train-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let batch = syntheticBatch(config, count: config.batchSize)
        try Npy.write(batch, shape: [config.batchSize, config.clipSamples], to: dir.appendingPathComponent("batch.npy"))
        let script = dir.appendingPathComponent("reference.py")
        try pytorchReference.write(to: script, atomically: true, encoding: .utf8)
        let configJSON = String(decoding: try JSONEncoder().encode(config), as: UTF8.self)

        let model = try DrumVAEModel(config: config)
        let core = try TrainingCore(model: model)
        let x = try Tensor(batch, shape: [config.batchSize, config.clipSamples])
        let condition = try model.condition(classes: Array(repeating: 0, count: config.batchSize))
        for s in 0..<2 { _ = try core.step(x, condition: condition, step: s) }

        var timbreRounds: [Double] = [], pytorchRounds: [Double] = []
        var stepIndex = 2
        for round in 0..<rounds {
            let start = DispatchTime.now().uptimeNanoseconds
            for _ in 0..<steps {
                _ = try core.step(x, condition: condition, step: stepIndex)
                stepIndex += 1
            }
            timbreRounds.append(Double(steps) / (Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9))
            progress((Double(round) + 0.5) / Double(rounds + 1))
            let process = Process()
            process.executableURL = python
            // The reference runs with the same allocator settings as this process.
            process.environment = ProcessInfo.processInfo.environment.merging(TrainingAllocator.environment) { _, new in new }
            process.arguments = [script.path, configJSON, dir.appendingPathComponent("batch.npy").path, String(steps),
                                 String(Torch.intraOpThreads)]
            let out = Pipe(), err = Pipe()
            process.standardOutput = out
            process.standardError = err
            try process.run()
            let data = out.fileHandleForReading.readDataToEndOfFile()
            let errors = err.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            guard process.terminationStatus == 0,
                  let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                  let rate = object["stepsPerSecond"] as? Double else {
                let message = String(decoding: errors, as: UTF8.self).split(separator: "\n").last.map(String.init) ?? "no output"
                throw DrumVAEError(path: python.path, reason: "the PyTorch reference failed: \(message)")
            }
            pytorchRounds.append(rate)
            progress(Double(round + 1) / Double(rounds + 1))
        }

        // Generation: one clip from one latent, decoder + inverse STFT, one thread.
        let run = try DecodeTimer(model: model)
        var times: [Double] = []
        for _ in 0..<21 { times.append(try run.timeOne()) }
        progress(1)
        times.sort()
        let median = times[times.count / 2]
        let timbreRate = timbreRounds.sorted()[timbreRounds.count / 2]
        let pytorchRate = pytorchRounds.sorted()[pytorchRounds.count / 2]
        return Result(batch: config.batchSize, threads: Torch.intraOpThreads, parameters: model.parameterCount,
                      timbreRounds: timbreRounds, pytorchRounds: pytorchRounds,
                      timbreStepsPerSecond: timbreRate, pytorchStepsPerSecond: pytorchRate, ratio: timbreRate / pytorchRate,
                      generationMedianSeconds: median,
                      generationRealTimeFactor: Double(config.clipSamples) / Double(config.sampleRate) / median)
    }

    /// Times `decode` for one latent, as `timbre generate` runs it.
    struct DecodeTimer {
        let model: DrumVAEModel
        func timeOne() throws -> Double {
            try Torch.withoutGradients {
                let z = try Tensor.randn([1, model.config.latentSize])
                let condition = try model.condition(classes: [0])
                let start = DispatchTime.now().uptimeNanoseconds
                _ = try model.decode(z, condition: condition).floats()
                return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            }
        }
    }

    /// The same architecture, loss and optimiser in PyTorch.
    static let pytorchReference = """
    import json, sys, time
    import numpy as np
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    cfg = json.loads(sys.argv[1])
    batch = torch.from_numpy(np.load(sys.argv[2]))
    steps = int(sys.argv[3])
    torch.set_num_threads(int(sys.argv[4]))
    torch.manual_seed(cfg["seed"])
    C, D, nfft, hop, L = cfg["channels"], cfg["latentSize"], cfg["fftSize"], cfg["hop"], cfg["clipSamples"]
    bins, frames = nfft // 2 + 1, 1 + L // hop
    ups = 4
    seed_frames = (frames + (1 << ups) - 1) >> ups
    K = len(cfg["classes"]) if cfg["conditional"] else 0
    G = max(1, C // 16)
    complex_out = cfg["representation"] == "complex"
    synth_out = cfg["representation"] == "synth"
    SK, SM, ST = cfg.get("sinusoids") or 32, cfg.get("noiseBands") or 64, cfg.get("transientSamples") or 2048
    TB = cfg.get("transientBands") or 0
    NE = bool(cfg.get("noiseEnvelope"))

    class VAE(nn.Module):
        def __init__(self):
            super().__init__()
            self.enc_in = nn.Conv1d(bins, C, 3, padding=1)
            self.enc_down = nn.ModuleList([nn.Conv1d(C, C, 4, 2, 1) for _ in range(4)])
            self.enc_norm = nn.ModuleList([nn.GroupNorm(G, C) for _ in range(4)])
            self.enc_out = nn.Linear(2 * C, 2 * D)
            self.dec_in = nn.Linear(D + K, C * seed_frames)
            self.dec_up = nn.ModuleList([nn.Conv1d(C, C, 3, padding=1) for _ in range(ups)])
            self.dec_norm = nn.ModuleList([nn.GroupNorm(G, C) for _ in range(ups)])
            self.dec_refine = nn.Conv1d(C, C, 3, padding=1)
            self.dec_refine_norm = nn.GroupNorm(G, C)
            self.dec_out = nn.Conv1d(C, 2 * SK + SM if synth_out else (3 if complex_out else 1) * bins, 1, dilation=2)
            if synth_out:
                # SynthDecoder: per-clip sinusoid controls, the transient, and fixed tables.
                self.synth_clip = nn.Linear(D + K, 4 * SK)
                self.synth_transient = nn.Linear(D + K, 2 * TB + 1 if TB else ST)
                if NE:
                    # Each noise band's onset log-magnitude and decay per clip.
                    self.synth_noise = nn.Linear(D + K, 2 * SM)
                if TB:
                    # The transient bank: damped sinusoids at mel-spaced frequencies (40 Hz - 16 kHz).
                    mels = np.linspace(2595 * np.log10(1 + 40 / 700), 2595 * np.log10(1 + 16000 / 700), TB)
                    fb = 700 * (10 ** (mels / 2595) - 1)
                    n = np.arange(ST)
                    self.register_buffer("synth_click_frequencies", torch.from_numpy((2 * np.pi * fb).astype(np.float32)).reshape(1, TB, 1))
                    self.register_buffer("synth_click_times", torch.from_numpy((n / cfg["sampleRate"]).astype(np.float32)).reshape(1, 1, ST))
                low, high = np.log2(30.0), np.log2(4000.0)
                self.register_buffer("synth_base", torch.linspace(low, high, SK).float().reshape(1, SK, 1))
                self.register_buffer("synth_times", (torch.arange(frames) * hop / cfg["sampleRate"]).float().reshape(1, 1, frames))
                mel = lambda f: 2595 * np.log10(1 + f / 700)
                pos = mel(np.arange(bins) * cfg["sampleRate"] / (2 * (bins - 1))) / mel(cfg["sampleRate"] / 2) * (SM - 1)
                i = np.minimum(SM - 2, pos.astype(int))
                w = np.zeros((SM, bins), dtype=np.float32)
                w[i, np.arange(bins)] += 1 - (pos - i)
                w[i + 1, np.arange(bins)] += pos - i
                self.register_buffer("synth_bands", torch.from_numpy(w))
                half = ST // 2
                fade = [1.0 if n < half else 0.5 * (1 + np.cos(np.pi * (n - half) / (ST - half))) for n in range(ST)]
                self.register_buffer("synth_window", torch.tensor(fade, dtype=torch.float32))
                self.offset_range = 1.5 * np.log2(4000.0 / 30.0) / (SK - 1)
                self.register_buffer("synth_low_window", torch.hann_window(nfft // 4))
                R, c = hop // 4, 2 * np.pi * 4 / cfg["sampleRate"]
                s = torch.arange(R, dtype=torch.float64)
                self.register_buffer("synth_ramp_fraction", (s / R).float())
                self.register_buffer("synth_ramp_frequency", (c * (s + 1)).float())
                self.register_buffer("synth_ramp_glide", (c * s * (s + 1) / (2 * R)).float())
            self.register_buffer("window", torch.hann_window(nfft))
            # --demodulated-phase: each bin's rotation 2π·((k·hop·t) mod N)/N at frame t.
            m = (torch.arange(bins).unsqueeze(1) * hop % nfft) * torch.arange(frames).unsqueeze(0) % nfft
            angle = m.double() * (2 * np.pi / nfft)
            self.register_buffer("rot_cos", angle.cos().float())
            self.register_buffer("rot_sin", angle.sin().float())
            self.demodulated = complex_out and bool(cfg.get("demodulatedPhase"))

        def encode(self, x):
            s = torch.view_as_real(torch.stft(x, nfft, hop, nfft, self.window, center=True, pad_mode="reflect", return_complex=True))
            h = ((s[..., 0].square() + s[..., 1].square() + 1e-10).sqrt() + 1e-4).log()
            h = F.leaky_relu(self.enc_in(h), 0.2)
            for conv, norm in zip(self.enc_down, self.enc_norm):
                h = F.leaky_relu(norm(conv(h)), 0.2)
            out = self.enc_out(torch.cat([h.mean(2), h.amax(2)], 1))
            return out[:, :D], out[:, D:].clamp(-10, 6)

        def steps(self, x):
            # Each frame's step to the next, 0 for the last (held).
            return F.pad(x[:, :, 1:] - x[:, :, :-1], (0, 1))

        def samples(self, x):
            # [B, K, F, R] per-sample values at the sinusoids' quarter rate (frame t at sample t·R).
            return x.reshape(x.shape[0], x.shape[1], -1)[:, :, :L // 4]

        def synth(self, m, inp):
            sr = cfg["sampleRate"]
            c = self.synth_clip(inp)
            onset = c[:, :SK].unsqueeze(2)
            decay = ((c[:, SK:2 * SK].tanh() * 2.5).exp() * 10.0).unsqueeze(2)
            glide = (c[:, 2 * SK:3 * SK].tanh() * 2.0).unsqueeze(2)
            rate = ((c[:, 3 * SK:].tanh() * -2.0).exp() * 50.0).unsqueeze(2)
            t = self.synth_times
            freq = ((self.synth_base + m[:, :SK].tanh() * self.offset_range + glide * (rate * t * -1.0).exp()) * np.log(2)).exp()
            amp = (onset + m[:, SK:2 * SK] - decay * t).clamp(max=2).exp() * ((0.45 * sr / 4 - freq) > 0).float()
            R = hop // 4
            fstep = self.steps(freq)
            advance = (freq * R + fstep * ((R - 1) / 2)) * (2 * np.pi * 4 / sr)
            before = torch.cat([torch.zeros(freq.shape[0], SK, 1), torch.remainder(torch.cumsum(advance[:, :, :-1], 2, dtype=torch.float64), 2 * np.pi).float()], 2)
            phase = self.samples(before.unsqueeze(3) + freq.unsqueeze(3) * self.synth_ramp_frequency + fstep.unsqueeze(3) * self.synth_ramp_glide)
            low = (phase.sin() * self.samples(amp.unsqueeze(3) + self.steps(amp).unsqueeze(3) * self.synth_ramp_fraction)).sum(1)
            low = torch.view_as_real(torch.stft(low, nfft // 4, hop // 4, nfft // 4, self.synth_low_window, center=True, pad_mode="reflect", return_complex=True))
            sines = torch.cat([low, torch.zeros(low.shape[0], bins - low.shape[1], frames, 2)], 1) * 4.0
            nlevel = m[:, 2 * SK:]
            if NE:
                nh = self.synth_noise(inp)
                nlevel = nlevel + nh[:, :SM].unsqueeze(2) - ((nh[:, SM:].tanh() * 2.5).exp() * 10.0).unsqueeze(2) * t
            nmag = (nlevel.clamp(max=8).exp().transpose(1, 2) @ self.synth_bands).transpose(1, 2)
            spec = torch.cat([torch.randn(1, bins, frames, 2) for _ in range(z_rows(m))], 0) * nmag.unsqueeze(3) + sines
            x = torch.istft(torch.view_as_complex(spec.contiguous()), nfft, hop, nfft, self.window, center=True, length=L)
            if TB:
                h = self.synth_transient(inp)
                gain = h[:, :TB].clamp(max=4).exp().unsqueeze(2)
                trate = ((h[:, TB:2 * TB].tanh() * 2.5).exp() * 300.0).unsqueeze(2)
                tdelay = ((h[:, 2 * TB:].tanh() + 1.0) * 0.01).unsqueeze(2)
                tlocal = (self.synth_click_times - tdelay).clamp(min=0)
                shot = (gain * (trate * tlocal * -1.0).exp() * (self.synth_click_frequencies * tlocal).sin()).sum(1) * self.synth_window
            else:
                shot = self.synth_transient(inp) * self.synth_window
            return x + torch.cat([shot, torch.zeros(shot.shape[0], L - ST)], 1)

        def decode(self, z):
            inp = z
            h = self.dec_in(z).reshape(z.shape[0], C, seed_frames)
            for conv, norm in zip(self.dec_up, self.dec_norm):
                h = F.leaky_relu(norm(conv(F.interpolate(h, scale_factor=2, mode="nearest"))), 0.2)
            h = h[:, :, :frames]
            h = F.leaky_relu(self.dec_refine_norm(self.dec_refine(h)), 0.2)
            m = self.dec_out(h)
            if synth_out:
                return self.synth(m, inp)
            mag = m[:, :bins].clamp(max=8).exp()
            if complex_out:
                a, b = m[:, bins:2 * bins], m[:, 2 * bins:]
                if self.demodulated:
                    a, b = a * self.rot_cos - b * self.rot_sin, a * self.rot_sin + b * self.rot_cos
                scale = mag * torch.rsqrt(a.square() + b.square() + 1e-6)
                spec = torch.complex(a * scale, b * scale)
            else:
                spec = torch.complex(mag, mag * 0)
            return torch.istft(spec, nfft, hop, nfft, self.window, center=True, length=L)

    def z_rows(m):
        return m.shape[0]

    windows = {n: torch.hann_window(n) for n in cfg["lossScales"]}
    log_weight = cfg["logWeight"] if cfg.get("logWeight") is not None else 1.0
    def mags(x, n):
        s = torch.view_as_real(torch.stft(x, n, n // 4, n, windows[n], center=True, pad_mode="reflect", return_complex=True))
        return (s[..., 0].square() + s[..., 1].square() + 1e-10).sqrt()

    def spectral_loss(x, y):
        total = 0
        for n in cfg["lossScales"]:
            s, t = mags(x, n), mags(y, n)
            total = total + (s - t).norm() / (s.norm() + 1e-7) + ((s + 1e-5).log() - (t + 1e-5).log()).abs().mean() * log_weight
        return total / len(cfg["lossScales"])

    model = VAE()
    opt = torch.optim.AdamW(model.parameters(), lr=cfg["learningRate"], betas=(0.9, 0.999), weight_decay=1e-4)
    cond = torch.zeros(batch.shape[0], K)
    if K: cond[:, 0] = 1

    def step(i):
        torch.manual_seed(cfg["seed"] * 1000003 + i)
        mean, logvar = model.encode(batch)
        z = mean + (logvar * 0.5).exp() * torch.randn_like(mean)
        if complex_out or synth_out:
            rec = spectral_loss(batch, model.decode(torch.cat([z, cond], 1) if K else z))
        else:
            raise SystemExit("the reference times the complex and synth models")
        kl = ((mean.square() + logvar.exp() - logvar - 1) * 0.5).sum(1).mean()
        loss = rec + kl * cfg["beta"]
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg["gradientClip"])
        opt.step()
        return loss.item()

    for i in range(2):
        step(i)
    start = time.perf_counter()
    for i in range(steps):
        step(2 + i)
    print(json.dumps({"stepsPerSecond": steps / (time.perf_counter() - start)}))
    """
}

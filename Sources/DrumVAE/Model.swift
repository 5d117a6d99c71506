import Foundation
import Torch

/// The VAE, defined in Swift over libtorch tensors.
///
/// Encoder: log-magnitude STFT [B, bins, frames] → conv (bins → C) → four strided
/// convs with group norm → mean and max over time → linear → (μ, log σ²).
/// Decoder: (z, one-hot class) → linear → [B, C, seedFrames] → four ×2 upsamplings
/// (nearest + conv) with group norm → a refining conv → a 1×1 conv to the STFT: three maps per
/// bin (log-magnitude, and a 2-D direction giving the phase) for `.complex`, one map
/// (log-magnitude) for `.magnitude` → inverse STFT; for `.synth`, the 1×1 conv gives the
/// synthesiser's frame controls and `SynthDecoder` makes the waveform.
public final class DrumVAEModel {
    public let config: DrumVAEConfig
    let params = ParameterList()
    let window: Tensor

    let encoderInput: Conv1d
    let encoderDown: [(Conv1d, GroupNorm)]
    let encoderOut: Linear
    let decoderIn: Linear
    let decoderUp: [(Upsample, GroupNorm)]
    let decoderRefine: Conv1d
    let decoderRefineNorm: GroupNorm
    let decoderOut: Conv1d
    /// cos and sin of each bin's rotation 2π·k·hop·t/N at frame t, [bins, frames], for
    /// `phaseDemodulated` (exact: the angle is reduced modulo N in integers).
    let rotation: (cos: Tensor, sin: Tensor)?
    /// The synthesiser's heads and tables (`.synth` only).
    let synth: SynthDecoder?

    /// Channels of the decoder's output conv: per bin three maps (complex) or one
    /// (magnitude); for the synth decoder its frame controls.
    static func outputChannels(_ config: DrumVAEConfig) -> Int {
        switch config.representation {
        case .complex: 3 * config.bins
        case .magnitude: config.bins
        case .synth: 2 * config.sinusoidCount + config.noiseBandCount
        }
    }

    /// A freshly initialised model (libtorch's generator, seeded from the config).
    public init(config: DrumVAEConfig) throws {
        self.config = config
        Torch.manualSeed(config.seed)
        let c = config.channels, groups = max(1, c / 16)
        let params = self.params
        window = try Tensor.hannWindow(config.fftSize)
        encoderInput = try Conv1d("enc_in", config.bins, c, kernel: 3, padding: 1, params)
        encoderDown = try (0..<4).map { i in
            (try Conv1d("enc_down\(i)", c, c, kernel: 4, stride: 2, padding: 1, params),
             try GroupNorm("enc_norm\(i)", groups: groups, channels: c, params))
        }
        encoderOut = try Linear("enc_out", 2 * c, 2 * config.latentSize, params)
        decoderIn = try Linear("dec_in", config.latentSize + config.conditionSize, c * config.seedFrames, params)
        decoderUp = try (0..<config.upsamplings).map { i in
            (try Upsample("dec_up\(i)", channels: c, inputFrames: config.seedFrames << i, params),
             try GroupNorm("dec_norm\(i)", groups: groups, channels: c, params))
        }
        decoderRefine = try Conv1d("dec_refine", c, c, kernel: 3, padding: 1, params)
        decoderRefineNorm = try GroupNorm("dec_refine_norm", groups: groups, channels: c, params)
        decoderOut = try Conv1d("dec_out", c, Self.outputChannels(config), kernel: 1, params)
        rotation = config.phaseDemodulated ? try Self.binRotation(config) : nil
        synth = config.representation == .synth ? try SynthDecoder(config: config, params) : nil
        // Start quiet: log-magnitudes (the synth's noise bands) near -4, so the first sounds
        // are soft rather than loud noise.
        let quiet = synth.map { 2 * $0.sinusoids..<$0.mapCount } ?? 0..<config.bins
        try Torch.withoutGradients {
            let bias = try decoderOut.bias.floats()
            var start = bias
            for i in quiet { start[i] = bias[i] - 4 }
            try decoderOut.bias.assign(start)
        }
    }

    /// cos and sin of 2π·((k·hop·t) mod N)/N for bin k and frame t, [bins, frames].
    static func binRotation(_ config: DrumVAEConfig) throws -> (cos: Tensor, sin: Tensor) {
        let f = config.bins, t = config.frames, n = config.fftSize
        var c = [Float](repeating: 0, count: f * t), s = c
        for k in 0..<f {
            for frame in 0..<t {
                let m = (k * config.hop % n) * frame % n
                if m * 4 % n == 0 {
                    // Quarter turns exactly (hop = N/4 gives only these).
                    let q = m * 4 / n
                    c[k * t + frame] = [1, 0, -1, 0][q]; s[k * t + frame] = [0, 1, 0, -1][q]
                } else {
                    let angle = 2 * Double.pi * Double(m) / Double(n)
                    c[k * t + frame] = Float(Foundation.cos(angle)); s[k * t + frame] = Float(Foundation.sin(angle))
                }
            }
        }
        return (try Tensor(c, shape: [f, t]), try Tensor(s, shape: [f, t]))
    }

    /// The phase direction (a, b) [B, bins, frames] turned from the demodulated frame to
    /// the STFT's (unchanged when the phase is not demodulated).
    func modulate(_ a: Tensor, _ b: Tensor) throws -> (Tensor, Tensor) {
        guard let r = rotation else { return (a, b) }
        return (try a * r.cos - b * r.sin, try a * r.sin + b * r.cos)
    }

    /// The phase direction (a, b) [B, bins, frames] in the STFT's frame, not of unit length,
    /// that the complex decoder's maps [B, 3 × bins, frames] describe.
    func phaseDirection(_ maps: Tensor) throws -> (Tensor, Tensor) {
        let f = config.bins
        return try modulate(maps.narrow(1, start: f, length: f), maps.narrow(1, start: 2 * f, length: f))
    }

    /// Every trainable tensor by name.
    public var namedParameters: [(name: String, tensor: Tensor)] { params.entries }
    public var parameters: [Tensor] { params.tensors }
    public var parameterCount: Int { params.entries.reduce(0) { $0 + $1.tensor.elementCount } }

    // MARK: Encoder

    /// The encoder's input features: log(|STFT| + 1e-4), [B, bins, frames].
    func features(_ audio: Tensor) throws -> Tensor {
        let spec = try audio.stft(nFFT: config.fftSize, hop: config.hop, window: window)
        return try (magnitude(spec) + 1e-4).log()
    }

    /// (μ, log σ²) for [B, samples] audio.
    public func encode(_ audio: Tensor) throws -> (mean: Tensor, logVariance: Tensor) {
        var h = try encoderInput(features(audio)).leakyRelu(0.2)
        for (conv, norm) in encoderDown { h = try norm(conv(h)).leakyRelu(0.2) }
        let pooled = try Tensor.cat([h.mean([2]), h.max([2])], dim: 1)
        let out = try encoderOut(pooled)
        let d = config.latentSize
        return (try out.narrow(1, start: 0, length: d),
                try out.narrow(1, start: d, length: d).clamp(min: -10).clamp(max: 6))
    }

    // MARK: Decoder

    /// The decoder's input: latents [B, D] and one-hot classes [B, K] side by side.
    func decoderInput(_ z: Tensor, condition: Tensor?) throws -> Tensor {
        try condition.map { try Tensor.cat([z, $0], dim: 1) } ?? z
    }

    /// The decoder's maps [B, maps × bins, frames] for latents [B, D] (and one-hot classes [B, K]).
    func decoderMaps(_ z: Tensor, condition: Tensor?) throws -> Tensor {
        let input = try decoderInput(z, condition: condition)
        var h = try decoderIn(input).reshape([z.shape[0], config.channels, config.seedFrames])
        for (conv, norm) in decoderUp { h = try norm(conv(h)).leakyRelu(0.2) }
        h = try h.narrow(2, start: 0, length: config.frames)
        h = try decoderRefineNorm(decoderRefine(h)).leakyRelu(0.2)
        return try decoderOut(h)
    }

    /// The decoded STFT [B, bins, frames, 2]. For `.magnitude`, the phase is zero; for
    /// `.synth`, the STFT of the synthesised one-shot.
    func decodeSpectrum(_ z: Tensor, condition: Tensor?) throws -> Tensor {
        if synth != nil {
            return try decode(z, condition: condition).stft(nFFT: config.fftSize, hop: config.hop, window: window)
        }
        return try spectrum(fromMaps: decoderMaps(z, condition: condition))
    }

    /// The STFT [B, bins, frames, 2] the decoder's maps describe.
    func spectrum(fromMaps maps: Tensor) throws -> Tensor {
        let f = config.bins
        let logMagnitude = try maps.narrow(1, start: 0, length: f).clamp(max: 8)
        let mag = try logMagnitude.exp()
        switch config.representation {
        case .complex:
            let (a, b) = try phaseDirection(maps)
            let scale = try mag * (a.square() + b.square() + 1e-6).rsqrt()
            return try Tensor.cat([(a * scale).unsqueeze(3), (b * scale).unsqueeze(3)], dim: 3)
        case .magnitude:
            return try Tensor.cat([mag.unsqueeze(3), (mag * 0.0).unsqueeze(3)], dim: 3)
        case .synth:
            throw DrumVAEError(path: "", reason: "the synth decoder's maps are not an STFT")
        }
    }

    /// Audio [B, samples] for latents [B, D]: the inverse STFT of the decoded spectrum
    /// (zero phase for the magnitude model), or the synthesiser's one-shot. The synth's
    /// noise is `noise` [B, bins, frames, 2] when given, else drawn from libtorch's
    /// generator one row at a time (`SynthDecoder.noise`).
    public func decode(_ z: Tensor, condition: Tensor? = nil, noise: Tensor? = nil) throws -> Tensor {
        if let synth {
            return try synth.audio(maps: decoderMaps(z, condition: condition), input: decoderInput(z, condition: condition),
                                   noise: noise ?? synth.noise(rows: z.shape[0]), window: window)
        }
        return try spectrum(fromMaps: decoderMaps(z, condition: condition))
            .istft(nFFT: config.fftSize, hop: config.hop, window: window, length: config.clipSamples)
    }

    /// One-hot rows [B, K] for class indices, or nil for an unconditional model.
    public func condition(classes: [Int]) throws -> Tensor? {
        guard config.conditional else { return nil }
        let k = config.classes.count
        var values = [Float](repeating: 0, count: classes.count * k)
        for (row, c) in classes.enumerated() { values[row * k + c] = 1 }
        return try Tensor(values, shape: [classes.count, k])
    }

    // MARK: Checkpoints

    /// Copies saved tensors into the parameters (shapes must match the config).
    func load(from archive: TensorArchive) throws {
        try Torch.withoutGradients {
            for (name, tensor) in params.entries {
                let saved = try archive.tensor(name)
                guard saved.shape == tensor.shape else {
                    throw DrumVAEError(path: "", reason: "checkpoint tensor '\(name)' is \(saved.shape), the model needs \(tensor.shape)")
                }
                try tensor.assign(saved)
            }
        }
    }

    /// Copies another model's weights (the same architecture: `DrumVAEConfig.architecture`).
    func copyWeights(from other: DrumVAEModel) throws {
        let theirs = Dictionary(uniqueKeysWithValues: other.params.entries.map { ($0.name, $0.tensor) })
        try Torch.withoutGradients {
            for (name, tensor) in params.entries {
                guard let source = theirs[name], source.shape == tensor.shape else {
                    throw DrumVAEError(path: "", reason: "weight '\(name)' does not fit the model (\(theirs[name].map { "\($0.shape)" } ?? "missing") for \(tensor.shape))")
                }
                try tensor.assign(source)
            }
        }
    }

    func save(into archive: TensorArchive) throws {
        for (name, tensor) in params.entries { try archive.write(name, tensor) }
    }
}

/// |X| for a [.., 2] real/imaginary tensor (with a tiny floor so the gradient stays finite at 0).
func magnitude(_ spec: Tensor) throws -> Tensor {
    let last = spec.shape.count - 1
    let re = try spec.narrow(last, start: 0, length: 1).squeeze(last)
    let im = try spec.narrow(last, start: 1, length: 1).squeeze(last)
    return try (re.square() + im.square() + 1e-10).sqrt()
}

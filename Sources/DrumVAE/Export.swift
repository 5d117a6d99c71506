import Foundation
import Torch

/// Writes a trained run as a TorchScript module for nn~/nn.ar, PyTorch and `timbre serve`.
///
/// Built with libtorch's C++ API: a script module whose parameters are the trained
/// weights and whose methods are compiled from TorchScript source generated from the
/// same layers the Swift model runs (`ScriptableLayer.script`).
///
/// Contract 2, the drum machine (the default; attribute `trigger_contract` = 2, class names
/// in `trigger_classes`): `decode` [K+D, R, 1, 1] has one velocity channel per class
/// (labelled `(velocity) NAME`), then D latent channels that are offsets from the class's
/// prior mean. Every frame where a velocity channel is above 0 starts a one-shot of that
/// class at gain min(value, 1), decoded from the mean + the frame's offsets; all hits of a
/// frame sound, and every one-shot overlap-adds into one tail (no voice limit). `encode`
/// marks each hit with velocity 1 on the class the prior finds most likely and gives its
/// offsets. A synth run's noise is drawn one one-shot at a time in the order (batch row,
/// frame, class). Per-hit channels rather than a settable class attribute: an attribute is one
/// value per model instance, so it could not differ between the nodes a batching lane
/// runs in one instance, nor between two hits of one frame.
///
/// Contract 1 (`contract: 1`, and every export made before contract 2):
/// - `decode` [D+1, R, 1, 1]: channel 0 is a trigger; where it rises above 0.5, a one-shot
///   starts at that frame, decoded from channels 1…D of the frame; one-shots overlap-add,
///   and tails carry over between calls in the module's buffers. A synth run's noise is
///   drawn from torch's global generator, one one-shot at a time in trigger order
///   (`torch.manual_seed` makes it repeatable).
/// - `encode` [1, 1, D+1, R]: a hit is a block whose energy is above -50 dBFS and at
///   least 6 dB above the previous block's; its frame gets trigger 1 and the latent of the
///   audio from that block to the end of the call (zero-padded to the clip length), held
///   until the next hit.
/// - `forward` [1, 1, 1, 1]: encode then decode, with their own state: each hit re-synthesised.
public struct TorchScriptExport {
    public let run: TrainedRun
    /// Samples per latent frame (a power of two, 512…4096).
    public let block: Int
    /// For a conditional run: the class every one-shot is decoded as (contract 1 only).
    public let classIndex: Int
    /// The trigger contract written: 2 (velocity per class) or 1 (one trigger above 0.5).
    public let contract: Int
    /// Contract 2's classes, one velocity channel each, in channel order.
    public let hitClasses: [HitClass]

    /// One velocity channel of contract 2: its name, the decoder's class index for a
    /// conditional run, and the prior's mean, precision and log weight − ½ log det for it.
    public struct HitClass: Sendable, Equatable {
        public var name: String
        public var conditionIndex: Int?
        public var mean: [Float]
        var precision: [Float]
        var bias: Float
    }

    /// `className` (contract 1 only) fixes the class of a conditional run's one-shots.
    public init(run: TrainedRun, block: Int = 2048, className: String? = nil, contract: Int = 2) throws {
        guard block >= 512, block <= 4096, block & (block - 1) == 0 else {
            throw DrumVAEError(path: "", reason: "block \(block) is not a power of two from 512 to 4096")
        }
        guard contract == 1 || contract == 2 else {
            throw DrumVAEError(path: "", reason: "trigger contract \(contract) does not exist (1: one trigger channel above 0.5; 2: a velocity channel per class)")
        }
        if contract == 2, let className {
            throw DrumVAEError(path: "", reason: "--class '\(className)' fixes the class of trigger contract 1; contract 2 picks the class per hit (its velocity channel)")
        }
        self.run = run
        self.block = block
        self.contract = contract
        classIndex = try run.classIndex(className) ?? 0
        hitClasses = Self.hitClasses(run)
    }

    /// The velocity channels of contract 2: a conditional run's classes; an unconditional
    /// run's prior classes (its decoder knows no class, the prior's means make the difference);
    /// one class `hit` at the origin without a prior.
    static func hitClasses(_ run: TrainedRun) -> [HitClass] {
        let d = run.config.latentSize
        let components = run.prior?.components ?? []
        let names = run.config.conditional ? run.config.classes : components.map(\.className)
        guard !names.isEmpty else {
            let identity = (0..<(d * d)).map { $0 % (d + 1) == 0 ? Float(1) : 0 }
            return [HitClass(name: "hit", conditionIndex: nil, mean: [Float](repeating: 0, count: d), precision: identity, bias: 0)]
        }
        return names.enumerated().map { index, name in
            let condition = run.config.conditional ? index : nil
            guard let c = components.first(where: { $0.className == name }) else {
                // A class the prior never saw: decoded around the origin, never chosen by `encode`.
                let identity = (0..<(d * d)).map { $0 % (d + 1) == 0 ? Float(1) : 0 }
                return HitClass(name: name, conditionIndex: condition, mean: [Float](repeating: 0, count: d), precision: identity, bias: -1e30)
            }
            // Σ⁻¹ = L⁻ᵀ L⁻¹ from the Cholesky factor (forward substitution for L⁻¹).
            var inverse = [Double](repeating: 0, count: d * d)
            for i in 0..<d {
                inverse[i * d + i] = 1 / c.cholesky[i * d + i]
                for j in 0..<i {
                    var sum = 0.0
                    for k in j..<i { sum -= c.cholesky[i * d + k] * inverse[k * d + j] }
                    inverse[i * d + j] = sum / c.cholesky[i * d + i]
                }
            }
            // The prior's covariance is spread² · L Lᵀ.
            let spread = run.prior?.spreadScale ?? 1
            var precision = [Float](repeating: 0, count: d * d)
            for i in 0..<d {
                for j in 0..<d {
                    var sum = 0.0
                    for k in max(i, j)..<d { sum += inverse[k * d + i] * inverse[k * d + j] }
                    precision[i * d + j] = Float(sum / (spread * spread))
                }
            }
            let logDet = (0..<d).reduce(0.0) { $0 + 2 * log(spread * c.cholesky[$1 * d + $1]) }
            return HitClass(name: name, conditionIndex: condition, mean: c.mean.map(Float.init), precision: precision,
                            bias: Float(log(max(c.weight, 1e-12)) - 0.5 * logDet))
        }
    }

    /// The TorchScript source of every method.
    public var source: String {
        let c = run.config, m = run.model
        let d = c.latentSize, f = c.bins
        var decoder = [String]()
        if c.conditional {
            decoder.append("cond = torch.zeros([z.shape[0], \(c.classes.count)], dtype=z.dtype)")
            // Contract 2: each one-shot's own class (its velocity channel); contract 1: the export's.
            decoder.append(contract == 2 ? "cond.scatter_(1, cls.unsqueeze(1), 1.0)" : "cond[:, \(classIndex)] = 1.0")
            decoder.append("inp = torch.cat([z, cond], 1)")
        } else {
            decoder.append("inp = z")
        }
        decoder.append("h = \(m.decoderIn.script("inp"))")
        decoder.append("h = h.reshape([z.shape[0], \(c.channels), \(c.seedFrames)])")
        for (conv, norm) in m.decoderUp { decoder.append("h = torch.leaky_relu(\(norm.script(conv.script("h"))), 0.2)") }
        decoder.append("h = h.narrow(2, 0, \(c.frames))")
        decoder.append("h = torch.leaky_relu(\(m.decoderRefineNorm.script(m.decoderRefine.script("h"))), 0.2)")
        decoder.append("maps = \(m.decoderOut.script("h"))")
        if c.representation != .synth { decoder.append("mag = torch.clamp_max(maps.narrow(1, 0, \(f)), 8.0).exp()") }
        switch c.representation {
        case .complex:
            decoder.append("a = maps.narrow(1, \(f), \(f))")
            decoder.append("b = maps.narrow(1, \(2 * f), \(f))")
            if m.rotation != nil {
                decoder.append("a, b = a * self.phase_cos - b * self.phase_sin, a * self.phase_sin + b * self.phase_cos")
            }
            decoder.append("scale = mag * torch.rsqrt(a.square() + b.square() + 1e-06)")
            decoder.append("spec = torch.cat([(a * scale).unsqueeze(3), (b * scale).unsqueeze(3)], 3)")
        case .magnitude:
            decoder.append("spec = torch.cat([mag.unsqueeze(3), (mag * 0.0).unsqueeze(3)], 3)")
        case .synth:
            // The synthesiser; its noise comes from torch's generator (torch.manual_seed).
            decoder += m.synth!.script()
        }
        if c.representation != .synth {
            decoder.append("x = torch.istft(torch.view_as_complex(spec.contiguous()), \(c.fftSize), \(c.hop), \(c.fftSize), self.window, True, False, True, \(c.clipSamples), False)")
        }
        decoder.append("x = x * self.fade")
        // `TrainedRun.levelled`: every one-shot at -1 dBFS, as `timbre generate` writes it.
        let level = Float(Foundation.pow(10, TrainedRun.generatedPeakDBFS / 20))
        decoder.append("peak = x.abs().amax(1, True)")
        decoder.append("return torch.where(peak > 0.0001, x * (\(level) / peak.clamp_min(0.0001)), x)")

        var encoder = [String]()
        encoder.append("spec = torch.view_as_real(torch.stft(audio, \(c.fftSize), \(c.hop), \(c.fftSize), self.window, True, 'reflect', False, True, True))")
        encoder.append("re = spec.narrow(3, 0, 1).squeeze(3)")
        encoder.append("im = spec.narrow(3, 1, 1).squeeze(3)")
        encoder.append("h = ((re.square() + im.square() + 1e-10).sqrt() + 0.0001).log()")
        encoder.append("h = torch.leaky_relu(\(m.encoderInput.script("h")), 0.2)")
        for (conv, norm) in m.encoderDown { encoder.append("h = torch.leaky_relu(\(norm.script(conv.script("h"))), 0.2)") }
        encoder.append("pooled = torch.cat([h.mean([2]), h.amax([2])], 1)")
        encoder.append("return \(m.encoderOut.script("pooled")).narrow(1, 0, \(d))")

        let indent = { (lines: [String]) in lines.map { "    " + $0 }.joined(separator: "\n") }
        let l = c.clipSamples, r = block
        if contract == 2 { return contract2Source(decoder: indent(decoder), encoder: indent(encoder)) }
        return """
        def get_methods(self) -> List[str]:
            return ["encode", "decode", "forward"]

        def get_attributes(self) -> List[str]:
            return []

        def _decode_latents(self, z: Tensor) -> Tensor:
        \(indent(decoder))

        def _encode_clips(self, audio: Tensor) -> Tensor:
        \(indent(encoder))

        def _decode_step(self, x: Tensor, tail: Tensor, prev: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
            b = x.shape[0]
            n = x.shape[2]
            if tail.shape[0] != b:
                tail = torch.zeros([b, \(l)])
                prev = torch.zeros([b])
            acc = torch.zeros([b, n * \(r) + \(l)])
            acc[:, 0:\(l)] += tail
            trig = x[:, 0, :]
            before = torch.cat([prev.unsqueeze(1), trig[:, 0:n - 1]], 1)
            starts = torch.nonzero((trig > 0.5) & (before <= 0.5))
            if starts.shape[0] > 0:
                zs: List[Tensor] = []
                for j in range(starts.shape[0]):
                    zs.append(x[int(starts[j, 0]), 1:\(d + 1), int(starts[j, 1])])
                shots = self._decode_latents(torch.stack(zs, 0))
                for j in range(starts.shape[0]):
                    bi = int(starts[j, 0])
                    at = int(starts[j, 1]) * \(r)
                    acc[bi, at:at + \(l)] += shots[j]
            out = acc[:, 0:n * \(r)].unsqueeze(1)
            return out, acc[:, n * \(r):].clone(), trig[:, n - 1].clone()

        def _encode_step(self, x: Tensor, energy: Tensor, latent: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        \(hitDetection(channels: d + 1))
                        latent[i] = self._encode_clips(clip)[0]
                        out[i, 0, f] = 1.0
                    out[i, 1:, f] = latent[i]
            return out, blocks[:, n - 1].clone(), latent.clone()

        def encode(self, x: Tensor) -> Tensor:
            out, self.enc_energy, self.enc_latent = self._encode_step(x, self.enc_energy, self.enc_latent)
            return out

        def decode(self, x: Tensor) -> Tensor:
            out, self.dec_tail, self.dec_prev = self._decode_step(x, self.dec_tail, self.dec_prev)
            return out

        def forward(self, x: Tensor) -> Tensor:
            z, self.fwd_energy, self.fwd_latent = self._encode_step(x, self.fwd_energy, self.fwd_latent)
            out, self.fwd_tail, self.fwd_prev = self._decode_step(z, self.fwd_tail, self.fwd_prev)
            return out

        """
    }

    /// Contract 2's methods around the same decoder and encoder bodies.
    /// The start of both contracts' `_encode_step` (TorchScript source): an onset is a block
    /// whose energy rises above 4 times the previous block's; at each, `clip` holds the audio from
    /// there, one clip long, for the contract's own encoding of the hit (block `f` of row `i`).
    private func hitDetection(channels: Int) -> String {
        let d = run.config.latentSize, l = run.config.clipSamples, r = block
        return """
                        b = x.shape[0]
                        n = x.shape[2] // \(r)
                        if energy.shape[0] != b:
                            energy = torch.zeros([b])
                            latent = torch.zeros([b, \(d)])
                        audio = x[:, 0, 0:n * \(r)]
                        blocks = audio.reshape([b, n, \(r)]).square().mean(2)
                        out = torch.zeros([b, \(channels), n])
                        for i in range(b):
                            for f in range(n):
                                e = float(blocks[i, f])
                                previous = float(energy[i]) if f == 0 else float(blocks[i, f - 1])
                                if e > 1e-05 and e > 4.0 * previous:
                                    clip = torch.zeros([1, \(l)])
                                    rest = audio[i, f * \(r):]
                                    length = min(rest.shape[0], \(l))
                                    clip[0, 0:length] = rest[0:length]
                    """
    }

    private func contract2Source(decoder: String, encoder: String) -> String {
        let c = run.config
        let d = c.latentSize, k = hitClasses.count, l = c.clipSamples, r = block
        return """
        def get_methods(self) -> List[str]:
            return ["encode", "decode", "forward"]

        def get_attributes(self) -> List[str]:
            return []

        def _decode_latents(self, z: Tensor, cls: Tensor) -> Tensor:
        \(decoder)

        def _encode_clips(self, audio: Tensor) -> Tensor:
        \(encoder)

        def _decode_step(self, x: Tensor, tail: Tensor) -> Tuple[Tensor, Tensor]:
            b = x.shape[0]
            n = x.shape[2]
            if tail.shape[0] != b:
                tail = torch.zeros([b, \(l)])
            acc = torch.zeros([b, n * \(r) + \(l)])
            acc[:, 0:\(l)] += tail
            velocity = x[:, 0:\(k), :].transpose(1, 2)
            hits = torch.nonzero(velocity > 0.0)
            if hits.shape[0] > 0:
                zs: List[Tensor] = []
                for j in range(hits.shape[0]):
                    zs.append(x[int(hits[j, 0]), \(k):\(k + d), int(hits[j, 1])] + self.hit_means[int(hits[j, 2])])
                shots = self._decode_latents(torch.stack(zs, 0), hits[:, 2].contiguous())
                for j in range(hits.shape[0]):
                    bi = int(hits[j, 0])
                    f = int(hits[j, 1])
                    gain = min(float(velocity[bi, f, int(hits[j, 2])]), 1.0)
                    at = f * \(r)
                    acc[bi, at:at + \(l)] += gain * shots[j]
            out = acc[:, 0:n * \(r)].unsqueeze(1)
            return out, acc[:, n * \(r):].clone()

        def _encode_step(self, x: Tensor, energy: Tensor, latent: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        \(hitDetection(channels: k + d))
                        z = self._encode_clips(clip)[0]
                        diff = z.unsqueeze(0) - self.hit_means
                        distance = (diff.unsqueeze(1).matmul(self.hit_precisions).squeeze(1) * diff).sum(1)
                        cls = int(torch.argmax(self.hit_bias - 0.5 * distance))
                        latent[i] = z - self.hit_means[cls]
                        out[i, cls, f] = 1.0
                    out[i, \(k):, f] = latent[i]
            return out, blocks[:, n - 1].clone(), latent.clone()

        def encode(self, x: Tensor) -> Tensor:
            out, self.enc_energy, self.enc_latent = self._encode_step(x, self.enc_energy, self.enc_latent)
            return out

        def decode(self, x: Tensor) -> Tensor:
            out, self.dec_tail = self._decode_step(x, self.dec_tail)
            return out

        def forward(self, x: Tensor) -> Tensor:
            z, self.fwd_energy, self.fwd_latent = self._encode_step(x, self.fwd_energy, self.fwd_latent)
            out, self.fwd_tail = self._decode_step(z, self.fwd_tail)
            return out

        """
    }

    /// The `decode_input_labels` (and `encode_output_labels`) of the contract.
    public var inputLabels: [String] {
        let d = run.config.latentSize
        if contract == 1 { return ["(trigger) rising above 0.5 starts a one-shot"] + (1...d).map { "(latent) \($0)" } }
        return hitClasses.map { "(velocity) \($0.name): above 0 starts a \($0.name) at that gain" }
            + (1...d).map { "(latent) \($0): offset from the class mean" }
    }

    /// Assembles the module (weights, buffers, attributes, methods) in libtorch.
    public func module() throws -> ScriptModule {
        let c = run.config
        let module = try ScriptModule.assemble(className: "TimbreDrumVAE")
        for (name, tensor) in run.model.namedParameters { try module.register(name, tensor.detached(), buffer: false) }
        try module.register("window", run.model.window, buffer: true)
        if let rotation = run.model.rotation {
            try module.register("phase_cos", rotation.cos, buffer: true)
            try module.register("phase_sin", rotation.sin, buffer: true)
        }
        for (name, tensor) in run.model.synth?.buffers ?? [] { try module.register(name, tensor, buffer: true) }
        let fadeLength = c.sampleRate / 100
        var fade = [Float](repeating: 1, count: c.clipSamples)
        for i in 0..<fadeLength { fade[c.clipSamples - fadeLength + i] = Float(fadeLength - 1 - i) / Float(fadeLength) }
        try module.register("fade", Tensor(fade, shape: [c.clipSamples]), buffer: true)
        let d = c.latentSize
        let channels = d + (contract == 2 ? hitClasses.count : 1)
        try module.register("encode_params", Tensor.indices([1, 1, channels, block]), buffer: true)
        try module.register("decode_params", Tensor.indices([channels, block, 1, 1]), buffer: true)
        try module.register("forward_params", Tensor.indices([1, 1, 1, 1]), buffer: true)
        try module.register("decode_input_labels", strings: inputLabels)
        try module.register("encode_output_labels", strings: inputLabels)
        try module.register("sr", int: c.sampleRate)
        try module.register("latent_size", int: d)
        for prefix in ["dec", "fwd"] {
            try module.register("\(prefix)_tail", Tensor.zeros([1, c.clipSamples]), buffer: true)
            if contract == 1 { try module.register("\(prefix)_prev", Tensor.zeros([1]), buffer: true) }
        }
        if contract == 2 {
            // The version a host reads to tell the contracts apart (contract 1 exports have none).
            try module.register("trigger_contract", int: 2)
            try module.register("trigger_classes", strings: hitClasses.map(\.name))
            let k = hitClasses.count
            try module.register("hit_means", Tensor(hitClasses.flatMap(\.mean), shape: [k, d]), buffer: true)
            try module.register("hit_precisions", Tensor(hitClasses.flatMap(\.precision), shape: [k, d, d]), buffer: true)
            try module.register("hit_bias", Tensor(hitClasses.map(\.bias), shape: [k]), buffer: true)
        }
        for prefix in ["enc", "fwd"] {
            try module.register("\(prefix)_energy", Tensor.zeros([1]), buffer: true)
            try module.register("\(prefix)_latent", Tensor.zeros([1, d]), buffer: true)
        }
        try module.define(source)
        return module
    }

    /// Writes the `.ts` file (to a temporary name, then renamed).
    public func write(to url: URL) throws {
        let temp = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).\(getpid()).tmp")
        try module().save(to: temp)
        if rename(temp.path, url.path) != 0 {
            let reason = String(cString: strerror(errno))
            unlink(temp.path)
            throw DrumVAEError(path: url.path, reason: "cannot rename into place: \(reason)")
        }
    }
}

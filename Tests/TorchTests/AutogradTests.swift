import Foundation
import Testing
import TestSupport
@testable import Torch

/// Autograd tensors checked against PyTorch (Debian's python3-torch, the same libtorch):
/// one graph that uses every operation the VAE needs, its gradients, and AdamW steps.
@Suite(.serialized)
struct AutogradTests {
    /// Deterministic values both sides compute the same way: sin(0.7 i + seed) / 2.
    static func values(_ count: Int, _ seed: Double) -> [Float] {
        (0..<count).map { Float(Foundation.sin(0.7 * Double($0) + seed) * 0.5) }
    }

    static func leaf(_ shape: [Int], _ seed: Double) throws -> Tensor {
        try Tensor(values(shape.reduce(1, *), seed), shape: shape, requiresGrad: true)
    }

    /// The leaves, in the order the Python script lists them.
    static let shapes: [(String, [Int])] = [
        ("x", [2, 3, 64]), ("w1", [4, 3, 3]), ("b1", [4]), ("gw", [4]), ("gb", [4]),
        ("w2", [4, 2, 4]), ("b2", [2]), ("wl", [5, 128]), ("bl", [5]),
        ("w2d", [3, 1, 3, 3]), ("wt2d", [3, 2, 2, 2]), ("lw", [8]), ("emb", [3, 8]),
    ]

    /// The graph: conv1d, group norm, leaky ReLU, transposed conv1d, tanh, linear, softplus,
    /// STFT magnitude (log), iSTFT, conv2d, transposed conv2d, layer norm, gelu, sigmoid, padding,
    /// narrow, cat, permute, index_select, reductions, element-wise arithmetic, and the synth
    /// decoder's linear interpolation (both corner modes), cumsum (float32, and float64 with
    /// remainder and the cast back), sin and cos.
    static func loss(_ p: [String: Tensor]) throws -> Tensor {
        let h = try p["x"]!.conv1d(p["w1"]!, bias: p["b1"]!, padding: 1)
            .groupNorm(groups: 2, weight: p["gw"]!, bias: p["gb"]!).leakyRelu(0.2)
        let u = try h.convTranspose1d(p["w2"]!, bias: p["b2"]!, stride: 2, padding: 1).tanh()  // [2, 2, 128]
        let flat = try u.narrow(1, start: 0, length: 1).reshape([2, 128])
        let lin = try flat.linear(p["wl"]!, bias: p["bl"]!).softplus().sum()
        let window = try Tensor.hannWindow(32)
        let spec = try flat.stft(nFFT: 32, hop: 8, window: window)  // [2, 17, 17, 2]
        let re = try spec.narrow(3, start: 0, length: 1), im = try spec.narrow(3, start: 1, length: 1)
        let mag = try (re.square() + im.square() + 1e-7).sqrt()
        let logMag = try (mag + 1e-5).log().mean()
        let back = try spec.istft(nFFT: 32, hop: 8, window: window, length: 128)
        let roundTrip = try (back - flat).square().mean() * 100.0
        let img = try flat.reshape([2, 1, 8, 16])
        let c2 = try img.conv2d(p["w2d"]!, padding: (1, 1)).gelu()  // [2, 3, 8, 16]
        let t2 = try c2.convTranspose2d(p["wt2d"]!, stride: (2, 2)).sigmoid()  // [2, 2, 16, 32]
        let ln = try t2.narrow(3, start: 0, length: 8).layerNorm([8], weight: p["lw"]!)
        let padded = try ln.reshape([2, 2 * 16, 8]).pad([2, 3], mode: .reflect)
        let table = try p["emb"]!.indexSelect(0, Tensor.indices([2, 0, 1, 2]))
        let mixed = try Tensor.cat([table, table.exp().pow(0.5)], dim: 1).permute([1, 0]).max([1]).sum()
        let ratio = try (padded.abs() + 1.0).rsqrt().mean([1, 2]).sum() / (u.norm() + 1.0)
        // The synth decoder's oscillator: frame controls interpolated to samples, phase as a running sum.
        let osc = try flat.narrow(1, start: 0, length: 16).reshape([2, 2, 8])
        let upA = try osc.upsampleLinear(frames: 29, alignCorners: true)
        let upB = try osc.upsampleLinear(frames: 16, alignCorners: false)
        let phase = try (upA * 3.0).cumsum(2)
        let wrapped = try (upA * 3.0).cumsum(2, float64: true).remainder(2 * Double.pi).toFloat()
        let synth = try (phase.sin() * upA.sigmoid()).mean() + phase.cos().mean() + upB.exp().cumsum(1).mean()
            + (wrapped.sin() * upB.narrow(2, start: 0, length: 1)).mean()
        return try lin + logMag + roundTrip + c2.mean() + padded.square().mean() + mixed + ratio - (2.0 - h.min([2]).mean())
            + synth
    }

    static let python = """
    import json, math, sys, torch
    import torch.nn.functional as F
    torch.set_num_threads(1)
    shapes = json.loads(sys.argv[1])
    def vals(shape, seed):
        n = 1
        for s in shape: n *= s
        return torch.tensor([math.sin(0.7 * i + seed) * 0.5 for i in range(n)], dtype=torch.float32).reshape(shape)
    p = {name: vals(shape, k * 0.31).requires_grad_() for k, (name, shape) in enumerate(shapes)}
    def loss(p):
        h = F.leaky_relu(F.group_norm(F.conv1d(p["x"], p["w1"], p["b1"], padding=1), 2, p["gw"], p["gb"]), 0.2)
        u = torch.tanh(F.conv_transpose1d(h, p["w2"], p["b2"], stride=2, padding=1))
        flat = u.narrow(1, 0, 1).reshape(2, 128)
        lin = F.softplus(F.linear(flat, p["wl"], p["bl"])).sum()
        window = torch.hann_window(32)
        spec = torch.view_as_real(torch.stft(flat, 32, 8, 32, window, center=True, pad_mode="reflect", normalized=False, onesided=True, return_complex=True))
        re, im = spec.narrow(3, 0, 1), spec.narrow(3, 1, 1)
        mag = (re.square() + im.square() + 1e-7).sqrt()
        log_mag = (mag + 1e-5).log().mean()
        back = torch.istft(torch.view_as_complex(spec.contiguous()), 32, 8, 32, window, center=True, length=128)
        round_trip = (back - flat).square().mean() * 100.0
        img = flat.reshape(2, 1, 8, 16)
        c2 = F.gelu(F.conv2d(img, p["w2d"], padding=(1, 1)))
        t2 = torch.sigmoid(F.conv_transpose2d(c2, p["wt2d"], stride=(2, 2)))
        ln = F.layer_norm(t2.narrow(3, 0, 8), [8], p["lw"])
        padded = F.pad(ln.reshape(2, 32, 8), [2, 3], mode="reflect")
        table = p["emb"].index_select(0, torch.tensor([2, 0, 1, 2]))
        mixed = torch.cat([table, table.exp().pow(0.5)], 1).permute(1, 0).amax(1).sum()
        ratio = (padded.abs() + 1.0).rsqrt().mean([1, 2]).sum() / (u.norm() + 1.0)
        osc = flat.narrow(1, 0, 16).reshape(2, 2, 8)
        up_a = F.interpolate(osc, size=29, mode="linear", align_corners=True)
        up_b = F.interpolate(osc, size=16, mode="linear", align_corners=False)
        phase = (up_a * 3.0).cumsum(2)
        wrapped = torch.remainder(torch.cumsum(up_a * 3.0, 2, dtype=torch.float64), 2 * math.pi).float()
        synth = (phase.sin() * up_a.sigmoid()).mean() + phase.cos().mean() + up_b.exp().cumsum(1).mean() + (wrapped.sin() * up_b.narrow(2, 0, 1)).mean()
        return lin + log_mag + round_trip + c2.mean() + padded.square().mean() + mixed + ratio - (2.0 - h.amin(2).mean()) + synth
    l = loss(p)
    l.backward()
    out = {"loss": l.item(), "grads": {k: v.grad.reshape(-1).tolist() for k, v in p.items()}}
    params = list(p.values())
    opt = torch.optim.AdamW(params, lr=0.01, betas=(0.9, 0.99), eps=1e-8, weight_decay=0.01)
    norms = []
    for step in range(3):
        opt.zero_grad()
        loss(p).backward()
        norms.append(float(torch.nn.utils.clip_grad_norm_(params, 1.0)))
        opt.step()
    out["norms"] = norms
    out["after"] = {k: v.detach().reshape(-1).tolist() for k, v in p.items()}
    print(json.dumps(out))
    """

    struct Reference: Decodable {
        var loss: Double
        var grads: [String: [Float]]
        var norms: [Double]
        var after: [String: [Float]]
    }

    static func reference() throws -> Reference {
        let dir = TemporaryDirectory()
        let script = dir.file("autograd.py")
        try python.write(to: script, atomically: true, encoding: .utf8)
        let shapesJSON = "[" + shapes.map { "[\"\($0.0)\", \($0.1)]" }.joined(separator: ",") + "]"
        let result = try runPython(script, [shapesJSON])
        #expect(result.status == 0, "python failed: \(result.stderr)")
        return try JSONDecoder().decode(Reference.self, from: Data(result.stdout.utf8))
    }

    static func leaves() throws -> [(String, Tensor)] {
        try shapes.enumerated().map { k, entry in (entry.0, try leaf(entry.1, Double(k) * 0.31)) }
    }

    static func maxDifference(_ a: [Float], _ b: [Float]) -> Float {
        precondition(a.count == b.count)
        return zip(a, b).map { Swift.abs($0 - $1) }.max() ?? 0
    }

    @Test func lossGradientsAndAdamWMatchPyTorch() throws {
        Torch.applyDefaults()
        let reference = try Self.reference()
        let named = try Self.leaves()
        let p = Dictionary(uniqueKeysWithValues: named)
        let loss = try Self.loss(p)
        #expect(Swift.abs(try loss.item() - reference.loss) < 1e-4 * max(1, Swift.abs(reference.loss)))
        try loss.backward()
        for (name, tensor) in named {
            let grad = try #require(try tensor.grad(), "no gradient for \(name)")
            let difference = Self.maxDifference(try grad.floats(), reference.grads[name]!)
            #expect(difference < 1e-4, "gradient of \(name) differs by \(difference)")
        }

        let params = named.map(\.1)
        let optimizer = try AdamOptimizer(parameters: params, learningRate: 0.01, beta1: 0.9, beta2: 0.99,
                                          weightDecay: 0.01, decoupled: true)
        for step in 0..<3 {
            try optimizer.zeroGrad()
            try Self.loss(p).backward()
            let norm = try Torch.clipGradNorm(params, maxNorm: 1.0)
            #expect(Swift.abs(norm - reference.norms[step]) < 1e-3 * max(1, reference.norms[step]))
            try optimizer.step()
        }
        for (name, tensor) in named {
            let difference = Self.maxDifference(try tensor.floats(), reference.after[name]!)
            #expect(difference < 1e-4, "\(name) after AdamW differs by \(difference)")
        }
    }

    /// Saving after two steps and resuming into fresh tensors and a fresh optimizer
    /// continues exactly as an uninterrupted run.
    @Test func checkpointRoundTripResumesExactly() throws {
        Torch.applyDefaults()
        let dir = TemporaryDirectory()
        func run(steps: Range<Int>, _ p: [String: Tensor], _ optimizer: AdamOptimizer) throws {
            for _ in steps {
                try optimizer.zeroGrad()
                try Self.loss(p).backward()
                try Torch.clipGradNorm(optimizer.parameters, maxNorm: 1.0)
                try optimizer.step()
            }
        }
        let straight = try Self.leaves()
        let straightOptimizer = try AdamOptimizer(parameters: straight.map(\.1), learningRate: 0.01, weightDecay: 0.01)
        try run(steps: 0..<4, Dictionary(uniqueKeysWithValues: straight), straightOptimizer)

        let first = try Self.leaves()
        let firstOptimizer = try AdamOptimizer(parameters: first.map(\.1), learningRate: 0.01, weightDecay: 0.01)
        try run(steps: 0..<2, Dictionary(uniqueKeysWithValues: first), firstOptimizer)
        let archive = try TensorArchive()
        for (name, t) in first { try archive.write(name, t) }
        try archive.write("optimizer", optimizer: firstOptimizer)
        try archive.save(to: dir.file("ckpt.pt"))

        let loaded = try TensorArchive(contentsOf: dir.file("ckpt.pt"))
        let second = try Self.shapes.map { name, shape in (name, try Tensor.zeros(shape)) }
        for (name, t) in second {
            try t.assign(loaded.tensor(name))
            t.requiresGrad = true
        }
        let secondOptimizer = try AdamOptimizer(parameters: second.map(\.1), learningRate: 0.01, weightDecay: 0.01)
        try loaded.read("optimizer", into: secondOptimizer)
        try run(steps: 2..<4, Dictionary(uniqueKeysWithValues: second), secondOptimizer)
        for ((name, a), (_, b)) in zip(straight, second) {
            #expect(try a.floats() == b.floats(), "\(name) differs after resuming")
        }
        #expect(throws: TorchError.self) { try loaded.tensor("missing") }
        #expect(throws: TorchError.self) { try TensorArchive(contentsOf: dir.file("nothing.pt")) }
    }

    @Test func shapeErrorsAreTorchErrors() throws {
        let a = try Tensor.zeros([2, 3]), b = try Tensor.zeros([4, 5])
        let error = try #require(throws: TorchError.self) { try a.matmul(b) }
        #expect(error.description.contains("matmul"))
        #expect(!error.description.contains("\n"))
    }
}

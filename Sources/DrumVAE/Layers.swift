import Foundation
import Torch

/// The model's parameters by name, in creation order (checkpoints and export use the names).
final class ParameterList {
    private(set) var entries: [(name: String, tensor: Tensor)] = []

    /// A new trainable tensor drawn uniformly in ±bound (PyTorch's default layer initialisation).
    func uniform(_ name: String, _ shape: [Int], bound: Double) throws -> Tensor {
        let t = try Torch.withoutGradients { try (Tensor.rand(shape) * 2.0 - 1.0) * bound }
        t.requiresGrad = true
        entries.append((name, t))
        return t
    }

    func constant(_ name: String, _ shape: [Int], _ value: Double) throws -> Tensor {
        let t = try Tensor.full(shape, value)
        t.requiresGrad = true
        entries.append((name, t))
        return t
    }

    var tensors: [Tensor] { entries.map(\.tensor) }
}

/// A layer the Swift model calls and the export writes as TorchScript: both use
/// the same aten operations with the same arguments, so they agree to float rounding.
protocol ScriptableLayer {
    func callAsFunction(_ x: Tensor) throws -> Tensor
    /// The TorchScript expression applying this layer to the expression `x`.
    func script(_ x: String) -> String
}

struct Linear: ScriptableLayer {
    let name: String
    let weight: Tensor, bias: Tensor

    init(_ name: String, _ inputs: Int, _ outputs: Int, _ params: ParameterList) throws {
        self.name = name
        let bound = 1 / Double(inputs).squareRoot()
        weight = try params.uniform("\(name)_w", [outputs, inputs], bound: bound)
        bias = try params.uniform("\(name)_b", [outputs], bound: bound)
    }

    func callAsFunction(_ x: Tensor) throws -> Tensor { try x.linear(weight, bias: bias) }
    func script(_ x: String) -> String { "torch.linear(\(x), self.\(name)_w, self.\(name)_b)" }
}

struct Conv1d: ScriptableLayer {
    let name: String
    let weight: Tensor, bias: Tensor
    let stride: Int, padding: Int, dilation: Int

    /// A kernel-1 convolution is given dilation 2 (the same result): libtorch 1.13 sends an
    /// undilated, unstrided 1×1 convolution with a batch under 16 on one thread to its slow
    /// im2col path (25× slower here, measured) instead of oneDNN.
    init(_ name: String, _ inputs: Int, _ outputs: Int, kernel: Int, stride: Int = 1, padding: Int = 0,
         _ params: ParameterList) throws {
        self.name = name
        self.stride = stride
        self.padding = padding
        dilation = kernel == 1 && stride == 1 ? 2 : 1
        let bound = 1 / Double(inputs * kernel).squareRoot()
        weight = try params.uniform("\(name)_w", [outputs, inputs, kernel], bound: bound)
        bias = try params.uniform("\(name)_b", [outputs], bound: bound)
    }

    func callAsFunction(_ x: Tensor) throws -> Tensor {
        try x.conv1d(weight, bias: bias, stride: stride, padding: padding, dilation: dilation)
    }
    func script(_ x: String) -> String {
        "torch.conv1d(\(x), self.\(name)_w, self.\(name)_b, [\(stride)], [\(padding)], [\(dilation)], 1)"
    }
}

/// Nearest-neighbour ×2 in time then a kernel-3 convolution: the decoder's upsampling.
/// (libtorch 1.13 runs transposed 1-D convolutions on its slow path on one thread; this
/// runs on oneDNN, 14× faster here, and avoids the checkerboard of strided transposes.)
struct Upsample: ScriptableLayer {
    let conv: Conv1d
    let channels: Int, inputFrames: Int

    init(_ name: String, channels: Int, inputFrames: Int, _ params: ParameterList) throws {
        conv = try Conv1d(name, channels, channels, kernel: 3, padding: 1, params)
        self.channels = channels
        self.inputFrames = inputFrames
    }

    func callAsFunction(_ x: Tensor) throws -> Tensor {
        try conv(x.upsampleNearest(frames: 2 * inputFrames))
    }
    func script(_ x: String) -> String {
        conv.script("torch.upsample_nearest1d(\(x), [\(2 * inputFrames)], None)")
    }
}

struct GroupNorm: ScriptableLayer {
    let name: String
    let groups: Int
    let weight: Tensor, bias: Tensor

    init(_ name: String, groups: Int, channels: Int, _ params: ParameterList) throws {
        self.name = name
        self.groups = groups
        weight = try params.constant("\(name)_w", [channels], 1)
        bias = try params.constant("\(name)_b", [channels], 0)
    }

    func callAsFunction(_ x: Tensor) throws -> Tensor { try x.groupNorm(groups: groups, weight: weight, bias: bias) }
    func script(_ x: String) -> String { "torch.group_norm(\(x), \(groups), self.\(name)_w, self.\(name)_b, 1e-05, False)" }
}

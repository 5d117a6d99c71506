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
    let stride: Int, padding: Int

    init(_ name: String, _ inputs: Int, _ outputs: Int, kernel: Int, stride: Int = 1, padding: Int = 0,
         _ params: ParameterList) throws {
        self.name = name
        self.stride = stride
        self.padding = padding
        let bound = 1 / Double(inputs * kernel).squareRoot()
        weight = try params.uniform("\(name)_w", [outputs, inputs, kernel], bound: bound)
        bias = try params.uniform("\(name)_b", [outputs], bound: bound)
    }

    func callAsFunction(_ x: Tensor) throws -> Tensor { try x.conv1d(weight, bias: bias, stride: stride, padding: padding) }
    func script(_ x: String) -> String {
        "torch.conv1d(\(x), self.\(name)_w, self.\(name)_b, [\(stride)], [\(padding)], [1], 1)"
    }
}

struct ConvTranspose1d: ScriptableLayer {
    let name: String
    let weight: Tensor, bias: Tensor
    let stride: Int, padding: Int

    init(_ name: String, _ inputs: Int, _ outputs: Int, kernel: Int, stride: Int, padding: Int, _ params: ParameterList) throws {
        self.name = name
        self.stride = stride
        self.padding = padding
        let bound = 1 / Double(outputs * kernel).squareRoot()
        weight = try params.uniform("\(name)_w", [inputs, outputs, kernel], bound: bound)
        bias = try params.uniform("\(name)_b", [outputs], bound: bound)
    }

    func callAsFunction(_ x: Tensor) throws -> Tensor { try x.convTranspose1d(weight, bias: bias, stride: stride, padding: padding) }
    func script(_ x: String) -> String {
        "torch.conv_transpose1d(\(x), self.\(name)_w, self.\(name)_b, [\(stride)], [\(padding)], [0], 1, [1])"
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

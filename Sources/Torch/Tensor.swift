import CTorch
import Foundation

/// A libtorch tensor that can carry gradients, owned by this object (freed in `deinit`).
///
/// Every operation returns a new tensor and records itself for autograd when
/// gradients are enabled (`Torch.withoutGradients` turns that off). Operations
/// throw `TorchError` with libtorch's message (shape mismatches, bad arguments):
/// one `try` covers a whole expression.
public final class Tensor: @unchecked Sendable {
    let handle: tb_tensor

    init(handle: tb_tensor) { self.handle = handle }

    deinit { tb_tensor_free(handle) }

    /// Runs a shim call that returns a new handle.
    static func make(_ what: @autoclosure () -> String, _ body: (UnsafeMutablePointer<tb_tensor?>) -> Int32) throws -> Tensor {
        var out: tb_tensor?
        try check(body(&out), what())
        return Tensor(handle: out!)
    }

    // MARK: Creation

    /// A float32 tensor holding `values` in C order.
    public convenience init(_ values: [Float], shape: [Int], requiresGrad: Bool = false) throws {
        precondition(shape.reduce(1, *) == values.count, "shape \(shape) does not hold \(values.count) values")
        let dims = shape.map(Int64.init)
        var out: tb_tensor?
        let status = values.withUnsafeBufferPointer { v in
            tb_at_from_floats(v.baseAddress, dims, Int32(dims.count), requiresGrad ? 1 : 0, &out)
        }
        try check(status, "creating a tensor of shape \(shape)")
        self.init(handle: out!)
    }

    /// An int64 tensor (indices, classes).
    public static func indices(_ values: [Int], shape: [Int]? = nil) throws -> Tensor {
        let shape = shape ?? [values.count]
        let dims = shape.map(Int64.init)
        let data = values.map(Int64.init)
        return try make("creating an index tensor") { tb_at_from_ints(data, dims, Int32(dims.count), $0) }
    }

    /// A tensor filled with one value.
    public static func full(_ shape: [Int], _ value: Double) throws -> Tensor {
        let dims = shape.map(Int64.init)
        return try make("creating a tensor of shape \(shape)") { tb_at_full(dims, Int32(dims.count), value, $0) }
    }

    public static func zeros(_ shape: [Int]) throws -> Tensor { try full(shape, 0) }

    /// Standard normal draws from libtorch's global generator (`Torch.manualSeed`).
    public static func randn(_ shape: [Int]) throws -> Tensor {
        let dims = shape.map(Int64.init)
        return try make("drawing a normal tensor") { tb_at_randn(dims, Int32(dims.count), $0) }
    }

    /// Uniform draws in [0, 1) from libtorch's global generator.
    public static func rand(_ shape: [Int]) throws -> Tensor {
        let dims = shape.map(Int64.init)
        return try make("drawing a uniform tensor") { tb_at_rand(dims, Int32(dims.count), $0) }
    }

    /// The periodic Hann window of `torch.hann_window`.
    public static func hannWindow(_ length: Int) throws -> Tensor {
        try make("a Hann window") { tb_at_hann_window(Int64(length), $0) }
    }

    // MARK: Reading and writing

    /// The sizes of each dimension.
    public var shape: [Int] {
        (0..<Int(tb_tensor_ndim(handle))).map { Int(tb_tensor_size(handle, Int32($0))) }
    }

    public var elementCount: Int { shape.reduce(1, *) }

    /// Every value as float32 in C order.
    public func floats() throws -> [Float] {
        let count = elementCount
        var values = [Float](repeating: 0, count: count)
        try values.withUnsafeMutableBufferPointer { buffer in
            try check(tb_tensor_copy_to(handle, buffer.baseAddress, Int64(count)), "reading a tensor")
        }
        return values
    }

    /// The value of a one-element tensor.
    public func item() throws -> Double {
        var value = 0.0
        try check(tb_at_item(handle, &value), "reading a scalar")
        return value
    }

    /// Overwrites the values in place without recording for autograd (loading weights).
    public func assign(_ values: [Float]) throws {
        try values.withUnsafeBufferPointer { v in
            try check(tb_at_copy_from(handle, v.baseAddress, Int64(v.count)), "assigning \(v.count) values")
        }
    }

    /// Copies another tensor's values into this one in place, without recording.
    public func assign(_ other: Tensor) throws {
        try check(tb_at_copy_(handle, other.handle), "copying a tensor")
    }

    public func clone() throws -> Tensor { try Tensor.make("clone") { tb_at_clone(handle, $0) } }

    /// The same values, cut from the autograd graph.
    public func detached() throws -> Tensor { try Tensor.make("detach") { tb_at_detach(handle, $0) } }

    /// Whether autograd accumulates a gradient for this tensor (a leaf parameter).
    public var requiresGrad: Bool {
        get { tb_at_requires_grad(handle) == 1 }
        set { _ = tb_at_set_requires_grad(handle, newValue ? 1 : 0) }
    }

    // MARK: Autograd

    /// Back-propagates from this scalar, accumulating gradients in the leaves.
    public func backward() throws { try check(tb_at_backward(handle), "backward") }

    /// The accumulated gradient, or nil before any backward pass reached this tensor.
    public func grad() throws -> Tensor? {
        var out: tb_tensor?
        try check(tb_at_grad(handle, &out), "reading a gradient")
        return out.map { Tensor(handle: $0) }
    }

    /// Drops the accumulated gradient.
    public func zeroGrad() throws { try check(tb_at_zero_grad(handle), "zeroing a gradient") }
}

// MARK: Element-wise operations

extension Tensor {
    func unary(_ kind: Int32, _ name: String) throws -> Tensor {
        try Tensor.make(name) { tb_at_unary(kind, handle, $0) }
    }
    func binary(_ kind: Int32, _ other: Tensor, _ name: String) throws -> Tensor {
        try Tensor.make("\(name) of \(shape) and \(other.shape)") { tb_at_binary(kind, handle, other.handle, $0) }
    }
    func scalar(_ kind: Int32, _ s: Double, _ name: String) throws -> Tensor {
        try Tensor.make(name) { tb_at_scalar(kind, handle, s, $0) }
    }

    public func exp() throws -> Tensor { try unary(Int32(TB_EXP), "exp") }
    public func log() throws -> Tensor { try unary(Int32(TB_LOG), "log") }
    public func log1p() throws -> Tensor { try unary(Int32(TB_LOG1P), "log1p") }
    public func sqrt() throws -> Tensor { try unary(Int32(TB_SQRT), "sqrt") }
    public func rsqrt() throws -> Tensor { try unary(Int32(TB_RSQRT), "rsqrt") }
    public func abs() throws -> Tensor { try unary(Int32(TB_ABS), "abs") }
    public func tanh() throws -> Tensor { try unary(Int32(TB_TANH), "tanh") }
    public func sigmoid() throws -> Tensor { try unary(Int32(TB_SIGMOID), "sigmoid") }
    public func relu() throws -> Tensor { try unary(Int32(TB_RELU), "relu") }
    public func elu() throws -> Tensor { try unary(Int32(TB_ELU), "elu") }
    public func gelu() throws -> Tensor { try unary(Int32(TB_GELU), "gelu") }
    public func softplus() throws -> Tensor { try unary(Int32(TB_SOFTPLUS), "softplus") }
    public func sin() throws -> Tensor { try unary(Int32(TB_SIN), "sin") }
    public func cos() throws -> Tensor { try unary(Int32(TB_COS), "cos") }
    public func square() throws -> Tensor { try unary(Int32(TB_SQUARE), "square") }
    /// The same values as float32 (after a float64 `cumsum`).
    public func toFloat() throws -> Tensor { try unary(Int32(TB_TO_FLOAT), "to float32") }
    /// The values as float16 (half the bytes; `assign` into a float32 tensor converts back).
    public func toHalf() throws -> Tensor { try unary(Int32(TB_TO_HALF), "to float16") }
    /// `torch.remainder(x, s)`: x − s·floor(x / s), in [0, s) for s > 0 (gradient 1).
    public func remainder(_ s: Double) throws -> Tensor { try scalar(Int32(TB_REMAINDER_S), s, "remainder") }
    public func leakyRelu(_ slope: Double = 0.2) throws -> Tensor { try scalar(Int32(TB_LEAKY_RELU_S), slope, "leaky_relu") }
    public func pow(_ exponent: Double) throws -> Tensor { try scalar(Int32(TB_POW_S), exponent, "pow") }
    public func clamp(min: Double) throws -> Tensor { try scalar(Int32(TB_CLAMP_MIN_S), min, "clamp_min") }
    public func clamp(max: Double) throws -> Tensor { try scalar(Int32(TB_CLAMP_MAX_S), max, "clamp_max") }
    /// 1 where the value is above `threshold`, 0 elsewhere (float32).
    public func greater(than threshold: Double) throws -> Tensor { try scalar(Int32(TB_GT_S), threshold, "gt") }
    public func maximum(_ other: Tensor) throws -> Tensor { try binary(Int32(TB_MAXIMUM), other, "maximum") }
    public func minimum(_ other: Tensor) throws -> Tensor { try binary(Int32(TB_MINIMUM), other, "minimum") }
    public func atan2(_ other: Tensor) throws -> Tensor { try binary(Int32(TB_ATAN2), other, "atan2") }

    public static func + (a: Tensor, b: Tensor) throws -> Tensor { try a.binary(Int32(TB_ADD), b, "add") }
    public static func - (a: Tensor, b: Tensor) throws -> Tensor { try a.binary(Int32(TB_SUB), b, "sub") }
    public static func * (a: Tensor, b: Tensor) throws -> Tensor { try a.binary(Int32(TB_MUL), b, "mul") }
    public static func / (a: Tensor, b: Tensor) throws -> Tensor { try a.binary(Int32(TB_DIV), b, "div") }
    public static func + (a: Tensor, s: Double) throws -> Tensor { try a.scalar(Int32(TB_ADD_S), s, "add") }
    public static func - (a: Tensor, s: Double) throws -> Tensor { try a.scalar(Int32(TB_ADD_S), -s, "sub") }
    public static func * (a: Tensor, s: Double) throws -> Tensor { try a.scalar(Int32(TB_MUL_S), s, "mul") }
    public static func / (a: Tensor, s: Double) throws -> Tensor { try a.scalar(Int32(TB_MUL_S), 1 / s, "div") }
    public static func - (s: Double, a: Tensor) throws -> Tensor { try a.scalar(Int32(TB_RSUB_S), s, "rsub") }
    public static func * (s: Double, a: Tensor) throws -> Tensor { try a.scalar(Int32(TB_MUL_S), s, "mul") }
    public static prefix func - (a: Tensor) throws -> Tensor { try a.unary(Int32(TB_NEG), "neg") }
}

// MARK: Reductions

extension Tensor {
    func reduce(_ kind: Int32, _ dims: [Int], _ keepDims: Bool, _ name: String) throws -> Tensor {
        let d = dims.map(Int64.init)
        return try Tensor.make("\(name) over \(dims) of \(shape)") { tb_at_reduce(kind, handle, d, Int32(d.count), keepDims ? 1 : 0, $0) }
    }

    /// The sum over `dims`, or of everything when `dims` is empty.
    public func sum(_ dims: [Int] = [], keepDims: Bool = false) throws -> Tensor { try reduce(Int32(TB_SUM), dims, keepDims, "sum") }
    /// The mean over `dims`, or of everything when `dims` is empty.
    public func mean(_ dims: [Int] = [], keepDims: Bool = false) throws -> Tensor { try reduce(Int32(TB_MEAN), dims, keepDims, "mean") }
    public func max(_ dims: [Int], keepDims: Bool = false) throws -> Tensor { try reduce(Int32(TB_AMAX), dims, keepDims, "amax") }
    public func min(_ dims: [Int], keepDims: Bool = false) throws -> Tensor { try reduce(Int32(TB_AMIN), dims, keepDims, "amin") }
    /// The L2 norm over `dims`, or of everything.
    public func norm(_ dims: [Int] = [], keepDims: Bool = false) throws -> Tensor { try reduce(Int32(TB_NORM), dims, keepDims, "norm") }
}

// MARK: Layers as functions (weights laid out as in torch.nn.functional)

extension Tensor {
    public func matmul(_ other: Tensor) throws -> Tensor {
        try Tensor.make("matmul of \(shape) and \(other.shape)") { tb_at_matmul(handle, other.handle, $0) }
    }

    /// `x W^T + b` with `weight` [out, in].
    public func linear(_ weight: Tensor, bias: Tensor? = nil) throws -> Tensor {
        try Tensor.make("linear of \(shape) with weight \(weight.shape)") { tb_at_linear(handle, weight.handle, bias?.handle, $0) }
    }

    /// 1-D convolution of [batch, in, frames] with `weight` [out, in/groups, kernel].
    public func conv1d(_ weight: Tensor, bias: Tensor? = nil, stride: Int = 1, padding: Int = 0, dilation: Int = 1, groups: Int = 1) throws -> Tensor {
        try Tensor.make("conv1d of \(shape) with weight \(weight.shape)") {
            tb_at_conv1d(handle, weight.handle, bias?.handle, Int64(stride), Int64(padding), Int64(dilation), Int64(groups), $0)
        }
    }

    /// Transposed 1-D convolution with `weight` [in, out/groups, kernel].
    public func convTranspose1d(_ weight: Tensor, bias: Tensor? = nil, stride: Int = 1, padding: Int = 0, outputPadding: Int = 0,
                                groups: Int = 1, dilation: Int = 1) throws -> Tensor {
        try Tensor.make("conv_transpose1d of \(shape) with weight \(weight.shape)") {
            tb_at_conv_transpose1d(handle, weight.handle, bias?.handle, Int64(stride), Int64(padding), Int64(outputPadding),
                                   Int64(groups), Int64(dilation), $0)
        }
    }

    /// 2-D convolution of [batch, in, h, w] with `weight` [out, in/groups, kh, kw].
    public func conv2d(_ weight: Tensor, bias: Tensor? = nil, stride: (Int, Int) = (1, 1), padding: (Int, Int) = (0, 0),
                       dilation: (Int, Int) = (1, 1), groups: Int = 1) throws -> Tensor {
        let s = [Int64(stride.0), Int64(stride.1)], p = [Int64(padding.0), Int64(padding.1)]
        let d = [Int64(dilation.0), Int64(dilation.1)]
        return try Tensor.make("conv2d of \(shape) with weight \(weight.shape)") {
            tb_at_conv2d(handle, weight.handle, bias?.handle, s, p, d, Int64(groups), $0)
        }
    }

    /// Transposed 2-D convolution with `weight` [in, out/groups, kh, kw].
    public func convTranspose2d(_ weight: Tensor, bias: Tensor? = nil, stride: (Int, Int) = (1, 1), padding: (Int, Int) = (0, 0),
                                outputPadding: (Int, Int) = (0, 0), groups: Int = 1, dilation: (Int, Int) = (1, 1)) throws -> Tensor {
        let s = [Int64(stride.0), Int64(stride.1)], p = [Int64(padding.0), Int64(padding.1)]
        let o = [Int64(outputPadding.0), Int64(outputPadding.1)], d = [Int64(dilation.0), Int64(dilation.1)]
        return try Tensor.make("conv_transpose2d of \(shape) with weight \(weight.shape)") {
            tb_at_conv_transpose2d(handle, weight.handle, bias?.handle, s, p, o, Int64(groups), d, $0)
        }
    }

    /// Group normalisation over [batch, channels, ...].
    public func groupNorm(groups: Int, weight: Tensor? = nil, bias: Tensor? = nil, eps: Double = 1e-5) throws -> Tensor {
        try Tensor.make("group_norm of \(shape)") { tb_at_group_norm(handle, Int64(groups), weight?.handle, bias?.handle, eps, $0) }
    }

    /// Layer normalisation over the trailing `normalizedShape`.
    public func layerNorm(_ normalizedShape: [Int], weight: Tensor? = nil, bias: Tensor? = nil, eps: Double = 1e-5) throws -> Tensor {
        let d = normalizedShape.map(Int64.init)
        return try Tensor.make("layer_norm of \(shape)") { tb_at_layer_norm(handle, d, Int32(d.count), weight?.handle, bias?.handle, eps, $0) }
    }
}

// MARK: Shapes

extension Tensor {
    public func reshape(_ dims: [Int]) throws -> Tensor {
        let d = dims.map(Int64.init)
        return try Tensor.make("reshape \(shape) to \(dims)") { tb_at_reshape(handle, d, Int32(d.count), $0) }
    }
    public func permute(_ dims: [Int]) throws -> Tensor {
        let d = dims.map(Int64.init)
        return try Tensor.make("permute \(shape) by \(dims)") { tb_at_permute(handle, d, Int32(d.count), $0) }
    }
    public func transpose(_ a: Int, _ b: Int) throws -> Tensor {
        try Tensor.make("transpose \(shape)") { tb_at_transpose(handle, Int64(a), Int64(b), $0) }
    }
    /// `length` entries from `start` along `dim` (a view).
    public func narrow(_ dim: Int, start: Int, length: Int) throws -> Tensor {
        try Tensor.make("narrow \(shape) at dim \(dim) [\(start), +\(length))") { tb_at_narrow(handle, Int64(dim), Int64(start), Int64(length), $0) }
    }
    public func unsqueeze(_ dim: Int) throws -> Tensor { try Tensor.make("unsqueeze") { tb_at_unsqueeze(handle, Int64(dim), $0) } }
    public func squeeze(_ dim: Int) throws -> Tensor { try Tensor.make("squeeze") { tb_at_squeeze(handle, Int64(dim), $0) } }
    public func expand(_ dims: [Int]) throws -> Tensor {
        let d = dims.map(Int64.init)
        return try Tensor.make("expand \(shape) to \(dims)") { tb_at_expand(handle, d, Int32(d.count), $0) }
    }
    /// Rows (along `dim`) picked by an int64 index tensor.
    public func indexSelect(_ dim: Int, _ index: Tensor) throws -> Tensor {
        try Tensor.make("index_select") { tb_at_index_select(handle, Int64(dim), index.handle, $0) }
    }

    /// How `pad` fills the new border.
    public enum PadMode: Int32, Sendable { case constant = 0, reflect = 1, replicate = 2 }

    /// `torch.nn.functional.pad`: `pads` pairs from the last dimension backwards.
    public func pad(_ pads: [Int], mode: PadMode = .constant, value: Double = 0) throws -> Tensor {
        let p = pads.map(Int64.init)
        return try Tensor.make("pad \(shape) by \(pads)") { tb_at_pad(handle, p, Int32(p.count), mode.rawValue, value, $0) }
    }

    /// Concatenates along `dim`.
    public static func cat(_ tensors: [Tensor], dim: Int) throws -> Tensor {
        let handles: [tb_tensor?] = tensors.map { $0.handle }
        return try withExtendedLifetime(tensors) {
            try make("cat of \(tensors.map(\.shape)) at dim \(dim)") { tb_at_cat(handles, Int32(handles.count), Int64(dim), $0) }
        }
    }
}

// MARK: Upsampling

extension Tensor {
    /// Nearest-neighbour upsampling of [batch, channels, frames] to `frames` frames
    /// (`F.interpolate(mode="nearest")`).
    public func upsampleNearest(frames: Int) throws -> Tensor {
        try Tensor.make("upsample_nearest1d of \(shape) to \(frames)") { tb_at_upsample_nearest1d(handle, Int64(frames), $0) }
    }

    /// Linear interpolation of [batch, channels, frames] to `frames` frames
    /// (`F.interpolate(mode="linear", align_corners=alignCorners)`): with `alignCorners` the
    /// first and last input frames land exactly on the first and last output frames.
    public func upsampleLinear(frames: Int, alignCorners: Bool) throws -> Tensor {
        try Tensor.make("upsample_linear1d of \(shape) to \(frames)") {
            tb_at_upsample_linear1d(handle, Int64(frames), alignCorners ? 1 : 0, $0)
        }
    }

    /// The running sum along `dim` (`torch.cumsum`); with `float64` it accumulates in and
    /// returns float64 (a long float32 running sum rounds every addition at the precision of
    /// its growing total); `toFloat` brings the result back to float32.
    public func cumsum(_ dim: Int, float64: Bool = false) throws -> Tensor {
        try Tensor.make("cumsum of \(shape) along \(dim)") { tb_at_cumsum(handle, Int64(dim), float64 ? 1 : 0, $0) }
    }
}

// MARK: Spectra

extension Tensor {
    /// The STFT of [batch, samples]: [batch, bins, frames, 2] (real, imaginary),
    /// centred frames with reflect padding, as `torch.stft(..., center=True)`.
    public func stft(nFFT: Int, hop: Int, window: Tensor?) throws -> Tensor {
        try Tensor.make("stft(\(nFFT), \(hop)) of \(shape)") { tb_at_stft(handle, Int64(nFFT), Int64(hop), window?.handle, $0) }
    }

    /// The inverse of `stft` back to [batch, length].
    public func istft(nFFT: Int, hop: Int, window: Tensor?, length: Int) throws -> Tensor {
        try Tensor.make("istft(\(nFFT), \(hop)) of \(shape)") { tb_at_istft(handle, Int64(nFFT), Int64(hop), window?.handle, Int64(length), $0) }
    }
}

extension Torch {
    /// Whether operations record for autograd on this thread.
    public static var gradientsEnabled: Bool {
        get { tb_is_grad_enabled() == 1 }
        set { tb_set_grad_enabled(newValue ? 1 : 0) }
    }

    /// Runs `body` without recording for autograd (inference, evaluation), as `torch.no_grad()`.
    public static func withoutGradients<T>(_ body: () throws -> T) rethrows -> T {
        let was = gradientsEnabled
        gradientsEnabled = false
        defer { gradientsEnabled = was }
        return try body()
    }

    /// `torch.nn.utils.clip_grad_norm_`: scales the gradients so their joint L2
    /// norm is at most `maxNorm`; returns the norm before clipping.
    @discardableResult
    public static func clipGradNorm(_ parameters: [Tensor], maxNorm: Double) throws -> Double {
        let handles: [tb_tensor?] = parameters.map { $0.handle }
        var total = 0.0
        try withExtendedLifetime(parameters) {
            try check(tb_clip_grad_norm(handles, Int32(handles.count), maxNorm, &total), "clipping gradients")
        }
        return total
    }
}

import CTorch
import Foundation

/// A loaded TorchScript module (`torch.jit.load`), owned by this object.
///
/// Not thread-safe: use one instance per thread (or per live stream); `copy()`
/// makes an independent instance with its own parameters and buffers.
public final class ScriptModule: @unchecked Sendable {
    let handle: tb_module
    /// Where the module was loaded from, used in error messages.
    public let name: String

    /// Loads a TorchScript file. Fails with a one-line reason for a missing,
    /// empty, truncated or non-TorchScript file.
    public init(contentsOf url: URL) throws {
        Torch.applyDefaults()
        let path = url.path
        name = url.lastPathComponent
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw TorchError(context: path, message: "no such file")
        }
        if isDirectory.boolValue { throw TorchError(context: path, message: "is a folder, not a TorchScript file") }
        if let size = try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int, size == 0 {
            throw TorchError(context: path, message: "empty file, not a TorchScript model")
        }
        var out: tb_module?
        do {
            try check(tb_module_load(path, &out), path)
        } catch let error as TorchError {
            throw TorchError(context: path, message: Self.explainLoadError(error.summary))
        }
        handle = out!
    }

    init(handle: tb_module, name: String) {
        self.handle = handle
        self.name = name
    }

    deinit { tb_module_free(handle) }

    /// libtorch's zip reader speaks of central directories; say what it means.
    private static func explainLoadError(_ message: String) -> String {
        if message.contains("central directory") || message.contains("PytorchStreamReader") {
            return "not a TorchScript model, or a truncated one (\(message))"
        }
        return message
    }

    /// An independent deep copy: its parameters and buffers, streaming caches
    /// included, are its own.
    public func copy() throws -> ScriptModule {
        var out: tb_module?
        try check(tb_module_deepcopy(handle, &out), "\(name): copying the model")
        return ScriptModule(handle: out!, name: name)
    }

    /// A copy for another stream of the same model: its own buffers (streaming caches
    /// included) and attributes, the same parameter tensors as this module. Instances
    /// made this way read one copy of the weights (less memory, and the weights stay
    /// in the shared cache while several instances run). Inference never writes
    /// parameters; do not train an instance made this way.
    public func instanceSharingParameters() throws -> ScriptModule {
        var out: tb_module?
        try check(tb_module_instance_sharing_parameters(handle, &out), "\(name): making an instance of the model")
        return ScriptModule(handle: out!, name: name)
    }

    /// Whether `other` holds this module's parameter tensors (not copies of them).
    public func sharesParameters(with other: ScriptModule) -> Bool {
        tb_module_parameters_shared(handle, other.handle) == 1
    }

    /// Saves the module as a TorchScript file.
    public func save(to url: URL) throws {
        try check(tb_module_save(handle, url.path), url.path)
    }

    /// Every compiled method's name.
    public var methodNames: [String] {
        var out: UnsafeMutablePointer<CChar>?
        guard tb_module_method_names(handle, &out) == 0 else { return [] }
        return takeString(out).split(separator: "\n").map(String.init)
    }

    /// Every attribute's name on the top-level module (parameters, buffers, plain attributes, submodules).
    public var attributeNames: [String] {
        var out: UnsafeMutablePointer<CChar>?
        guard tb_module_attribute_names(handle, &out) == 0 else { return [] }
        return takeString(out).split(separator: "\n").map(String.init)
    }

    public func hasMethod(_ name: String) -> Bool { tb_module_has_method(handle, name) == 1 }

    public func hasAttribute(_ name: String) -> Bool { tb_module_has_attribute(handle, name) == 1 }

    /// An attribute's value (tensors as `{shape, dtype, values}` objects, values only when small).
    public func attribute(_ attribute: String) throws -> JSONValue {
        var out: UnsafeMutablePointer<CChar>?
        try check(tb_module_attribute_json(handle, attribute, &out), "\(name): attribute '\(attribute)'")
        return try JSONValue(jsonText: takeString(out))
    }

    /// Calls a method that takes no arguments.
    public func call(_ method: String) throws -> JSONValue {
        var out: UnsafeMutablePointer<CChar>?
        try check(tb_module_call_json(handle, method, &out), "\(name): method '\(method)'")
        return try JSONValue(jsonText: takeString(out))
    }

    /// Calls a method with scalar arguments, each converted from text per its type.
    public func call(_ method: String, scalars: [(String, ScalarType)]) throws -> JSONValue {
        var out: UnsafeMutablePointer<CChar>?
        var cStrings = scalars.map { strdup($0.0) }
        defer { cStrings.forEach { free($0) } }
        let kinds = scalars.map { Int32($0.1.rawValue) }
        let status = cStrings.withUnsafeMutableBufferPointer { strings in
            strings.withMemoryRebound(to: UnsafePointer<CChar>?.self) { args in
                tb_module_call_scalars_json(handle, method, args.baseAddress, kinds, Int32(scalars.count), &out)
            }
        }
        try check(status, "\(name): method '\(method)'")
        return try JSONValue(jsonText: takeString(out))
    }

    /// Looks a method up once, for many calls.
    public func method(_ method: String) throws -> ScriptMethod {
        var out: tb_method?
        try check(tb_method_get(handle, method, &out), "\(name): method '\(method)'")
        return ScriptMethod(handle: out!, name: method, owner: self.name)
    }
}

/// Argument types of nn~ attributes (nn_tilde's type codes).
public enum ScalarType: Int, Sendable, Codable, CustomStringConvertible {
    case bool = 0, int = 1, float = 2, string = 3, tensor = 4

    public var description: String {
        switch self {
        case .bool: "bool"
        case .int: "int"
        case .float: "float"
        case .string: "str"
        case .tensor: "tensor"
        }
    }
}

/// A method of a module, looked up once and called many times on
/// `[batch, channels, frames]` float buffers.
public final class ScriptMethod: @unchecked Sendable {
    let handle: tb_method
    public let name: String
    let owner: String

    init(handle: tb_method, name: String, owner: String) {
        self.handle = handle
        self.name = name
        self.owner = owner
    }

    deinit { tb_method_free(handle) }

    /// Runs the method under inference mode: the input is copied once into a
    /// tensor and the 3-D output once into `output`. Returns the output's shape.
    @discardableResult
    public func callAsFunction(
        _ input: UnsafeBufferPointer<Float>, batch: Int, channels: Int, frames: Int,
        into output: UnsafeMutableBufferPointer<Float>
    ) throws -> (batch: Int, channels: Int, frames: Int) {
        precondition(input.count >= batch * channels * frames, "input buffer smaller than its shape")
        var dims: (Int64, Int64, Int64) = (0, 0, 0)
        let status = withUnsafeMutableBytes(of: &dims) { raw in
            tb_method_call_into(
                handle, input.baseAddress, Int64(batch), Int64(channels), Int64(frames),
                output.baseAddress, Int64(output.count), raw.baseAddress!.assumingMemoryBound(to: Int64.self))
        }
        try check(status, "\(owner): method '\(name)'")
        return (Int(dims.0), Int(dims.1), Int(dims.2))
    }

    /// Runs the method and returns its output as a new tensor.
    public func callAsFunction(_ input: DenseTensor) throws -> DenseTensor {
        precondition(input.shape.count == 3, "nn~ methods take [batch, channels, frames]")
        var out: tb_tensor?
        let status = input.values.withUnsafeBufferPointer { buffer in
            tb_method_call(handle, buffer.baseAddress, Int64(input.shape[0]), Int64(input.shape[1]),
                           Int64(input.shape[2]), &out)
        }
        try check(status, "\(owner): method '\(name)'")
        return try DenseTensor(taking: out!)
    }
}

/// A small dense float tensor held in Swift memory (C order): a method's output
/// copied out of libtorch. (`Tensor` is the autograd tensor that stays in libtorch.)
public struct DenseTensor: Sendable, Equatable {
    public var shape: [Int]
    public var values: [Float]

    public init(shape: [Int], values: [Float]) {
        precondition(shape.reduce(1, *) == values.count, "shape \(shape) does not hold \(values.count) values")
        self.shape = shape
        self.values = values
    }

    public init(zeros shape: [Int]) {
        self.init(shape: shape, values: [Float](repeating: 0, count: shape.reduce(1, *)))
    }

    init(taking handle: tb_tensor) throws {
        defer { tb_tensor_free(handle) }
        let ndim = Int(tb_tensor_ndim(handle))
        let shape = (0..<ndim).map { Int(tb_tensor_size(handle, Int32($0))) }
        let count = shape.reduce(1, *)
        var values = [Float](repeating: 0, count: count)
        try values.withUnsafeMutableBufferPointer { buffer in
            try check(tb_tensor_copy_to(handle, buffer.baseAddress, Int64(count)), "reading a tensor")
        }
        self.init(shape: shape, values: values)
    }
}

extension ScriptModule {
    /// The baseline of `timbre bench inference`: a plain C++ loop inside the shim
    /// calling `get_method(name)` on this module with a preallocated input tensor.
    /// Returns each call's wall time in seconds.
    public func baselineTimes(method: String, input: [Float], channels: Int, frames: Int, iterations: Int) throws -> [Double] {
        precondition(input.count == channels * frames)
        var seconds = [Double](repeating: 0, count: iterations)
        let status = input.withUnsafeBufferPointer { inBuf in
            seconds.withUnsafeMutableBufferPointer { out in
                tb_bench_baseline(handle, method, inBuf.baseAddress, Int64(channels), Int64(frames), Int32(iterations), out.baseAddress)
            }
        }
        try check(status, "\(name): method '\(method)'")
        return seconds
    }
}

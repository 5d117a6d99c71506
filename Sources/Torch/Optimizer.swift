import CTorch
import Foundation

/// libtorch's Adam, or AdamW (decoupled weight decay), over a fixed list of parameters.
public final class AdamOptimizer: @unchecked Sendable {
    let handle: tb_optimizer
    /// The parameters, kept alive as long as the optimizer refers to them.
    public let parameters: [Tensor]

    /// `decoupled: true` is AdamW (weight decay applied to the weights, not the gradient).
    public init(parameters: [Tensor], learningRate: Double, beta1: Double = 0.9, beta2: Double = 0.999,
                eps: Double = 1e-8, weightDecay: Double = 0, decoupled: Bool = true) throws {
        self.parameters = parameters
        let handles: [tb_tensor?] = parameters.map { $0.handle }
        var out: tb_optimizer?
        try check(tb_opt_adam(handles, Int32(handles.count), learningRate, beta1, beta2, eps, weightDecay, decoupled ? 1 : 0, &out),
                  "creating the optimizer")
        handle = out!
    }

    deinit { tb_opt_free(handle) }

    /// One update from the accumulated gradients.
    public func step() throws { try check(tb_opt_step(handle), "optimizer step") }

    /// Clears the parameters' gradients.
    public func zeroGrad() throws { try check(tb_opt_zero_grad(handle), "zeroing gradients") }

    /// Sets the learning rate of every parameter group.
    public func setLearningRate(_ rate: Double) throws { try check(tb_opt_set_lr(handle, rate), "setting the learning rate") }
}

/// A checkpoint file (libtorch's serialize archive): named tensors and optimizer state.
public final class TensorArchive: @unchecked Sendable {
    let handle: tb_archive
    let path: String

    /// An empty archive to write.
    public init() throws {
        var out: tb_archive?
        try check(tb_archive_new(&out), "creating a checkpoint")
        handle = out!
        path = "checkpoint"
    }

    /// Reads an archive written by `save(to:)`.
    public init(contentsOf url: URL) throws {
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw TorchError(context: url.path, message: "no such file")
        }
        var out: tb_archive?
        try check(tb_archive_load(url.path, &out), url.path)
        handle = out!
        path = url.path
    }

    deinit { tb_archive_free(handle) }

    public func write(_ name: String, _ tensor: Tensor) throws {
        try check(tb_archive_write_tensor(handle, name, tensor.handle), "writing '\(name)'")
    }

    public func tensor(_ name: String) throws -> Tensor {
        try Tensor.make("\(path): reading '\(name)'") { tb_archive_read_tensor(handle, name, $0) }
    }

    public func write(_ name: String, optimizer: AdamOptimizer) throws {
        try check(tb_archive_write_optimizer(handle, name, optimizer.handle), "writing optimizer state '\(name)'")
    }

    /// Loads saved optimizer state into an optimizer built over the same parameters.
    public func read(_ name: String, into optimizer: AdamOptimizer) throws {
        try check(tb_archive_read_optimizer(handle, name, optimizer.handle), "\(path): reading optimizer state '\(name)'")
    }

    /// Writes the archive atomically: to a temporary file beside `url`, then renamed.
    public func save(to url: URL) throws {
        let temp = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).\(getpid()).tmp")
        try check(tb_archive_save(handle, temp.path), url.path)
        if rename(temp.path, url.path) != 0 {
            let reason = String(cString: strerror(errno))
            unlink(temp.path)
            throw TorchError(context: url.path, message: "cannot rename the checkpoint into place: \(reason)")
        }
    }
}

extension ScriptModule {
    /// An empty script module to assemble in C++ (export): register tensors and
    /// attributes, then define methods from TorchScript source.
    public static func assemble(className: String) throws -> ScriptModule {
        var out: tb_module?
        try check(tb_script_new(className, &out), "creating a script module")
        return ScriptModule(handle: out!, name: className)
    }

    /// Registers a parameter (`buffer: false`) or a buffer (streaming state, `<method>_params`).
    public func register(_ name: String, _ tensor: Tensor, buffer: Bool) throws {
        try check(tb_script_register_tensor(handle, name, tensor.handle, buffer ? 1 : 0), "\(self.name): registering '\(name)'")
    }

    public func register(_ name: String, int value: Int) throws {
        try check(tb_script_register_int(handle, name, Int64(value)), "\(self.name): registering '\(name)'")
    }

    public func register(_ name: String, strings: [String]) throws {
        var cStrings = strings.map { strdup($0) }
        defer { cStrings.forEach { free($0) } }
        let status = cStrings.withUnsafeMutableBufferPointer { p in
            p.withMemoryRebound(to: UnsafePointer<CChar>?.self) { tb_script_register_string_list(handle, name, $0.baseAddress, Int32(strings.count)) }
        }
        try check(status, "\(self.name): registering '\(name)'")
    }

    /// Compiles methods from TorchScript source into this module.
    public func define(_ source: String) throws {
        try check(tb_script_define(handle, source), "\(name): compiling TorchScript")
    }

    /// Calls a method on tensors (not under inference mode, so state buffers can be mutated and read back).
    public func call(_ method: String, _ arguments: [Tensor]) throws -> Tensor {
        let handles: [tb_tensor?] = arguments.map { $0.handle }
        return try withExtendedLifetime(arguments) {
            try Tensor.make("\(name): method '\(method)'") { tb_script_call(handle, method, handles, Int32(handles.count), $0) }
        }
    }
}

import CTorch
import Foundation

/// Whether one instance of a model can run several independent streams in one call.
public enum BatchSupport: Sendable, Equatable {
    /// The calls keep no state: any batch works.
    case stateless
    /// State lives in the named buffers, with this many rows, one per batch element (RAVE's
    /// cached convolutions allocate 64): up to this many streams, each stream's row swapped in.
    case rows(Int, state: [String])
    /// Not batchable, and why (state replaced rather than updated, state without batch rows, ...).
    case unsupported(String)
}

extension ScriptModule {
    /// Probes, on a throwaway copy, whether streams can share a batched call: each method
    /// (name, input channels, frames) runs twice on noise at batch 1, then once at batch 2.
    /// Draws from libtorch's global generator: hold whatever lock guards it.
    public func batchSupport(methods: [(name: String, channels: Int, frames: Int)]) throws -> BatchSupport {
        var rows: Int64 = 1
        var reason: UnsafeMutablePointer<CChar>?
        var stateNames: UnsafeMutablePointer<CChar>?
        var names = methods.map { strdup($0.name) }
        defer { names.forEach { free($0) } }
        let channels = methods.map { Int64($0.channels) }
        let frames = methods.map { Int64($0.frames) }
        let status = names.withUnsafeMutableBufferPointer { strings in
            strings.withMemoryRebound(to: UnsafePointer<CChar>?.self) { args in
                tb_module_batch_rows(handle, args.baseAddress, channels, frames, Int32(methods.count), &rows, &reason, &stateNames)
            }
        }
        try check(status, "\(name): probing batched calls")
        let why = takeString(reason), stateList = takeString(stateNames)
        switch rows {
        case 0: return .stateless
        case 1: return .unsupported(why)
        default: return .rows(Int(rows), state: stateList.split(separator: "\n").map(String.init))
        }
    }
}

/// One stream's state rows in a module's batch-state buffers: saved from a row after a
/// call, loaded into a row before the next. Plain memory copies (no libtorch dispatch).
/// Not thread-safe: use it where the module is used.
public final class BatchState: @unchecked Sendable {
    let handle: tb_batch_state
    /// Rows of each state buffer (the largest batch).
    public let rows: Int
    /// Floats one row holds over all the state buffers.
    public let rowFloats: Int
    // Keeps the module (and so its buffers) alive.
    private let module: ScriptModule

    /// The state rows of `buffers` (as `batchSupport` named them) in `module`.
    public init(module: ScriptModule, rows: Int, buffers: [String]) throws {
        var out: tb_batch_state?
        try check(tb_batch_state_create(module.handle, Int64(rows), buffers.joined(separator: "\n"), &out), "\(module.name): batch state")
        handle = out!
        self.rows = rows
        self.module = module
        rowFloats = Int(tb_batch_state_row_floats(handle))
    }

    deinit { tb_batch_state_free(handle) }

    /// Copies row `row` of every state buffer into `destination` (`rowFloats` floats).
    public func save(row: Int, into destination: UnsafeMutablePointer<Float>) {
        precondition(row >= 0 && row < rows)
        _ = tb_batch_state_save(handle, Int64(row), destination)
    }

    /// Copies `source` (`rowFloats` floats) into row `row` of every state buffer.
    public func load(row: Int, from source: UnsafePointer<Float>) {
        precondition(row >= 0 && row < rows)
        _ = tb_batch_state_load(handle, Int64(row), source)
    }
}

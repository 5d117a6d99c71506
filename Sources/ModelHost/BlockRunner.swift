import Torch

/// Runs one method of an nn~ model over planar signals, one block at a time,
/// as a live host does: each stream has its own model instance, so a streaming
/// model's cache carries from block to block and streams never share state.
///
/// It executes the method's `CallPlan` (kind `.method`) on each stream's instance.
/// Buffers are allocated once at creation; `run` only copies.
public final class BlockRunner: PlanStream {
    public let method: NNMethod
    /// Input frames per block for each stream (samples for audio, latent frames otherwise).
    public let inputFrames: Int
    /// Output frames per block for each stream.
    public let outputFrames: Int
    /// Number of independent streams (model instances).
    public let streams: Int

    /// The method's plan (`CallPlan.Kind.method`), one executor per stream's instance.
    public let plan: CallPlan
    private let executors: [PlanExecutor]
    private var input: [Float]

    /// - Parameters:
    ///   - block: samples per block at the model's rate; a multiple of the model's minimum block.
    ///   - streams: independent instances to run side by side (e.g. one per channel of a stereo file through a mono model).
    public init(model: NNModel, method name: String, block: Int, streams: Int = 1) throws {
        method = try model.method(named: name)
        guard block > 0, block % model.minimumBlock == 0 else {
            throw TorchError(context: model.url.path,
                             message: "block \(block) is not a multiple of the model's minimum block \(model.minimumBlock)")
        }
        plan = try CallPlan(model: model, kind: .method(name), block: block)
        inputFrames = plan.input.frames
        outputFrames = plan.output.frames
        self.streams = streams
        // The first stream uses the loaded instance; others get their own copies.
        var instances = [model]
        for _ in 1..<max(streams, 1) { instances.append(try model.instance()) }
        let plan = self.plan
        executors = try instances.map { try PlanExecutor(plan: plan, model: $0) }
        input = [Float](repeating: 0, count: plan.input.count)
    }

    /// Runs one block of one stream. `block` holds `method.inChannels` planar
    /// channels of `inputFrames` each; returns `method.outChannels` channels of `outputFrames`.
    public func run(stream: Int, _ block: [[Float]]) throws -> [[Float]] {
        precondition(block.count == method.inChannels && block.allSatisfy { $0.count == inputFrames },
                     "block shape does not match the method")
        for (c, channel) in block.enumerated() {
            input.withUnsafeMutableBufferPointer { dst in
                channel.withUnsafeBufferPointer { src in
                    (dst.baseAddress! + c * inputFrames).update(from: src.baseAddress!, count: inputFrames)
                }
            }
        }
        try executors[stream].run(batch: 1) { _ in self }
        return executors[stream].withOutput(row: 0) { out in
            (0..<method.outChannels).map { c in Array(out[(c * outputFrames)..<((c + 1) * outputFrames)]) }
        }
    }

    /// The block `run` was given, as the plan's input.
    public func readInput(into destination: UnsafeMutableBufferPointer<Float>) {
        input.withUnsafeBufferPointer { destination.baseAddress!.update(from: $0.baseAddress!, count: destination.count) }
    }
}

import Torch

/// Runs one method of an nn~ model over planar signals, one block at a time,
/// as a live host does: each stream has its own model instance, so a streaming
/// model's cache carries from block to block and streams never share state.
///
/// Buffers are allocated once at creation; `run` only copies.
public final class BlockRunner {
    public let method: NNMethod
    /// Input frames per block for each stream (samples for audio, latent frames otherwise).
    public let inputFrames: Int
    /// Output frames per block for each stream.
    public let outputFrames: Int
    /// Number of independent streams (model instances).
    public let streams: Int

    private let calls: [ScriptMethod]
    private let instances: [NNModel]
    private var input: [Float]
    private var output: [Float]

    /// - Parameters:
    ///   - block: samples per block at the model's rate; a multiple of the model's minimum block.
    ///   - streams: independent instances to run side by side (e.g. one per channel of a stereo file through a mono model).
    public init(model: NNModel, method name: String, block: Int, streams: Int = 1) throws {
        method = try model.method(named: name)
        guard block > 0, block % model.minimumBlock == 0 else {
            throw TorchError(context: model.url.path,
                             message: "block \(block) is not a multiple of the model's minimum block \(model.minimumBlock)")
        }
        inputFrames = block / method.inRatio
        outputFrames = block / method.outRatio
        self.streams = streams
        // The first stream uses the loaded instance; others get their own copies.
        var instances = [model]
        for _ in 1..<max(streams, 1) { instances.append(try model.instance()) }
        self.instances = instances
        calls = try instances.map { try $0.module.method(name) }
        input = [Float](repeating: 0, count: method.inChannels * inputFrames)
        output = [Float](repeating: 0, count: method.outChannels * outputFrames)
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
        let shape = try input.withUnsafeBufferPointer { inBuf in
            try output.withUnsafeMutableBufferPointer { outBuf in
                try calls[stream](inBuf, batch: 1, channels: method.inChannels, frames: inputFrames, into: outBuf)
            }
        }
        guard shape.batch == 1, shape.channels == method.outChannels, shape.frames == outputFrames else {
            throw TorchError(context: instances[stream].url.path,
                             message: "method '\(method.name)' returned [\(shape.batch), \(shape.channels), \(shape.frames)], expected [1, \(method.outChannels), \(outputFrames)]")
        }
        return (0..<method.outChannels).map { c in Array(output[(c * outputFrames)..<((c + 1) * outputFrames)]) }
    }
}

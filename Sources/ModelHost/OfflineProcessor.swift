import AudioIO
import Foundation
import Torch

/// Options of `timbre process`.
public struct ProcessOptions: Sendable {
    /// The method to run (`forward` by default); any method the model has.
    public var method: String = "forward"
    /// Samples per block at the model's rate; nil picks 2048 rounded up to the model's minimum block.
    public var block: Int?
    /// Seeds libtorch's generator once before the first block.
    public var seed: UInt64?
    /// Output sample format for audio.
    public var format: SampleFormat = .float32

    public init(method: String = "forward", block: Int? = nil, seed: UInt64? = nil, format: SampleFormat = .float32) {
        self.method = method
        self.block = block
        self.seed = seed
        self.format = format
    }
}

/// What a run did, for the user.
public struct ProcessReport: Sendable, Codable {
    public var model: String
    public var method: String
    public var modelRate: Int
    public var sourceRate: Int
    public var block: Int
    public var blocks: Int
    /// How file channels met model channels, in words.
    public var channelMapping: String
    /// Samples by which the output lags the input because of the host: none offline,
    /// block k of the output is the model's answer to block k of the input.
    /// A model's own internal delay (a causal RAVE's, say) is not stated by
    /// the nn~ interface and is left in the output as the model produces it.
    public var hostLatencySamples: Int
    public var outputs: [String]
    public var seconds: Double
    /// Seconds of audio processed per second of wall time.
    public var realTimeFactor: Double
}

/// The latent file's companion: how to turn latents back into audio of the right rate and length.
public struct LatentSidecar: Codable, Sendable, Equatable {
    public var model: String
    public var method: String
    public var sampleRate: Int
    /// Samples per latent frame at the model's rate.
    public var hop: Int
    public var frames: Int
    public var dimensions: Int
    public var streams: Int
    public var sourceRate: Int
    public var sourceFrames: Int
}

/// Streams files through a model block by block, as a live host would, with
/// resampling to and from the model's rate and channel mapping.
///
/// Channels: a file whose channel count equals the model's input goes through
/// one instance. A mono model on a file of N channels runs N independent
/// instances, one per channel (each keeps its own streaming state), and writes
/// N channels. A multichannel model on a mono file gets the mono signal on
/// every input. Other combinations are an error.
///
/// Kinds of method, by their ratios: audio to audio (`forward`) reads and writes
/// audio files; audio to latent (`encode`) writes a `.npy` of frames × dimensions
/// (streams × frames × dimensions for several streams) and a `.json` sidecar;
/// latent to audio (`decode`) reads such a `.npy` (and its sidecar when present,
/// to restore the source rate and length); latent to latent writes `.npy`.
public enum OfflineProcessor {
    public static let defaultBlock = 2048

    /// The block used when none is given: 2048, rounded up to a multiple of the model's minimum block.
    public static func defaultBlock(for model: NNModel) -> Int {
        let minimum = model.minimumBlock
        return max(minimum, ((defaultBlock + minimum - 1) / minimum) * minimum)
    }

    public static func process(
        model: NNModel, input: URL, output: URL, options: ProcessOptions = .init(),
        progress: ((Double) -> Void)? = nil
    ) throws -> ProcessReport {
        let start = Date()
        let method = try model.method(named: options.method)
        let block = options.block ?? defaultBlock(for: model)
        let modelName = model.url.lastPathComponent

        // 1. Input signal, as streams × channels × frames at the model's input frame rate.
        var streams: [[[Float]]]
        var mapping: String
        var sourceRate: Int
        var sourceFrames: Int
        var modelRate = model.sampleRate ?? 0
        if method.takesAudio {
            let audio = try AudioFile.read(input)
            guard audio.frameCount > 0 else {
                throw AudioFileError(path: input.path, reason: "no audio frames (empty file)")
            }
            sourceRate = Int(audio.sampleRate.rounded())
            sourceFrames = audio.frameCount
            if modelRate == 0 { modelRate = sourceRate }
            let atModelRate = try Resampler.resample(audio, to: Double(modelRate))
            (streams, mapping) = try mapChannels(atModelRate.channels, modelChannels: method.inChannels,
                                                 file: input.path, model: modelName)
        } else {
            let (latents, sidecar) = try readLatents(input, channels: method.inChannels)
            streams = latents
            mapping = latents.count == 1 ? "one latent stream" : "\(latents.count) latent streams, one model instance each"
            let framesPerStream = latents[0].first?.count ?? 0
            sourceRate = sidecar?.sourceRate ?? modelRate
            sourceFrames = sidecar?.sourceFrames
                ?? Int((Double(framesPerStream * method.inRatio) * Double(sourceRate) / Double(max(modelRate, 1))).rounded())
            if modelRate == 0 {
                throw TorchError(context: model.url.path, message: "the model states no sample rate (no 'sr' attribute), needed to decode latents")
            }
        }

        // 2. Stream blocks through one instance per stream, seeding once before the first.
        let runner = try BlockRunner(model: model, method: method.name, block: block, streams: streams.count)
        let framesIn = streams[0][0].count
        let blocks = max(1, (framesIn + runner.inputFrames - 1) / runner.inputFrames)
        var results = [[[Float]]](
            repeating: [[Float]](repeating: [], count: method.outChannels), count: streams.count)
        for s in results.indices {
            for c in 0..<method.outChannels { results[s][c].reserveCapacity(blocks * runner.outputFrames) }
        }
        if let seed = options.seed { Torch.manualSeed(seed) }
        var chunk = [[Float]](repeating: [Float](repeating: 0, count: runner.inputFrames), count: method.inChannels)
        for b in 0..<blocks {
            let from = b * runner.inputFrames
            let to = min(from + runner.inputFrames, framesIn)
            for (s, stream) in streams.enumerated() {
                for c in 0..<method.inChannels {
                    chunk[c].withUnsafeMutableBufferPointer { dst in
                        dst.update(repeating: 0)
                        stream[c].withUnsafeBufferPointer { src in
                            dst.baseAddress!.update(from: src.baseAddress! + from, count: to - from)
                        }
                    }
                }
                let out = try runner.run(stream: s, chunk)
                for c in 0..<method.outChannels { results[s][c].append(contentsOf: out[c]) }
            }
            progress?(Double(b + 1) / Double(blocks))
        }

        // 3. Write what the method gives.
        var outputs: [String] = []
        if method.givesAudio {
            var channels = results.flatMap { $0 }
            let framesAtModelRate = Int((Double(sourceFrames) * Double(modelRate) / Double(sourceRate)).rounded())
            channels = channels.map { Array($0.prefix(framesAtModelRate)) + [Float](repeating: 0, count: max(0, framesAtModelRate - $0.count)) }
            var audio = AudioBuffer(sampleRate: Double(modelRate), channels: channels)
            audio = try Resampler.resample(audio, to: Double(sourceRate))
            audio.channels = audio.channels.map { Array($0.prefix(sourceFrames)) + [Float](repeating: 0, count: max(0, sourceFrames - $0.count)) }
            try AudioFile.write(audio, to: output, format: options.format)
            outputs.append(output.path)
        } else {
            // Keep exactly the frames that cover the input.
            let keep: Int
            if method.takesAudio {
                keep = (framesIn + method.outRatio - 1) / method.outRatio
            } else {
                keep = framesIn * method.inRatio / method.outRatio
            }
            let dims = method.outChannels
            var values: [Float] = []
            values.reserveCapacity(results.count * keep * dims)
            for stream in results {
                for t in 0..<keep { for d in 0..<dims { values.append(stream[d][t]) } }
            }
            let shape = results.count == 1 ? [keep, dims] : [results.count, keep, dims]
            try Npy.write(values, shape: shape, to: output)
            let sidecar = LatentSidecar(model: modelName, method: method.name, sampleRate: modelRate,
                                        hop: method.outRatio, frames: keep, dimensions: dims, streams: results.count,
                                        sourceRate: sourceRate, sourceFrames: sourceFrames)
            let sidecarURL = Self.sidecarURL(for: output)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try writeAtomically(encoder.encode(sidecar), to: sidecarURL)
            outputs += [output.path, sidecarURL.path]
        }

        let seconds = Date().timeIntervalSince(start)
        let audioSeconds = Double(sourceFrames) / Double(max(sourceRate, 1))
        return ProcessReport(model: model.url.path, method: method.name, modelRate: modelRate, sourceRate: sourceRate,
                             block: block, blocks: blocks, channelMapping: mapping, hostLatencySamples: 0,
                             outputs: outputs, seconds: seconds,
                             realTimeFactor: seconds > 0 ? audioSeconds / seconds : 0)
    }

    /// `latents.npy` → `latents.json`.
    public static func sidecarURL(for npy: URL) -> URL {
        npy.deletingPathExtension().appendingPathExtension("json")
    }

    static func mapChannels(_ channels: [[Float]], modelChannels: Int, file: String, model: String) throws
        -> ([[[Float]]], String)
    {
        let count = channels.count
        if count == modelChannels {
            return ([channels], "\(count) channel(s) straight into the model")
        }
        if modelChannels == 1 {
            return (channels.map { [$0] }, "\(count) channels, each through its own instance of the mono model")
        }
        if count == 1 {
            return ([[[Float]]](repeating: channels, count: 1).map { _ in
                [[Float]](repeating: channels[0], count: modelChannels)
            }, "mono file copied to the model's \(modelChannels) inputs")
        }
        throw AudioFileError(path: file, reason: "has \(count) channels; \(model) takes \(modelChannels) (or a mono file)")
    }

    /// Reads frames × dims (or streams × frames × dims) latents as streams × dims × frames.
    static func readLatents(_ url: URL, channels: Int) throws -> ([[[Float]]], LatentSidecar?) {
        let (shape, values) = try Npy.read(url)
        let streams: Int, frames: Int, dims: Int
        switch shape.count {
        case 2: (streams, frames, dims) = (1, shape[0], shape[1])
        case 3: (streams, frames, dims) = (shape[0], shape[1], shape[2])
        default:
            throw AudioFileError(path: url.path, reason: "latents must be frames × dimensions (or streams × frames × dimensions), got shape \(shape)")
        }
        guard dims == channels else {
            throw AudioFileError(path: url.path, reason: "has \(dims) latent dimensions; the method takes \(channels)")
        }
        guard frames > 0, streams > 0 else { throw AudioFileError(path: url.path, reason: "holds no latent frames") }
        guard values.allSatisfy({ $0.isFinite }) else { throw AudioFileError(path: url.path, reason: "contains NaN or infinite values") }
        var result = [[[Float]]](repeating: [[Float]](repeating: [Float](repeating: 0, count: frames), count: dims), count: streams)
        for s in 0..<streams {
            for t in 0..<frames {
                for d in 0..<dims { result[s][d][t] = values[(s * frames + t) * dims + d] }
            }
        }
        var sidecar: LatentSidecar?
        let sidecarURL = sidecarURL(for: url)
        if let data = try? Data(contentsOf: sidecarURL) {
            do { sidecar = try JSONDecoder().decode(LatentSidecar.self, from: data) } catch {
                throw AudioFileError(path: sidecarURL.path, reason: "not a latent sidecar: \(error)")
            }
        }
        return (result, sidecar)
    }

    static func writeAtomically(_ data: Data, to url: URL) throws {
        let temp = url.deletingLastPathComponent()
            .appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        do {
            try data.write(to: temp)
            guard rename(temp.path, url.path) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        } catch {
            try? FileManager.default.removeItem(at: temp)
            throw AudioFileError(path: url.path, reason: "cannot write: \(error.localizedDescription)")
        }
    }
}

import CSoxr
import Foundation

/// How hard the resampler works (libsoxr's quality recipes).
public enum ResamplerQuality: Sendable {
    /// libsoxr "HQ": 20-bit precision, cheap enough for live use.
    case high
    /// libsoxr "VHQ": 28-bit precision, for offline work.
    case veryHigh
}

/// Whole-buffer sample-rate conversion.
public enum Resampler {
    /// Input frames handed to libsoxr per call, which bounds the scratch memory used.
    static let blockFrames = 65536

    /// Resamples every channel of `buffer` to `sampleRate` with very high quality (libsoxr VHQ).
    ///
    /// The output has exactly `round(frameCount * sampleRate / buffer.sampleRate)` frames and is
    /// time-aligned with the input (libsoxr's filter delay is already removed from its output;
    /// the tail is drained and the length trimmed or zero-padded to the exact count).
    /// When the rates are equal the input is returned unchanged.
    ///
    /// - Throws: `ResamplerError` for a non-positive or non-finite rate, ragged channels, or a
    ///   libsoxr failure.
    public static func resample(_ buffer: AudioBuffer, to sampleRate: Double) throws -> AudioBuffer {
        try StreamingResampler.validate(rate: buffer.sampleRate, name: "input")
        try StreamingResampler.validate(rate: sampleRate, name: "output")
        guard buffer.isRectangular else {
            throw ResamplerError(reason: "the buffer's channels have different lengths")
        }
        if sampleRate == buffer.sampleRate { return buffer }
        let frames = buffer.frameCount
        let target = Int((Double(frames) * sampleRate / buffer.sampleRate).rounded())
        guard buffer.channelCount > 0, frames > 0, target > 0 else {
            return AudioBuffer(sampleRate: sampleRate, channelCount: buffer.channelCount, frameCount: max(target, 0))
        }

        let resampler = try StreamingResampler(
            from: buffer.sampleRate, to: sampleRate, channelCount: buffer.channelCount, quality: .veryHigh)
        var output = [[Float]](repeating: [], count: buffer.channelCount)
        for c in output.indices { output[c].reserveCapacity(target + 64) }
        var start = 0
        while start < frames {
            let end = min(frames, start + blockFrames)
            let block = buffer.channels.map { Array($0[start..<end]) }
            append(try resampler.process(block), to: &output)
            start = end
        }
        append(try resampler.flush(), to: &output)

        for c in output.indices {
            if output[c].count > target {
                output[c].removeLast(output[c].count - target)
            } else if output[c].count < target {
                output[c].append(contentsOf: repeatElement(0, count: target - output[c].count))
            }
        }
        return AudioBuffer(sampleRate: sampleRate, channels: output)
    }

    private static func append(_ block: [[Float]], to output: inout [[Float]]) {
        for c in output.indices { output[c].append(contentsOf: block[c]) }
    }
}

/// Block-by-block resampling with state (libsoxr `soxr_process`), for live hosts.
///
/// Feed successive blocks of planar audio to `process(_:)`; each call returns whatever output is
/// ready, which may be more or fewer frames than `inputFrames * ratio`. At the end of the stream
/// call `flush()` to drain the tail. The concatenation of all outputs does not depend on how the
/// input was cut into blocks, and is time-aligned with the input (libsoxr drops its filter's
/// leading delay itself). After `flush()` the resampler is cleared and ready for a new stream.
///
/// Not `Sendable`: it owns a mutable libsoxr handle and scratch memory, so use each instance from
/// one task or thread at a time.
public final class StreamingResampler {
    /// Frames per second of the input.
    public let inputRate: Double
    /// Frames per second of the output.
    public let outputRate: Double
    /// The number of planar channels every block must have.
    public let channelCount: Int
    /// The quality recipe this resampler was created with.
    public let quality: ResamplerQuality

    private let soxr: Soxr

    /// Creates a resampler from `inputRate` to `outputRate` for `channelCount` channels.
    ///
    /// - Throws: `ResamplerError` for non-positive or non-finite rates, fewer than one channel,
    ///   or when libsoxr refuses the configuration.
    public init(from inputRate: Double, to outputRate: Double, channelCount: Int, quality: ResamplerQuality = .high) throws {
        try Self.validate(rate: inputRate, name: "input")
        try Self.validate(rate: outputRate, name: "output")
        guard channelCount >= 1, channelCount <= 4096 else {
            throw ResamplerError(reason: "channel count \(channelCount) is out of range (1...4096)")
        }
        self.inputRate = inputRate
        self.outputRate = outputRate
        self.channelCount = channelCount
        self.quality = quality
        self.soxr = try Soxr(from: inputRate, to: outputRate, channelCount: channelCount, veryHigh: quality == .veryHigh)
    }

    /// Resamples one block of planar input (`channelCount` arrays of equal length) and returns the
    /// planar output that is ready, possibly none.
    ///
    /// - Throws: `ResamplerError` when the block has the wrong number of channels or ragged
    ///   channels, or libsoxr fails.
    public func process(_ input: [[Float]]) throws -> [[Float]] {
        guard input.count == channelCount else {
            throw ResamplerError(reason: "expected \(channelCount) channel(s), got \(input.count)")
        }
        let frames = input.first?.count ?? 0
        guard input.allSatisfy({ $0.count == frames }) else {
            throw ResamplerError(reason: "the block's channels have different lengths")
        }
        return try soxr.run(input: input, frames: frames, outputHint: Int((Double(frames) * outputRate / inputRate).rounded(.up)))
    }

    /// Drains the output still held in the filter at the end of the stream, then clears the
    /// resampler so it can start a fresh stream.
    ///
    /// - Throws: `ResamplerError` when libsoxr fails.
    public func flush() throws -> [[Float]] {
        let tail = try soxr.run(input: nil, frames: 0, outputHint: 0)
        try soxr.clear()
        return tail
    }

    /// Forgets any buffered input and starts a fresh stream (libsoxr `soxr_clear`).
    public func reset() throws {
        try soxr.clear()
    }

    /// The resampler's current delay in output frames (libsoxr `soxr_delay`): input already given
    /// whose output has not yet been returned.
    public var delayFrames: Double { soxr.delay }

    static func validate(rate: Double, name: String) throws {
        guard rate.isFinite, rate > 0 else {
            throw ResamplerError(reason: "\(name) sample rate \(rate) must be positive and finite")
        }
    }
}

/// The raw libsoxr handle and its scratch buffers; all pointer code of the resampler lives here.
private final class Soxr {
    private let handle: OpaquePointer
    private let channelCount: Int
    /// Planar input scratch: channel `c` occupies `[c * inputCapacity, (c + 1) * inputCapacity)`.
    private var input: UnsafeMutablePointer<Float>?
    private var inputCapacity = 0
    /// Planar output scratch, laid out like `input`.
    private let output: UnsafeMutablePointer<Float>
    private let outputCapacity = 16384

    init(from inputRate: Double, to outputRate: Double, channelCount: Int, veryHigh: Bool) throws {
        var ioSpec = timbre_soxr_io_spec_float_split()
        var qualitySpec = veryHigh ? timbre_soxr_quality_vhq() : timbre_soxr_quality_hq()
        var error: soxr_error_t?
        let created = soxr_create(inputRate, outputRate, UInt32(channelCount), &error, &ioSpec, &qualitySpec, nil)
        guard let created, error == nil else {
            if let created { soxr_delete(created) }
            throw ResamplerError(reason: "cannot create a \(inputRate) Hz -> \(outputRate) Hz resampler: \(Self.message(error))")
        }
        self.handle = created
        self.channelCount = channelCount
        self.output = .allocate(capacity: outputCapacity * channelCount)
    }

    deinit {
        soxr_delete(handle)
        input?.deallocate()
        output.deallocate()
    }

    var delay: Double { soxr_delay(handle) }

    func clear() throws {
        if let error = soxr_clear(handle) { throw ResamplerError(reason: Self.message(error)) }
    }

    /// Feeds `frames` frames of `input` (or, when nil, signals end of input) and collects every
    /// output frame libsoxr produces.
    func run(input channels: [[Float]]?, frames: Int, outputHint: Int) throws -> [[Float]] {
        var result = [[Float]](repeating: [], count: channelCount)
        for c in 0..<channelCount { result[c].reserveCapacity(outputHint + 16) }

        if let channels {
            if input == nil || inputCapacity < frames {
                input?.deallocate()
                inputCapacity = max(frames, 1024)
                input = .allocate(capacity: inputCapacity * channelCount)
            }
            for c in 0..<channelCount where frames > 0 {
                channels[c].withUnsafeBufferPointer {
                    (input! + c * inputCapacity).update(from: $0.baseAddress!, count: frames)
                }
            }
        }
        let outputPointers: [UnsafeMutablePointer<Float>?] = (0..<channelCount).map { output + $0 * outputCapacity }

        var consumed = 0
        while true {
            var used = 0
            var produced = 0
            let error: soxr_error_t? = outputPointers.withUnsafeBufferPointer { outs in
                let out = UnsafeMutableRawPointer(mutating: outs.baseAddress!)
                guard channels != nil, let base = input else {
                    // End of input: a NULL input pointer asks libsoxr to drain.
                    return soxr_process(handle, nil, 0, &used, out, outputCapacity, &produced)
                }
                let inputPointers: [UnsafePointer<Float>?] = (0..<channelCount).map {
                    UnsafePointer(base + $0 * inputCapacity + consumed)
                }
                return inputPointers.withUnsafeBufferPointer { ins in
                    soxr_process(handle, UnsafeRawPointer(ins.baseAddress!), frames - consumed, &used, out, outputCapacity, &produced)
                }
            }
            if let error { throw ResamplerError(reason: Self.message(error)) }
            consumed += used
            for c in 0..<channelCount {
                result[c].append(contentsOf: UnsafeBufferPointer(start: output + c * outputCapacity, count: produced))
            }
            let draining = channels == nil
            if used == 0 && produced == 0 {
                if !draining && consumed < frames { throw ResamplerError(reason: "libsoxr stopped taking input") }
                break
            }
            if draining ? produced == 0 : (consumed >= frames && produced < outputCapacity) { break }
        }
        return result
    }

    private static func message(_ error: soxr_error_t?) -> String {
        guard let error else { return "unknown libsoxr error" }
        return String(cString: error)
    }
}

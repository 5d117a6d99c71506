import CSndfile
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// What `AudioFile.info` learns from a file's header, without reading the samples.
public struct AudioFileInfo: Sendable, Equatable {
    /// The file inspected.
    public var url: URL
    /// Frames per second.
    public var sampleRate: Double
    /// The number of channels.
    public var channelCount: Int
    /// The number of frames (samples per channel), as the header or decoder reports it.
    public var frameCount: Int
    /// A short human-readable container and encoding, e.g. "WAV 16-bit PCM", "FLAC 24-bit PCM",
    /// "AIFF 32-bit float", "OGG Vorbis".
    public var format: String

    /// The length in seconds (0 when the sample rate is not positive).
    public var duration: Double { sampleRate > 0 ? Double(frameCount) / sampleRate : 0 }

    /// Makes an info value (normally you get one from `AudioFile.info`).
    public init(url: URL, sampleRate: Double, channelCount: Int, frameCount: Int, format: String) {
        self.url = url
        self.sampleRate = sampleRate
        self.channelCount = channelCount
        self.frameCount = frameCount
        self.format = format
    }
}

/// Reading and writing audio files (through libsndfile).
public enum AudioFile {
    /// Frames moved per `sf_readf_float` / `sf_writef_float` call (fewer when there are many channels).
    static let chunkFrames = 65536

    /// Reads a file's header: rate, channels, length and encoding.
    ///
    /// - Throws: `AudioFileError` naming the file, with libsndfile's reason, when it cannot be opened.
    public static func info(_ url: URL) throws -> AudioFileInfo {
        var sfinfo = SF_INFO()
        let file = try Sndfile.open(url.path, mode: SFM_READ, info: &sfinfo, reportAs: url.path)
        defer { sf_close(file) }
        return AudioFileInfo(
            url: url, sampleRate: Double(sfinfo.samplerate), channelCount: Int(sfinfo.channels),
            frameCount: Int(sfinfo.frames), format: Sndfile.describe(format: sfinfo.format))
    }

    /// Reads a whole file into planar float samples.
    ///
    /// Accepts anything libsndfile decodes (WAV, FLAC, AIFF, OGG Vorbis/Opus, CAF, W64, ...), any
    /// channel count, rate and sample encoding; the type is detected from the contents, not the name.
    /// Integer encodings come back normalised to [-1, 1) (libsndfile's default for float reads).
    ///
    /// - Throws: `AudioFileError` naming the file, with libsndfile's reason, when the file is missing,
    ///   empty, not audio, has a broken header, or fails while decoding.
    public static func read(_ url: URL) throws -> AudioBuffer {
        let path = url.path
        var sfinfo = SF_INFO()
        let file = try Sndfile.open(path, mode: SFM_READ, info: &sfinfo, reportAs: path)
        defer { sf_close(file) }

        let channelCount = Int(sfinfo.channels)
        guard channelCount > 0 else { throw AudioFileError(path: path, reason: "the file has no channels") }
        let framesPerChunk = max(1024, min(chunkFrames, (1 << 22) / channelCount))

        var channels = [[Float]](repeating: [], count: channelCount)
        // The header's frame count is only a hint (it can be absent or wrong); cap the reservation.
        let expected = Int(clamping: sfinfo.frames)
        if expected > 0 {
            let reserve = min(expected, (1 << 28) / channelCount)
            for c in 0..<channelCount { channels[c].reserveCapacity(reserve) }
        }

        var interleaved = [Float](repeating: 0, count: framesPerChunk * channelCount)
        while true {
            let got = interleaved.withUnsafeMutableBufferPointer {
                Int(sf_readf_float(file, $0.baseAddress, sf_count_t(framesPerChunk)))
            }
            if got <= 0 { break }
            deinterleave(interleaved, frames: got, into: &channels)
        }
        if sf_error(file) != 0 {
            throw AudioFileError(path: path, reason: String(cString: sf_strerror(file)))
        }
        return AudioBuffer(sampleRate: Double(sfinfo.samplerate), channels: channels)
    }

    /// Writes `buffer` to `url`, choosing the container from the extension.
    ///
    /// - `.wav`: 16-bit, 24-bit or 32-bit float, as `format` says.
    /// - `.flac`: FLAC stores integers only, so `.float32` is written as **24-bit** FLAC.
    /// - `.aif` / `.aiff`: 16-bit, 24-bit or 32-bit float (AIFC).
    /// - `.ogg` / `.oga`: Ogg Vorbis (lossy); `format` is ignored.
    ///
    /// Floats outside [-1, 1] are clipped (not wrapped) when the encoding is integer.
    /// The data goes to a hidden temporary file in the same folder (`.<name>.tmp-<pid>-<random>`)
    /// that is renamed over `url` only once complete, so a crash never leaves a half-written file;
    /// the temporary file is removed on failure.
    ///
    /// - Throws: `AudioFileError` naming `url` for an unknown extension, an empty or ragged buffer,
    ///   a sample rate or channel count the container cannot hold, or any libsndfile failure.
    public static func write(_ buffer: AudioBuffer, to url: URL, format: SampleFormat = .float32) throws {
        let path = url.path
        guard let type = AudioFileType(url: url) else {
            let ext = url.pathExtension.isEmpty ? "no extension" : "unknown extension '.\(url.pathExtension)'"
            throw AudioFileError(path: path, reason: "cannot choose an audio format from \(ext) (use .wav, .flac, .aiff or .ogg)")
        }
        guard buffer.channelCount > 0 else {
            throw AudioFileError(path: path, reason: "nothing to write: the buffer has no channels")
        }
        guard buffer.isRectangular else {
            throw AudioFileError(path: path, reason: "cannot write: the buffer's channels have different lengths")
        }
        let rate = buffer.sampleRate
        guard rate.isFinite, rate >= 1, rate <= Double(Int32.max), rate.rounded() == rate else {
            throw AudioFileError(path: path, reason: "cannot write at sample rate \(rate): it must be a positive whole number")
        }

        var sfinfo = SF_INFO()
        sfinfo.samplerate = Int32(rate)
        sfinfo.channels = Int32(buffer.channelCount)
        sfinfo.format = Sndfile.formatCode(type: type, sampleFormat: format)
        guard sf_format_check(&sfinfo) != 0 else {
            throw AudioFileError(
                path: path,
                reason: "libsndfile cannot write \(Sndfile.describe(format: sfinfo.format)) with \(buffer.channelCount) channel(s) at \(Int(rate)) Hz")
        }

        let directory = url.deletingLastPathComponent()
        let tempName = ".\(url.lastPathComponent).tmp-\(ProcessInfo.processInfo.processIdentifier)-\(String(UInt32.random(in: .min ... .max), radix: 16))"
        let tempPath = directory.appendingPathComponent(tempName).path

        // Registered before opening: libsndfile may create the file and then fail on the header.
        var renamed = false
        defer { if !renamed { unlink(tempPath) } }
        let file = try Sndfile.open(tempPath, mode: SFM_WRITE, info: &sfinfo, reportAs: path)
        do {
            if Sndfile.isInteger(format: sfinfo.format) {
                sf_command(file, Int32(SFC_SET_CLIPPING), nil, Int32(SF_TRUE))
            }
            // libsndfile's PEAK chunk (float WAV/AIFF) carries a timestamp, so the same samples
            // written twice would give different bytes; timbre prep promises identical files on rerun.
            sf_command(file, Int32(SFC_SET_ADD_PEAK_CHUNK), nil, Int32(SF_FALSE))
            try writeFrames(buffer, to: file, path: path)
        } catch {
            sf_close(file)
            throw error
        }
        if sf_close(file) != 0 {
            throw AudioFileError(path: path, reason: "closing the file failed: \(String(cString: sf_strerror(nil)))")
        }
        if rename(tempPath, path) != 0 {
            let reason = String(cString: strerror(errno))
            throw AudioFileError(path: path, reason: "cannot move the finished temporary file into place: \(reason)")
        }
        renamed = true
    }

    /// Interleaves `buffer` chunk by chunk into an open libsndfile handle.
    private static func writeFrames(_ buffer: AudioBuffer, to file: OpaquePointer, path: String) throws {
        let channelCount = buffer.channelCount
        let framesPerChunk = max(1024, min(chunkFrames, (1 << 22) / channelCount))
        var interleaved = [Float](repeating: 0, count: framesPerChunk * channelCount)
        var start = 0
        while start < buffer.frameCount {
            let count = min(framesPerChunk, buffer.frameCount - start)
            for c in 0..<channelCount {
                let channel = buffer.channels[c]
                for i in 0..<count { interleaved[i * channelCount + c] = channel[start + i] }
            }
            let wrote = interleaved.withUnsafeBufferPointer {
                Int(sf_writef_float(file, $0.baseAddress, sf_count_t(count)))
            }
            guard wrote == count else {
                throw AudioFileError(path: path, reason: "writing failed: \(String(cString: sf_strerror(file)))")
            }
            start += count
        }
    }

    /// Appends `frames` interleaved frames to the planar `channels`.
    private static func deinterleave(_ interleaved: [Float], frames: Int, into channels: inout [[Float]]) {
        let channelCount = channels.count
        for c in 0..<channelCount {
            let base = channels[c].count
            channels[c].append(contentsOf: repeatElement(0, count: frames))
            channels[c].withUnsafeMutableBufferPointer { out in
                for i in 0..<frames { out[base + i] = interleaved[i * channelCount + c] }
            }
        }
    }
}

/// The libsndfile-specific plumbing, kept out of the public API.
enum Sndfile {
    /// libsndfile reports why `sf_open` failed through process-wide state (`sf_errno` and a static
    /// message buffer), which any other open may overwrite; opening and fetching that message are
    /// therefore serialised.
    private static let openLock = Mutex<Void>(())

    /// `sf_open`, turning failure into an `AudioFileError` naming `reportAs` with libsndfile's reason.
    static func open(_ path: String, mode: Int, info: inout SF_INFO, reportAs: String) throws -> OpaquePointer {
        var failure: String?
        var handle: OpaquePointer?
        openLock.withLock { _ in
            handle = sf_open(path, Int32(mode), &info)
            if handle == nil { failure = String(cString: sf_strerror(nil)) }
        }
        guard let handle else {
            // Say plainly what libsndfile words generically.
            if mode == SFM_READ, let size = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int, size == 0 {
                throw AudioFileError(path: reportAs, reason: "empty file (0 bytes), not audio")
            }
            if failure?.hasPrefix("System error : No such file") == true {
                throw AudioFileError(path: reportAs, reason: "no such file")
            }
            throw AudioFileError(path: reportAs, reason: failure ?? "cannot open")
        }
        return handle
    }

    /// The libsndfile format code for a container and sample format.
    static func formatCode(type: AudioFileType, sampleFormat: SampleFormat) -> Int32 {
        let major: Int
        var sub: Int
        switch sampleFormat {
        case .pcm16: sub = SF_FORMAT_PCM_16
        case .pcm24: sub = SF_FORMAT_PCM_24
        case .float32: sub = SF_FORMAT_FLOAT
        }
        switch type {
        case .wav: major = SF_FORMAT_WAV
        case .aiff: major = SF_FORMAT_AIFF
        case .flac:
            major = SF_FORMAT_FLAC
            if sub == SF_FORMAT_FLOAT { sub = SF_FORMAT_PCM_24 }
        case .ogg:
            major = SF_FORMAT_OGG
            sub = SF_FORMAT_VORBIS
        }
        return Int32(major | sub)
    }

    /// True for integer PCM encodings, where out-of-range floats must be clipped on write.
    static func isInteger(format: Int32) -> Bool {
        switch Int(format) & SF_FORMAT_SUBMASK {
        case SF_FORMAT_PCM_S8, SF_FORMAT_PCM_U8, SF_FORMAT_PCM_16, SF_FORMAT_PCM_24, SF_FORMAT_PCM_32: true
        default: false
        }
    }

    /// A short description such as "WAV 16-bit PCM", falling back to libsndfile's own names.
    static func describe(format: Int32) -> String {
        let major = Int(format) & SF_FORMAT_TYPEMASK
        let sub = Int(format) & SF_FORMAT_SUBMASK
        let container: String =
            switch major {
            case SF_FORMAT_WAV, SF_FORMAT_WAVEX: "WAV"
            case SF_FORMAT_AIFF: "AIFF"
            case SF_FORMAT_FLAC: "FLAC"
            case SF_FORMAT_OGG: "OGG"
            case SF_FORMAT_CAF: "CAF"
            case SF_FORMAT_W64: "W64"
            case SF_FORMAT_RF64: "RF64"
            case SF_FORMAT_AU: "AU"
            case SF_FORMAT_MPEG: "MPEG"
            default: libsndfileName(major) ?? String(format: "format 0x%X", major)
            }
        let encoding: String =
            switch sub {
            case SF_FORMAT_PCM_S8, SF_FORMAT_PCM_U8: "8-bit PCM"
            case SF_FORMAT_PCM_16: "16-bit PCM"
            case SF_FORMAT_PCM_24: "24-bit PCM"
            case SF_FORMAT_PCM_32: "32-bit PCM"
            case SF_FORMAT_FLOAT: "32-bit float"
            case SF_FORMAT_DOUBLE: "64-bit float"
            case SF_FORMAT_VORBIS: "Vorbis"
            case SF_FORMAT_OPUS: "Opus"
            case SF_FORMAT_ULAW: "u-law"
            case SF_FORMAT_ALAW: "A-law"
            case SF_FORMAT_MPEG_LAYER_I: "MPEG Layer I"
            case SF_FORMAT_MPEG_LAYER_II: "MPEG Layer II"
            case SF_FORMAT_MPEG_LAYER_III: "MP3"
            default: libsndfileName(sub) ?? String(format: "encoding 0x%X", sub)
            }
        return "\(container) \(encoding)"
    }

    /// libsndfile's name for a major format or subtype code (`SFC_GET_FORMAT_INFO`), if it knows it.
    private static func libsndfileName(_ code: Int) -> String? {
        var formatInfo = SF_FORMAT_INFO()
        formatInfo.format = Int32(code)
        let status = sf_command(nil, Int32(SFC_GET_FORMAT_INFO), &formatInfo, Int32(MemoryLayout<SF_FORMAT_INFO>.size))
        guard status == 0, let name = formatInfo.name else { return nil }
        return String(cString: name)
    }
}

import AudioIO
import DSP
import Foundation

/// The pipeline's stages, each a pure function over a buffer so each can be tested alone.
/// Order (see `Pipeline.prepare`): decode → high-pass → slice → balance/downmix → trim →
/// denoise (then trim again) → fix length with fade → normalise.
public enum Stages {
    // MARK: Decode

    /// Reads `url` and resamples it to `sampleRate` (libsoxr VHQ).
    ///
    /// - Throws: `PrepError` naming the file: unreadable, empty (no frames), or holding NaN/Inf samples.
    public static func decode(_ url: URL, sampleRate: Int) throws -> AudioBuffer {
        let buffer: AudioBuffer
        do {
            buffer = try AudioFile.read(url)
        } catch let error as AudioFileError {
            throw PrepError(path: url.path, reason: error.reason)
        }
        guard buffer.frameCount > 0 else { throw PrepError(path: url.path, reason: "no audio frames (empty or truncated)") }
        for channel in buffer.channels where channel.contains(where: { !$0.isFinite }) {
            throw PrepError(path: url.path, reason: "holds NaN or infinite samples")
        }
        do {
            return try Resampler.resample(buffer, to: Double(sampleRate))
        } catch let error as ResamplerError {
            throw PrepError(path: url.path, reason: error.reason)
        }
    }

    // MARK: The peak-based onset

    /// Below the clip's peak by this much, a sample does not count as the start of a hit.
    public static let onsetRelativeDB = -40.0
    /// Nothing quieter than this (dBFS) is a hit, however quiet the clip.
    public static let silenceDB = -80.0

    /// The largest absolute sample over all channels in `range` (the whole buffer by default).
    public static func peak(_ channels: [[Float]], in range: Range<Int>? = nil) -> Float {
        let r = range ?? 0..<(channels.first?.count ?? 0)
        var p: Float = 0
        for c in channels { for i in r { p = max(p, abs(c[i])) } }
        return p
    }

    /// The first frame at or after `from` whose absolute sample (any channel) reaches `threshold`.
    public static func firstFrame(_ channels: [[Float]], atLeast threshold: Float, from: Int = 0) -> Int? {
        let n = channels.first?.count ?? 0
        guard from < n else { return nil }
        for i in from..<n { for c in channels where abs(c[i]) >= threshold { return i } }
        return nil
    }

    /// The peak-based onset of a clip: the first frame reaching `onsetRelativeDB` below the clip's
    /// peak (and above `floor`). Used by trim and by the tests that check outputs. Nil when silent.
    public static func peakOnset(_ channels: [[Float]], floor: Float = 0) -> Int? {
        let p = peak(channels)
        guard p > dbToGain(silenceDB) else { return nil }
        return firstFrame(channels, atLeast: max(p * dbToGain(onsetRelativeDB), floor))
    }

    // MARK: Slice

    /// One region of a source, in frames at the working rate.
    public struct Slice: Sendable, Equatable {
        /// First frame (the cut, at the energy minimum before the onset).
        public var start: Int
        /// One past the last frame (the next cut or the end of the file).
        public var end: Int
        /// Where the residue of an earlier hit ends: trim's onset search starts above this level.
        public var residualLevel: Float
    }

    /// Cuts a recording of several hits at their onsets.
    ///
    /// aubio proposes onsets on the mono mix (the "complex" detection function with a low
    /// threshold: of hfc, specflux, complex and energy it found the most of the amen loop's hits
    /// while splitting the fewest of hydrogen's one-shots; docs/BENCHMARKS.md has the numbers). A
    /// proposal counts as a new hit only when its 1 ms peak envelope rises at least `riseDB`
    /// over the quietest point within `lookBackMs` before its peak (measured on the envelope held
    /// for `holdMs`: a ringing low tom's 1 ms peaks dip 10 dB at each zero crossing of its
    /// waveform, which is not a new hit; 3 ms fixes hydrogen's ForzeeStereo TomMid while the amen
    /// loop's cuts stay where they were, 5 ms loses two of its hits), reaches within `relevanceDB`
    /// of the recording's peak, and comes at least `minimumGapMs` after the previous hit (so decay wobbles, flams and a
    /// clap's bursts do not split a one-shot). Each cut is backtracked to the envelope minimum
    /// before the onset. A file with one hit comes back as one slice.
    public static func slice(_ buffer: AudioBuffer, method: Onsets.Method = .complex, threshold: Double = 0.1,
                             riseDB: Double = 10, lookBackMs: Int = 20, relevanceDB: Double = -20,
                             minimumGapMs: Int = 70, holdMs: Int = 3) -> [Slice] {
        let n = buffer.frameCount
        let whole = [Slice(start: 0, end: n, residualLevel: 0)]
        guard n > 0 else { return [] }
        let rate = buffer.sampleRate
        let mono = mix(buffer.channels)
        // Envelope: peak of |x| per 1 ms block.
        let block = max(1, Int(rate / 1000))
        let envelope = blockPeaks(mono, block: block)
        let held = slidingMax(envelope, width: holdMs)
        let globalPeak = envelope.max() ?? 0
        guard globalPeak > 0 else { return whole }
        let relevance = globalPeak * dbToGain(relevanceDB)
        let rise = dbToGain(riseDB)
        // aubio is the costliest stage; skip it when no second hit can pass the rules below.
        guard mayHoldSecondHit(envelope, held: held, relevance: relevance, rise: rise, riseWindow: lookBackMs + 30,
                               minimumSpacing: minimumGapMs - 30) else { return whole }
        let proposals = Onsets.detect(mono, sampleRate: rate, method: method, threshold: threshold)
        guard proposals.count > 1 else { return whole }

        // Slice 0 starts at the file's start (trim removes any lead-in). A hit already under way
        // before aubio's first proposal counts as the first hit.
        var cuts: [(frame: Int, residual: Float)] = [(0, 0)]
        let firstBlock = min(envelope.count, proposals[0] / block)
        var previousPeakBlock = -1, previousOnsetBlock = -1_000_000
        if firstBlock > 0, let m = envelope[0..<firstBlock].max(), m >= relevance {
            previousPeakBlock = envelope[0..<firstBlock].firstIndex(of: m)!
            previousOnsetBlock = previousPeakBlock
        }
        for onset in proposals {
            let ob = min(envelope.count - 1, onset / block)
            // aubio reports within a hop or two of the true start: look a little either side.
            let aheadEnd = min(envelope.count, ob + 30)
            var peakBlock = ob
            for b in ob..<aheadEnd where envelope[b] > envelope[peakBlock] { peakBlock = b }
            let hitPeak = envelope[peakBlock]
            guard hitPeak >= relevance else { continue }
            if previousPeakBlock < 0 {
                previousPeakBlock = peakBlock
                previousOnsetBlock = ob
                continue
            }
            // Strokes closer than this (flams, a clap's bursts, a choke) belong to one hit.
            guard ob >= previousOnsetBlock + minimumGapMs, peakBlock > previousPeakBlock else { continue }
            // The quietest block between the previous hit's peak and this hit's peak.
            let lookBack = max(previousPeakBlock + 1, ob - lookBackMs)
            guard lookBack <= peakBlock else { continue }
            var minBlock = lookBack, dip = held[lookBack]
            for b in lookBack...peakBlock {
                if envelope[b] < envelope[minBlock] { minBlock = b }
                dip = min(dip, held[b])
            }
            guard hitPeak >= max(dip, 1e-9) * rise else { continue }
            cuts.append((minBlock * block, envelope[minBlock]))
            previousPeakBlock = peakBlock
            previousOnsetBlock = ob
        }
        guard cuts.count > 1 else { return whole }
        var slices = [Slice]()
        for (i, cut) in cuts.enumerated() {
            let end = i + 1 < cuts.count ? cuts[i + 1].frame : n
            if end > cut.frame { slices.append(Slice(start: cut.frame, end: end, residualLevel: cut.residual)) }
        }
        return slices
    }

    /// A necessary condition for `slice` to cut: some block `p` that is relevant, rises by `rise`
    /// over the quietest block in the `riseWindow` blocks before it (the widest window the rules
    /// can look at), and comes at least `minimumSpacing` blocks after some earlier relevant block
    /// (the first hit). False means `slice` would return the whole file, so aubio need not run.
    static func mayHoldSecondHit(_ envelope: [Float], held: [Float], relevance: Float, rise: Float, riseWindow: Int,
                                 minimumSpacing: Int) -> Bool {
        guard let firstRelevant = envelope.firstIndex(where: { $0 >= relevance }) else { return false }
        let start = firstRelevant + max(1, minimumSpacing)
        guard start < envelope.count else { return false }
        for p in start..<envelope.count where envelope[p] >= relevance {
            let lo = max(0, p - riseWindow)
            var m = envelope[p]
            for b in lo..<p where held[b] < m { m = held[b] }
            if envelope[p] >= max(m, 1e-9) * rise { return true }
        }
        return false
    }

    // MARK: Trim

    /// A trimmed clip and where it came from.
    public struct Trimmed: Sendable {
        /// The clip: `leadPadding` zeros, then the pre-roll, the onset, and the hit up to its last audible frame.
        public var buffer: AudioBuffer
        /// The onset's frame in the input.
        public var onsetFrame: Int
        /// The input's first and one-past-last frames kept.
        public var keptRange: Range<Int>
        /// Zeros put in front when the onset came sooner than the pre-roll.
        public var leadPadding: Int
    }

    /// Removes leading and trailing silence around a hit.
    ///
    /// The onset is the first frame reaching 40 dB below the clip's peak (and above
    /// `residualLevel` × 2, the level a slice's cut starts from). The clip keeps `prerollFrames`
    /// before the onset, with a short fade-in over the first half of the pre-roll, and zeros are
    /// put in front when the onset is sooner than the pre-roll, so every onset sits at the pre-roll.
    /// The end is one frame past the last sample above 60 dB below the peak. Nil when the clip is
    /// silent (its peak below -80 dBFS).
    public static func trim(_ buffer: AudioBuffer, prerollFrames: Int, residualLevel: Float = 0) -> Trimmed? {
        let channels = buffer.channels
        let p = peak(channels)
        guard p > dbToGain(silenceDB) else { return nil }
        let startThreshold = max(p * dbToGain(onsetRelativeDB), min(residualLevel * 2, p * 0.5))
        guard let onset = firstFrame(channels, atLeast: startThreshold) else { return nil }
        let endThreshold = max(p * dbToGain(-60), dbToGain(-100))
        var last = buffer.frameCount - 1
        search: while last > onset {
            for c in channels where abs(c[last]) >= endThreshold { break search }
            last -= 1
        }
        let start = max(0, onset - prerollFrames)
        let leadPadding = prerollFrames - (onset - start)
        let fadeIn = (onset - start) / 2
        var out = [[Float]]()
        for c in channels {
            var o = [Float](repeating: 0, count: leadPadding)
            o.append(contentsOf: c[start...last])
            for i in 0..<fadeIn {
                o[leadPadding + i] *= Float(0.5 - 0.5 * cos(Double.pi * Double(i) / Double(fadeIn)))
            }
            out.append(o)
        }
        return Trimmed(buffer: AudioBuffer(sampleRate: buffer.sampleRate, channels: out),
                       onsetFrame: onset, keptRange: start..<(last + 1), leadPadding: leadPadding)
    }

    // MARK: Channels

    /// Scales each channel to the mean RMS of the channels (the original pipeline's "normalise the
    /// left and right channels"). A channel more than 60 dB quieter than the loudest is left as is
    /// (and reported), so silence is never blown up into noise.
    public static func balance(_ buffer: AudioBuffer) -> (AudioBuffer, [String]) {
        guard buffer.channelCount > 1 else { return (buffer, []) }
        let levels = buffer.channels.map(rms)
        let loudest = levels.max() ?? 0
        guard loudest > 0 else { return (buffer, []) }
        let live = levels.filter { $0 > loudest * dbToGain(-60) }
        let target = live.reduce(0, +) / Float(live.count)
        var warnings = [String]()
        var out = buffer
        for c in 0..<buffer.channelCount {
            if levels[c] <= loudest * dbToGain(-60) {
                warnings.append("channel \(c + 1) is silent")
                continue
            }
            let g = target / levels[c]
            for i in out.channels[c].indices { out.channels[c][i] *= g }
        }
        return (out, warnings)
    }

    /// The mean of the channels, with a warning when it is more than 6 dB quieter than the channels
    /// (phase cancellation between them).
    public static func downmix(_ buffer: AudioBuffer) -> (AudioBuffer, [String]) {
        guard buffer.channelCount > 1 else { return (buffer, []) }
        let m = mix(buffer.channels)
        let channelLevel = buffer.channels.map(rms).reduce(0, +) / Float(buffer.channelCount)
        let mixLevel = rms(m)
        var warnings = [String]()
        if channelLevel > 0, mixLevel < channelLevel * dbToGain(-6) {
            warnings.append(String(format: "downmix is %.1f dB quieter than the channels (phase cancellation)",
                                   20 * log10(Double(channelLevel / max(mixLevel, 1e-12)))))
        }
        return (AudioBuffer(sampleRate: buffer.sampleRate, channels: [m]), warnings)
    }

    /// Two channels from any count: a mono clip on both sides; of more than two, the first two.
    public static func stereo(_ buffer: AudioBuffer) -> (AudioBuffer, [String]) {
        switch buffer.channelCount {
        case 1: return (AudioBuffer(sampleRate: buffer.sampleRate, channels: [buffer.channels[0], buffer.channels[0]]), [])
        case 2: return (buffer, [])
        default:
            return (AudioBuffer(sampleRate: buffer.sampleRate, channels: Array(buffer.channels.prefix(2))),
                    ["\(buffer.channelCount) channels: kept the first two"])
        }
    }

    // MARK: Filters

    /// A second-order high-pass (DSP's RBJ biquad, Q 0.707) for DC and rumble; 0 Hz passes the buffer through.
    public static func highPass(_ buffer: AudioBuffer, frequency: Double) -> AudioBuffer {
        guard frequency > 0 else { return buffer }
        let coefficients = BiquadCoefficients(.highPass, frequency: frequency, sampleRate: buffer.sampleRate)
        var out = buffer
        for c in out.channels.indices {
            var filter = Biquad(coefficients)
            filter.process(&out.channels[c])
        }
        return out
    }

    // MARK: Length

    /// Exactly `frames` long: zero-padded when shorter; when longer, cut with a raised-cosine
    /// fade-out over the last `fadeFrames` so the cut makes no click.
    /// Also returns the clip's length before padding or cutting, in frames.
    public static func fixLength(_ buffer: AudioBuffer, frames: Int, fadeFrames: Int) -> (AudioBuffer, Int) {
        let n = buffer.frameCount
        var out = buffer
        for c in out.channels.indices {
            if n >= frames {
                out.channels[c].removeLast(n - frames)
                if n > frames {
                    let fade = min(fadeFrames, frames)
                    for i in 0..<fade {
                        let g = Float(0.5 + 0.5 * cos(Double.pi * Double(i + 1) / Double(fade)))
                        out.channels[c][frames - fade + i] *= g
                    }
                }
            } else {
                out.channels[c].append(contentsOf: repeatElement(0, count: frames - n))
            }
        }
        return (out, n)
    }

    // MARK: Level

    /// What the level stage did.
    public struct Level: Sendable {
        /// The gain applied, in dB.
        public var gainDB: Double
        /// Set when loudness mode had to stop short of its target to keep under the peak ceiling.
        public var warning: String?
    }

    /// Sets the level: sample peak to `target` dBFS (exactly, up to float rounding), or loudness of
    /// the first `contentFrames` frames to `target` LUFS with the sample peak kept at or under
    /// `ceilingDB`, or nothing. Silent buffers are returned unchanged.
    public static func normalize(_ buffer: AudioBuffer, mode: NormalizeMode, target: Double, ceilingDB: Double,
                                 contentFrames: Int) -> (AudioBuffer, Level) {
        let p = Double(peak(buffer.channels))
        guard p > 0, mode != .none else { return (buffer, Level(gainDB: 0)) }
        var gainDB: Double
        var warning: String?
        switch mode {
        case .peak:
            gainDB = target - 20 * log10(p)
        case .loudness:
            let content = buffer.channels.map { Array($0.prefix(max(1, contentFrames))) }
            guard let measured = Loudness.measure(content, sampleRate: buffer.sampleRate) else {
                return (buffer, Level(gainDB: 0, warning: "loudness not measurable; level left as is"))
            }
            gainDB = target - measured.lufs
            let headroom = ceilingDB - 20 * log10(p)
            if gainDB > headroom {
                warning = String(format: "loudness %.1f LUFS instead of %.1f: held under the %.1f dBFS peak ceiling",
                                 measured.lufs + headroom, target, ceilingDB)
                gainDB = headroom
            }
        case .none:
            gainDB = 0
        }
        let g = Float(pow(10, gainDB / 20))
        var out = buffer
        for c in out.channels.indices { for i in out.channels[c].indices { out.channels[c][i] *= g } }
        if mode == .peak {
            // Float rounding can leave the peak a hair off; one correction makes it exact.
            let q = Double(peak(out.channels))
            let fix = Float(pow(10, target / 20) / q)
            if abs(fix - 1) > 1e-7 { for c in out.channels.indices { for i in out.channels[c].indices { out.channels[c][i] *= fix } } }
        }
        return (out, Level(gainDB: gainDB, warning: warning))
    }

    // MARK: Helpers

    /// dB to linear gain.
    public static func dbToGain(_ db: Double) -> Float { Float(pow(10, db / 20)) }

    /// Root mean square of a signal (0 when empty).
    public static func rms(_ x: [Float]) -> Float {
        guard !x.isEmpty else { return 0 }
        var s = 0.0
        for v in x { s += Double(v) * Double(v) }
        return Float((s / Double(x.count)).squareRoot())
    }

    /// The mean of the channels.
    public static func mix(_ channels: [[Float]]) -> [Float] {
        guard let first = channels.first else { return [] }
        if channels.count == 1 { return first }
        var m = [Float](repeating: 0, count: first.count)
        for c in channels { for i in m.indices { m[i] += c[i] } }
        let s = 1 / Float(channels.count)
        for i in m.indices { m[i] *= s }
        return m
    }

    /// `out[b]` = the largest of `x[b - width + 1 ... b]` (fewer at the start).
    static func slidingMax(_ x: [Float], width: Int) -> [Float] {
        guard width > 1, !x.isEmpty else { return x }
        // Monotone deque of indices: O(n).
        var out = [Float](repeating: 0, count: x.count)
        var deque = [Int](repeating: 0, count: x.count)
        var head = 0, tail = 0
        for i in 0..<x.count {
            while tail > head, x[deque[tail - 1]] <= x[i] { tail -= 1 }
            deque[tail] = i
            tail += 1
            if deque[head] <= i - width { head += 1 }
            out[i] = x[deque[head]]
        }
        return out
    }

    /// Peak of |x| per block of `block` samples.
    static func blockPeaks(_ x: [Float], block: Int) -> [Float] {
        let count = (x.count + block - 1) / block
        var out = [Float](repeating: 0, count: count)
        for b in 0..<count {
            var p: Float = 0
            for i in (b * block)..<min(x.count, (b + 1) * block) { p = max(p, abs(x[i])) }
            out[b] = p
        }
        return out
    }
}

import AudioIO
import DSP
import Foundation

/// Spectral gating: bins whose (frequency-smoothed) power stands less than `thresholdDB` above a
/// noise profile are turned down, by up to 40 dB × strength.
///
/// What keeps drum attacks intact:
/// - the gate opens at once (a frame whose power clears the threshold passes whole) and closes
///   slowly (an exponential release of `releaseSeconds`), so a hit's first frame is never
///   attenuated and its tail is not chopped;
/// - the decision is taken on power averaged over neighbouring bins and the mask is smoothed over
///   frequency again, so lone noise peaks do not poke through as "musical noise";
/// - a short window (1024 at 44.1 kHz, 256 hop) bounds how far any gain change can reach in time.
public struct SpectralGate: Sendable {
    /// Gating strength in [0, 1]: the mask's floor is -40 dB × strength.
    public var strength: Double
    /// How far above the noise profile (dB) a bin must stand to pass fully; 6 dB below that it is closed.
    public var thresholdDB: Double = 12
    /// Release time constant of the mask, in seconds.
    public var releaseSeconds: Double = 0.05
    /// Fraction of frames (the quietest) that make the noise profile when none is given.
    public var quietFraction: Double = 0.1

    /// A gate of the given strength.
    public init(strength: Double) { self.strength = strength }

    /// The STFT used at a rate: about 23 ms windows, a quarter-window hop.
    public static func makeSTFT(sampleRate: Double) -> STFT {
        var size = 1024
        while Double(size) / sampleRate > 0.03 && size > 256 { size /= 2 }
        while Double(size) / sampleRate < 0.015 { size *= 2 }
        return STFT(size: size, hop: size / 4)
    }

    /// The mean power per bin over the quietest `quietFraction` of frames (at least 4 frames)
    /// of the channel mix: the noise profile of a clip that holds some noise-only stretch.
    public func estimateProfile(_ buffer: AudioBuffer, stft: STFT) -> [Float] {
        estimateProfile(spectrum: stft.analyze(Stages.mix(buffer.channels)), stft: stft)
    }

    /// `estimateProfile` from an already computed STFT of the channel mix.
    func estimateProfile(spectrum: ComplexSpectrogram, stft: STFT) -> [Float] {
        let bins = spectrum.bins
        var energy = [(Int, Double)]()
        for t in 0..<spectrum.frames {
            var e = 0.0
            for k in 0..<bins { let i = t * bins + k; e += Double(spectrum.real[i] * spectrum.real[i] + spectrum.imag[i] * spectrum.imag[i]) }
            energy.append((t, e))
        }
        // Frames that reach into the zero padding beyond the ends are not representative.
        let edge = stft.size / (2 * stft.hop)
        var inner = energy.filter { $0.0 >= edge && $0.0 < spectrum.frames - edge }
        if inner.count < 4 { inner = energy }
        inner.sort { $0.1 != $1.1 ? $0.1 < $1.1 : $0.0 < $1.0 }
        let take = max(min(4, inner.count), Int(Double(inner.count) * quietFraction))
        return meanPower(spectrum, frames: inner.prefix(take).map(\.0))
    }

    /// The mean power per bin of a noise recording (its whole length).
    public func profile(ofNoise buffer: AudioBuffer, stft: STFT) -> [Float] {
        let spectrum = stft.analyze(Stages.mix(buffer.channels))
        return meanPower(spectrum, frames: Array(0..<spectrum.frames))
    }

    /// Applies the gate to every channel with one mask (computed on the channel mix, so the stereo
    /// image does not wander). `profile` defaults to `estimateProfile`.
    public func apply(_ buffer: AudioBuffer, stft: STFT, profile: [Float]? = nil) -> AudioBuffer {
        guard strength > 0, buffer.frameCount > 0 else { return buffer }
        let mixSpectrum = stft.analyze(Stages.mix(buffer.channels))
        let noise = profile ?? estimateProfile(spectrum: mixSpectrum, stft: stft)
        let bins = mixSpectrum.bins, frames = mixSpectrum.frames
        precondition(noise.count == bins, "noise profile has \(noise.count) bins; the STFT makes \(bins)")
        let floorGain = Float(pow(10, -40 * strength / 20))
        let open = Float(pow(10, thresholdDB / 10)), closed = Float(pow(10, (thresholdDB - 6) / 10))
        let release = Float(exp(-Double(stft.hop) / (releaseSeconds * buffer.sampleRate)))
        let smoothBins = 3

        // Raw gate per frame and bin, on power averaged over ±smoothBins.
        var mask = [Float](repeating: 0, count: frames * bins)
        var power = [Float](repeating: 0, count: bins)
        var previous = [Float](repeating: 0, count: bins)
        var raw = [Float](repeating: 0, count: bins)
        for t in 0..<frames {
            for k in 0..<bins {
                let i = t * bins + k
                power[k] = mixSpectrum.real[i] * mixSpectrum.real[i] + mixSpectrum.imag[i] * mixSpectrum.imag[i]
            }
            for k in 0..<bins {
                let lo = max(0, k - smoothBins), hi = min(bins - 1, k + smoothBins)
                var p: Float = 0, n: Float = 0
                for j in lo...hi { p += power[j]; n += noise[j] }
                let ratio = n > 0 ? p / n : .infinity
                raw[k] = ratio >= open ? 1 : ratio <= closed ? 0 : (ratio - closed) / (open - closed)
            }
            // Smooth over frequency (±2 bins), then open at once and close with the release.
            for k in 0..<bins {
                let lo = max(0, k - 2), hi = min(bins - 1, k + 2)
                var s: Float = 0
                for j in lo...hi { s += raw[j] }
                let g = max(s / Float(hi - lo + 1), previous[k] * release)
                previous[k] = g
                mask[t * bins + k] = floorGain + (1 - floorGain) * g
            }
        }

        var out = buffer
        for c in out.channels.indices {
            var spectrum = buffer.channelCount == 1 ? mixSpectrum : stft.analyze(buffer.channels[c])
            for i in 0..<(frames * bins) {
                spectrum.real[i] *= mask[i]
                spectrum.imag[i] *= mask[i]
            }
            out.channels[c] = stft.synthesize(spectrum, length: buffer.frameCount)
        }
        return out
    }

    private func meanPower(_ spectrum: ComplexSpectrogram, frames: [Int]) -> [Float] {
        let bins = spectrum.bins
        var sum = [Double](repeating: 0, count: bins)
        for t in frames {
            for k in 0..<bins {
                let i = t * bins + k
                sum[k] += Double(spectrum.real[i] * spectrum.real[i] + spectrum.imag[i] * spectrum.imag[i])
            }
        }
        let n = Double(max(1, frames.count))
        return sum.map { Float($0 / n) }
    }
}

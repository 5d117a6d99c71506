import Foundation

/// A complex short-time spectrum: `frames` frames of `bins` bins, frame-major
/// (`real[frame * bins + bin]`).
public struct ComplexSpectrogram: Sendable, Equatable {
    public var frames: Int
    public var bins: Int
    public var real: [Float]
    public var imag: [Float]

    public init(frames: Int, bins: Int, real: [Float], imag: [Float]) {
        precondition(real.count == frames * bins && imag.count == frames * bins)
        self.frames = frames
        self.bins = bins
        self.real = real
        self.imag = imag
    }

    public init(frames: Int, bins: Int) {
        self.init(frames: frames, bins: bins, real: [Float](repeating: 0, count: frames * bins),
                  imag: [Float](repeating: 0, count: frames * bins))
    }

    /// |X| per frame and bin, frame-major.
    public var magnitude: [Float] {
        var out = [Float](repeating: 0, count: real.count)
        for i in out.indices { out[i] = (real[i] * real[i] + imag[i] * imag[i]).squareRoot() }
        return out
    }

    /// arg X per frame and bin, frame-major.
    public var phase: [Float] {
        var out = [Float](repeating: 0, count: real.count)
        for i in out.indices { out[i] = atan2(imag[i], real[i]) }
        return out
    }

    /// A spectrogram from magnitude and phase (frame-major).
    public init(frames: Int, bins: Int, magnitude: [Float], phase: [Float]) {
        precondition(magnitude.count == frames * bins && phase.count == frames * bins)
        var re = [Float](repeating: 0, count: magnitude.count), im = re
        for i in re.indices {
            re[i] = magnitude[i] * cos(phase[i])
            im[i] = magnitude[i] * sin(phase[i])
        }
        self.init(frames: frames, bins: bins, real: re, imag: im)
    }
}

/// Short-time Fourier transform with centred frames and exact inverse.
///
/// Frame `t` is centred on sample `t * hop` (the signal is zero-padded by `size/2` at
/// both ends, as librosa's `center=True`), so a signal of L samples has
/// `1 + L / hop` frames. The inverse is the least-squares overlap-add
/// (Griffin & Lim 1984): Σ w·ifft(X) / Σ w², exact for any window and hop whose
/// squared-window sum has no zeros (Hann with hop ≤ size/2).
public final class STFT: @unchecked Sendable {
    public let size: Int
    public let hop: Int
    public let window: [Float]
    /// The window's shape, kept so phase reconstruction can find its Gaussian-equivalent λ.
    public let windowShape: Window
    public var bins: Int { size / 2 + 1 }
    private let fft: RealFFT

    public init(size: Int, hop: Int, window: Window = .hann) {
        precondition(size >= 2 && hop >= 1 && hop <= size, "STFT needs size ≥ 2 and 1 ≤ hop ≤ size")
        self.size = size
        self.hop = hop
        self.window = window.samples(size)
        windowShape = window
        fft = RealFFT(size: size)
    }

    /// Frames for a signal of `length` samples.
    public func frameCount(length: Int) -> Int { 1 + length / hop }

    /// The complex STFT of a signal.
    public func analyze(_ signal: [Float]) -> ComplexSpectrogram {
        let frames = frameCount(length: signal.count)
        var spectrum = ComplexSpectrogram(frames: frames, bins: bins)
        var frame = [Float](repeating: 0, count: size)
        let half = size / 2
        frame.withUnsafeMutableBufferPointer { f in
            spectrum.real.withUnsafeMutableBufferPointer { re in
                spectrum.imag.withUnsafeMutableBufferPointer { im in
                    for t in 0..<frames {
                        let start = t * hop - half
                        for n in 0..<size {
                            let i = start + n
                            f[n] = (i >= 0 && i < signal.count) ? signal[i] * window[n] : 0
                        }
                        fft.forward(UnsafeBufferPointer(f),
                                    real: UnsafeMutableBufferPointer(rebasing: re[(t * bins)..<((t + 1) * bins)]),
                                    imag: UnsafeMutableBufferPointer(rebasing: im[(t * bins)..<((t + 1) * bins)]))
                    }
                }
            }
        }
        return spectrum
    }

    /// The signal of `length` samples whose STFT is closest to `spectrum` (least squares).
    public func synthesize(_ spectrum: ComplexSpectrogram, length: Int) -> [Float] {
        precondition(spectrum.bins == bins, "spectrum has \(spectrum.bins) bins; this STFT makes \(bins)")
        let half = size / 2
        var output = [Float](repeating: 0, count: length)
        var norm = [Float](repeating: 0, count: length)
        var frame = [Float](repeating: 0, count: size)
        spectrum.real.withUnsafeBufferPointer { re in
            spectrum.imag.withUnsafeBufferPointer { im in
                frame.withUnsafeMutableBufferPointer { f in
                    for t in 0..<spectrum.frames {
                        fft.inverse(real: UnsafeBufferPointer(rebasing: re[(t * bins)..<((t + 1) * bins)]),
                                    imag: UnsafeBufferPointer(rebasing: im[(t * bins)..<((t + 1) * bins)]),
                                    output: f)
                        let start = t * hop - half
                        for n in 0..<size {
                            let i = start + n
                            guard i >= 0 && i < length else { continue }
                            output[i] += f[n] * window[n]
                            norm[i] += window[n] * window[n]
                        }
                    }
                }
            }
        }
        for i in 0..<length where norm[i] > 1e-8 { output[i] /= norm[i] }
        return output
    }
}

import CFFTW
import Synchronization

/// FFTW's planner is not thread-safe: every plan is made and destroyed under this lock.
/// Executing a plan (on its own buffers) is thread-safe and needs no lock.
private let plannerLock = Mutex(())

/// A real FFT of one size, planned once and executed many times.
///
/// Plans use `FFTW_ESTIMATE`, which picks the same algorithm on every run (measured
/// plans can differ between runs and give different low bits), so results are
/// repeatable. Buffers come from `fftwf_malloc`, aligned for SIMD.
///
/// One instance is not safe to use from two threads at once (it owns its work
/// buffers); make one per thread.
public final class RealFFT: @unchecked Sendable {
    /// Transform size (samples).
    public let size: Int
    /// Number of complex bins: size / 2 + 1.
    public let bins: Int

    private let timeBuffer: UnsafeMutablePointer<Float>
    private let freqBuffer: UnsafeMutablePointer<fftwf_complex>
    private let forwardPlan: fftwf_plan
    private let inversePlan: fftwf_plan

    public init(size: Int) {
        precondition(size >= 2, "FFT size must be at least 2")
        self.size = size
        bins = size / 2 + 1
        let time = fftwf_alloc_real(size)!
        let freq = fftwf_alloc_complex(size / 2 + 1)!
        timeBuffer = time
        freqBuffer = freq
        nonisolated(unsafe) var plans: (fftwf_plan?, fftwf_plan?) = (nil, nil)
        plannerLock.withLock { _ in
            // c2r destroys its input; the forward transform leaves it alone.
            plans = (fftwf_plan_dft_r2c_1d(Int32(size), time, freq, timbre_fftw_estimate),
                     fftwf_plan_dft_c2r_1d(Int32(size), freq, time, timbre_fftw_estimate | timbre_fftw_destroy_input))
        }
        forwardPlan = plans.0!
        inversePlan = plans.1!
    }

    deinit {
        plannerLock.withLock { _ in
            fftwf_destroy_plan(forwardPlan)
            fftwf_destroy_plan(inversePlan)
        }
        fftwf_free(timeBuffer)
        fftwf_free(freqBuffer)
    }

    /// Forward transform of `size` real samples into `bins` complex values (unnormalised).
    public func forward(_ input: UnsafeBufferPointer<Float>, real: UnsafeMutableBufferPointer<Float>, imag: UnsafeMutableBufferPointer<Float>) {
        precondition(input.count >= size && real.count >= bins && imag.count >= bins)
        timeBuffer.update(from: input.baseAddress!, count: size)
        fftwf_execute(forwardPlan)
        let raw = UnsafeMutableRawPointer(freqBuffer).assumingMemoryBound(to: Float.self)
        for k in 0..<bins {
            real[k] = raw[2 * k]
            imag[k] = raw[2 * k + 1]
        }
    }

    /// Inverse transform of `bins` complex values into `size` real samples, scaled by 1/size
    /// so that `inverse(forward(x)) == x`.
    public func inverse(real: UnsafeBufferPointer<Float>, imag: UnsafeBufferPointer<Float>, output: UnsafeMutableBufferPointer<Float>) {
        precondition(output.count >= size && real.count >= bins && imag.count >= bins)
        let raw = UnsafeMutableRawPointer(freqBuffer).assumingMemoryBound(to: Float.self)
        for k in 0..<bins {
            raw[2 * k] = real[k]
            raw[2 * k + 1] = imag[k]
        }
        fftwf_execute(inversePlan)
        let scale = 1 / Float(size)
        for i in 0..<size { output[i] = timeBuffer[i] * scale }
    }

    /// Array convenience: forward transform of `size` samples.
    public func forward(_ input: [Float]) -> (real: [Float], imag: [Float]) {
        var re = [Float](repeating: 0, count: bins), im = [Float](repeating: 0, count: bins)
        input.withUnsafeBufferPointer { i in
            re.withUnsafeMutableBufferPointer { r in im.withUnsafeMutableBufferPointer { forward(i, real: r, imag: $0) } }
        }
        return (re, im)
    }

    /// Array convenience: inverse transform to `size` samples.
    public func inverse(real: [Float], imag: [Float]) -> [Float] {
        var out = [Float](repeating: 0, count: size)
        real.withUnsafeBufferPointer { r in
            imag.withUnsafeBufferPointer { i in out.withUnsafeMutableBufferPointer { inverse(real: r, imag: i, output: $0) } }
        }
        return out
    }
}

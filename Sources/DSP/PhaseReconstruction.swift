import Foundation

/// How to find a phase for a magnitude spectrogram.
public enum PhaseMethod: String, CaseIterable, Sendable, Codable {
    /// Griffin-Lim (1984): alternate projections onto the target magnitude and onto
    /// consistent spectrograms, from random phase.
    case gla
    /// Fast Griffin-Lim (Perraudin, Balazs & Søndergaard 2013): Griffin-Lim with momentum
    /// (0.99), from random phase; librosa.griffinlim's algorithm.
    case fgla
    /// Phase-gradient heap integration (Průša, Balazs & Søndergaard 2017): the phase's
    /// slopes follow from the log-magnitude's, integrated outwards from the loudest bins.
    /// Non-iterative: `iterations` is ignored.
    case pghi
    /// PGHI as the starting point of Fast Griffin-Lim (the best published combination for percussion).
    case pghiFGLA = "pghi+fgla"
}

/// Phase reconstruction from a magnitude STFT: the one entry point.
///
/// ```swift
/// let stft = STFT(size: 1024, hop: 128)
/// let audio = try PhaseReconstruction.reconstruct(magnitude: m, frames: f, bins: 513,
///                                                 stft: stft, method: .gla, iterations: 32)
/// ```
public enum PhaseReconstruction {
    /// Audio whose STFT magnitude (with `stft`'s settings) is as close as the method gets
    /// to `magnitude` (`frames × bins`, frame-major, as `ComplexSpectrogram.magnitude`).
    ///
    /// - Parameters:
    ///   - iterations: Griffin-Lim iterations (ignored by `.pghi`).
    ///   - length: samples to produce; default `(frames − 1) · hop` (an STFT of L samples has
    ///     `1 + L / hop` frames, so pass L to get the original length back).
    ///   - momentum: Fast Griffin-Lim's α (0.99, as librosa).
    ///   - tolerance: PGHI's relative threshold: bins quieter than `tolerance ×` the loudest get
    ///     random phase instead of integrated phase.
    ///   - seed: for the random phases (GLA/FGLA start, PGHI's quiet bins); results repeat exactly.
    /// - Throws: `DSPError` when the shape does not match `stft` (bins ≠ size/2 + 1), when the
    ///   array is empty or holds NaN, infinity or negative values.
    public static func reconstruct(magnitude: [Float], frames: Int, bins: Int, stft: STFT,
                                   method: PhaseMethod, iterations: Int = 100, length: Int? = nil,
                                   momentum: Float = 0.99, tolerance: Float = 1e-3,
                                   seed: UInt64 = 0) throws(DSPError) -> [Float] {
        try validate(magnitude: magnitude, frames: frames, bins: bins, stft: stft)
        let reconstructor = PhaseReconstructor(stft: stft, frames: frames, length: length ?? (frames - 1) * stft.hop)
        return reconstructor.reconstruct(magnitude: magnitude, method: method, iterations: iterations,
                                         momentum: momentum, tolerance: tolerance, seed: seed)
    }

    /// Checks a magnitude array before reconstruction; the error says what is wrong in one line.
    public static func validate(magnitude: [Float], frames: Int, bins: Int, stft: STFT) throws(DSPError) {
        guard frames >= 1, bins >= 1, !magnitude.isEmpty else { throw DSPError("the magnitude spectrogram is empty") }
        guard bins == stft.bins else {
            throw DSPError("the magnitude has \(bins) bins but an FFT of \(stft.size) makes \(stft.bins) (bins must be fft/2 + 1)")
        }
        guard magnitude.count == frames * bins else {
            throw DSPError("the magnitude holds \(magnitude.count) values, not \(frames) frames × \(bins) bins")
        }
        if let i = magnitude.firstIndex(where: { $0.isNaN }) {
            throw DSPError("the magnitude holds NaN (frame \(i / bins), bin \(i % bins))")
        }
        if let i = magnitude.firstIndex(where: { $0.isInfinite }) {
            throw DSPError("the magnitude holds infinity (frame \(i / bins), bin \(i % bins))")
        }
        if let i = magnitude.firstIndex(where: { $0 < 0 }) {
            throw DSPError("the magnitude holds a negative value (frame \(i / bins), bin \(i % bins)); pass |X|, not dB or log")
        }
    }
}

/// Reusable phase reconstruction for spectrograms of one shape: every buffer (complex
/// estimates, audio, FFT work space, PGHI's heap) is allocated once here, so the
/// iterations allocate nothing. Make one per thread; reuse it across clips of equal length.
public final class PhaseReconstructor: @unchecked Sendable {
    public let frames: Int
    public let bins: Int
    public let length: Int
    let size: Int, hop: Int
    let fft: RealFFT
    let lambda: Double
    let window: UnsafeMutablePointer<Float>
    let inverseNorm: UnsafeMutablePointer<Float>
    let audio: UnsafeMutablePointer<Float>
    let quadrature: UnsafeMutablePointer<Float>
    /// cos and sin of the lowest `lowBins` DFT bins over one frame, for the absolute-phase search.
    let lowCos: UnsafeMutablePointer<Float>, lowSin: UnsafeMutablePointer<Float>
    let lowBins: Int
    let frame: UnsafeMutablePointer<Float>
    // The current estimate c, the last consistent projection t, and its predecessor.
    let cRe: UnsafeMutablePointer<Float>, cIm: UnsafeMutablePointer<Float>
    var tRe: UnsafeMutablePointer<Float>, tIm: UnsafeMutablePointer<Float>
    var pRe: UnsafeMutablePointer<Float>, pIm: UnsafeMutablePointer<Float>
    let phase: UnsafeMutablePointer<Float>
    let pghi: PGHIWorkspace

    /// Buffers for `frames × stft.bins` spectrograms and `length` samples of audio.
    public init(stft: STFT, frames: Int, length: Int) {
        precondition(frames >= 1 && length >= 0)
        self.frames = frames
        bins = stft.bins
        self.length = length
        size = stft.size
        hop = stft.hop
        fft = RealFFT(size: size)
        lambda = stft.windowShape.gaussianLambda(size: size)
        func buffer(_ n: Int) -> UnsafeMutablePointer<Float> {
            let p = UnsafeMutablePointer<Float>.allocate(capacity: max(n, 1))
            p.initialize(repeating: 0, count: max(n, 1))
            return p
        }
        let cells = frames * bins
        window = buffer(size)
        for n in 0..<size { window[n] = stft.window[n] }
        inverseNorm = buffer(length)
        audio = buffer(length)
        quadrature = buffer(length)
        lowBins = min(4, bins)
        lowCos = buffer(lowBins * size)
        lowSin = buffer(lowBins * size)
        for k in 0..<lowBins {
            for n in 0..<size {
                let a = 2 * Double.pi * Double(k * n) / Double(size)
                lowCos[k * size + n] = Float(cos(a))
                lowSin[k * size + n] = Float(sin(a))
            }
        }
        frame = buffer(size)
        cRe = buffer(cells); cIm = buffer(cells)
        tRe = buffer(cells); tIm = buffer(cells)
        pRe = buffer(cells); pIm = buffer(cells)
        phase = buffer(cells)
        pghi = PGHIWorkspace(frames: frames, bins: bins)
        // Σ w² under each sample, as STFT.synthesize divides by it.
        let half = size / 2
        for t in 0..<frames {
            let start = t * hop - half
            for n in max(0, -start)..<max(max(0, -start), min(size, length - start)) {
                inverseNorm[start + n] += window[n] * window[n]
            }
        }
        for i in 0..<length { inverseNorm[i] = inverseNorm[i] > 1e-8 ? 1 / inverseNorm[i] : 0 }
    }

    deinit {
        for p in [window, inverseNorm, audio, quadrature, lowCos, lowSin, frame, cRe, cIm, tRe, tIm, pRe, pIm, phase] { p.deallocate() }
    }

    /// Audio for `magnitude` (`frames × bins`); see `PhaseReconstruction.reconstruct`.
    /// The magnitude is not validated here: call `PhaseReconstruction.validate` on untrusted input.
    public func reconstruct(magnitude: [Float], method: PhaseMethod, iterations: Int = 100,
                            momentum: Float = 0.99, tolerance: Float = 1e-3, seed: UInt64 = 0) -> [Float] {
        precondition(magnitude.count == frames * bins, "magnitude must be \(frames) × \(bins)")
        var rng = SplitMix64(seed: seed &+ 0x9E37_79B9_7F4A_7C15)
        magnitude.withUnsafeBufferPointer { mag in
            let m = mag.baseAddress!
            switch method {
            case .gla, .fgla:
                randomPhase(&rng)
            case .pghi, .pghiFGLA:
                pghi.integrate(logMagnitudeOf: m, into: phase, hop: hop, fftSize: size, lambda: lambda,
                               tolerance: tolerance, rng: &rng)
            }
            setFromPhase(m)
            switch method {
            case .gla: griffinLim(m, iterations: iterations, momentum: 0)
            case .fgla: griffinLim(m, iterations: iterations, momentum: momentum)
            case .pghiFGLA: pghiThenFGLA(m, iterations: iterations, momentum: momentum)
            case .pghi: break
            }
        }
        synthesize()
        return Array(UnsafeBufferPointer(start: audio, count: length))
    }

    /// Audio for `magnitude` with Fast Griffin-Lim started from `initialPhase` (`frames × bins`,
    /// radians) instead of a random or integrated one: the refinement of a phase a model predicted.
    /// With 0 iterations it is the inverse STFT of magnitude and `initialPhase`.
    public func refine(magnitude: [Float], initialPhase: [Float], iterations: Int, momentum: Float = 0.99) -> [Float] {
        precondition(magnitude.count == frames * bins && initialPhase.count == frames * bins,
                     "magnitude and phase must be \(frames) × \(bins)")
        for i in 0..<(frames * bins) { phase[i] = initialPhase[i] }
        magnitude.withUnsafeBufferPointer { mag in
            let m = mag.baseAddress!
            setFromPhase(m)
            if iterations > 0 { griffinLim(m, iterations: iterations, momentum: momentum) }
        }
        synthesize()
        return Array(UnsafeBufferPointer(start: audio, count: length))
    }

    private func randomPhase(_ rng: inout SplitMix64) {
        for i in 0..<(frames * bins) { phase[i] = rng.nextUnitFloat() * 2 * .pi }
    }

    /// FGLA from PGHI's phase, or from PGHI's phase with its absolute phase aligned near DC
    /// (`alignAbsolutePhase`), whichever start is more consistent after a few trial iterations:
    /// the alignment rescues kicks whose sub-bass would otherwise stay stuck (-14 → -48 dB), but
    /// on others FGLA does better from the plain start. The trial costs at most 2 × 8 iterations.
    private func pghiThenFGLA(_ m: UnsafePointer<Float>, iterations: Int, momentum: Float) {
        let trial = 8
        guard iterations > trial, alignAbsolutePhase(m) else {
            setFromPhase(m)
            griffinLim(m, iterations: iterations, momentum: momentum)
            return
        }
        let aligned = griffinLim(m, iterations: trial, momentum: momentum)
        setFromPhase(m)
        let plain = griffinLim(m, iterations: trial, momentum: momentum)
        if plain <= aligned {
            griffinLim(m, iterations: iterations - trial, momentum: momentum, resume: true)
        } else {
            setFromPhase(m)
            _ = alignAbsolutePhase(m)
            griffinLim(m, iterations: iterations, momentum: momentum)
        }
    }

    /// c = |S| e^{iφ} from the phase buffer.
    private func setFromPhase(_ m: UnsafePointer<Float>) {
        for i in 0..<(frames * bins) {
            cRe[i] = m[i] * cos(phase[i])
            cIm[i] = m[i] * sin(phase[i])
        }
    }

    /// (Fast) Griffin-Lim from the estimate in c; leaves the final estimate in c.
    /// t_n = P_consistent(c_{n−1}); c_n = |S| · phase(t_n − α/(1+α) · t_{n−1}),
    /// which has the phase of Perraudin's t_n + α(t_n − t_{n−1}). `resume` keeps t_{n−1}
    /// from the previous call (continuing a run). Returns Σ(|t| − |S|)² of the last iteration.
    @discardableResult
    private func griffinLim(_ m: UnsafePointer<Float>, iterations: Int, momentum: Float, resume: Bool = false) -> Double {
        let cells = frames * bins
        let beta = momentum / (1 + momentum)
        if !resume { for i in 0..<cells { pRe[i] = 0; pIm[i] = 0 } }
        var inconsistency = 0.0
        for n in 0..<max(0, iterations) {
            synthesize()
            analyze()
            if n == iterations - 1 {
                for i in 0..<cells {
                    let d = Double((tRe[i] * tRe[i] + tIm[i] * tIm[i]).squareRoot() - m[i])
                    inconsistency += d * d
                }
            }
            for i in 0..<cells {
                let ar = tRe[i] - beta * pRe[i], ai = tIm[i] - beta * pIm[i]
                let n2 = ar * ar + ai * ai
                if n2 > 1e-30 {
                    let scale = m[i] / n2.squareRoot()
                    cRe[i] = ar * scale
                    cIm[i] = ai * scale
                } else {
                    cRe[i] = m[i]
                    cIm[i] = 0
                }
            }
            swap(&tRe, &pRe)
            swap(&tIm, &pIm)
        }
        return inconsistency
    }

    /// audio = iSTFT(c): least-squares overlap-add (as `STFT.synthesize`).
    private func synthesize() { synthesize(re: cRe, im: cIm, into: audio) }

    private func synthesize(re: UnsafeMutablePointer<Float>, im: UnsafeMutablePointer<Float>, into output: UnsafeMutablePointer<Float>) {
        output.update(repeating: 0, count: length)
        let half = size / 2
        let out = UnsafeMutableBufferPointer(start: frame, count: size)
        for t in 0..<frames {
            fft.inverse(real: UnsafeBufferPointer(start: re + t * bins, count: bins),
                        imag: UnsafeBufferPointer(start: im + t * bins, count: bins), output: out)
            let start = t * hop - half
            let n0 = max(0, -start), n1 = min(size, length - start)
            if n1 <= n0 { continue }
            for n in n0..<n1 { output[start + n] += frame[n] * window[n] }
        }
        for i in 0..<length { output[i] *= inverseNorm[i] }
    }

    /// PGHI fixes phase only up to one constant per integrated region, and for complex bins
    /// that constant changes nothing. Near DC it does: a real signal's negative frequencies
    /// fold onto the lowest bins, and how they interfere there depends on the absolute phase.
    /// Left arbitrary, a kick's sub-bass comes out with its DC pattern shifted in time, and
    /// Griffin-Lim cannot turn it back (measured: stuck at -14 dB where -40 dB is reachable).
    /// So, before FGLA: rotate every bin above DC by the φ that makes the lowest bins of the resulting
    /// audio match their target magnitudes best. Rotating by φ is cos φ·y_a − sin φ·y_b,
    /// with y_a, y_b the audio of c and of i·c, so two inverse STFTs and a few low DFT bins
    /// per frame cover every φ tried. Skipped when the lowest bins hold under 0.1 % of the energy.
    /// Used as the start of FGLA only: for PGHI alone it did not help on average (measured on
    /// 17 hydrogen kicks), since the Gaussian model itself breaks down within a few bins of DC.
    @discardableResult
    private func alignAbsolutePhase(_ m: UnsafePointer<Float>) -> Bool {
        let K = lowBins
        guard K >= 2, 2 * K <= bins else { return false }  // the search keeps its values in pRe and pIm
        var low = 0.0, total = 0.0
        for t in 0..<frames {
            for k in 0..<bins {
                let e = Double(m[t * bins + k]) * Double(m[t * bins + k])
                total += e
                if k < K { low += e }
            }
        }
        guard total > 0, low >= 1e-3 * total else { return false }
        for t in 0..<frames { cRe[t * bins] = 0; cIm[t * bins] = 0 }
        synthesize(re: cRe, im: cIm, into: audio)
        for i in 0..<(frames * bins) { tRe[i] = -cIm[i]; tIm[i] = cRe[i] }
        synthesize(re: tRe, im: tIm, into: quadrature)
        // The lowest K bins of both signals' STFTs: a (re, im) and b (re, im), frame-major, in pRe/pIm.
        let half = size / 2
        for t in 0..<frames {
            let start = t * hop - half
            let n0 = max(0, -start), n1 = max(n0, min(size, length - start))
            for k in 0..<K {
                var ar: Float = 0, ai: Float = 0, br: Float = 0, bi: Float = 0
                let cs = lowCos + k * size, sn = lowSin + k * size
                for n in n0..<n1 {
                    let wa = window[n] * audio[start + n], wb = window[n] * quadrature[start + n]
                    ar += wa * cs[n]; ai -= wa * sn[n]
                    br += wb * cs[n]; bi -= wb * sn[n]
                }
                let o = (t * K + k) * 2
                pRe[o] = ar; pRe[o + 1] = ai
                pIm[o] = br; pIm[o + 1] = bi
            }
        }
        func error(_ phi: Double) -> Double {
            let c = Float(cos(phi)), s = Float(sin(phi))
            var e = 0.0
            for t in 0..<frames {
                for k in 0..<K {
                    let o = (t * K + k) * 2
                    let re = c * pRe[o] - s * pIm[o], im = c * pRe[o + 1] - s * pIm[o + 1]
                    let d = Double((re * re + im * im).squareRoot() - m[t * bins + k])
                    e += d * d
                }
            }
            return e
        }
        // φ and φ + π give the same magnitudes (the audio is negated): search [0, π).
        let steps = 32
        var best = 0.0, bestError = error(0)
        let e0 = bestError
        for i in 1..<steps {
            let phi = Double.pi * Double(i) / Double(steps)
            let e = error(phi)
            if e < bestError { (best, bestError) = (phi, e) }
        }
        var step = Double.pi / Double(steps) / 2
        for _ in 0..<6 {
            for phi in [best - step, best + step] {
                let e = error(phi)
                if e < bestError { (best, bestError) = (phi, e) }
            }
            step /= 2
        }
        // A small gain is not worth a different start (FGLA's end point moves with its start):
        // keep PGHI's phase unless the lowest bins fit at least 20 % better.
        guard bestError < 0.8 * e0 else {
            for t in 0..<frames { cRe[t * bins] = m[t * bins] * cos(phase[t * bins]) }
            return false
        }
        let c = Float(cos(best)), s = Float(sin(best))
        for t in 0..<frames {
            for k in 1..<bins {
                let i = t * bins + k
                let re = cRe[i], im = cIm[i]
                cRe[i] = c * re - s * im
                cIm[i] = s * re + c * im
            }
            // DC stays empty: Griffin-Lim's first projection fills it in from the rotated bins
            // (measured better than giving it a sign now: -48 against -28 dB on a kick).
            cRe[t * bins] = 0
            cIm[t * bins] = 0
        }
        return true
    }

    /// t = STFT(audio), centred frames with zeros outside the signal (as `STFT.analyze`).
    private func analyze() {
        let half = size / 2
        let input = UnsafeBufferPointer(start: UnsafePointer(frame), count: size)
        for t in 0..<frames {
            let start = t * hop - half
            let n0 = max(0, -start), n1 = max(n0, min(size, length - start))
            for n in 0..<n0 { frame[n] = 0 }
            for n in n0..<n1 { frame[n] = audio[start + n] * window[n] }
            for n in n1..<size { frame[n] = 0 }
            fft.forward(input, real: UnsafeMutableBufferPointer(start: tRe + t * bins, count: bins),
                        imag: UnsafeMutableBufferPointer(start: tIm + t * bins, count: bins))
        }
    }
}


extension PhaseReconstruction {
    /// The result of dropping a signal's phase and reconstructing it.
    public struct Inversion: Sendable {
        /// The reconstructed audio, as long as the input.
        public var audio: [Float]
        /// Spectral convergence (dB) of `audio`'s STFT against the input's magnitude.
        public var spectralConvergenceDB: Double
    }

    /// Keeps only the STFT magnitude of `signal`, reconstructs a phase with `method` and
    /// returns the audio and its spectral convergence against `signal`.
    public static func invert(signal: [Float], stft: STFT, method: PhaseMethod, iterations: Int = 100,
                              tolerance: Float = 1e-3, seed: UInt64 = 0) throws(DSPError) -> Inversion {
        guard !signal.isEmpty else { throw DSPError("the audio has no samples") }
        let magnitude = stft.analyze(signal).magnitude
        let frames = stft.frameCount(length: signal.count)
        let audio = try reconstruct(magnitude: magnitude, frames: frames, bins: stft.bins, stft: stft,
                                    method: method, iterations: iterations, length: signal.count,
                                    tolerance: tolerance, seed: seed)
        return Inversion(audio: audio,
                         spectralConvergenceDB: SpectralConvergence.decibels(audio: audio, referenceMagnitude: magnitude, stft: stft))
    }
}

import Foundation
import Testing
@testable import DSP

struct FFTAndSTFTTests {
    static func noise(_ n: Int, seed: UInt64 = 1) -> [Float] {
        var s = seed
        return (0..<n).map { _ in
            s = s &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int64(bitPattern: s) >> 40) / Float(1 << 23)
        }
    }

    @Test(arguments: [8, 512, 1000, 1024])
    func fftRoundTrip(size: Int) {
        let fft = RealFFT(size: size)
        let x = Self.noise(size)
        let (re, im) = fft.forward(x)
        let y = fft.inverse(real: re, imag: im)
        #expect(zip(x, y).map { abs($0 - $1) }.max()! < 1e-5)
    }

    @Test func fftOfASineHasOnePeak() {
        let n = 1024, k = 37
        let x = (0..<n).map { Float(cos(2 * Double.pi * Double(k * $0) / Double(n))) }
        let (re, im) = RealFFT(size: n).forward(x)
        let mags = zip(re, im).map { ($0 * $0 + $1 * $1).squareRoot() }
        #expect(mags.firstIndex(of: mags.max()!) == k)
        #expect(abs(mags[k] - Float(n / 2)) < 1e-2)
    }

    /// The bar: STFT then iSTFT returns the input within 1e-5 (Hann, hop up to n_fft/2).
    @Test(arguments: [(1024, 128), (1024, 256), (1024, 512), (512, 64), (2048, 1024), (256, 100)])
    func stftIsExactlyInvertible(size: Int, hop: Int) {
        let x = Self.noise(44100 / 4 + 17, seed: UInt64(size + hop))
        let stft = STFT(size: size, hop: hop)
        let spectrum = stft.analyze(x)
        #expect(spectrum.frames == 1 + x.count / hop)
        let y = stft.synthesize(spectrum, length: x.count)
        #expect(zip(x, y).map { abs($0 - $1) }.max()! < 1e-5)
    }

    @Test func gaussianWindowIsExactlyInvertibleToo() {
        let size = 1024, hop = 128
        let x = Self.noise(20000)
        let stft = STFT(size: size, hop: hop, window: .gaussian(lambda: 0.25645 * Double(size * size)))
        let y = stft.synthesize(stft.analyze(x), length: x.count)
        #expect(zip(x, y).map { abs($0 - $1) }.max()! < 1e-4)
    }

    @Test func magnitudeAndPhaseRebuildTheSpectrum() {
        let stft = STFT(size: 512, hop: 128)
        let s = stft.analyze(Self.noise(4000))
        let t = ComplexSpectrogram(frames: s.frames, bins: s.bins, magnitude: s.magnitude, phase: s.phase)
        #expect(zip(s.real, t.real).map { abs($0 - $1) }.max()! < 1e-4)
    }

    @Test(arguments: BiquadKind.allCases)
    func biquadsHaveTheirTextbookResponse(kind: BiquadKind) {
        let sr = 48000.0
        let c = BiquadCoefficients(kind, frequency: 1000, q: 0.7071, gainDB: 6, sampleRate: sr)
        let at = { c.responseDB(at: $0, sampleRate: sr) }
        switch kind {
        case .lowPass: #expect(abs(at(1000) + 3.01) < 0.1); #expect(at(100) > -0.1); #expect(at(10000) < -30)
        case .highPass: #expect(abs(at(1000) + 3.01) < 0.1); #expect(at(10000) > -0.2); #expect(at(100) < -35)
        case .bandPass: #expect(abs(at(1000)) < 0.01); #expect(at(100) < -15); #expect(at(10000) < -15)
        case .notch: #expect(at(1000) < -60); #expect(at(100) > -0.2)
        case .peak: #expect(abs(at(1000) - 6) < 0.01); #expect(abs(at(30)) < 0.1)
        case .lowShelf: #expect(abs(at(20) - 6) < 0.1); #expect(abs(at(20000)) < 0.1)
        case .highShelf: #expect(abs(at(20000) - 6) < 0.2); #expect(abs(at(20)) < 0.1)
        }
    }

    @Test func biquadFiltersASignalAsItsResponseSays() {
        let sr = 44100.0
        var filter = Biquad(BiquadCoefficients(.highPass, frequency: 20, sampleRate: sr))
        // DC goes away; a 1 kHz tone stays.
        var dc = [Float](repeating: 1, count: 44100)
        filter.process(&dc)
        #expect(abs(dc.last!) < 1e-3)
        filter.reset()
        var tone = (0..<44100).map { Float(sin(2 * Double.pi * 1000 * Double($0) / sr)) }
        filter.process(&tone)
        #expect(abs(tone[40000..<44100].map(abs).max()! - 1) < 0.01)
    }
}

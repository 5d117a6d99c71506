import Foundation
import Testing
import TestSupport
@testable import DSP

struct MelTests {
    @Test func melScaleIsSlaneys() {
        #expect(abs(MelScale.mel(hertz: 1000) - 15) < 1e-12)
        #expect(abs(MelScale.mel(hertz: 200) - 3) < 1e-12)
        for f in [0.0, 50, 440, 999, 1000, 1001, 8000, 22050] {
            #expect(abs(MelScale.hertz(mel: MelScale.mel(hertz: f)) - f) < 1e-6 * max(f, 1))
        }
    }

    @Test func filtersPeakAtTheirCentres() {
        let bank = MelFilterbank(sampleRate: 44100, fftSize: 2048, bands: 40)
        #expect(bank.weights.count == 40 * 1025)
        let binHz = 44100.0 / 2048
        for (b, centre) in bank.centreHz.enumerated() {
            let row = Array(bank.weights[(b * bank.bins)..<((b + 1) * bank.bins)])
            let peak = row.firstIndex(of: row.max()!)!
            #expect(abs(Double(peak) * binHz - centre) <= binHz, "band \(b)")
            #expect(row.allSatisfy { $0 >= 0 })
        }
    }

    /// The pseudo-inverse P of M satisfies M P M = M and P M P = P (Moore-Penrose), even with
    /// bands narrower than a bin (128 bands at n_fft 512 leave some empty).
    @Test(arguments: [(512, 128), (1024, 64), (2048, 128)])
    func pseudoInverseIsMoorePenrose(fftSize: Int, bands: Int) {
        let bank = MelFilterbank(sampleRate: 44100, fftSize: fftSize, bands: bands)
        let (n, m) = (bands, bank.bins)
        let M = bank.weights, P = bank.pseudoInverse
        func mul(_ a: [Float], _ ar: Int, _ ac: Int, _ b: [Float], _ bc: Int) -> [Double] {
            var out = [Double](repeating: 0, count: ar * bc)
            for i in 0..<ar { for k in 0..<ac { let x = Double(a[i * ac + k]); if x == 0 { continue }; for j in 0..<bc { out[i * bc + j] += x * Double(b[k * bc + j]) } } }
            return out
        }
        let MP = mul(M, n, m, P, n).map(Float.init)             // n × n
        let MPM = mul(MP, n, n, M, m)                            // n × m
        let scale = Double(M.map(abs).max()!)
        #expect(zip(MPM, M).map { abs($0 - Double($1)) }.max()! < 1e-3 * scale)
        let PM = mul(P, m, n, M, m).map(Float.init)             // m × m
        let PMP = mul(PM, m, m, P, n)
        let pscale = Double(P.map(abs).max()!)
        #expect(zip(PMP, P).map { abs($0 - Double($1)) }.max()! < 1e-3 * pscale)
    }

    /// Going to mel, back through the pseudo-inverse and to mel again changes nothing.
    @Test func invertThenApplyGivesTheSameMel() {
        let stft = STFT(size: 1024, hop: 256)
        let spectrum = stft.analyze(Drums.snare())
        let frames = spectrum.frames
        let bank = MelFilterbank(sampleRate: 44100, fftSize: 1024, bands: 64)
        let mel = bank.apply(spectrum.magnitude, frames: frames)
        let back = bank.invert(mel, frames: frames, clampNegative: false)
        #expect(back.count == frames * 513)
        let again = bank.apply(back, frames: frames)
        let err = zip(mel, again).map { abs($0 - $1) }.max()!
        #expect(err < 1e-3 * mel.max()!)
        #expect(bank.invert(mel, frames: frames).allSatisfy { $0 >= 0 })
    }
}

struct LogMagnitudeTests {
    @Test func decibelsHaveAFloor() {
        let db = LogMagnitude.decibels([1, 0.1, 0.001, 0, 1e-9], rangeDB: 40)
        #expect(db[0] == 0)
        #expect(abs(db[1] + 20) < 1e-4)
        #expect(abs(db[2] + 40) < 1e-4)
        #expect(db[3] == db[2] && db[4] == db[2])
        let back = LogMagnitude.magnitude(decibels: db)
        #expect(abs(back[1] - 0.1) < 1e-6)
        #expect(LogMagnitude.naturalLog([0, 1], floor: 1e-5)[0] == log(Float(1e-5)))
    }
}

struct SpectralConvergenceTests {
    @Test func measuresTheRelativeError() {
        let ref: [Float] = [1, 2, 3, 4]
        #expect(abs(SpectralConvergence.decibels(magnitude: ref.map { $0 * 0.9 }, reference: ref) + 20) < 1e-5)
        #expect(SpectralConvergence.decibels(magnitude: ref, reference: ref) == -.infinity)
        let stft = STFT(size: 512, hop: 128)
        let x = Drums.kick(seconds: 0.2)
        #expect(SpectralConvergence.decibels(audio: x, reference: x, stft: stft) < -100)
        #expect(abs(SpectralConvergence.decibels(audio: x.map { $0 * 0.5 }, reference: x, stft: stft) + 6.0206) < 1e-3)
    }
}

import AudioIO
import Foundation
import Testing
import TestSupport
@testable import DSP

/// Phase reconstruction on drums, scored on the reconstructed audio. Debug builds are
/// slow, so clips are short here; the benchmark (`timbre bench phase`) measures 2-second ones.
struct PhaseReconstructionTests {
    static let stft = STFT(size: 1024, hop: 128)

    static func score(_ x: [Float], _ method: PhaseMethod, iterations: Int) throws -> Double {
        try PhaseReconstruction.invert(signal: x, stft: stft, method: method, iterations: iterations).spectralConvergenceDB
    }

    static let hits: [(String, [Float])] = [("kick", Drums.kick()), ("snare", Drums.snare()), ("hat", Drums.hat())]

    @Test(arguments: ["kick", "snare", "hat"])
    func everyMethodBeatsRandomPhaseAndPGHIFGLABeatsTheRest(hit: String) throws {
        let x = Self.hits.first { $0.0 == hit }!.1
        let random = try Self.score(x, .gla, iterations: 0)
        let gla = try Self.score(x, .gla, iterations: 30)
        let fgla = try Self.score(x, .fgla, iterations: 30)
        let pghi = try Self.score(x, .pghi, iterations: 0)
        let best = try Self.score(x, .pghiFGLA, iterations: 30)
        print("\(hit): random \(random), gla30 \(gla), fgla30 \(fgla), pghi \(pghi), pghi+fgla30 \(best) dB")
        #expect(random > -6)
        #expect(gla < random - 3)
        #expect(fgla < gla)
        #expect(pghi < -14)
        // The published ordering: PGHI start + FGLA beats GLA and FGLA at equal iterations, and PGHI alone.
        #expect(best < gla - 5)
        #expect(best < fgla - 3)
        #expect(best < pghi - 5)
        #expect(best < -25)
    }

    @Test(.needsHydrogenKits)
    func realHydrogenDrumsReconstruct() throws {
        let urls = ["kick", "snare", "hat"].compactMap { Drums.hydrogen($0).first }
        #expect(urls.count == 3, "hydrogen-drumkits lacks a kick, snare or hat sample")
        for url in urls {
            var audio = try AudioFile.read(url)
            if audio.sampleRate != 44100 { audio = try Resampler.resample(audio, to: 44100) }
            let x = Array(audio.channels[0].prefix(44100 / 2))
            let pghi = try Self.score(x, .pghi, iterations: 0)
            let best = try Self.score(x, .pghiFGLA, iterations: 30)
            let gla = try Self.score(x, .gla, iterations: 30)
            print("\(url.lastPathComponent): pghi \(pghi), pghi+fgla30 \(best), gla30 \(gla) dB")
            #expect(pghi < -12, "\(url.lastPathComponent)")
            #expect(best < gla - 5, "\(url.lastPathComponent)")
            #expect(best < -22, "\(url.lastPathComponent)")
        }
    }

    @Test func sameSeedSameAudio() throws {
        let x = Drums.snare(seconds: 0.2)
        let m = Self.stft.analyze(x).magnitude
        let frames = Self.stft.frameCount(length: x.count)
        let a = try PhaseReconstruction.reconstruct(magnitude: m, frames: frames, bins: 513, stft: Self.stft, method: .fgla, iterations: 5, seed: 3)
        let b = try PhaseReconstruction.reconstruct(magnitude: m, frames: frames, bins: 513, stft: Self.stft, method: .fgla, iterations: 5, seed: 3)
        let c = try PhaseReconstruction.reconstruct(magnitude: m, frames: frames, bins: 513, stft: Self.stft, method: .fgla, iterations: 5, seed: 4)
        #expect(a == b)
        #expect(a != c)
        #expect(a.count == (frames - 1) * 128)
        let withLength = try PhaseReconstruction.reconstruct(magnitude: m, frames: frames, bins: 513, stft: Self.stft,
                                                             method: .pghi, length: x.count)
        #expect(withLength.count == x.count)
    }

    /// PGHI with a Gaussian window uses the window's own λ, and does better than with Hann's guess.
    @Test func pghiWorksWithAGaussianWindow() throws {
        let stft = STFT(size: 1024, hop: 128, window: .gaussian(lambda: 0.25645 * 1024 * 1024 / 4))
        let x = Drums.snare()
        let result = try PhaseReconstruction.invert(signal: x, stft: stft, method: .pghi)
        print("gaussian-window pghi: \(result.spectralConvergenceDB) dB")
        #expect(result.spectralConvergenceDB < -14)
    }

    /// A reconstructor reused across clips gives the same audio as a fresh one.
    @Test func reconstructorIsReusable() throws {
        let x = Drums.kick(seconds: 0.25), y = Drums.hat(seconds: 0.25)
        let frames = Self.stft.frameCount(length: x.count)
        let r = PhaseReconstructor(stft: Self.stft, frames: frames, length: x.count)
        let mx = Self.stft.analyze(x).magnitude, my = Self.stft.analyze(y).magnitude
        let first = r.reconstruct(magnitude: mx, method: .pghiFGLA, iterations: 4)
        _ = r.reconstruct(magnitude: my, method: .fgla, iterations: 4)
        #expect(r.reconstruct(magnitude: mx, method: .pghiFGLA, iterations: 4) == first)
    }

    /// `refine` from the true phase with no iterations gives the signal back; from a perturbed
    /// phase, Fast Griffin-Lim moves it closer, and a better start ends closer than a random one.
    @Test func refineStartsFromTheGivenPhase() throws {
        let x = Drums.snare(seconds: 0.25)
        let spectrum = Self.stft.analyze(x)
        let frames = Self.stft.frameCount(length: x.count)
        let r = PhaseReconstructor(stft: Self.stft, frames: frames, length: x.count)
        let exact = r.refine(magnitude: spectrum.magnitude, initialPhase: spectrum.phase, iterations: 0)
        let error = zip(exact, x).map { Swift.abs($0 - $1) }.max()!
        #expect(error < 1e-4)
        var rng = SplitMix64(seed: 9)
        let noisy = spectrum.phase.map { $0 + (rng.nextUnitFloat() - 0.5) * 1.5 }
        let random = spectrum.phase.map { _ in rng.nextUnitFloat() * 2 * .pi }
        func score(_ y: [Float]) -> Double { SpectralConvergence.decibels(audio: y, referenceMagnitude: spectrum.magnitude, stft: Self.stft) }
        let start = score(r.refine(magnitude: spectrum.magnitude, initialPhase: noisy, iterations: 0))
        let refined = score(r.refine(magnitude: spectrum.magnitude, initialPhase: noisy, iterations: 16))
        let fromRandom = score(r.refine(magnitude: spectrum.magnitude, initialPhase: random, iterations: 16))
        print("refine: noisy start \(start) dB, + FGLA 16 \(refined) dB, random start + FGLA 16 \(fromRandom) dB")
        #expect(refined < start - 3)
        #expect(refined < fromRandom - 3)
    }

    @Test func badMagnitudesAreRefusedWithAReason() {
        let stft = Self.stft
        func reason(_ m: [Float], frames: Int, bins: Int) -> String? {
            do {
                _ = try PhaseReconstruction.reconstruct(magnitude: m, frames: frames, bins: bins, stft: stft, method: .pghi)
                return nil
            } catch { return error.description }
        }
        var nan = [Float](repeating: 1, count: 4 * 513)
        nan[513 + 7] = .nan
        #expect(reason(nan, frames: 4, bins: 513)?.contains("NaN (frame 1, bin 7)") == true)
        #expect(reason([Float](repeating: 1, count: 4 * 257), frames: 4, bins: 257)?.contains("257 bins") == true)
        #expect(reason([], frames: 0, bins: 513)?.contains("empty") == true)
        #expect(reason([Float](repeating: -1, count: 513), frames: 1, bins: 513)?.contains("negative") == true)
        #expect(reason([Float](repeating: 1, count: 10), frames: 4, bins: 513)?.contains("not 4 frames") == true)
        #expect((try? PhaseReconstruction.invert(signal: [], stft: stft, method: .gla)) == nil)
    }
}

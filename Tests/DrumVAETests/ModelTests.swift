import Foundation
import Testing
import Torch
@testable import DrumVAE

/// The complex decoder's demodulated phase frame: turning an STFT by the conjugate of
/// `binRotation` must leave maps that stay constant from frame to frame for the two things
/// the frame is meant to make easy, a steady partial on a bin centre and a click.
@Suite(.serialized)
struct ModelTests {
    /// Phase of STFT · conj(rotation) at (bin, frame) of a [1, bins, frames, 2] STFT.
    static func demodulatedPhase(_ audio: [Float], config: DrumVAEConfig) throws -> (phase: [Double], magnitude: [Double]) {
        let window = try Tensor.hannWindow(config.fftSize)
        let spec = try Tensor(audio, shape: [1, audio.count]).stft(nFFT: config.fftSize, hop: config.hop, window: window).floats()
        let rotation = try DrumVAEModel.binRotation(config)
        let c = try rotation.cos.floats(), s = try rotation.sin.floats()
        var phase = [Double](repeating: 0, count: c.count), magnitude = phase
        for i in 0..<c.count {
            let re = Double(spec[2 * i]), im = Double(spec[2 * i + 1])
            // (re + i·im)·(cos − i·sin)
            let dr = re * Double(c[i]) + im * Double(s[i]), di = im * Double(c[i]) - re * Double(s[i])
            phase[i] = atan2(di, dr)
            magnitude[i] = (re * re + im * im).squareRoot()
        }
        return (phase, magnitude)
    }

    static func wrapped(_ x: Double) -> Double { atan2(sin(x), cos(x)) }

    @Test func rotationIsExactQuarterTurnsAtHopAQuarterOfTheFFT() throws {
        var config = DrumVAEConfig()
        config.representation = .complex
        config.demodulatedPhase = true
        let rotation = try DrumVAEModel.binRotation(config)
        #expect(rotation.cos.shape == [config.bins, config.frames])
        let c = try rotation.cos.floats(), s = try rotation.sin.floats()
        #expect(Set(c) == [1, 0, -1] && Set(s) == [1, 0, -1])
        // Bin 1 turns a quarter per frame: (1, 0), (0, 1), (-1, 0), (0, -1).
        let t = config.frames
        #expect(Array(c[t..<(t + 4)]) == [1, 0, -1, 0] && Array(s[t..<(t + 4)]) == [0, 1, 0, -1])
        // New configurations use it; a run made before it existed (no key) keeps the STFT's frame.
        #expect(DrumVAEConfig().phaseDemodulated)
        var json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(DrumVAEConfig())) as! [String: Any]
        json.removeValue(forKey: "demodulatedPhase")
        let old = try JSONDecoder().decode(DrumVAEConfig.self, from: JSONSerialization.data(withJSONObject: json))
        #expect(!old.phaseDemodulated)
        // The flag only applies to the complex model.
        config.representation = .magnitude
        #expect(!config.phaseDemodulated)
        #expect(try DrumVAEModel(config: config).rotation == nil)
    }

    @Test func steadyPartialAndClickGiveMapsConstantInTime() throws {
        var config = DrumVAEConfig()
        config.representation = .complex
        config.demodulatedPhase = true
        config.clipSamples = 16384
        let t = config.frames, n = config.fftSize
        // A partial on bin 40's centre: its raw phase turns by 2π·40·hop/N = 20π per frame
        // (equal to 0), bin 41's by 20.5π; demodulated, both stay put.
        for bin in [40, 41] {
            let w = 2 * Double.pi * Double(bin) / Double(n)
            let tone = (0..<config.clipSamples).map { Float(0.5 * sin(w * Double($0) + 0.3)) }
            let (phase, _) = try Self.demodulatedPhase(tone, config: config)
            let row = Array(phase[(bin * t + 4)..<(bin * t + t - 4)])
            let drift = row.map { abs(Self.wrapped($0 - row[0])) }.max()!
            #expect(drift < 1e-3, "bin \(bin): demodulated phase drifts by \(drift) rad")
        }
        // A click: every frame whose window covers it sees the same demodulated phase per bin.
        var click = [Float](repeating: 0, count: config.clipSamples)
        click[5000] = 1
        let (phase, magnitude) = try Self.demodulatedPhase(click, config: config)
        var worst = 0.0, compared = 0
        for bin in stride(from: 3, to: config.bins - 3, by: 7) {
            let frames = (0..<t).filter { magnitude[bin * t + $0] > 0.1 }
            #expect(frames.count >= 2, "the click should be seen by at least two frames")
            for f in frames.dropFirst() {
                worst = max(worst, abs(Self.wrapped(phase[bin * t + f] - phase[bin * t + frames[0]])))
                compared += 1
            }
        }
        #expect(compared > 150)
        #expect(worst < 1e-3, "a click's demodulated phase changes between frames by up to \(worst) rad")
    }
}

import AudioIO
import DSP
@testable import Engine
import Foundation
import Testing
import TestSupport

/// Parts of a node checked on their own: the input EQ, and the prior and trigger paths.
@Suite(.serialized)
struct NodeFeatureTests {
    private func tone(_ frequency: Double, frames: Int = 8192) -> [Float] {
        (0..<frames).map { Float(sin(2 * Double.pi * frequency * Double($0) / 44100)) * 0.5 }
    }

    private func rms(_ x: ArraySlice<Float>) -> Float { (x.map { $0 * $0 }.reduce(0, +) / Float(x.count)).squareRoot() }

    private func run(_ chain: EQChain, _ input: [Float]) -> [Float] {
        var data = input
        data.withUnsafeMutableBufferPointer { buffer in
            var start = 0
            while start < buffer.count {
                let n = min(512, buffer.count - start)
                chain.process(buffer.baseAddress! + start, channels: 1, stride: 0, frames: n)
                start += n
            }
        }
        return data
    }

    @Test func eqBandsFilterGlideAndSwitchOff() {
        let chain = EQChain(sampleRate: 44100)
        chain.set(0, KernelBand(EQBand(kind: .lowPass, frequency: 500)))
        let high = run(chain, tone(5000))
        #expect(rms(high[4096...]) < 0.02, "5 kHz through a 500 Hz low-pass")
        let low = run(chain, tone(100))
        #expect(rms(low[4096...]) > 0.3)
        // A peak band fades in from 0 dB, reaching +12 dB.
        chain.set(0, KernelBand(EQBand(kind: .lowPass, frequency: 500, enabled: false)))
        chain.set(3, KernelBand(EQBand(kind: .peak, frequency: 1000, q: 1, gainDB: 12)))
        let boosted = run(chain, tone(1000, frames: 44100))
        #expect(abs(boosted[1] - tone(1000)[1]) < 0.01, "starts near 0 dB")
        let gain = 20 * log10(rms(boosted[30000...]) / (Float(0.5) / Float(2).squareRoot()))
        #expect(abs(gain - 12) < 0.5, "settles at +12 dB (got \(gain))")
        #expect(boosted.allSatisfy { $0.isFinite })
        // Switched off, it glides back to 0 dB.
        chain.set(3, KernelBand(EQBand(kind: .peak, frequency: 1000, enabled: false)))
        let flat = run(chain, tone(1000, frames: 44100))
        #expect(abs(20 * log10(rms(flat[30000...]) / (Float(0.5) / Float(2).squareRoot()))) < 0.2)
    }

    /// Bands beyond the first storage grow it on the fly, on the live graph.
    @Test func anyNumberOfBands() throws {
        let frames = 30000
        let input = Signals.noise(frames: frames, seed: 2)
        func render(_ bands: [(Int, EQSetting)]) throws -> [Float] {
            let result = try OfflineRenderer.render(
                input: AudioBuffer(sampleRate: 44100, channels: [input]), frames: frames, configuration: Signals.configuration(),
                events: [RenderEvent(frame: 0) { instrument in
                    try instrument.createNow(NodeSpec(label: "e", model: "tiny-deterministic.ts"))
                }, RenderEvent(frame: 4096) { instrument in
                    for (index, band) in bands { try instrument.set("e", .eq(band: index, band)) }
                }])
            return result.buses[0].buffer.channels[0]
        }
        let plain = try render([])
        let filtered = try render([(40, .band(kind: .lowpass, frequency: 300, q: EQSetting.defaultQ, gainDB: 0)), (100, .band(kind: .highpass, frequency: 100, q: EQSetting.defaultQ, gainDB: 0))])
        let same = try render([(40, .band(kind: .lowpass, frequency: 300, q: EQSetting.defaultQ, gainDB: 0)), (100, .band(kind: .highpass, frequency: 100, q: EQSetting.defaultQ, gainDB: 0))])
        #expect(plain != filtered)
        #expect(filtered == same)
        #expect(filtered.allSatisfy { $0.isFinite })
        // Off again: back to the plain output once the filters' memory has passed.
        let off = try render([(70, .band(kind: .lowpass, frequency: 300, q: EQSetting.defaultQ, gainDB: 0)), (70, .off)])
        #expect(off == plain)
    }

    /// A model with a prior (made here with python3-torch): the prior drives decode, the
    /// temperature changes the result, and a decode node's trigger raises latent 0 for one frame.
    @Test func priorAndTriggersDriveDecode() throws {
        let dir = TemporaryDirectory()
        let script = dir.file("make.py")
        try """
        import sys, torch
        from typing import List
        class M(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.sr = 44100
                self.register_buffer("prior_params", torch.tensor([1, 256, 2, 256]))
                self.register_buffer("decode_params", torch.tensor([2, 256, 1, 1]))
            @torch.jit.export
            def prior(self, t: torch.Tensor) -> torch.Tensor:
                return torch.cat([t * 0.5, -t * 0.25], 1)
            @torch.jit.export
            def decode(self, z: torch.Tensor) -> torch.Tensor:
                return (z[:, :1] + z[:, 1:2]).repeat_interleave(256, -1)
            def forward(self, x: torch.Tensor) -> torch.Tensor:
                return x
            @torch.jit.export
            def get_methods(self) -> List[str]:
                return ["prior", "decode"]
        torch.jit.script(M()).save(sys.argv[1])
        """.write(to: script, atomically: true, encoding: .utf8)
        let made = try runPython(script, [dir.file("prior.ts").path])
        #expect(made.status == 0, "\(made.stderr)")

        var configuration = Instrument.Configuration(sampleRate: 44100, period: 512, modelsDirectories: [dir.url])
        configuration.defaultBlock = 512
        let frames = 44100
        let result = try OfflineRenderer.render(
            input: AudioBuffer(sampleRate: 44100, channels: [[Float](repeating: 0, count: frames)]), frames: frames,
            configuration: configuration,
            events: [
                RenderEvent(frame: 0) {
                    try $0.createNow(NodeSpec(label: "p", model: "prior.ts", method: .prior))
                    try $0.createNow(NodeSpec(label: "d", model: "prior.ts", method: .decode))
                },
                RenderEvent(frame: 22050) { try $0.set("p", .temperature(2)); try $0.set("d", .trigger) },
            ])
        let prior = try #require(result.buses.first { $0.label == "p" }?.buffer.channels[0])
        let decode = try #require(result.buses.first { $0.label == "d" }?.buffer.channels[0])
        // prior: 0.5 t - 0.25 t = 0.25 t: 0.25 at temperature 1, 0.5 at temperature 2 (after the glide).
        #expect(abs(prior[15000] - 0.25) < 1e-5, "\(prior[15000])")
        #expect(abs(prior[frames - 1] - 0.5) < 1e-5, "\(prior[frames - 1])")
        // decode: silent until the trigger, then latent 0 at 1 for one frame (256 samples), then silent again.
        #expect(decode[..<22050].allSatisfy { $0 == 0 })
        let pulse = decode.filter { abs($0 - 1) < 1e-5 }.count
        #expect(pulse == 256, "trigger frame length \(pulse)")
    }
}

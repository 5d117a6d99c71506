import AudioIO
import Foundation
import Testing
import TestSupport

/// `timbre render` of one session must give the same samples, bit for bit, before and after
/// the engine's inner structure changes: the checksums below were computed on the engine
/// before the call plans existed (commit "render checksum before the call plan") and must
/// never be edited to make a change pass. Only the committed fixture models are used, so the
/// test runs everywhere (no ../shared).
///
/// The session covers every way a node calls its model: `forward` with input gain and an EQ
/// band, `encode` with bias, scale, latent noise and a seeded noisy decoder, `decode` with
/// latent values and triggers on a drum-style export (channel 0 a trigger), `prior` with a
/// temperature on a prior that carries state, a stereo model, a model at another rate
/// (resampled), a chain, a block other than the default, and a node freed half way.
///
/// Bit identity holds for one arithmetic: Debian's libtorch does its matrix products in
/// OpenBLAS, which picks its kernels by the processor it finds (an AVX-512 Xeon rounds
/// differently from an AVX2 one: the same engine gave other sums for `fwd`, `enc`, `st`, `chain`
/// and `master` there). The checksums were computed with the AVX2 ("Haswell") kernels, so the
/// render runs as `timbre-core render` in a child process with those kernels pinned
/// (`OPENBLAS_CORETYPE`, read when the library loads) and ATen's own kernels at the same level.
@Suite(.serialized)
struct RenderChecksumTests {
    static let session = """
        # every kind of node, on the committed fixtures
        toggle fwd tiny-deterministic.ts
        set fwd input_gain 0.8
        set fwd eq 0 peak 1200 1.5 6
        toggle enc tiny-streaming.ts encode seed 3
        set enc bias 0 0.4
        set enc scale 1 1.7
        set enc noise 0.2
        toggle drum tiny-drum.ts decode
        set drum latents 0 0.6 -0.4 0.3
        toggle pri tiny-drum.ts prior block 512
        set pri temperature 0.7
        toggle st tiny-stereo.ts forward input stereo
        toggle v1 tiny-v1.ts encode input mix
        toggle chain tiny-deterministic.ts input enc
        @0.1 set drum trigger
        @0.35 set drum latent 1 -0.8
        @0.4 set drum trigger
        @0.5 set enc bias 0 -0.5
        @0.6 set pri temperature 1.5
        @0.7 toggle fwd tiny-deterministic.ts
        @0.8 set chain wet 0.5
        @0.9 set v1 gain 0.5
        """

    /// FNV-1a (64 bit) over the exact bit patterns of every sample, channel after channel.
    static func checksum(_ buffer: AudioBuffer) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for channel in buffer.channels {
            for sample in channel {
                var bits = sample.bitPattern
                for _ in 0..<4 {
                    hash ^= UInt64(bits & 0xff)
                    hash = hash &* 0x100_0000_01b3
                    bits >>= 8
                }
            }
        }
        return String(hash, radix: 16)
    }

    /// Computed on the engine before the call plans (see the suite's comment); never edit to pass.
    static let expected: [String: String] = [
        "chain": "16c70045a8b26fd1", "drum": "d6b035e4d7fca0f5", "enc": "1c83df1341e215bd", "fwd": "5c5e03c24b76c899",
        "master": "893ff091b1b4bbc1", "pri": "d6995704cd38b965", "st": "c0814dcc57921d37", "v1": "dac8ef2e19ad48e5",
    ]

    /// The arithmetic the checksums belong to (see the suite's comment).
    static let pinnedKernels = ["OPENBLAS_CORETYPE": "Haswell", "ATEN_CPU_CAPABILITY": "avx2"]

    @Test func renderOfTheSessionIsBitIdentical() throws {
        let dir = TemporaryDirectory("render-checksum")
        let sessionURL = dir.file("session.txt")
        try Self.session.write(to: sessionURL, atomically: true, encoding: .utf8)
        // Stereo input: deterministic noise with a slow envelope, different on each side.
        func noise(_ seed: UInt64) -> [Float] {
            var state = seed
            return (0..<66150).map { i in
                state = state &* 6364136223846793005 &+ 1442695040888963407
                let u = Float(state >> 40) / Float(1 << 24) * 2 - 1
                return u * 0.3 * Float(0.6 + 0.4 * sin(Double(i) * 0.0007))
            }
        }
        let inputURL = dir.file("input.wav")
        try AudioFile.write(AudioBuffer(sampleRate: 44100, channels: [noise(1), noise(2)]), to: inputURL, format: .float32)
        let out = dir.url.appendingPathComponent("out")
        let environment = ProcessInfo.processInfo.environment.merging(Self.pinnedKernels) { $1 }
        let render = try runProcess(TestPaths.timbreCoreExecutable,
                                    ["render", "--session", sessionURL.path, "--input", inputURL.path, "--out", out.path,
                                     "--models-dir", TestPaths.fixture("models").path], environment: environment)
        #expect(render.status == 0, "timbre-core render: \(render.stderr)")
        let files = render.stdout.split(separator: "\n").filter { $0.hasSuffix(".wav") }.map { URL(fileURLWithPath: String($0)) }
        var sums: [String: String] = [:]
        for file in files {
            let audio = try AudioFile.read(file)
            // Every node must have played something, or the checksum would guard silence.
            #expect(audio.channels.contains { $0.contains { $0 != 0 } }, "\(file.lastPathComponent) is silent")
            sums[file.deletingPathExtension().lastPathComponent] = Self.checksum(audio)
        }
        print("render checksums: \(sums.sorted { $0.key < $1.key }.map { "\"\($0.key)\": \"\($0.value)\"" }.joined(separator: ", "))")
        #expect(Set(sums.keys) == ["fwd", "enc", "drum", "pri", "st", "v1", "chain", "master"])
        for (label, sum) in sums.sorted(by: { $0.key < $1.key }) {
            #expect(sum == Self.expected[label], "bus \(label)")
        }
    }
}

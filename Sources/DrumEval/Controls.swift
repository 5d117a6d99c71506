import DSP
import Foundation

/// The sound sets the protocol must rank as bad, made from the training clips (seeded).
public enum Controls {
    /// Picks `count` of `n` indices: a seeded shuffle's first `count`, or every index in turn when more are asked.
    static func pick(_ count: Int, of n: Int, rng: inout SplitMix64) -> [Int] {
        var order = Array(0..<n)
        order.shuffle(using: &rng)
        return (0..<count).map { order[$0 % n] }
    }

    /// Class-mean magnitudes with random phase: for each sound a training clip's class is drawn
    /// (training proportions), and that class's mean STFT magnitude (FFT 1024, hop 256) is inverted
    /// with uniformly random phase. Precise spectra, no variety.
    public static func randomPhase(_ training: [EvalCorpus.Clip], count: Int, seed: UInt64) -> [[Float]] {
        let stft = STFT(size: 1024, hop: 256, window: .hann)
        let length = training[0].samples.count
        var means: [String: [Float]] = [:], counts: [String: Int] = [:]
        for clip in training {
            let m = stft.analyze(clip.samples).magnitude
            if var sum = means[clip.className] {
                for i in sum.indices { sum[i] += m[i] }
                means[clip.className] = sum
            } else {
                means[clip.className] = m
            }
            counts[clip.className, default: 0] += 1
        }
        for (c, n) in counts { means[c] = means[c]!.map { $0 / Float(n) } }
        var rng = SplitMix64(seed: seed)
        let frames = stft.frameCount(length: length)
        return pick(count, of: training.count, rng: &rng).map { i in
            let magnitude = means[training[i].className]!
            let phase = (0..<magnitude.count).map { _ in Float(2 * Double.pi * rng.nextUnit()) }
            return stft.synthesize(ComplexSpectrogram(frames: frames, bins: stft.bins, magnitude: magnitude, phase: phase), length: length)
        }
    }

    /// White noise shaped by a training clip's amplitude envelope (RMS over 5 ms, linearly
    /// interpolated) at the clip's RMS: drum-shaped, wrong timbre.
    public static func noiseBursts(_ training: [EvalCorpus.Clip], count: Int, sampleRate: Int, seed: UInt64) -> [[Float]] {
        var rng = SplitMix64(seed: seed)
        let hop = sampleRate / 200
        return pick(count, of: training.count, rng: &rng).map { i in
            let x = training[i].samples
            let frames = (x.count + hop - 1) / hop
            let envelope = (0..<frames).map { f -> Float in
                let slice = x[(f * hop)..<min(x.count, (f + 1) * hop)]
                return (slice.reduce(0) { $0 + $1 * $1 } / Float(slice.count)).squareRoot()
            }
            return (0..<x.count).map { n in
                let position = Float(n) / Float(hop) - 0.5
                let f = max(0, min(frames - 1, Int(position.rounded(.down))))
                let g = min(frames - 1, f + 1)
                let t = max(0, min(1, position - Float(f)))
                // Unit-variance noise times the RMS envelope keeps each 5 ms block's RMS.
                return rng.nextGaussian() * (envelope[f] * (1 - t) + envelope[g] * t)
            }
        }
    }

    /// A generator that collapsed: `count` sounds made from only `distinct` training clips (picked
    /// with a seed), each copy lightly jittered as `jittered` does. Each sound is realistic; the
    /// set has no variety, so the diversity test must fail it.
    public static func collapsed(_ training: [EvalCorpus.Clip], count: Int, distinct: Int = 10, sampleRate: Int, seed: UInt64) -> [[Float]] {
        var rng = SplitMix64(seed: seed)
        let sources = pick(min(distinct, training.count), of: training.count, rng: &rng)
        return jittered((0..<count).map { training[sources[$0 % sources.count]] }, sampleRate: sampleRate, seed: seed &+ 1)
    }

    /// Training clips lightly jittered: each of `clips`, in order, delayed by 0–3 ms, gain within ±1 dB.
    /// Realistic, but copies. The evaluation jitters the very clips its real-vs-real row scores, so the
    /// two rows differ by the jitter alone and not by which clips a draw happened to pick.
    public static func jittered(_ clips: [EvalCorpus.Clip], sampleRate: Int, seed: UInt64) -> [[Float]] {
        var rng = SplitMix64(seed: seed)
        return clips.map { clip in
            let x = clip.samples
            let delay = Int(rng.nextUnit() * 0.003 * Double(sampleRate))
            let gain = Float(pow(10, (rng.nextUnit() * 2 - 1) / 20))
            return (0..<x.count).map { n in n >= delay ? gain * x[n - delay] : 0 }
        }
    }
}

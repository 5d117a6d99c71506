import DSP
import DrumVAE
import Foundation

/// Held-out reconstruction, scored per drum class.
public enum HeldOutReconstruction {
    /// Means over the clips of one class (lower is better everywhere).
    public struct ClassScores: Codable, Sendable, Equatable {
        public var clips: Int
        /// Multi-scale spectral convergence (FFT 2048 … 128), dB.
        public var spectralConvergenceDB: Double
        /// RMS over frames and bands of the log-mel difference (64 bands, floored at −80 dB), dB.
        public var logMelDistanceDB: Double
        /// |onset(output) − onset(target)|, ms (first sample at 10 % of the peak).
        public var onsetErrorMs: Double
        /// |decay(output) − decay(target)|, ms (from the loudest frame until 30 dB below it).
        public var decayErrorMs: Double
    }

    /// First sample reaching 10 % of the peak, in ms.
    static func onsetMs(_ x: [Float], sampleRate: Int) -> Double {
        let peak = x.reduce(0) { max($0, Swift.abs($1)) }
        guard peak > 0 else { return 0 }
        return Double(x.firstIndex { Swift.abs($0) >= 0.1 * peak } ?? 0) / Double(sampleRate) * 1000
    }

    /// Scores `outputs` against `targets` (same order), grouped by `classes`.
    public static func score(targets: [[Float]], outputs: [[Float]], classes: [String], sampleRate: Int,
                             targetAnalyses: [ClipAnalysis]? = nil) throws -> [String: ClassScores] {
        let spectrum = try MultiScaleSpectrum.evaluation()
        var convergence: [Double] = []
        for start in stride(from: 0, to: targets.count, by: 16) {
            let end = min(targets.count, start + 16)
            convergence += try spectrum.convergenceDB(Array(targets[start..<end]), Array(outputs[start..<end]))
        }
        let a = targetAnalyses ?? ClipAnalysis.analyse(targets, sampleRate: Double(sampleRate))
        let b = ClipAnalysis.analyse(outputs, sampleRate: Double(sampleRate))
        var grouped: [String: [(Double, Double, Double, Double)]] = [:]
        for i in targets.indices {
            var sum = 0.0
            for (u, v) in zip(a[i].logMel, b[i].logMel) {
                let d = Double(Swift.max(u, -80) - Swift.max(v, -80))
                sum += d * d
            }
            let lsd = (sum / Double(a[i].logMel.count)).squareRoot()
            let onset = Swift.abs(onsetMs(targets[i], sampleRate: sampleRate) - onsetMs(outputs[i], sampleRate: sampleRate))
            let decay = Swift.abs(a[i].decaySeconds() - b[i].decaySeconds()) * 1000
            grouped[classes[i], default: []].append((convergence[i], lsd, onset, decay))
        }
        return grouped.mapValues { rows in
            let n = Double(rows.count)
            return ClassScores(clips: rows.count, spectralConvergenceDB: rows.map(\.0).reduce(0, +) / n,
                               logMelDistanceDB: rows.map(\.1).reduce(0, +) / n,
                               onsetErrorMs: rows.map(\.2).reduce(0, +) / n, decayErrorMs: rows.map(\.3).reduce(0, +) / n)
        }
    }

    /// The coarse log-mel vector retrieval compares: the first second, bands averaged in pairs, floored at −80 dB.
    static func retrievalVector(_ a: ClipAnalysis) -> [Double] {
        let frames = min(a.frames, Int((1.0 / a.frameSeconds).rounded()))
        var out: [Double] = []
        out.reserveCapacity(frames * ClipAnalysis.bands / 2)
        for t in 0..<frames {
            for b in stride(from: 0, to: ClipAnalysis.bands, by: 2) {
                let u = Swift.max(a.logMel[t * ClipAnalysis.bands + b], -80), v = Swift.max(a.logMel[t * ClipAnalysis.bands + b + 1], -80)
                out.append(Double(u + v) / 2)
            }
        }
        return out
    }

    /// The retrieval reference: the index of each target's nearest training clip in log-mel space.
    public static func retrieve(targets: [ClipAnalysis], training: [ClipAnalysis]) -> [Int] {
        let t = FeatureMatrix(rows: targets.map(retrievalVector)), r = FeatureMatrix(rows: training.map(retrievalVector))
        let d = t.distances(to: r)
        return (0..<t.count).map { i in (0..<r.count).min { d[i * r.count + $0] < d[i * r.count + $1] }! }
    }
}

/// Phase where it matters: how much of the gap between Griffin-Lim (32 iterations) and the true
/// phase a model's own phase closes, on the model's own magnitudes.
public enum PhaseGap {
    /// The classes where phase is audible (tonal bodies, transients).
    public static let classes = ["kick", "tom", "snare", "perc"]

    public struct ClassGap: Codable, Sendable, Equatable {
        public var clips: Int
        /// Mean multi-scale spectral convergence against the held-out clip, dB: the model's magnitudes
        /// with Griffin-Lim 32, with the model's phase, with the clip's own phase.
        public var griffinLimDB: Double
        public var modelDB: Double
        public var truePhaseDB: Double
        /// (GL32 − model) / (GL32 − true phase); nil (n/a) when GL32 − true phase is under 1 dB.
        public var gapClosure: Double?
    }

    /// Measures up to `perClass` held-out clips of each phase class.
    public static func measure(_ run: TrainedRun, clips: [EvalCorpus.Clip], perClass: Int = 24,
                               progress: (Double) -> Void = { _ in }) throws -> [String: ClassGap] {
        let c = run.config
        let spectrum = try MultiScaleSpectrum.evaluation()
        let stft = STFT(size: c.fftSize, hop: c.hop, window: .hann)
        let reconstructor = PhaseReconstructor(stft: stft, frames: c.frames, length: c.clipSamples)
        var out: [String: ClassGap] = [:]
        let chosen = classes.map { name in Array(clips.filter { $0.className == name }.prefix(perClass)) }
        let total = max(1, chosen.map(\.count).reduce(0, +))
        var done = 0
        for (name, members) in zip(classes, chosen) where !members.isEmpty {
            let audio = members.map(\.samples)
            let means = try run.encode(audio).map(\.mean)
            let classIndices = members.map { c.classes.firstIndex(of: $0.className) ?? 0 }
            let own = try run.decode(means, classes: c.conditional ? classIndices : nil)
            var griffinLim: [[Float]] = [], truePhase: [[Float]] = []
            for (i, z) in means.enumerated() {
                let (magnitude, _) = try run.decodeSpectrum(z, classIndex: classIndices[i])
                griffinLim.append(reconstructor.reconstruct(magnitude: magnitude, method: .gla, iterations: 32))
                let phase = stft.analyze(audio[i]).phase
                truePhase.append(stft.synthesize(ComplexSpectrogram(frames: c.frames, bins: c.bins, magnitude: magnitude,
                                                                    phase: Array(phase.prefix(magnitude.count))), length: c.clipSamples))
                done += 1
                progress(Double(done) / Double(total))
            }
            func mean(_ x: [Double]) -> Double { x.reduce(0, +) / Double(x.count) }
            let gl = mean(try spectrum.convergenceDB(audio, griffinLim))
            // A magnitude run's own phase is zero phase; its generator is measured with Griffin-Lim, so
            // its gap closure is 0 by construction. Complex and synth runs make their own phase: their output is measured.
            let model = c.representation == .magnitude ? gl : mean(try spectrum.convergenceDB(audio, own))
            let truth = mean(try spectrum.convergenceDB(audio, truePhase))
            out[name] = ClassGap(clips: members.count, griffinLimDB: gl, modelDB: model, truePhaseDB: truth,
                                 gapClosure: gl - truth < 1 ? nil : (gl - model) / (gl - truth))
        }
        return out
    }
}

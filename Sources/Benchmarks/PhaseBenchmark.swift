import DSP
import Foundation

/// Times and scores phase reconstruction methods over a set of clips: the library half of
/// `timbre bench phase` (the librosa baseline runs beside it, in Python).
public enum PhaseBenchmark {
    /// One method at one iteration count.
    public struct Case: Sendable, Hashable {
        public var method: PhaseMethod?
        public var iterations: Int
        /// A method at an iteration count; `method` nil means random phase (the floor every method must beat).
        public init(_ method: PhaseMethod?, iterations: Int = 0) { (self.method, self.iterations) = (method, iterations) }
        public var name: String { method?.rawValue ?? "random phase" }
    }

    /// The outcome of one case over every clip.
    public struct Row: Sendable, Codable {
        public var name: String
        public var iterations: Int
        /// Spectral convergence of each clip's reconstruction, dB.
        public var spectralConvergenceDB: [Double]
        /// Seconds each reconstruction took (magnitude in, audio out).
        public var seconds: [Double]
        public var meanSpectralConvergenceDB: Double { spectralConvergenceDB.reduce(0, +) / Double(max(1, spectralConvergenceDB.count)) }
        public var meanMilliseconds: Double { 1000 * seconds.reduce(0, +) / Double(max(1, seconds.count)) }
        public init(name: String, iterations: Int, spectralConvergenceDB: [Double], seconds: [Double]) {
            (self.name, self.iterations, self.spectralConvergenceDB, self.seconds) = (name, iterations, spectralConvergenceDB, seconds)
        }
    }

    /// Every case of the benchmark: random phase, then GLA, FGLA and PGHI+FGLA at each count, and PGHI.
    public static func cases(iterations: [Int]) -> [Case] {
        [Case(nil)] + [PhaseMethod.gla, .fgla].flatMap { m in iterations.map { Case(m, iterations: $0) } }
            + [Case(.pghi)] + iterations.map { Case(.pghiFGLA, iterations: $0) }
    }

    /// Runs every case on every clip (each clip's magnitude from `stft`), clip by clip.
    /// `tolerance` is PGHI's (see `PhaseReconstruction.reconstruct`); `progress` gets the fraction done.
    public static func run(clips: [[Float]], stft: STFT, cases: [Case], tolerance: Float = 1e-3, progress: (Double) -> Void = { _ in }) -> [Row] {
        var rows = cases.map { Row(name: $0.name, iterations: $0.iterations, spectralConvergenceDB: [], seconds: []) }
        var reconstructors: [Int: PhaseReconstructor] = [:]
        for (c, clip) in clips.enumerated() {
            let magnitude = stft.analyze(clip).magnitude
            let frames = stft.frameCount(length: clip.count)
            let reconstructor = reconstructors[clip.count] ?? PhaseReconstructor(stft: stft, frames: frames, length: clip.count)
            reconstructors[clip.count] = reconstructor
            for (i, testCase) in cases.enumerated() {
                let start = DispatchTime.now().uptimeNanoseconds
                // Random phase is GLA with no iterations: one inverse STFT of a random-phase spectrogram.
                let audio = reconstructor.reconstruct(magnitude: magnitude, method: testCase.method ?? .gla,
                                                      iterations: testCase.method == nil ? 0 : testCase.iterations,
                                                      tolerance: tolerance)
                let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
                rows[i].seconds.append(seconds)
                rows[i].spectralConvergenceDB.append(SpectralConvergence.decibels(audio: audio, referenceMagnitude: magnitude, stft: stft))
            }
            progress(Double(c + 1) / Double(clips.count))
        }
        return rows
    }
}

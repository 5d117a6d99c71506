import Foundation
import Torch

/// Multi-scale STFT magnitudes: the training loss (RAVE's) and the evaluation metric
/// (spectral convergence at FFT sizes 2048 … 128, hop = size / 4, Hann windows).
public final class MultiScaleSpectrum {
    public let sizes: [Int]
    let windows: [Tensor]

    public init(sizes: [Int] = [2048, 1024, 512, 256, 128]) throws {
        self.sizes = sizes
        windows = try sizes.map { try Tensor.hannWindow($0) }
    }

    /// The evaluation metric's scales: FFT sizes 2048, 1024, 512, 256 and 128.
    public static func evaluation() throws -> MultiScaleSpectrum { try MultiScaleSpectrum() }

    func magnitudes(_ audio: Tensor, _ k: Int) throws -> Tensor {
        try magnitude(audio.stft(nFFT: sizes[k], hop: sizes[k] / 4, window: windows[k]))
    }

    /// Mean over scales of spectral convergence ‖S − Ŝ‖/‖S‖ (whole batch) plus the mean
    /// absolute difference of log-magnitudes. `target` and `output` are [B, samples].
    public func loss(_ target: Tensor, _ output: Tensor, logWeight: Double = 1) throws -> Tensor {
        var total: Tensor?
        for k in sizes.indices {
            let s = try magnitudes(target, k), y = try magnitudes(output, k)
            let convergence = try (s - y).norm() / (s.norm() + 1e-7)
            let logDistance = try ((s + 1e-5).log() - (y + 1e-5).log()).abs().mean()
            let term = try convergence + logDistance * logWeight
            total = try total.map { try $0 + term } ?? term
        }
        return try total! / Double(sizes.count)
    }

    /// Per clip: the mean over scales of ‖S − Ŝ‖/‖S‖, in dB (20 log10). Lower is better.
    public func convergenceDB(_ target: Tensor, _ output: Tensor) throws -> [Double] {
        try Torch.withoutGradients {
            var sum: [Double] = Array(repeating: 0, count: target.shape[0])
            for k in sizes.indices {
                let s = try magnitudes(target, k), y = try magnitudes(output, k)
                let ratio = try ((s - y).norm([1, 2]) / (s.norm([1, 2]) + 1e-9)).floats()
                for i in sum.indices { sum[i] += Double(ratio[i]) }
            }
            return sum.map { 20 * log10(max($0 / Double(sizes.count), 1e-12)) }
        }
    }

    /// Per clip: the same metric between two plain sample arrays (generation checks).
    public func convergenceDB(_ target: [[Float]], _ output: [[Float]]) throws -> [Double] {
        let n = target.count, length = target[0].count
        return try convergenceDB(Tensor(target.flatMap { $0 }, shape: [n, length]),
                                 Tensor(output.flatMap { $0 }, shape: [n, length]))
    }
}

import DSP
import Foundation

/// The distribution new one-shots are drawn from: a mixture of one Gaussian per drum
/// class, fitted to the posterior means of the training clips when training ends
/// (RUN/prior.json).
///
/// A β-VAE's encoder does not fill N(0, I) evenly; with the small β this model trains
/// with, the clips' latents occupy a region of their own, and most draws from N(0, I)
/// fall where the decoder never learned anything. Fitting a density to the aggregate
/// posterior after training ("ex-post density estimation", Ghosh et al. 2020) draws
/// from where the sounds are. Each class gets a full covariance, shrunk towards its
/// diagonal (and towards the pooled covariance when the class has few clips) so that it
/// stays well conditioned. The temperature scales the spread around each class mean.
public struct LatentPrior: Codable, Sendable, Equatable {
    public struct Component: Codable, Sendable, Equatable {
        public var className: String
        /// Share of the training clips.
        public var weight: Double
        public var mean: [Double]
        /// Lower-triangular Cholesky factor of the covariance, row-major D × D.
        public var cholesky: [Double]
        public var clips: Int
    }

    public var latentSize: Int
    public var components: [Component]
    /// Training step of the weights the prior was fitted to.
    public var step: Int

    /// Fits one component per class. `latents` and `classes` are parallel arrays.
    public static func fit(latents: [[Float]], classes: [String], step: Int) throws -> LatentPrior {
        guard let d = latents.first?.count, !latents.isEmpty else {
            throw DrumVAEError(path: "", reason: "no latents to fit a prior to")
        }
        let names = Set(classes).sorted()
        let groups = names.map { name in zip(latents, classes).filter { $0.1 == name }.map { $0.0.map(Double.init) } }
        // The within-class covariance pooled over classes (the spread of a class around its mean).
        var pooled = ([Double](repeating: 0, count: d * d), [Double]())
        var degrees = 0.0
        for rows in groups where rows.count > 1 {
            let c = covariance(rows).0
            for k in c.indices { pooled.0[k] += c[k] * Double(rows.count - 1) }
            degrees += Double(rows.count - 1)
        }
        if degrees > 0 {
            for k in pooled.0.indices { pooled.0[k] /= degrees }
        } else {
            pooled = covariance(latents.map { $0.map(Double.init) })
        }
        var components: [Component] = []
        for (name, rows) in zip(names, groups) {
            let (mean, sample) = (meanVector(rows), covariance(rows))
            // Few clips: lean on the pooled covariance; always keep a little diagonal loading.
            let n = Double(rows.count)
            let own = n / (n + Double(d))
            var sigma = [Double](repeating: 0, count: d * d)
            for i in 0..<d {
                for j in 0..<d {
                    let mixed = own * sample.0[i * d + j] + (1 - own) * pooled.0[i * d + j]
                    sigma[i * d + j] = i == j ? mixed : 0.9 * mixed
                }
                sigma[i * d + i] += 1e-4
            }
            components.append(Component(className: name, weight: n / Double(latents.count), mean: mean,
                                        cholesky: try cholesky(sigma, d), clips: rows.count))
        }
        return LatentPrior(latentSize: d, components: components, step: step)
    }

    /// `count` latents, seeded: a component by weight (or the one named `className`; with
    /// `among`, only those classes, by their weights), then mean + temperature · L · ε.
    /// Returns the latents and each one's class.
    public func sample(count: Int, temperature: Double, seed: UInt64, className: String? = nil,
                       among: Set<String>? = nil) throws -> [(latent: [Float], className: String)] {
        var pool = components
        if let among {
            pool = components.filter { among.contains($0.className) }
            guard !pool.isEmpty else {
                throw DrumVAEError(path: "", reason: "the prior has none of the classes \(among.sorted().joined(separator: ", ")) (it has: \(components.map(\.className).joined(separator: ", ")))")
            }
        }
        if let className {
            pool = pool.filter { $0.className == className }
            guard !pool.isEmpty else {
                throw DrumVAEError(path: "", reason: "the prior has no class '\(className)' (it has: \(components.map(\.className).joined(separator: ", ")))")
            }
        }
        let total = pool.map(\.weight).reduce(0, +)
        var rng = SplitMix64(seed: seed)
        return (0..<count).map { _ in
            var u = rng.nextUnit() * total
            var component = pool[pool.count - 1]
            for c in pool {
                if u < c.weight { component = c; break }
                u -= c.weight
            }
            let d = latentSize
            let epsilon = (0..<d).map { _ in Double(rng.nextGaussian()) }
            let z = (0..<d).map { i in
                var value = component.mean[i]
                for j in 0...i { value += temperature * component.cholesky[i * d + j] * epsilon[j] }
                return Float(value)
            }
            return (z, component.className)
        }
    }

    public static func read(from url: URL) throws -> LatentPrior {
        try readJSON(from: url, missing: "no such file", invalid: "not a latent prior")
    }

    public func write(to url: URL) throws { try writeJSON(self, to: url, pretty: false) }

    static func meanVector(_ rows: [[Double]]) -> [Double] {
        let d = rows[0].count
        var mean = [Double](repeating: 0, count: d)
        for row in rows { for i in 0..<d { mean[i] += row[i] } }
        return mean.map { $0 / Double(rows.count) }
    }

    /// (covariance row-major, mean); a single row gives zeros.
    static func covariance(_ rows: [[Double]]) -> ([Double], [Double]) {
        let d = rows[0].count
        let mean = meanVector(rows)
        var sigma = [Double](repeating: 0, count: d * d)
        for row in rows {
            for i in 0..<d {
                let a = row[i] - mean[i]
                for j in 0...i { sigma[i * d + j] += a * (row[j] - mean[j]) }
            }
        }
        let scale = 1 / Double(max(1, rows.count - 1))
        for i in 0..<d { for j in 0...i { sigma[i * d + j] *= scale; sigma[j * d + i] = sigma[i * d + j] } }
        return (sigma, mean)
    }

    /// Cholesky factor of a symmetric positive definite matrix (row-major, lower triangle).
    static func cholesky(_ a: [Double], _ d: Int) throws -> [Double] {
        var l = [Double](repeating: 0, count: d * d)
        for i in 0..<d {
            for j in 0...i {
                var sum = a[i * d + j]
                for k in 0..<j { sum -= l[i * d + k] * l[j * d + k] }
                if i == j {
                    guard sum > 0 else { throw DrumVAEError(path: "", reason: "the latent covariance is not positive definite") }
                    l[i * d + i] = sum.squareRoot()
                } else {
                    l[i * d + j] = sum / l[j * d + j]
                }
            }
        }
        return l
    }
}

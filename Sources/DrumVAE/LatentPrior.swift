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
/// stays well conditioned. A Gaussian fitted to the training kits is too narrow for the kits
/// it never saw, so every component's spread is scaled by `spread`, fitted by leaving one
/// kit out at a time (`leaveOneKitOutSpread`). The temperature scales it further.
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
    /// Whether each kit (group) weighed equally within its class; nil or false: each clip did
    /// (priors fitted before 2026-12-07, or without groups).
    public var kitBalanced: Bool?
    /// Scale of every component's spread (the Cholesky factors are those of the fit, before
    /// it), fitted by leaving one kit out at a time; nil: 1 (priors fitted before 2026-12-08,
    /// or to clips of a single kit).
    public var spread: Double?
    /// `spread`, or 1 without one.
    public var spreadScale: Double { spread ?? 1 }

    /// Fits one component per class. `latents`, `classes` and `groups` are parallel arrays.
    ///
    /// With `groups` each clip weighs 1 / (its group's clips of that class), so every kit
    /// counts once in its class's mean and covariance: a kit with many near-identical clips
    /// (the General MIDI renders: 90 of the 111 training toms) does not pull the class's
    /// Gaussian onto itself. The class shares (component weights) stay the clips' shares.
    /// With groups of two kits or more, `spread` is fitted too (`leaveOneKitOutSpread`).
    public static func fit(latents: [[Float]], classes: [String], groups: [String]? = nil, step: Int) throws -> LatentPrior {
        var prior = try fitComponents(latents: latents, classes: classes, groups: groups, step: step)
        if let groups { prior.spread = try leaveOneKitOutSpread(latents: latents, classes: classes, groups: groups) }
        return prior
    }

    /// The spread's scale s that gives kits the prior never saw their most likely place: each
    /// kit in turn is left out, the prior fitted to the others, and the left-out kit's latents
    /// scored under its class's component with covariance s²Σ. The maximum-likelihood
    /// s² = Σ w·m² / (D·Σ w), m² the Mahalanobis distance, each (kit, class) weighing once.
    /// Nil with fewer than two kits, or when no left-out clip has its class among the others.
    public static func leaveOneKitOutSpread(latents: [[Float]], classes: [String], groups: [String]) throws -> Double? {
        let kits = Set(groups).sorted()
        guard kits.count > 1, let d = latents.first?.count else { return nil }
        var weighted = 0.0, total = 0.0
        for kit in kits {
            let kept = groups.indices.filter { groups[$0] != kit }
            let out = groups.indices.filter { groups[$0] == kit }
            let others = try fitComponents(latents: kept.map { latents[$0] }, classes: kept.map { classes[$0] },
                                           groups: kept.map { groups[$0] }, step: 0)
            var perClass: [String: Int] = [:]
            for i in out { perClass[classes[i], default: 0] += 1 }
            for i in out {
                guard let c = others.components.first(where: { $0.className == classes[i] }) else { continue }
                let w = 1 / Double(perClass[classes[i]]!)
                weighted += w * mahalanobisSquared(latents[i], c, d)
                total += w
            }
        }
        guard total > 0 else { return nil }
        return (weighted / (Double(d) * total)).squareRoot()
    }

    /// (x − μ)ᵀ Σ⁻¹ (x − μ) by forward substitution with the component's Cholesky factor.
    static func mahalanobisSquared(_ x: [Float], _ c: Component, _ d: Int) -> Double {
        var y = [Double](repeating: 0, count: d), sum = 0.0
        for i in 0..<d {
            var v = Double(x[i]) - c.mean[i]
            for j in 0..<i { v -= c.cholesky[i * d + j] * y[j] }
            y[i] = v / c.cholesky[i * d + i]
            sum += y[i] * y[i]
        }
        return sum
    }

    /// The components alone (no spread).
    static func fitComponents(latents: [[Float]], classes: [String], groups: [String]?, step: Int) throws -> LatentPrior {
        guard let d = latents.first?.count, !latents.isEmpty else {
            throw DrumVAEError(path: "", reason: "no latents to fit a prior to")
        }
        if let groups, groups.count != latents.count {
            throw DrumVAEError(path: "", reason: "\(groups.count) groups for \(latents.count) latents")
        }
        let names = Set(classes).sorted()
        // Rows and weights per class.
        var rowsByClass: [[[Double]]] = [], weightsByClass: [[Double]] = []
        for name in names {
            let members = classes.indices.filter { classes[$0] == name }
            rowsByClass.append(members.map { latents[$0].map(Double.init) })
            if let groups {
                var perGroup: [String: Int] = [:]
                for i in members { perGroup[groups[i], default: 0] += 1 }
                weightsByClass.append(members.map { 1 / Double(perGroup[groups[$0]]!) })
            } else {
                weightsByClass.append(members.map { _ in 1 })
            }
        }
        // The within-class covariance pooled over classes (the spread of a class around its mean).
        var pooled = [Double](repeating: 0, count: d * d)
        var degrees = 0.0
        for (rows, weights) in zip(rowsByClass, weightsByClass) where rows.count > 1 {
            let (c, n) = weightedCovariance(rows, weights)
            for k in c.indices { pooled[k] += c[k] * (n - 1) }
            degrees += n - 1
        }
        if degrees > 0 {
            for k in pooled.indices { pooled[k] /= degrees }
        } else {
            pooled = weightedCovariance(latents.map { $0.map(Double.init) }, latents.map { _ in 1 }).0
        }
        var components: [Component] = []
        for (name, (rows, weights)) in zip(names, zip(rowsByClass, weightsByClass)) {
            let mean = weightedMean(rows, weights)
            let (sample, n) = weightedCovariance(rows, weights)
            // Few clips (or few kits): lean on the pooled covariance; always keep a little diagonal loading.
            let own = n / (n + Double(d))
            var sigma = [Double](repeating: 0, count: d * d)
            for i in 0..<d {
                for j in 0..<d {
                    let mixed = own * sample[i * d + j] + (1 - own) * pooled[i * d + j]
                    sigma[i * d + j] = i == j ? mixed : 0.9 * mixed
                }
                sigma[i * d + i] += 1e-4
            }
            components.append(Component(className: name, weight: Double(rows.count) / Double(latents.count), mean: mean,
                                        cholesky: try cholesky(sigma, d), clips: rows.count))
        }
        return LatentPrior(latentSize: d, components: components, step: step, kitBalanced: groups != nil)
    }

    static func weightedMean(_ rows: [[Double]], _ weights: [Double]) -> [Double] {
        let d = rows[0].count, total = weights.reduce(0, +)
        var mean = [Double](repeating: 0, count: d)
        for (row, w) in zip(rows, weights) { for i in 0..<d { mean[i] += w * row[i] } }
        return mean.map { $0 / total }
    }

    /// The weighted covariance (row-major) and the effective number of rows, (Σw)² / Σw²; with
    /// equal weights the ordinary unbiased covariance and the row count. One row gives zeros.
    static func weightedCovariance(_ rows: [[Double]], _ weights: [Double]) -> ([Double], Double) {
        let d = rows[0].count
        let mean = weightedMean(rows, weights)
        let total = weights.reduce(0, +), squares = weights.reduce(0) { $0 + $1 * $1 }
        let effective = total * total / squares
        var sigma = [Double](repeating: 0, count: d * d)
        for (row, w) in zip(rows, weights) {
            for i in 0..<d {
                let a = row[i] - mean[i]
                for j in 0...i { sigma[i * d + j] += w * a * (row[j] - mean[j]) }
            }
        }
        // Reliability weights: Σw (x − μ)² / (Σw − Σw² / Σw) is unbiased.
        let denominator = total - squares / total
        let scale = denominator > 0 ? 1 / denominator : 0
        for i in 0..<d { for j in 0...i { sigma[i * d + j] *= scale; sigma[j * d + i] = sigma[i * d + j] } }
        return (sigma, effective)
    }

    /// `count` latents, seeded: a component by weight (or the one named `className`; with
    /// `among`, only those classes, by their weights), then mean + temperature · spread · L · ε.
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
        let scale = temperature * spreadScale
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
                for j in 0...i { value += scale * component.cholesky[i * d + j] * epsilon[j] }
                return Float(value)
            }
            return (z, component.className)
        }
    }

    public static func read(from url: URL) throws -> LatentPrior {
        try readJSON(from: url, missing: "no such file", invalid: "not a latent prior")
    }

    public func write(to url: URL) throws { try writeJSON(self, to: url, pretty: false) }

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

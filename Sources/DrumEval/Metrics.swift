import DSP
import Foundation

/// Points in a feature space: `count` rows of `dimensions` values, row-major.
public struct FeatureMatrix: Sendable, Equatable {
    public var count: Int
    public var dimensions: Int
    public var values: [Double]

    public init(rows: [[Double]]) {
        count = rows.count
        dimensions = rows.first?.count ?? 0
        values = rows.flatMap { $0 }
        precondition(values.count == count * dimensions, "rows differ in length")
    }

    public init(count: Int, dimensions: Int, values: [Double]) {
        precondition(values.count == count * dimensions)
        (self.count, self.dimensions, self.values) = (count, dimensions, values)
    }

    /// Row `i` as an array.
    public func row(_ i: Int) -> [Double] { Array(values[i * dimensions..<(i + 1) * dimensions]) }

    /// The rows at `indices`, in that order.
    public func rows(_ indices: [Int]) -> FeatureMatrix {
        var out: [Double] = []
        out.reserveCapacity(indices.count * dimensions)
        for i in indices { out += values[i * dimensions..<(i + 1) * dimensions] }
        return FeatureMatrix(count: indices.count, dimensions: dimensions, values: out)
    }

    /// Euclidean distances from every row of `self` to every row of `other` (`count × other.count`).
    public func distances(to other: FeatureMatrix) -> [Double] {
        precondition(dimensions == other.dimensions, "feature spaces differ")
        let d = dimensions
        var out = [Double](repeating: 0, count: count * other.count)
        values.withUnsafeBufferPointer { a in
            other.values.withUnsafeBufferPointer { b in
                for i in 0..<count {
                    let ai = a.baseAddress! + i * d
                    for j in 0..<other.count {
                        let bj = b.baseAddress! + j * d
                        var s = 0.0
                        for k in 0..<d { let t = ai[k] - bj[k]; s += t * t }
                        out[i * other.count + j] = s.squareRoot()
                    }
                }
            }
        }
        return out
    }
}

/// Statistics that put each row through (x − mean) / std, fitted on one set (the training clips),
/// so every set is measured in the same units.
public struct Standardiser: Codable, Sendable {
    public var mean: [Double]
    public var scale: [Double]

    /// Fits on `points`; dimensions with no spread are kept at scale 1 (they then carry no weight
    /// beyond their offset, which is the same for every set).
    public init(fitting points: FeatureMatrix) {
        let n = Double(max(points.count, 1)), d = points.dimensions
        var m = [Double](repeating: 0, count: d), v = m
        for i in 0..<points.count { for k in 0..<d { m[k] += points.values[i * d + k] } }
        for k in 0..<d { m[k] /= n }
        for i in 0..<points.count { for k in 0..<d { let t = points.values[i * d + k] - m[k]; v[k] += t * t } }
        mean = m
        scale = v.map { let s = ($0 / n).squareRoot(); return s > 1e-9 ? s : 1 }
    }

    public func apply(_ points: FeatureMatrix) -> FeatureMatrix {
        let d = points.dimensions
        var out = points.values
        for i in 0..<points.count { for k in 0..<d { out[i * d + k] = (out[i * d + k] - mean[k]) / scale[k] } }
        return FeatureMatrix(count: points.count, dimensions: d, values: out)
    }
}

/// The kernel, manifold and copying statistics of the drum evaluation, on feature matrices.
public enum DistributionMetrics {
    /// KID (Bińkowski et al. 2018) with a bootstrap 95 % interval.
    public struct KID: Codable, Sendable, Equatable {
        public var value: Double
        public var low: Double
        public var high: Double
    }

    /// The cubic polynomial kernel k(x, y) = (xᵀy / d + 1)³ between all rows.
    static func kernel(_ a: FeatureMatrix, _ b: FeatureMatrix) -> [Double] {
        let d = a.dimensions
        var out = [Double](repeating: 0, count: a.count * b.count)
        a.values.withUnsafeBufferPointer { x in
            b.values.withUnsafeBufferPointer { y in
                for i in 0..<a.count {
                    for j in 0..<b.count {
                        var s = 0.0
                        for k in 0..<d { s += x[i * d + k] * y[j * d + k] }
                        let t = s / Double(d) + 1
                        out[i * b.count + j] = t * t * t
                    }
                }
            }
        }
        return out
    }

    /// Unbiased MMD² with the cubic polynomial kernel between `real` and `generated`, and a 95 %
    /// percentile interval from `draws` bootstrap resamples of both sets (seeded).
    ///
    /// A resample repeats points; the unbiased estimator's within-set sums then leave out pairs
    /// of copies of one point (as they leave out the diagonal), so resampling adds no bias of its own.
    public static func kid(real: FeatureMatrix, generated: FeatureMatrix, draws: Int = 1000, seed: UInt64) -> KID {
        let kxx = kernel(real, real), kyy = kernel(generated, generated), kxy = kernel(real, generated)
        let n = real.count, m = generated.count
        func mmd(_ cx: [Double], _ cy: [Double]) -> Double {
            func within(_ k: [Double], _ c: [Double], _ size: Int) -> Double {
                var total = 0.0, self2 = 0.0, pairs = 0.0, sum = 0.0, sumSq = 0.0
                for i in 0..<size where c[i] > 0 {
                    var row = 0.0
                    for j in 0..<size where c[j] > 0 { row += c[j] * k[i * size + j] }
                    total += c[i] * row
                    self2 += c[i] * c[i] * k[i * size + i]
                    sum += c[i]
                    sumSq += c[i] * c[i]
                }
                pairs = sum * sum - sumSq
                return pairs > 0 ? (total - self2) / pairs : 0
            }
            var cross = 0.0
            let sx = cx.reduce(0, +), sy = cy.reduce(0, +)
            for i in 0..<n where cx[i] > 0 {
                var row = 0.0
                for j in 0..<m where cy[j] > 0 { row += cy[j] * kxy[i * m + j] }
                cross += cx[i] * row
            }
            return within(kxx, cx, n) + within(kyy, cy, m) - 2 * cross / (sx * sy)
        }
        let value = mmd([Double](repeating: 1, count: n), [Double](repeating: 1, count: m))
        var rng = SplitMix64(seed: seed)
        var samples: [Double] = []
        for _ in 0..<draws {
            var cx = [Double](repeating: 0, count: n), cy = [Double](repeating: 0, count: m)
            for _ in 0..<n { cx[Int(rng.next() % UInt64(n))] += 1 }
            for _ in 0..<m { cy[Int(rng.next() % UInt64(m))] += 1 }
            samples.append(mmd(cx, cy))
        }
        samples.sort()
        let low = samples.isEmpty ? value : samples[Int(0.025 * Double(samples.count - 1))]
        let high = samples.isEmpty ? value : samples[Int((0.975 * Double(samples.count - 1)).rounded(.up))]
        return KID(value: value, low: low, high: high)
    }

    /// Distance from each row of `points` to its k-th nearest other row.
    static func kthNeighbourRadii(_ points: FeatureMatrix, k: Int) -> [Double] {
        let d = points.distances(to: points), n = points.count
        return (0..<n).map { i in
            var row = (0..<n).filter { $0 != i }.map { d[i * n + $0] }
            row.sort()
            return row.isEmpty ? 0 : row[min(k, row.count) - 1]
        }
    }

    /// Precision, recall (Kynkäänniemi et al. 2019), density and coverage (Naeem et al. 2020) with k nearest neighbours.
    public struct Manifold: Codable, Sendable, Equatable {
        public var precision: Double
        public var recall: Double
        public var density: Double
        public var coverage: Double
    }

    public static func manifold(real: FeatureMatrix, generated: FeatureMatrix, k: Int = 3) -> Manifold {
        let realRadii = kthNeighbourRadii(real, k: k), generatedRadii = kthNeighbourRadii(generated, k: k)
        let n = real.count, m = generated.count
        let d = real.distances(to: generated)  // n × m
        var precisionHits = 0, densitySum = 0, recallHits = 0, coverageHits = 0
        for j in 0..<m {
            var inside = 0
            for i in 0..<n where d[i * m + j] <= realRadii[i] { inside += 1 }
            if inside > 0 { precisionHits += 1 }
            densitySum += inside
        }
        for i in 0..<n {
            var recalled = false, nearest = Double.infinity
            for j in 0..<m {
                let t = d[i * m + j]
                if t <= generatedRadii[j] { recalled = true }
                nearest = min(nearest, t)
            }
            if recalled { recallHits += 1 }
            if nearest <= realRadii[i] { coverageHits += 1 }
        }
        return Manifold(precision: Double(precisionHits) / Double(m), recall: Double(recallHits) / Double(n),
                        density: Double(densitySum) / Double(k * m), coverage: Double(coverageHits) / Double(n))
    }

    /// Diversity: the `quantile` (e.g. 0.01) of the distances between distinct pairs of `real`
    /// sounds is the threshold; the result is the share of distinct pairs of `generated` closer
    /// than it. Real data scored against itself gives about `quantile`; a generator that makes
    /// the same few sounds over and over gives far more.
    public static func closePairShare(real: FeatureMatrix, generated: FeatureMatrix, quantile: Double = 0.01) -> (share: Double, threshold: Double) {
        func pairs(_ m: FeatureMatrix) -> [Double] {
            let d = m.distances(to: m)
            var out: [Double] = []
            out.reserveCapacity(m.count * (m.count - 1) / 2)
            for i in 0..<m.count { for j in (i + 1)..<m.count { out.append(d[i * m.count + j]) } }
            return out
        }
        let realPairs = pairs(real).sorted()
        guard !realPairs.isEmpty, generated.count > 1 else { return (0, 0) }
        let threshold = realPairs[min(realPairs.count - 1, Int(quantile * Double(realPairs.count)))]
        let generatedPairs = pairs(generated)
        return (Double(generatedPairs.filter { $0 < threshold }.count) / Double(generatedPairs.count), threshold)
    }

    /// Distance from each row of `points` to its nearest row of `reference`.
    public static func nearestDistances(_ points: FeatureMatrix, to reference: FeatureMatrix) -> [Double] {
        let d = points.distances(to: reference), m = reference.count
        return (0..<points.count).map { i in (0..<m).map { d[i * m + $0] }.min() ?? .infinity }
    }

    /// The copying statistics of one "generated" set against training.
    public struct Copying: Codable, Sendable, Equatable {
        /// Meehan et al.'s C_T: the held-out-weighted mean of the per-cell Mann-Whitney Z.
        public var meehanZ: Double
        /// Share of generated points nearer to a training point than 95 % of held-out real points are.
        public var copyShare: Double
        /// Cells of the training set's k-means partition, and those with enough generated points to count.
        public var cells: Int
        public var cellsUsed: Int
        /// Per generated point, whether it counts towards `copyShare` (not encoded).
        public var copied: [Bool] = []

        enum CodingKeys: String, CodingKey { case meehanZ, copyShare, cells, cellsUsed }
    }

    /// The Mann-Whitney Z of `generated` against `heldOut` distances: (U − mn/2) / √(mn(m+n+1)/12),
    /// U counting pairs where the generated distance is the larger (ties count a half). Below 0:
    /// generated points sit closer to training than new real data does.
    public static func mannWhitneyZ(generated: [Double], heldOut: [Double]) -> Double {
        let m = Double(generated.count), n = Double(heldOut.count)
        guard m > 0, n > 0 else { return 0 }
        // Ranks of the pooled sample (average ranks for ties): U = R_generated − m(m+1)/2.
        let pooled = (generated.map { ($0, true) } + heldOut.map { ($0, false) }).sorted { $0.0 < $1.0 }
        var rankSum = 0.0, i = 0
        while i < pooled.count {
            var j = i
            while j + 1 < pooled.count && pooled[j + 1].0 == pooled[i].0 { j += 1 }
            let rank = Double(i + j) / 2 + 1
            for t in i...j where pooled[t].1 { rankSum += rank }
            i = j + 1
        }
        let u = rankSum - m * (m + 1) / 2
        return (u - m * n / 2) / (m * n * (m + n + 1) / 12).squareRoot()
    }

    /// Lloyd's k-means with k-means++ seeding (seeded); returns the centroids.
    public static func kMeans(_ points: FeatureMatrix, k: Int, seed: UInt64, iterations: Int = 50) -> FeatureMatrix {
        var rng = SplitMix64(seed: seed)
        let n = points.count, d = points.dimensions
        let k = max(1, min(k, n))
        var centres = [Int(rng.next() % UInt64(n))]
        var nearest = [Double](repeating: .infinity, count: n)
        while centres.count < k {
            let c = points.rows([centres.last!])
            let dist = points.distances(to: c)
            for i in 0..<n { nearest[i] = min(nearest[i], dist[i] * dist[i]) }
            let total = nearest.reduce(0, +)
            guard total > 0 else { break }
            var target = rng.nextUnit() * total, pick = n - 1
            for i in 0..<n { target -= nearest[i]; if target <= 0 { pick = i; break } }
            centres.append(pick)
        }
        var centroids = points.rows(centres)
        for _ in 0..<iterations {
            let labels = assign(points, to: centroids)
            var sums = [Double](repeating: 0, count: centroids.count * d), counts = [Int](repeating: 0, count: centroids.count)
            for i in 0..<n {
                counts[labels[i]] += 1
                for t in 0..<d { sums[labels[i] * d + t] += points.values[i * d + t] }
            }
            var next = centroids
            for c in 0..<centroids.count where counts[c] > 0 {
                for t in 0..<d { next.values[c * d + t] = sums[c * d + t] / Double(counts[c]) }
            }
            if next == centroids { break }
            centroids = next
        }
        return centroids
    }

    /// The index of each point's nearest centroid.
    public static func assign(_ points: FeatureMatrix, to centroids: FeatureMatrix) -> [Int] {
        let d = points.distances(to: centroids), c = centroids.count
        return (0..<points.count).map { i in (0..<c).min { d[i * c + $0] < d[i * c + $1] }! }
    }

    /// Meehan, Chaudhuri and Dasgupta's data-copying test (AISTATS 2020) and the copy share.
    ///
    /// The training points are cut into `cells` k-means cells; in each cell holding at least
    /// `tau` of the generated points (and at least one held-out point), the Mann-Whitney Z compares
    /// generated-to-nearest-training distances with held-out-to-nearest-training distances; C_T is
    /// the mean of those Z weighted by each cell's share of held-out points (the paper's C_T).
    public static func copying(training: FeatureMatrix, heldOut: FeatureMatrix, generated: FeatureMatrix,
                               cells: Int, tau: Double? = nil, seed: UInt64) -> Copying {
        let heldOutDistances = nearestDistances(heldOut, to: training)
        let generatedDistances = nearestDistances(generated, to: training)
        let centroids = kMeans(training, k: cells, seed: seed)
        let heldOutCells = assign(heldOut, to: centroids), generatedCells = assign(generated, to: centroids)
        // The paper's default: cells with at least 20 generated points (τ = 20 / m).
        let threshold = tau ?? min(1, 20 / Double(max(generated.count, 1)))
        var weighted = 0.0, weights = 0.0, used = 0
        for c in 0..<centroids.count {
            let g = generatedCells.indices.filter { generatedCells[$0] == c }.map { generatedDistances[$0] }
            let h = heldOutCells.indices.filter { heldOutCells[$0] == c }.map { heldOutDistances[$0] }
            guard !h.isEmpty, Double(g.count) / Double(max(generated.count, 1)) >= threshold, !g.isEmpty else { continue }
            let weight = Double(h.count) / Double(heldOut.count)
            weighted += weight * mannWhitneyZ(generated: g, heldOut: h)
            weights += weight
            used += 1
        }
        let sortedHeldOut = heldOutDistances.sorted()
        let fifth = sortedHeldOut.isEmpty ? 0 : sortedHeldOut[Int(0.05 * Double(sortedHeldOut.count - 1))]
        let copies = generatedDistances.filter { $0 < fifth }.count
        return Copying(meehanZ: weights > 0 ? weighted / weights : 0,
                       copyShare: Double(copies) / Double(max(generated.count, 1)), cells: centroids.count, cellsUsed: used,
                       copied: generatedDistances.map { $0 < fifth })
    }
}

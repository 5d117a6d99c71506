import DSP
import Foundation

/// Extremely randomised trees (Geurts, Ernst & Wehenkel 2006) for classification: each split
/// draws √d features and one uniform threshold per feature between the node's extremes, keeps the
/// one with the lowest weighted Gini impurity; leaves hold class shares. Samples are weighted so
/// every class weighs the same in total (a kit's many cymbals do not outvote its few kicks).
///
/// Chosen for the drum classifier's descriptors because it needs no scaling of features whose
/// units differ (dB, log Hz, log seconds, shares) and, on held-out kits, generalised better
/// than logistic regression, k nearest neighbours or the log-mel CNN (docs/DRUMVAE.md).
struct ExtraTrees: Sendable {
    /// All trees' nodes, one after another: a split (`feature` ≥ 0) or a leaf (`feature` = -1, `shares`).
    struct Node: Sendable {
        var feature: Int
        var threshold: Float
        var left: Int, right: Int
        var shares: [Float]
    }

    let classes: Int
    let nodes: [Node]
    let roots: [Int]

    init(classes: Int, nodes: [Node], roots: [Int]) {
        self.classes = classes
        self.nodes = nodes
        self.roots = roots
    }

    /// Fits `trees` trees on rows `x` (each of the same length) labelled `y` (0..<classes).
    init(x: [[Float]], y: [Int], classes: Int, trees: Int = 300, minLeaf: Int = 2, seed: UInt64) {
        precondition(!x.isEmpty && x.count == y.count, "ExtraTrees needs labelled rows")
        self.classes = classes
        let d = x[0].count
        var counts = [Double](repeating: 0, count: classes)
        for label in y { counts[label] += 1 }
        let present = Double(counts.filter { $0 > 0 }.count)
        let weight = counts.map { $0 > 0 ? Double(y.count) / (present * $0) : 0 }
        let tries = max(1, Int(Double(d).squareRoot()))
        var rng = SplitMix64(seed: seed)
        var nodes: [Node] = [], roots: [Int] = []

        func shares(_ members: ArraySlice<Int>) -> [Float] {
            var s = [Double](repeating: 0, count: classes)
            for i in members { s[y[i]] += weight[y[i]] }
            let total = s.reduce(0, +)
            return s.map { Float($0 / max(total, 1e-12)) }
        }
        func gini(_ s: [Double]) -> Double {
            let total = s.reduce(0, +)
            guard total > 0 else { return 0 }
            return total * (1 - s.reduce(0) { $0 + ($1 / total) * ($1 / total) })
        }
        // Builds the subtree over `order[range]`, returns its node index.
        var order = Array(0..<x.count)
        func build(_ range: Range<Int>) -> Int {
            let members = order[range]
            let here = nodes.count
            nodes.append(Node(feature: -1, threshold: 0, left: -1, right: -1, shares: shares(members)))
            let pure = Set(members.map { y[$0] }).count == 1
            guard members.count >= 2 * minLeaf, !pure else { return here }
            var best: (score: Double, feature: Int, threshold: Float) = (.infinity, -1, 0)
            for _ in 0..<tries {
                let f = Int(rng.next() % UInt64(d))
                var lo = Float.infinity, hi = -Float.infinity
                for i in members { lo = min(lo, x[i][f]); hi = max(hi, x[i][f]) }
                guard hi > lo else { continue }
                let t = lo + (hi - lo) * rng.nextUnitFloat()
                var left = [Double](repeating: 0, count: classes), right = left
                var nLeft = 0
                for i in members {
                    if x[i][f] < t { left[y[i]] += weight[y[i]]; nLeft += 1 } else { right[y[i]] += weight[y[i]] }
                }
                guard nLeft >= minLeaf, members.count - nLeft >= minLeaf else { continue }
                let score = gini(left) + gini(right)
                if score < best.score { best = (score, f, t) }
            }
            guard best.feature >= 0 else { return here }
            // Partition in place: rows below the threshold first.
            var split = range.lowerBound
            for k in range where x[order[k]][best.feature] < best.threshold {
                order.swapAt(k, split)
                split += 1
            }
            let left = build(range.lowerBound..<split)
            let right = build(split..<range.upperBound)
            nodes[here] = Node(feature: best.feature, threshold: best.threshold, left: left, right: right, shares: [])
            return here
        }
        for _ in 0..<trees {
            order = Array(0..<x.count)
            roots.append(build(0..<x.count))
        }
        self.nodes = nodes
        self.roots = roots
    }

    /// Class shares averaged over the trees.
    func probabilities(_ row: [Float]) -> [Float] {
        var p = [Float](repeating: 0, count: classes)
        for root in roots {
            var n = root
            while nodes[n].feature >= 0 { n = row[nodes[n].feature] < nodes[n].threshold ? nodes[n].left : nodes[n].right }
            for c in 0..<classes { p[c] += nodes[n].shares[c] }
        }
        return p.map { $0 / Float(roots.count) }
    }

    /// Every node as one row of `4 + classes` floats (feature, threshold, left, right, shares),
    /// and the roots: what `DrumClassifier.save` writes.
    var table: (nodes: [Float], roots: [Float]) {
        var out: [Float] = []
        out.reserveCapacity(nodes.count * (4 + classes))
        for n in nodes {
            out += [Float(n.feature), n.threshold, Float(n.left), Float(n.right)]
            out += n.shares.isEmpty ? [Float](repeating: 0, count: classes) : n.shares
        }
        return (out, roots.map(Float.init))
    }

    /// Reads back `table`.
    init(table: [Float], roots: [Float], classes: Int) throws {
        let width = 4 + classes
        guard table.count % width == 0 else { throw DrumEvalError(path: "classifier", reason: "a forest table of \(table.count) floats is not rows of \(width)") }
        var nodes: [Node] = []
        for r in 0..<(table.count / width) {
            let row = table[(r * width)..<((r + 1) * width)].map { $0 }
            nodes.append(Node(feature: Int(row[0]), threshold: row[1], left: Int(row[2]), right: Int(row[3]),
                              shares: Int(row[0]) < 0 ? Array(row[4...]) : []))
        }
        let rootIndices = roots.map { Int($0) }
        guard rootIndices.allSatisfy({ $0 >= 0 && $0 < nodes.count }),
              nodes.allSatisfy({ $0.feature < 0 || ($0.left >= 0 && $0.left < nodes.count && $0.right >= 0 && $0.right < nodes.count) })
        else { throw DrumEvalError(path: "classifier", reason: "a forest table points outside itself") }
        self.init(classes: classes, nodes: nodes, roots: rootIndices)
    }
}

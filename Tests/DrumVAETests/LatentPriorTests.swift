import DSP
import Foundation
import Testing
import TestSupport
@testable import DrumVAE

/// The generation prior fitted to the training latents: one Gaussian per class.
struct LatentPriorTests {
    /// Two well separated classes with known means and spreads.
    static func clusters() -> (latents: [[Float]], classes: [String]) {
        var rng = SplitMix64(seed: 3)
        var latents: [[Float]] = [], classes: [String] = []
        for i in 0..<600 {
            let kick = i % 3 != 0
            let centre: [Float] = kick ? [4, -2, 0] : [-3, 1, 2]
            let spread: Float = kick ? 0.5 : 0.2
            let a = rng.nextGaussian(), b = rng.nextGaussian(), c = rng.nextGaussian()
            // Correlated first two dimensions.
            latents.append([centre[0] + spread * a, centre[1] + spread * (0.8 * a + 0.6 * b), centre[2] + spread * c])
            classes.append(kick ? "kick" : "hat")
        }
        return (latents, classes)
    }

    @Test func fitsEachClassAndSamplesFromIt() throws {
        let (latents, classes) = Self.clusters()
        let prior = try LatentPrior.fit(latents: latents, classes: classes, step: 7)
        #expect(prior.components.map(\.className) == ["hat", "kick"])
        let kick = try #require(prior.components.first { $0.className == "kick" })
        #expect(abs(kick.weight - 400.0 / 600) < 1e-9)
        #expect(abs(kick.mean[0] - 4) < 0.1 && abs(kick.mean[1] + 2) < 0.1)

        let draws = try prior.sample(count: 4000, temperature: 1, seed: 1, className: "kick")
        #expect(draws.allSatisfy { $0.className == "kick" })
        let x = draws.map { Double($0.latent[0]) }, y = draws.map { Double($0.latent[1]) }
        let mx = x.reduce(0, +) / Double(x.count), my = y.reduce(0, +) / Double(y.count)
        let sx = (x.map { ($0 - mx) * ($0 - mx) }.reduce(0, +) / Double(x.count)).squareRoot()
        let sy = (y.map { ($0 - my) * ($0 - my) }.reduce(0, +) / Double(y.count)).squareRoot()
        let correlation = zip(x, y).map { ($0 - mx) * ($1 - my) }.reduce(0, +) / Double(x.count) / (sx * sy)
        #expect(abs(mx - 4) < 0.05 && abs(my + 2) < 0.05)
        #expect(abs(sx - 0.5) < 0.05, "spread of the kick cluster: \(sx)")
        #expect(correlation > 0.6, "the covariance keeps the correlation (0.8 in the data, shrunk 10%): \(correlation)")

        // Without a class: both, by weight; the temperature scales the spread.
        let mixed = try prior.sample(count: 3000, temperature: 1, seed: 2)
        let kicks = mixed.filter { $0.className == "kick" }.count
        #expect(abs(Double(kicks) / 3000 - 2.0 / 3) < 0.03)
        let cold = try prior.sample(count: 2000, temperature: 0.1, seed: 3, className: "hat")
        #expect(cold.allSatisfy { abs($0.latent[0] + 3) < 0.2 })
        #expect(try prior.sample(count: 5, temperature: 1, seed: 9) .map(\.latent) == prior.sample(count: 5, temperature: 1, seed: 9).map(\.latent))
        #expect(throws: DrumVAEError.self) { try prior.sample(count: 1, temperature: 1, seed: 1, className: "snare") }

        // `among` keeps the draws to those classes; none of them known is an error.
        var three = latents, named = classes
        for i in 0..<300 { three.append([0, 5 + Float(i % 7) * 0.01, 0]); named.append("strum") }
        let wider = try LatentPrior.fit(latents: three, classes: named, step: 7)
        let drums = try wider.sample(count: 3000, temperature: 1, seed: 5, among: ["kick", "hat"])
        #expect(Set(drums.map(\.className)) == ["kick", "hat"])
        let kickShare = Double(drums.filter { $0.className == "kick" }.count) / 3000
        #expect(abs(kickShare - 2.0 / 3) < 0.03, "their own weights: \(kickShare)")
        #expect(throws: DrumVAEError.self) { try wider.sample(count: 1, temperature: 1, seed: 1, among: ["snare"]) }
    }

    /// With groups, each kit counts once in its class: a kit of 90 near-identical toms does
    /// not pull the class onto itself, as it does when every clip counts.
    @Test func eachKitCountsOnceInItsClass() throws {
        var rng = SplitMix64(seed: 8)
        var latents: [[Float]] = [], classes: [String] = [], groups: [String] = []
        for i in 0..<100 {
            let big = i < 90
            latents.append([(big ? 5 : -5) + 0.1 * rng.nextGaussian(), 0.1 * rng.nextGaussian()])
            classes.append("tom")
            groups.append(big ? "GM" : "kit")
        }
        let byClip = try LatentPrior.fit(latents: latents, classes: classes, step: 1)
        let byKit = try LatentPrior.fit(latents: latents, classes: classes, groups: groups, step: 1)
        #expect(byClip.kitBalanced == false && byKit.kitBalanced == true)
        #expect(abs(byClip.components[0].mean[0] - 4) < 0.1, "clip-weighted mean \(byClip.components[0].mean[0])")
        #expect(abs(byKit.components[0].mean[0]) < 0.1, "kit-weighted mean \(byKit.components[0].mean[0])")
        // Spread along the first axis: ±5 around 0 for two equal kits (variance about 25, with
        // two effective kits' worth of shrinkage towards the pooled covariance, here the same).
        let l = byKit.components[0].cholesky
        #expect(l[0] * l[0] > 15, "kit-weighted variance \(l[0] * l[0])")
        #expect(byKit.components[0].weight == 1 && byKit.components[0].clips == 100)
        #expect(throws: DrumVAEError.self) { try LatentPrior.fit(latents: latents, classes: classes, groups: ["a"], step: 1) }
    }

    /// The spread fitted by leaving one kit out: about 1 when the kits are draws from one
    /// distribution (the control), well above 1 when each kit sits somewhere of its own and
    /// the training kits are few, as drum kits are. Sampling scales by it.
    @Test func leavingOneKitOutWidensThePriorForUnseenKits() throws {
        func corpus(kits: Int, between: Float, seed: UInt64) -> (latents: [[Float]], classes: [String], groups: [String]) {
            var rng = SplitMix64(seed: seed)
            var latents: [[Float]] = [], classes: [String] = [], groups: [String] = []
            for k in 0..<kits {
                for name in ["kick", "hat"] {
                    let offset = (0..<4).map { _ in between * rng.nextGaussian() }
                    for _ in 0..<30 {
                        latents.append((0..<4).map { (name == "kick" ? 3 : -3) + offset[$0] + 0.5 * rng.nextGaussian() })
                        classes.append(name)
                        groups.append("kit \(k)")
                    }
                }
            }
            return (latents, classes, groups)
        }
        let alike = corpus(kits: 12, between: 0, seed: 21)
        let same = try #require(try LatentPrior.leaveOneKitOutSpread(latents: alike.latents, classes: alike.classes, groups: alike.groups))
        #expect(abs(same - 1) < 0.1, "kits drawn from one distribution: \(same)")
        let apart = corpus(kits: 5, between: 1.5, seed: 22)
        let wide = try #require(try LatentPrior.leaveOneKitOutSpread(latents: apart.latents, classes: apart.classes, groups: apart.groups))
        #expect(wide > 1.2, "five kits, each off on its own: \(wide)")
        print("leave-one-kit-out spread: \(same) for alike kits, \(wide) for kits apart")

        let prior = try LatentPrior.fit(latents: apart.latents, classes: apart.classes, groups: apart.groups, step: 1)
        #expect(prior.spread == wide)
        var unscaled = prior
        unscaled.spread = nil
        func deviation(_ p: LatentPrior) throws -> Double {
            let draws = try p.sample(count: 4000, temperature: 1, seed: 6, className: "kick")
            let mean = p.components.first { $0.className == "kick" }!.mean[0]
            return (draws.map { (Double($0.latent[0]) - mean) * (Double($0.latent[0]) - mean) }.reduce(0, +) / 4000).squareRoot()
        }
        let ratio = try deviation(prior) / deviation(unscaled)
        #expect(abs(ratio - wide) < 1e-6, "draws scale by the spread: \(ratio)")
        // One kit: nothing to leave out.
        #expect(try LatentPrior.fit(latents: apart.latents, classes: apart.classes, groups: apart.groups.map { _ in "one" }, step: 1).spread == nil)
        #expect(try LatentPrior.fit(latents: apart.latents, classes: apart.classes, step: 1).spread == nil)
    }

    @Test func aClassWithOneClipBorrowsThePooledSpread() throws {
        var (latents, classes) = Self.clusters()
        latents.append([0, 0, 0])
        classes.append("tom")
        let prior = try LatentPrior.fit(latents: latents, classes: classes, step: 1)
        let draws = try prior.sample(count: 500, temperature: 1, seed: 4, className: "tom")
        #expect(draws.allSatisfy { $0.latent.allSatisfy(\.isFinite) })
        let spread = draws.map { Double($0.latent[0] * $0.latent[0]) }.reduce(0, +) / 500
        // Mostly the pooled within-class variance (kicks 0.25, hats 0.04, about 0.18 pooled), not
        // the spread between classes (about 12 along the first dimension).
        #expect(spread > 0.05 && spread < 0.3, "a lone clip still gets a class-sized spread to draw from: \(spread)")
    }

    @Test func roundTripsThroughItsFile() throws {
        let (latents, classes) = Self.clusters()
        let prior = try LatentPrior.fit(latents: latents, classes: classes, step: 12)
        let dir = TemporaryDirectory()
        try prior.write(to: dir.file("prior.json"))
        #expect(try LatentPrior.read(from: dir.file("prior.json")) == prior)
        try Data("{".utf8).write(to: dir.file("bad.json"))
        let error = try #require(throws: DrumVAEError.self) { try LatentPrior.read(from: dir.file("bad.json")) }
        #expect(error.description.contains("bad.json"))
    }
}

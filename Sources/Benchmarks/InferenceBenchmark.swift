import ModelHost
import DSP
import Foundation
import Torch

/// Timing statistics of one series of calls.
public struct TimingStats: Sendable, Codable {
    public var count: Int
    public var medianMilliseconds: Double
    public var p99Milliseconds: Double
    public var meanMilliseconds: Double
    /// Block duration ÷ median time: how many times faster than real time.
    public var realTimeFactor: Double

    init(seconds: [Double], blockSeconds: Double) {
        let sorted = seconds.sorted()
        count = sorted.count
        let median = sorted.isEmpty ? 0 : (sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2)
        medianMilliseconds = median * 1000
        let p99Index = min(sorted.count - 1, Int((Double(sorted.count) * 0.99).rounded(.up)) - 1)
        p99Milliseconds = sorted.isEmpty ? 0 : sorted[max(0, p99Index)] * 1000
        meanMilliseconds = sorted.isEmpty ? 0 : sorted.reduce(0, +) / Double(sorted.count) * 1000
        realTimeFactor = median > 0 ? blockSeconds / median : 0
    }
}

/// `timbre bench inference`: the host's time per block beside a bare libtorch
/// loop on the same module, interleaved call by call in one process so both
/// see the same machine load.
public struct InferenceBenchmark: Sendable, Codable {
    public var model: String
    public var method: String
    public var block: Int
    public var sampleRate: Int
    public var threads: Int
    public var host: TimingStats
    public var baseline: TimingStats
    /// Host median ÷ baseline median (1.0 means no overhead).
    public var overheadRatio: Double

    public static func run(model: NNModel, method name: String, block: Int, iterations: Int = 200, warmup: Int = 10,
                           progress: ((Double) -> Void)? = nil) throws -> InferenceBenchmark {
        let runner = try BlockRunner(model: model, method: name, block: block)
        let method = runner.method
        // A steady, deterministic test signal: noise at about -20 dBFS.
        var generator = SplitMix64(seed: 1)
        let input = (0..<(method.inChannels * runner.inputFrames)).map { _ in Float(generator.nextUnit() * 0.2 - 0.1) }
        let block2D = (0..<method.inChannels).map { c in Array(input[(c * runner.inputFrames)..<((c + 1) * runner.inputFrames)]) }
        for _ in 0..<warmup {
            _ = try runner.run(stream: 0, block2D)
            _ = try model.module.baselineTimes(method: name, input: input, channels: method.inChannels, frames: runner.inputFrames, iterations: 1)
        }
        var hostTimes: [Double] = [], baseTimes: [Double] = []
        hostTimes.reserveCapacity(iterations)
        baseTimes.reserveCapacity(iterations)
        for i in 0..<iterations {
            // Alternate which goes first, so neither always runs on a warmer cache.
            if i % 2 == 0 {
                hostTimes.append(try time { _ = try runner.run(stream: 0, block2D) })
                baseTimes += try model.module.baselineTimes(method: name, input: input, channels: method.inChannels, frames: runner.inputFrames, iterations: 1)
            } else {
                baseTimes += try model.module.baselineTimes(method: name, input: input, channels: method.inChannels, frames: runner.inputFrames, iterations: 1)
                hostTimes.append(try time { _ = try runner.run(stream: 0, block2D) })
            }
            progress?(Double(i + 1) / Double(iterations))
        }
        let rate = model.sampleRate ?? 44100
        let blockSeconds = Double(block) / Double(rate)
        let host = TimingStats(seconds: hostTimes, blockSeconds: blockSeconds)
        let baseline = TimingStats(seconds: baseTimes, blockSeconds: blockSeconds)
        return InferenceBenchmark(model: model.url.path, method: name, block: block, sampleRate: rate,
                                  threads: Torch.intraOpThreads, host: host, baseline: baseline,
                                  overheadRatio: baseline.medianMilliseconds > 0 ? host.medianMilliseconds / baseline.medianMilliseconds : 0)
    }

    private static func time(_ body: () throws -> Void) rethrows -> Double {
        let start = DispatchTime.now().uptimeNanoseconds
        try body()
        return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }
}


import Engine
import JackTestSupport
import ModelHost
import DSP
import Foundation
import Synchronization
import Torch

/// `timbre bench capacity`: how many nodes of one model run cleanly on JACK,
/// beside the compute bound measured in the same run.
public struct CapacityResult: Codable, Sendable {
    /// One count of nodes tried.
    public struct Step: Codable, Sendable {
        public var nodes: Int
        /// Dropouts over all nodes and JACK xruns during the measured seconds.
        public var dropouts: Int
        public var xruns: Int
        /// Dropouts and xruns while the last node was joining (before the measured seconds).
        public var joinDropouts: Int
        public var joinXruns: Int
        /// Of `joinDropouts`, those of the joining node itself (its first blocks); the rest fell on the nodes already playing.
        public var joinDropoutsOfNewNode: Int = 0
        /// Average inference load per node (share of its block time).
        public var averageLoad: Double
        /// Time per block over all nodes during the measured seconds: median, 99th percentile, longest (ms).
        public var blockMilliseconds: [Double] = []
        /// Measured windows at this count: more than 1 when a window had a dropout or an xrun
        /// and the count was measured again (`retried`: each failed window's dropouts, xruns).
        public var attempts: Int = 1
        public var retried: [Int]? = nil
        /// Nodes per batched call, averaged over the nodes' lanes since they started (nil: no lanes).
        public var averageBatch: Double? = nil
    }

    public var model: String
    public var block: Int
    public var sampleRate: Int
    public var period: Int
    public var seconds: Double
    public var cores: Int
    /// Median time per block of one warm node with one thread: the engine's worker, one node playing.
    public var medianBlockMilliseconds: Double
    /// The same, measured outside the engine on the benchmark's own thread.
    public var standaloneBlockMilliseconds: Double
    /// cores × block duration ÷ median time per block.
    public var computeBound: Double
    /// The largest count with zero dropouts and zero xruns for `seconds`.
    public var capacity: Int
    public var steps: [Step]
    /// The JACK server used, and whether the benchmark started it.
    public var server: String
    public var startedServer: Bool
    /// Time allowed for inference, in blocks (part of each node's latency).
    public var inferenceAllowance: Double
    /// Workers that ran at a real-time priority below JACK's (0: normal scheduling).
    public var realtimeWorkers: Int
    /// Nice value the workers ran at.
    public var workerNice: Int
    /// Whether nodes shared batched calls (lanes), and the most per call.
    public var batched: Bool = false
    public var batchLimit: Int = 0

    /// capacity ÷ compute bound.
    public var ratio: Double { computeBound > 0 ? Double(capacity) / computeBound : 0 }
}

public enum CapacityBenchmark {
    /// Seconds per block of a `forward` node's plan run alone on this thread (warm, on noise):
    /// what one node costs outside any engine.
    static func loneSteps(model: NNModel, block: Int, count: Int) throws -> [Double] {
        final class Noise: PlanStream {
            var generator = SplitMix64(seed: 1)
            func readInput(into destination: UnsafeMutableBufferPointer<Float>) {
                for i in destination.indices { destination[i] = Float(generator.nextUnit() * 0.2 - 0.1) }
            }
        }
        let executor = try PlanExecutor(plan: try CallPlan(model: model, kind: .forward, block: block), model: model)
        executor.warmUp()
        let noise = Noise()
        return try (0..<count).map { _ in
            let start = DispatchTime.now().uptimeNanoseconds
            try executor.run(batch: 1) { _ in noise }
            return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        }
    }

    /// Runs the benchmark. Uses the JACK server named `server` (or the default) when
    /// one runs; otherwise starts `jackd -d dummy` under a name of its own at the
    /// model's rate and stops it at the end.
    public static func run(model url: URL, block: Int, seconds: Double, period: Int = 512, server: String? = nil,
                           maximumNodes: Int? = nil, retries: Int = 1, workerRealtimePriority: Int = 0, workerNice: Int = 0, inferenceAllowance: Double = 1,
                           batch: Bool = true, batchLimit: Int = 8, log: (String) -> Void) throws -> CapacityResult {
        Torch.applyDefaults()
        Torch.intraOpThreads = 1
        let folder = url.deletingLastPathComponent()
        let library = ModelLibrary(directories: [folder])
        let resolved = try library.resolve(url.lastPathComponent)
        let probe = try library.instance(of: resolved)
        let rate = probe.sampleRate ?? 44100

        // One warm node's plan, one thread, no JACK, on this thread: printed for reference. The
        // bound itself uses the same measurement taken on the engine's own worker with one
        // node playing (same scheduling and machine load as the nodes it is compared with).
        let standalone = median(Array(try loneSteps(model: probe, block: block, count: 40).dropFirst(10)))
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let blockSeconds = Double(block) / Double(rate)
        log(String(format: "one warm node, one thread, outside the engine: median %.2f ms per %d-sample block (%.2f ms of audio)",
                   standalone * 1000, block, blockSeconds * 1000))

        // JACK: the running server, or a dummy one of our own.
        var started: JackServer?
        var serverName = server ?? ProcessInfo.processInfo.environment["JACK_DEFAULT_SERVER"] ?? "default"
        if !JackServer.isRunning(server) {
            started = try JackServer(sampleRate: rate, period: period)
            serverName = started!.name
            log("started jackd -n \(serverName) -d dummy -r \(rate) -p \(period)")
        }
        defer { started?.stop() }
        let driver = try JackDriver.open(clientName: "timbre-capacity", server: started?.name ?? server) {
            $0.modelsDirectories = [folder]
            $0.defaultBlock = block
            $0.workerRealtimePriority = workerRealtimePriority
            $0.workerNice = workerNice
            $0.inferenceAllowance = inferenceAllowance
            $0.batchNodes = batch
            $0.batchLimit = batchLimit
        }
        defer { driver.stop() }
        try driver.start(connect: false)
        let instrument = driver.instrument
        var generator = SplitMix64(seed: 5)
        let noise = (0..<(rate * 2)).map { _ in Float(generator.nextUnit() * 0.4 - 0.2) }
        let tap = try JackTap(name: "timbre-capacity-input", server: started?.name ?? server, playing: [noise], loop: true,
                              recordChannels: 0, recordFrames: 0)
        try tap.client.connect(tap.outputName(0), "\(driver.client.name):in_1")
        tap.start()

        func totals() -> (dropouts: Int, xruns: Int, load: Double, batch: Double?) {
            let status = instrument.status()
            let load = status.nodes.isEmpty ? 0 : status.nodes.map(\.load).reduce(0, +) / Double(status.nodes.count)
            let batches = status.nodes.compactMap { $0.lane?.averageBatch }
            let batch = batches.isEmpty ? nil : batches.reduce(0, +) / Double(batches.count)
            return (status.nodes.map(\.dropouts).reduce(0, +), status.xruns, load, batch)
        }

        var steps: [CapacityResult.Step] = []
        var capacity = 0
        var workerMedian = standalone
        var bound = Double(cores) * blockSeconds / standalone
        var count = 0
        // With lanes, nodes share calls and the count can pass the bound (which is one node alone).
        while count < (maximumNodes ?? (batch ? 64 : 32)) {
            count += 1
            let before = totals()
            try instrument.createNow(NodeSpec(label: "n\(count)", model: resolved.lastPathComponent, block: block))
            // Let the new node's first blocks pass; its join is reported apart.
            Thread.sleep(forTimeInterval: 1 + 3 * blockSeconds)
            var joined = totals()
            let newNodeDropouts = instrument.status().nodes.first { $0.label == "n\(count)" }?.dropouts ?? 0
            let joinTotals = joined
            Thread.sleep(forTimeInterval: seconds)
            var after = totals()
            // A single stray stall of the host (this is a VM) must not end the search: a count
            // whose window had a dropout or an xrun is measured again (up to `retries` times), and
            // it counts only if a later window is clean. Overload fails every window; each failed
            // window is logged and kept in the step.
            var retried: [Int]?
            var attempts = 1
            while attempts <= retries, after.dropouts > joined.dropouts || after.xruns > joined.xruns {
                retried = (retried ?? []) + [after.dropouts - joined.dropouts, after.xruns - joined.xruns]
                log(String(format: "%d node(s): %d dropouts, %d xruns in %.0f s; measuring this count again",
                           count, after.dropouts - joined.dropouts, after.xruns - joined.xruns, seconds))
                joined = after
                Thread.sleep(forTimeInterval: seconds)
                after = totals()
                attempts += 1
            }
            // The measured window's blocks of every node (at most the last 1024 each).
            let window = Int(seconds / blockSeconds)
            let times = (1...count).flatMap { instrument.blockSeconds(of: "n\($0)").suffix(window) }.sorted()
            let spread = times.isEmpty ? [] : [times[times.count / 2], times[min(times.count - 1, times.count * 99 / 100)], times.last!].map { $0 * 1000 }
            let step = CapacityResult.Step(nodes: count, dropouts: after.dropouts - joined.dropouts, xruns: after.xruns - joined.xruns,
                                           joinDropouts: joinTotals.dropouts - before.dropouts, joinXruns: joinTotals.xruns - before.xruns,
                                           joinDropoutsOfNewNode: newNodeDropouts, averageLoad: after.load, blockMilliseconds: spread,
                                           attempts: attempts, retried: retried, averageBatch: after.batch)
            steps.append(step)
            if count == 1 {
                let skip = Int((1 + 3 * blockSeconds) / blockSeconds)
                let seconds = instrument.blockSeconds(of: "n1", skip: skip)
                if !seconds.isEmpty { workerMedian = median(seconds) }
                bound = Double(cores) * blockSeconds / workerMedian
                log(String(format: "one warm node on its worker: median %.2f ms per block; compute bound %.2f nodes on %d cores",
                           workerMedian * 1000, bound, cores))
            }
            log(String(format: "%d node(s): %d dropouts, %d xruns in %.0f s (joining: %d dropouts, %d of them on the new node, %d xruns); load %.0f%% per node; block %.2f / %.2f / %.2f ms (median / p99 / max)%@",
                       count, step.dropouts, step.xruns, seconds, step.joinDropouts, step.joinDropoutsOfNewNode, step.joinXruns, step.averageLoad * 100,
                       spread.first ?? 0, spread.count > 1 ? spread[1] : 0, spread.last ?? 0,
                       step.averageBatch.map { String(format: "; %.1f nodes per batched call", $0) } ?? ""))
            guard step.dropouts == 0, step.xruns == 0 else { break }
            capacity = count
            if !batch, Double(count) > bound + 1 { break }
        }
        return CapacityResult(model: resolved.path, block: block, sampleRate: rate, period: driver.client.bufferSize, seconds: seconds,
                              cores: cores, medianBlockMilliseconds: workerMedian * 1000,
                              standaloneBlockMilliseconds: standalone * 1000, computeBound: bound, capacity: capacity,
                              steps: steps, server: serverName, startedServer: started != nil, inferenceAllowance: inferenceAllowance,
                              realtimeWorkers: instrument.status().realtimeWorkers, workerNice: workerNice,
                              batched: batch, batchLimit: batchLimit)
    }

    private static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        guard !sorted.isEmpty else { return 0 }
        return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
    }
}

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
        /// Average inference load per node (share of its block time).
        public var averageLoad: Double
    }

    public var model: String
    public var block: Int
    public var sampleRate: Int
    public var period: Int
    public var seconds: Double
    public var cores: Int
    /// Median time per block of one warm node with one thread, outside JACK.
    public var medianBlockMilliseconds: Double
    /// cores × block duration ÷ median time per block.
    public var computeBound: Double
    /// The largest count with zero dropouts and zero xruns for `seconds`.
    public var capacity: Int
    public var steps: [Step]
    /// The JACK server used, and whether the benchmark started it.
    public var server: String
    public var startedServer: Bool

    /// capacity ÷ compute bound.
    public var ratio: Double { computeBound > 0 ? Double(capacity) / computeBound : 0 }
}

public enum CapacityBenchmark {
    /// Runs the benchmark. Uses the JACK server named `server` (or the default) when
    /// one runs; otherwise starts `jackd -d dummy` under a name of its own at the
    /// model's rate and stops it at the end.
    public static func run(model url: URL, block: Int, seconds: Double, period: Int = 512, server: String? = nil,
                           maximumNodes: Int? = nil, log: (String) -> Void) throws -> CapacityResult {
        Torch.applyDefaults()
        Torch.intraOpThreads = 1
        let folder = url.deletingLastPathComponent()
        let library = ModelLibrary(directories: [folder])
        let resolved = try library.resolve(url.lastPathComponent)
        let probe = try library.instance(of: resolved)
        let rate = probe.sampleRate ?? 44100

        // The compute bound: one warm node, one thread, no JACK.
        let spec = NodeSpec(label: "probe", model: resolved.lastPathComponent, block: block)
        let lone = try Node(id: 0, spec: spec, modelURL: resolved, model: probe, serverRate: rate, period: period,
                            maxFrames: 8192, defaultBlock: block, allowanceBlocks: 1,
                            source: KernelSource(kind: .first, nodeID: 0))
        let times = lone.measureSteps(50).dropFirst(10).sorted()
        let median = times[times.count / 2]
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let blockSeconds = Double(block) / Double(rate)
        let bound = Double(cores) * blockSeconds / median
        log(String(format: "one warm node, one thread: median %.2f ms per %d-sample block (%.2f ms of audio); compute bound %.2f nodes on %d cores",
                   median * 1000, block, blockSeconds * 1000, bound, cores))

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

        func totals() -> (dropouts: Int, xruns: Int, load: Double) {
            let status = instrument.status()
            let load = status.nodes.isEmpty ? 0 : status.nodes.map(\.load).reduce(0, +) / Double(status.nodes.count)
            return (status.nodes.map(\.dropouts).reduce(0, +), status.xruns, load)
        }

        var steps: [CapacityResult.Step] = []
        var capacity = 0
        let limit = maximumNodes ?? Int(bound.rounded(.up)) + 2
        for count in 1...max(1, limit) {
            let before = totals()
            try instrument.createNow(NodeSpec(label: "n\(count)", model: resolved.lastPathComponent, block: block))
            // Let the new node's first blocks pass; its join is reported apart.
            Thread.sleep(forTimeInterval: 1 + 3 * blockSeconds)
            let joined = totals()
            Thread.sleep(forTimeInterval: seconds)
            let after = totals()
            let step = CapacityResult.Step(nodes: count, dropouts: after.dropouts - joined.dropouts, xruns: after.xruns - joined.xruns,
                                           joinDropouts: joined.dropouts - before.dropouts, joinXruns: joined.xruns - before.xruns,
                                           averageLoad: after.load)
            steps.append(step)
            log(String(format: "%d node(s): %d dropouts, %d xruns in %.0f s (joining: %d dropouts, %d xruns); load %.0f%% per node",
                       count, step.dropouts, step.xruns, seconds, step.joinDropouts, step.joinXruns, step.averageLoad * 100))
            guard step.dropouts == 0, step.xruns == 0 else { break }
            capacity = count
        }
        return CapacityResult(model: resolved.path, block: block, sampleRate: rate, period: driver.client.bufferSize, seconds: seconds,
                              cores: cores, medianBlockMilliseconds: median * 1000, computeBound: bound, capacity: capacity,
                              steps: steps, server: serverName, startedServer: started != nil)
    }
}

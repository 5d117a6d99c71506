import ArgumentParser
import Benchmarks
import Engine
import Foundation

struct BenchCapacity: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "capacity",
        abstract: "How many nodes of a model run on JACK with no dropouts and no xruns, beside the compute bound.",
        discussion: """
        Uses the running JACK server, or starts `jackd -d dummy` under a name of its own (and stops it). \
        Adds nodes one at a time on a continuous input; each count runs --seconds after it joined. \
        A count whose window has a dropout or an xrun is measured once more (--retries) and counts only \
        if that window is clean, so one stray stall of the host does not end the search; both windows are printed. \
        The compute bound is cores × block duration ÷ the median time per block of one warm node with \
        one thread, measured first in the same run.
        """)

    @Option(help: "The model (.ts).")
    var model: String

    @Option(help: "Samples per block at the model's rate.")
    var block: Int = 2048

    @Option(help: "Seconds each count of nodes must run cleanly.")
    var seconds: Double = 10

    @Option(help: "Extra windows for a count whose window had a dropout or an xrun (0: the first failure ends the search).")
    var retries: Int = 1

    @Option(help: "JACK buffer size when the benchmark starts its own server.")
    var period: Int = 512

    @Option(help: "The JACK server's name (default: JACK's default; one is started when none runs).")
    var server: String?

    @Option(name: .customLong("inference-allowance"), help: "Time allowed for inference, in blocks (as serve's).")
    var inferenceAllowance: Double = 1

    @Option(name: .customLong("worker-nice"), help: "Nice value of the inference workers (as serve's; e.g. -15 to keep other programs off their cores).")
    var workerNice: Int = 0

    @Flag(name: .customLong("realtime-workers"), help: "Run inference at real-time priority 1, below JACK's threads (as `serve --realtime-workers`).")
    var realtimeWorkers = false

    @Flag(name: .customLong("no-batch"), help: "Every node on its own instance, one call per node (as `serve --no-batch`).")
    var noBatch = false

    @Option(name: .customLong("batch-limit"), help: "The most nodes one batched call carries (as serve's).")
    var batchLimit: Int = 8

    @Flag(help: "Print the result as JSON.")
    var json = false

    func run() throws {
        guard block > 0, seconds > 0, period > 0, batchLimit > 0 else {
            throw ValidationError("--block, --seconds, --period and --batch-limit must be positive")
        }
        let result = try CapacityBenchmark.run(model: URL(fileURLWithPath: model), block: block, seconds: seconds,
                                               period: period, server: server, retries: max(0, retries), workerRealtimePriority: realtimeWorkers ? 1 : 0, workerNice: workerNice,
                                               inferenceAllowance: inferenceAllowance, batch: !noBatch, batchLimit: batchLimit) { line in
            FileHandle.standardError.write(Data((line + "\n").utf8))
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(result), as: UTF8.self))
            return
        }
        print("\(result.model): block \(result.block) at \(result.sampleRate) Hz, JACK period \(result.period), \(result.cores) cores, inference allowance \(result.inferenceAllowance) block(s), workers \(result.realtimeWorkers > 0 ? "real-time (below JACK)" : "normal scheduling, nice \(result.workerNice)"), \(result.batched ? "nodes share batched calls (at most \(result.batchLimit) per call)" : "one call per node (--no-batch)")")
        print(String(format: "capacity %d node(s) clean for %.0f s; compute bound %.2f (median %.2f ms per block); %.0f%% of the bound",
                     result.capacity, result.seconds, result.computeBound, result.medianBlockMilliseconds, result.ratio * 100))
    }
}

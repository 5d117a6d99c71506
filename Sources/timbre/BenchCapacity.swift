import ArgumentParser
import Engine
import Foundation

struct BenchCapacity: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "capacity",
        abstract: "How many nodes of a model run on JACK with no dropouts and no xruns, beside the compute bound.",
        discussion: """
        Uses the running JACK server, or starts `jackd -d dummy` under a name of its own (and stops it). \
        Adds nodes one at a time on a continuous input; each count runs --seconds after it joined. \
        The compute bound is cores × block duration ÷ the median time per block of one warm node with \
        one thread, measured first in the same run.
        """)

    @Option(help: "The model (.ts).")
    var model: String

    @Option(help: "Samples per block at the model's rate.")
    var block: Int = 2048

    @Option(help: "Seconds each count of nodes must run cleanly.")
    var seconds: Double = 10

    @Option(help: "JACK buffer size when the benchmark starts its own server.")
    var period: Int = 512

    @Option(help: "The JACK server's name (default: JACK's default; one is started when none runs).")
    var server: String?

    @Flag(help: "Print the result as JSON.")
    var json = false

    func run() throws {
        guard block > 0, seconds > 0, period > 0 else { throw ValidationError("--block, --seconds and --period must be positive") }
        let result = try CapacityBenchmark.run(model: URL(fileURLWithPath: model), block: block, seconds: seconds,
                                               period: period, server: server) { line in
            FileHandle.standardError.write(Data((line + "\n").utf8))
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(result), as: UTF8.self))
            return
        }
        print("\(result.model): block \(result.block) at \(result.sampleRate) Hz, JACK period \(result.period), \(result.cores) cores")
        print(String(format: "capacity %d node(s) clean for %.0f s; compute bound %.2f (median %.2f ms per block); %.0f%% of the bound",
                     result.capacity, result.seconds, result.computeBound, result.medianBlockMilliseconds, result.ratio * 100))
    }
}

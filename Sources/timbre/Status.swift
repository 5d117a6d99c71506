import ArgumentParser
import Control
import Engine
import Foundation

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show a running `timbre serve`: per node model, method, block, latency, load, dropouts, levels; xruns.")

    @Option(help: "The OSC port of `timbre serve`.")
    var port: Int = defaultOSCPort

    @Flag(help: "Print the status as JSON.")
    var json = false

    func run() throws {
        let reply = try OSCClient.request(OSCMessage("/timbre/status"), port: port, timeout: 5)
        guard reply.address == "/timbre/status", case .string(let text)? = reply.arguments.first else {
            throw UserError("unexpected reply \(reply.address)")
        }
        if json {
            print(text)
            return
        }
        let status = try JSONDecoder().decode(EngineStatus.self, from: Data(text.utf8))
        print("engine: \(status.sampleRate) Hz, \(status.period) frames per cycle, \(status.workers) workers\(status.realtimeWorkers > 0 ? " (real-time)" : ""), \(status.xruns) xruns, \(status.nodes.count) node(s)\(status.loading.isEmpty ? "" : ", loading: " + status.loading.joined(separator: " "))")
        guard !status.nodes.isEmpty else { return }
        let header = ["label", "model", "method", "block", "phase", "latency", "load", "dropouts", "peak dBFS", "input", "batched"]
        let rows = status.nodes.map { n in
            [n.label, n.model, n.method, String(n.block), String(n.phaseSamples), "\(n.latencySamples) (\(n.latencyMilliseconds) ms)",
             String(format: "%.0f%%", n.load * 100), String(n.dropouts),
             n.peakDBFS.map { String(format: "%.1f", $0) }.joined(separator: " "), n.input,
             n.lane.map { String(format: "%d nodes, %.1f per call", $0.members, $0.averageBatch) } ?? "alone"]
        }
        let widths = header.indices.map { i in ([header[i]] + rows.map { $0[i] }).map(\.count).max()! }
        for row in [header] + rows {
            print(row.enumerated().map { $1.padding(toLength: widths[$0], withPad: " ", startingAt: 0) }.joined(separator: "  "))
        }
        for n in status.nodes where n.errors > 0 {
            print("\(n.label): \(n.errors) model error(s); last: \(n.lastError ?? "?")")
        }
    }
}

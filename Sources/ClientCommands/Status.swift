import ArgumentParser
import Foundation
import Protocol

/// `timbre status`: the engine's state as a table (or its JSON).
public struct Status: ParsableCommand {
    public static let configuration = CommandConfiguration(
        abstract: "Show a running `timbre serve`: per node model, method, block, latency, load, dropouts, levels; xruns.")

    @Option(help: "The OSC port of `timbre serve`.")
    var port: Int = defaultOSCPort

    @Option(help: "The address of `timbre serve`.")
    var host: String = "127.0.0.1"

    @Option(help: "Seconds to wait for the reply.")
    var timeout: Double = 5

    @Flag(help: "Print the status as JSON.")
    var json = false

    public init() {}

    public func run() throws {
        let (status, text) = try OSCClient.status(host: host, port: port, timeout: timeout)
        if json {
            print(text)
            return
        }
        print(Self.table(status))
    }

    /// The status as the lines `timbre status` prints.
    static func table(_ status: EngineStatus) -> String {
        var lines = ["engine: \(status.sampleRate) Hz, \(status.period) frames per cycle, \(status.workers) workers\(status.realtimeWorkers > 0 ? " (real-time)" : ""), \(status.xruns) xruns, \(status.nodes.count) node(s)\(status.loading.isEmpty ? "" : ", loading: " + status.loading.joined(separator: " "))"]
        guard !status.nodes.isEmpty else { return lines[0] }
        let header = ["label", "model", "method", "block", "phase", "latency", "load", "dropouts", "peak dBFS", "input", "batched"]
        let rows = status.nodes.map { n in
            [n.label, n.model, n.method, String(n.block), String(n.phaseSamples), "\(n.latencySamples) (\(n.latencyMilliseconds) ms)",
             String(format: "%.0f%%", n.load * 100), String(n.dropouts),
             n.peakDBFS.map { String(format: "%.1f", $0) }.joined(separator: " "), n.input,
             n.lane.map { String(format: "%d nodes, %.1f per call", $0.members, $0.averageBatch) } ?? "alone"]
        }
        let widths = header.indices.map { i in ([header[i]] + rows.map { $0[i] }).map(\.count).max() ?? 0 }
        for row in [header] + rows {
            lines.append(row.enumerated().map { $1.padding(toLength: widths[$0], withPad: " ", startingAt: 0) }.joined(separator: "  "))
        }
        for n in status.nodes where n.errors > 0 {
            lines.append("\(n.label): \(n.errors) model error(s); last: \(n.lastError ?? "?")")
        }
        return lines.joined(separator: "\n")
    }
}

import ArgumentParser
#if canImport(Glibc)
import Glibc
#endif
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
        guard !status.nodes.isEmpty else { return ([lines[0]] + midiLines(status)).joined(separator: "\n") }
        let header = ["label", "model", "method", "block", "phase", "latency", "load", "dropouts", "peak dBFS", "input", "batched"]
        let rows = status.nodes.map { n in
            [n.label, n.model, n.method, String(n.block), String(n.phaseSamples), "\(n.latencySamples) (\(n.latencyMilliseconds) ms)",
             fixed(n.load * 100, digits: 0) + "%", String(n.dropouts),
             n.peakDBFS.map { fixed($0, digits: 1) }.joined(separator: " "), n.input,
             n.lane.map { "\($0.members) nodes, \(fixed($0.averageBatch, digits: 1)) per call" } ?? "alone"]
        }
        let widths = header.indices.map { i in ([header[i]] + rows.map { $0[i] }).map(\.count).max() ?? 0 }
        for row in [header] + rows {
            lines.append(row.enumerated().map { $1 + String(repeating: " ", count: max(0, widths[$0] - $1.count)) }.joined(separator: "  "))
        }
        for n in status.nodes where n.errors > 0 {
            lines.append("\(n.label): \(n.errors) model error(s); last: \(n.lastError ?? "?")")
        }
        // One line per sequencer (issue 17): its settings and where it stands.
        for n in status.nodes {
            guard let q = n.sequence else { continue }
            let place = q.playing ? "playing, step \(q.step.map { String($0) } ?? "-") of \(q.steps) (\(q.stepsStarted) started)" : "stopped"
            lines.append("\(n.label): sequence of \(q.steps) steps at \(fixed(q.bpm, digits: 1)) bpm, \(q.division) per beat, swing \(fixed(q.swing, digits: 2)), \(q.transport) clock: \(place)")
        }
        for n in status.nodes {
            if let model = n.pendingSwap { lines.append("\(n.label): swap to \(model) pending") }
        }
        // Issue 18: msprior nodes and walking decode nodes.
        for n in status.nodes {
            if let p = n.playing?.prior {
                lines.append("\(n.label): msprior \(p == "listen" ? "listening to its input" : "running free"), perplexity \(n.playing?.perplexity.map { fixed($0, digits: 2) } ?? "-")")
            }
            if let w = n.playing?.walk, w.count == 2 { lines.append("\(n.label): latent walk at \(fixed(w[0], digits: 3)) Hz, depth \(fixed(w[1], digits: 3))") }
        }
        return (lines + midiLines(status)).joined(separator: "\n")
    }

    /// The MIDI input and one line per mapping (none when the server has neither).
    static func midiLines(_ status: EngineStatus) -> [String] {
        guard let midi = status.midi, midi.port != nil || !midi.mappings.isEmpty || !midi.learning.isEmpty else { return [] }
        var lines = ["midi: \(midi.port ?? "no input port (serve --midi)"), \(midi.received) received, \(midi.applied) applied, \(midi.dropped) dropped"
                     + (midi.learning.isEmpty ? "" : ", learning: " + midi.learning.joined(separator: ", "))]
        for mapping in midi.mappings {
            lines.append("  " + mapping.line + (mapping.active ? "" : "  (inactive: \(mapping.reason ?? "?"))"))
        }
        return lines
    }
}

/// `value` rounded to `digits` decimals, as `%.Nf` prints it (without Foundation's formatter).
func fixed(_ value: Double, digits: Int) -> String {
    guard value.isFinite else { return "\(value)" }
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let scaled = (abs(value) * scale).rounded()
    guard scaled < 9e18 else { return "\(value)" }
    let units = Int64(scaled), divisor = Int64(scale)
    let sign = value < 0 && units != 0 ? "-" : ""
    guard digits > 0 else { return sign + String(units) }
    let fraction = String(units % divisor)
    return sign + String(units / divisor) + "." + String(repeating: "0", count: digits - fraction.count) + fraction
}

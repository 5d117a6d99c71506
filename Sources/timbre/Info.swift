import ArgumentParser
import Foundation
import Torch

struct Info: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Describe an nn~ / RAVE model: rate, methods and ratios, latent size, attributes, minimum block.")

    @Argument(help: "A TorchScript model (.ts) with the nn~ interface.")
    var model: String

    @Flag(help: "Print the description as JSON.")
    var json = false

    func run() throws {
        Torch.applyDefaults()
        let description = try NNModel(contentsOf: URL(fileURLWithPath: model)).describe()
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(description), as: UTF8.self))
            return
        }
        print(Self.render(description))
    }

    static func render(_ d: NNModelDescription) -> String {
        var lines: [String] = [d.file]
        lines.append("  sample rate    \(d.sampleRate.map { "\($0) Hz" } ?? "not stated")")
        if let latent = d.latentSize {
            lines.append("  latent size    \(latent)" + (d.fullLatentSize.map { " (full \($0))" } ?? ""))
        }
        lines.append("  minimum block  \(d.minimumBlock) samples")
        switch d.triggerContract {
        case 2?: lines.append("  drum export    trigger contract 2: a velocity channel per class (\((d.triggerClasses ?? []).joined(separator: ", "))), then latent offsets")
        case 1?: lines.append("  drum export    trigger contract 1: decode's channel 0 starts a one-shot where it rises above 0.5")
        case let version?: lines.append("  drum export    trigger contract \(version) (unknown to this timbre)")
        case nil: break
        }
        lines.append("  methods        [in_channels, in_ratio, out_channels, out_ratio]")
        for m in d.methods {
            lines.append("    \(m.name.padding(toLength: 12, withPad: " ", startingAt: 0)) [\(m.inChannels), \(m.inRatio), \(m.outChannels), \(m.outRatio)]")
            if let labels = m.inputLabels { lines.append("      inputs:  \(labels.joined(separator: ", "))") }
            if let labels = m.outputLabels { lines.append("      outputs: \(labels.joined(separator: ", "))") }
        }
        if d.methods.isEmpty { lines.append("    (none: not an nn~ model)") }
        lines.append("  attributes")
        for a in d.attributes {
            let types = a.types.map(\.description).joined(separator: ", ")
            lines.append("    \(a.name) (\(types)) = \(a.value?.description ?? "?")")
        }
        if d.attributes.isEmpty { lines.append("    (none)") }
        return lines.joined(separator: "\n")
    }
}

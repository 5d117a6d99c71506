/// One line per command and parameter, for `help` in `timbre repl` (docs/OSC.md is the full
/// reference). Kept apart from the syntax tables so a new command's row needs nothing here:
/// `help` then shows its usage alone.
extension ControlCommand {
    /// What each command does, by name.
    public static let summaries: [String: String] = [
        "toggle": "create the node if LABEL is absent, free it if present; LABEL alone switches a node off",
        "new": "create a node; fails when LABEL exists",
        "free": "fade a node out and free it",
        "set": "change one parameter of a node (help set PARAM for one)",
        "status": "the engine and every node: model, method, block, latency, load, dropouts, levels",
        "quit": "stop the server (exit leaves the REPL and keeps the server running)",
        "models": "the model files the server may load",
        "swap": "replace a node's model, crossfading",
        "seq": "give a node a step sequencer",
        "seq/step": "set one step of a node's sequencer",
        "seq/play": "start a node's sequencer",
        "seq/stop": "stop a node's sequencer",
        "seq/encode": "fill a node's sequencer steps with the latents of an audio file",
        "midi/map": "map a MIDI controller or note to a node's parameter or trigger",
        "midi/learn": "map the next MIDI controller moved to a node's parameter",
        "midi/unmap": "remove a node's MIDI mapping of a parameter, or its trigger mappings",
        "midi/list": "every MIDI mapping, one per line in the syntax of midi/map",
        "session/save": "write the running set as a session file",
    ]

    /// `help NAME`: the command's usage and what it does (for `set`, its parameters); nil when
    /// there is no such command. `set PARAM` describes one parameter.
    public static func help(_ words: [String]) -> String? {
        guard let first = words.first else { return nil }
        let name = String(normalise(first).dropFirst(prefix.count))
        guard let row = syntax.first(where: { $0.name == name }) else { return nil }
        if name == "set", words.count > 1 {
            guard let parameter = NodeParameter.syntax.first(where: { $0.name == words[1] }) else { return nil }
            return "set LABEL \(parameter.name) \(parameter.usage)".trimmingSpaces
                + (NodeParameter.summaries[parameter.name].map { "\n  " + $0 } ?? "")
        }
        var lines = ["\(name) \(row.usage)".trimmingSpaces]
        if let summary = summaries[name] { lines.append("  " + summary) }
        if name == "set" {
            lines.append("parameters:")
            let width = NodeParameter.syntax.map { $0.name.count + 1 + $0.usage.count }.max() ?? 0
            for parameter in NodeParameter.syntax {
                let left = "\(parameter.name) \(parameter.usage)"
                let summary = NodeParameter.summaries[parameter.name] ?? ""
                lines.append(("  " + left + String(repeating: " ", count: width - left.count) + "  " + summary).trimmingSpaces)
            }
        }
        return lines.joined(separator: "\n")
    }

    /// Every command with its usage, one a line.
    public static var helpOverview: String {
        let width = syntax.map(\.name.count).max() ?? 0
        return syntax.map { row in
            let summary = summaries[row.name].map { "  " + $0 } ?? ""
            return (row.name + String(repeating: " ", count: width - row.name.count) + "  " + row.usage + summary).trimmingSpaces
        }.joined(separator: "\n")
    }
}

extension NodeParameter {
    /// What each parameter does, by name.
    public static let summaries: [String: String] = [
        "gain": "output gain (linear, 1 = unity)",
        "input_gain": "gain before the EQ and the model",
        "wet": "0 = dry only, 1 = model only",
        "mute": "mute the node's bus",
        "input": "the node's source: in1, in2, mix, stereo or another node",
        "eq": "input EQ band I (lowpass, highpass, bandpass, peak, lowshelf, highshelf, notch) or off",
        "bias": "add V to latent dimension D (encode and prior nodes)",
        "scale": "multiply latent dimension D by V (before the bias)",
        "noise": "Gaussian noise of amplitude A on every latent dimension",
        "latent": "decode nodes: the value of latent dimension D",
        "latents": "decode nodes: every latent dimension at once",
        "trigger": "decode nodes: dimension 0 to 1 for one latent frame (a drum hit)",
        "temperature": "prior nodes: the prior's temperature",
        "seed": "the node's seed from now on",
        // Issue 18: nodes that play without input.
        "listen": "msprior prior nodes: 1 follows the input's latents, 0 runs free (the default)",
        "reset": "msprior prior nodes: start the prior's state afresh",
        "walk": "decode nodes: a mean-reverting latent random walk (rate Hz, depth in latent sds); walk 0 0 stops it",
    ]
}

extension String {
    fileprivate var trimmingSpaces: String {
        var text = self
        while text.last == " " { text.removeLast() }
        return text
    }
}

// `serve --session FILE --watch` (issue 18): what a session file's start describes, and the
// commands that take a running instrument from one version of the file to the next.

/// The state a session's time-0 lines describe: its nodes (in the order they were created),
/// each with the settings made to it, and the lines that belong to no node of the session.
/// Lines at a later `@time` are not part of it (they run once, when the server starts).
public struct SessionState: Sendable, Equatable {
    /// A node the session creates, with what it then sets on it.
    public struct NodeState: Sendable, Equatable {
        public var spec: NodeSpec
        /// The node's settings, each under a key: `set` lines by parameter (`gain`, `bias 3`,
        /// `eq 0`: a later line of the same key replaces an earlier one), other lines naming
        /// the node (`seq...`, `midi/...`) by their text.
        public var settings: [(key: String, command: ControlCommand)]

        public static func == (a: NodeState, b: NodeState) -> Bool {
            a.spec == b.spec && a.settings.map(\.key) == b.settings.map(\.key) && a.settings.map(\.command) == b.settings.map(\.command)
        }
    }

    public var nodes: [NodeState] = []
    /// Lines naming no node of the session, each once, in file order.
    public var others: [ControlCommand] = []

    /// The state of `session`'s time-0 lines, played in order.
    public init(_ session: Session) {
        for entry in session.entries where entry.time == 0 {
            let command = entry.command
            switch command {
            case .toggle(let spec):
                if nodes.contains(where: { $0.spec.label == spec.label }) { remove(spec.label) } else { nodes.append(NodeState(spec: spec, settings: [])) }
            case .new(let spec):
                remove(spec.label)
                nodes.append(NodeState(spec: spec, settings: []))
            case .free(let label), .toggleOff(let label):
                remove(label)
            default:
                if let label = Self.label(of: command), let index = nodes.firstIndex(where: { $0.spec.label == label }) {
                    let key = Self.key(of: command)
                    nodes[index].settings.removeAll { $0.key == key }
                    nodes[index].settings.append((key, command))
                } else if !others.contains(command) {
                    others.append(command)
                }
            }
        }
    }

    private mutating func remove(_ label: String) { nodes.removeAll { $0.spec.label == label } }

    /// The node a command addresses, when it addresses one.
    static func label(of command: ControlCommand) -> String? {
        switch command {
        case .set(let label, _), .sequencer(let label, _), .swap(let label, _, _): label
        case .midi(.map(let mapping)): mapping.label
        case .midi(.learn(let label, _)), .midi(.unmap(let label, _)): label
        default: nil
        }
    }

    /// What a later setting of the same node replaces: a parameter (with its index) for `set`,
    /// the line itself otherwise.
    static func key(of command: ControlCommand) -> String {
        guard case .set(_, let parameter) = command else { return command.line }
        switch parameter {
        case .bias(let index, _), .scale(let index, _), .latent(let index, _): return "\(parameter.name) \(index)"
        case .eq(let band, _): return "eq \(band)"
        default: return parameter.name
        }
    }

    /// The commands that take an instrument running `old` to `new`, touching only what changed:
    /// nodes gone are freed; new nodes are created with their settings; a node whose model alone
    /// changed is swapped (a crossfade), one whose method, block, seed or input changed is freed
    /// and created again; a kept node gets only the settings whose value changed (a setting
    /// removed from the file leaves the node as it is); lines of no node run when they are new.
    public static func changes(from old: SessionState, to new: SessionState) -> [ControlCommand] {
        var commands: [ControlCommand] = []
        let newLabels = Set(new.nodes.map(\.spec.label))
        for node in old.nodes where !newLabels.contains(node.spec.label) {
            commands.append(.free(label: node.spec.label))
        }
        for node in new.nodes {
            guard let before = old.nodes.first(where: { $0.spec.label == node.spec.label }) else {
                commands.append(.new(node.spec))
                commands += node.settings.map(\.command)
                continue
            }
            var sameButModel = before.spec
            sameButModel.model = node.spec.model
            if before.spec != node.spec && sameButModel != node.spec {
                commands += [.free(label: node.spec.label), .new(node.spec)]
                commands += node.settings.map(\.command)
                continue
            }
            if before.spec != node.spec {
                commands.append(.swap(label: node.spec.label, model: node.spec.model, fade: nil))
            }
            for setting in node.settings where !before.settings.contains(where: { $0.key == setting.key && $0.command == setting.command }) {
                commands.append(setting.command)
            }
        }
        commands += new.others.filter { !old.others.contains($0) }
        return commands
    }
}

import Foundation
import ModelHost
import Synchronization

// MIDI control: the mappings live on the control side (`MIDIState`, by label); each change,
// and each node that joins or leaves, builds a `MIDIRouting` (plain values by node id) that
// the audio thread adopts through the kernel's command queue. The JACK driver copies a cycle's
// MIDI events into `MIDIEvent`s and the kernel routes them, in the process callback, at their
// frames: smoothed parameters change at the event's frame, model-side changes and one-shots
// go to the node's worker tagged with their input position (`Node.pushControl`), which places
// them on the first latent frame at or after it (`PlanControl`).

/// One MIDI channel message of a cycle, as the driver copies it out of JACK's buffer.
struct MIDIEvent: BitwiseCopyable {
    /// Frames from the cycle's start.
    var frame: Int32
    var status: UInt8
    var data1: UInt8
    var data2: UInt8
}

/// One mapping resolved to a node id, as the audio thread reads it.
struct MIDIRoute: BitwiseCopyable {
    enum Action: UInt8 {
        /// A smoothed parameter (gain, input gain, wet), at the event's frame.
        case scalar
        /// An EQ band's frequency, Q or gain target (the band glides there).
        case eqField
        /// A model-side change (latent, bias, scale, noise, temperature), at its latent frame.
        case control
        /// A note-on: the note's latents (if any), then a trigger of velocity / 127.
        case trigger
    }
    var nodeID: Int
    var action: Action
    var scalar: ScalarParameter = .gain
    var control: PlanControl.Kind = .latent
    /// Latent dimension, EQ band, or a trigger's class channel (trigger contract 2).
    var index: Int = 0
    /// EQ field: 0 frequency, 1 Q, 2 gain.
    var field: UInt8 = 0
    /// Control change number or note (-1: any note).
    var number: Int
    /// MIDI channel 0...15, or -1 for any.
    var channel: Int
    /// Where the route's floats start in the routing's table: 128 values (a control) or the
    /// note's latents (a trigger; -1 when it has none).
    var table: Int
    var count: Int = 0
}

/// The audio thread's copy of the mappings: routes and their value tables, immutable once made.
final class MIDIRouting: @unchecked Sendable {
    let routes: UnsafeMutablePointer<MIDIRoute>
    let count: Int
    let floats: UnsafeMutablePointer<Float>

    init(routes list: [MIDIRoute], floats table: [Float]) {
        count = list.count
        let routes = UnsafeMutablePointer<MIDIRoute>.allocate(capacity: max(1, list.count))
        if !list.isEmpty { list.withUnsafeBufferPointer { routes.initialize(from: $0.baseAddress!, count: list.count) } }
        let floats = UnsafeMutablePointer<Float>.allocate(capacity: max(1, table.count))
        if !table.isEmpty { table.withUnsafeBufferPointer { floats.initialize(from: $0.baseAddress!, count: table.count) } }
        lockResident(routes, count: max(1, list.count))
        lockResident(floats, count: max(1, table.count))
        self.routes = routes
        self.floats = floats
    }

    deinit {
        routes.deallocate()
        floats.deallocate()
    }
}

/// The control side's MIDI state: mappings in the order made, parameters waiting for a
/// controller, and the input port's name once the driver opened it.
final class MIDIState: @unchecked Sendable {
    struct Learning {
        var label: String
        var parameter: MIDIParameter
        /// `Kernel.lastController` when the learn began: the next different value is the controller.
        var since: Int
        var completion: @Sendable (Result<MIDIMapping, Error>) -> Void
    }
    struct Contents {
        var mappings: [MIDIMapping] = []
        var learning: [Learning] = []
    }
    let contents = Mutex<Contents>(Contents())
    /// `client:midi_in` once the JACK driver registered it.
    let port = Mutex<String?>(nil)
    /// Set while the driver runs with a MIDI port (learning needs controllers to arrive).
    let listening = Atomic<Bool>(false)
}

extension Kernel {
    /// Routes a cycle's MIDI events (audio thread: no allocation, locks or logging).
    func dispatch(_ events: UnsafeBufferPointer<MIDIEvent>, frames n: Int) {
        midiReceived.wrappingAdd(events.count, ordering: .relaxed)
        for event in events {
            let frame = min(max(Int(event.frame), 0), n - 1)
            let type = event.status & 0xF0
            let channel = Int(event.status & 0x0F)
            let number = Int(event.data1 & 0x7F), value = Int(event.data2 & 0x7F)
            if type == 0xB0 {
                // For learning: a counter (so the same controller moved twice is seen) and the controller.
                let previous = lastController.load(ordering: .relaxed)
                lastController.store(((previous >> 11) + 1) << 11 | channel << 7 | number, ordering: .releasing)
            }
            let isNoteOn = type == 0x90 && value > 0
            guard type == 0xB0 || isNoteOn, let routingPointer = routing else { continue }
            var applied = false
            Unmanaged<MIDIRouting>.fromOpaque(routingPointer)._withUnsafeGuaranteedRef { routing in
                for i in 0..<routing.count {
                    let route = routing.routes[i]
                    guard route.channel < 0 || route.channel == channel else { continue }
                    if isNoteOn {
                        guard route.action == .trigger, route.number < 0 || route.number == number else { continue }
                        findNode(route.nodeID) { node in
                            var ok = true
                            if route.table >= 0 {
                                for d in 0..<route.count where ok {
                                    ok = node.pushControl(.latent, dimension: d, value: routing.floats[route.table + d], atFrame: frame)
                                }
                            }
                            if ok { ok = node.pushControl(.trigger, dimension: route.index, value: Float(value) / 127, atFrame: frame) }
                            if ok { applied = true } else { midiDropped.wrappingAdd(1, ordering: .relaxed) }
                        }
                    } else {
                        guard route.action != .trigger, route.number == number else { continue }
                        let mapped = routing.floats[route.table + value]
                        findNode(route.nodeID) { node in
                            switch route.action {
                            case .scalar: node.schedule(route.scalar, mapped, atFrame: frame)
                            case .eqField: node.eq.setField(route.index, field: route.field, mapped)
                            case .control:
                                if !node.pushControl(route.control, dimension: route.index, value: mapped, atFrame: frame) {
                                    midiDropped.wrappingAdd(1, ordering: .relaxed)
                                    return
                                }
                            case .trigger: return
                            }
                            applied = true
                        }
                    }
                }
            }
            if applied { midiApplied.wrappingAdd(1, ordering: .relaxed) }
        }
    }
}

extension Instrument {
    // MARK: - MIDI mappings (control side)

    /// Adds a mapping (replacing the label's mapping of the same parameter or note). The label
    /// must be running or loading; a running node is checked now (latent size, method), a
    /// loading one when it joins (until then the mapping is kept, inactive).
    public func midiMap(_ mapping: MIDIMapping) throws {
        guard isKnown(mapping.label) else { throw EngineError("no node '\(mapping.label)'") }
        if let node = try? runningNode(mapping.label), let reason = Self.misfit(mapping, node) { throw EngineError(reason) }
        midi.contents.withLock { contents in
            if let i = contents.mappings.firstIndex(where: { $0.label == mapping.label && $0.target == mapping.target }) {
                contents.mappings[i] = mapping
            } else {
                contents.mappings.append(mapping)
            }
            rebuildMIDIRouting(contents.mappings)
        }
    }

    /// Removes the label's mapping of a parameter (or its trigger mappings), and a learn waiting
    /// for that parameter. An error when nothing matched.
    public func midiUnmap(label: String, _ target: MIDICommand.MIDIUnmapTarget) throws {
        let (removed, cancelled) = midi.contents.withLock { contents -> (Int, [MIDIState.Learning]) in
            let before = contents.mappings.count
            contents.mappings.removeAll { mapping in
                guard mapping.label == label else { return false }
                switch (target, mapping.target) {
                case (.parameter(let p), .parameter(let q)): return p == q
                case (.trigger(nil), .trigger): return true
                case (.trigger(let n?), .trigger(let m)): return n == m
                default: return false
                }
            }
            var cancelled: [MIDIState.Learning] = []
            if case .parameter(let p) = target {
                cancelled = contents.learning.filter { $0.label == label && $0.parameter == p }
                contents.learning.removeAll { $0.label == label && $0.parameter == p }
            }
            let removed = before - contents.mappings.count
            if removed > 0 { rebuildMIDIRouting(contents.mappings) }
            return (removed, cancelled)
        }
        for learning in cancelled {
            learning.completion(.failure(EngineError("learning \(label) \(learning.parameter.description) was cancelled by unmap")))
        }
        if removed == 0, cancelled.isEmpty {
            let what: String
            switch target {
            case .parameter(let p): what = p.description
            case .trigger(nil): what = "trigger"
            case .trigger(let note?): what = "trigger note \(note.word.text)"
            }
            throw EngineError("no MIDI mapping of '\(label)' for \(what)")
        }
    }

    /// Maps the next control change that arrives to the parameter (default range and curve, the
    /// channel it came on); `completion` runs then, or with an error (no MIDI input, unknown label,
    /// a parameter the node does not have, replaced by a newer learn of the same parameter).
    public func midiLearn(label: String, _ parameter: MIDIParameter, completion: @escaping @Sendable (Result<MIDIMapping, Error>) -> Void) {
        guard midi.listening.load(ordering: .acquiring) else {
            return completion(.failure(EngineError("no MIDI input is running to learn from (start `timbre serve --midi`)")))
        }
        guard isKnown(label) else { return completion(.failure(EngineError("no node '\(label)'"))) }
        let probe = MIDIMapping(label: label, binding: .control(parameter, cc: 0, channel: nil, low: parameter.defaults.low,
                                                                high: parameter.defaults.high, curve: parameter.defaults.curve))
        if let node = try? runningNode(label), let reason = Self.misfit(probe, node) { return completion(.failure(EngineError(reason))) }
        let since = kernel.lastController.load(ordering: .acquiring)
        let replaced = midi.contents.withLock { contents -> [MIDIState.Learning] in
            let old = contents.learning.filter { $0.label == label && $0.parameter == parameter }
            contents.learning.removeAll { $0.label == label && $0.parameter == parameter }
            contents.learning.append(MIDIState.Learning(label: label, parameter: parameter, since: since, completion: completion))
            return old
        }
        for old in replaced { old.completion(.failure(EngineError("learning \(label) \(parameter.description) was replaced by a newer learn"))) }
    }

    /// The janitor's turn: a controller moved since a learn began becomes its mapping.
    func pollMIDILearn() {
        let last = kernel.lastController.load(ordering: .acquiring)
        let learned = midi.contents.withLock { contents -> [(MIDIState.Learning, MIDIMapping)] in
            let due = contents.learning.filter { $0.since != last }
            guard !due.isEmpty else { return [] }
            contents.learning.removeAll { $0.since != last }
            let pairs = due.map { learning -> (MIDIState.Learning, MIDIMapping) in
                let defaults = learning.parameter.defaults
                let mapping = MIDIMapping(label: learning.label, binding: .control(learning.parameter, cc: last & 0x7F, channel: (last >> 7 & 0x0F) + 1,
                                                                                   low: defaults.low, high: defaults.high, curve: defaults.curve))
                if let i = contents.mappings.firstIndex(where: { $0.label == mapping.label && $0.target == mapping.target }) {
                    contents.mappings[i] = mapping
                } else {
                    contents.mappings.append(mapping)
                }
                return (learning, mapping)
            }
            rebuildMIDIRouting(contents.mappings)
            return pairs
        }
        for (learning, mapping) in learned { learning.completion(.success(mapping)) }
    }

    /// Every mapping, in the order made (replacements keep their place).
    public var midiMappings: [MIDIMapping] { midi.contents.withLock { $0.mappings } }

    /// The mappings as session lines (`/timbre/midi/map ...`), for saving a session: each reads
    /// back to the same mapping. Put them after the lines that create their nodes.
    public func midiSessionLines() -> [String] { midiMappings.map(\.line) }

    /// The mappings a saved session keeps, as `midi/map` commands: those acting now (their node
    /// runs and fits them). A mapping of an absent or misfitting node is left out, since its
    /// line would fail when the session is read back.
    func midiSessionCommands() -> [ControlCommand] {
        midiMappings.filter { mapping in
            guard let node = try? runningNode(mapping.label) else { return false }
            return Self.misfit(mapping, node) == nil
        }.map { .midi(.map($0)) }
    }

    /// MIDI in `status`: the port, counters, each mapping with whether it acts now, learns waiting.
    func midiStatus() -> MIDIStatus {
        let (mappings, learning) = midi.contents.withLock { ($0.mappings, $0.learning.map { "\($0.label) \($0.parameter.description)" }) }
        let rows = mappings.map { mapping -> MIDIMappingStatus in
            if let node = try? runningNode(mapping.label) {
                let reason = Self.misfit(mapping, node)
                return MIDIMappingStatus(line: mapping.line, active: reason == nil, reason: reason)
            }
            let reason = isKnown(mapping.label) ? "node '\(mapping.label)' is loading" : "no node '\(mapping.label)' (kept until one plays)"
            return MIDIMappingStatus(line: mapping.line, active: false, reason: reason)
        }
        return MIDIStatus(port: midi.port.withLock { $0 }, received: kernel.midiReceived.load(ordering: .relaxed),
                          applied: kernel.midiApplied.load(ordering: .relaxed),
                          dropped: kernel.midiDropped.load(ordering: .relaxed) + droppedControls(),
                          mappings: rows, learning: learning)
    }

    /// Why a mapping does not fit a node (nil when it does): what only the node knows.
    static func misfit(_ mapping: MIDIMapping, _ node: Node) -> String? {
        switch mapping.binding {
        case .control(let parameter, _, _, _, _, _):
            guard let d = parameter.latentDimension else { return nil }
            guard node.latentSize > 0 else {
                return "node '\(node.label)' runs '\(node.spec.method.rawValue)'; latent parameters need encode, decode or prior"
            }
            guard d < node.latentSize else { return "latent dimension \(d) is out of range 0..<\(node.latentSize) for node '\(node.label)'" }
            return nil
        case .trigger(_, let latents, let className):
            guard node.plan.steps.contains(where: { if case .feedLatents = $0 { true } else { false } }) else {
                return "node '\(node.label)' runs '\(node.spec.method.rawValue)'; a trigger mapping needs a trigger-driven model on 'decode'"
            }
            if let className, let reason = classMisfit(className, node) { return reason }
            if let latents, latents.count != node.latentSize {
                return "'latents' takes \(node.latentSize) values for node '\(node.label)', got \(latents.count)"
            }
            return nil
        }
    }

    /// Builds the audio thread's routing from the mappings whose nodes play and fit them, and
    /// hands it over (call with `midi.contents` locked, so routings arrive in the order made).
    func rebuildMIDIRouting(_ mappings: [MIDIMapping]) {
        var routes: [MIDIRoute] = []
        var floats: [Float] = []
        for mapping in mappings {
            guard let node = try? runningNode(mapping.label), Self.misfit(mapping, node) == nil else { continue }
            switch mapping.binding {
            case .control(let parameter, let cc, let channel, let low, let high, let curve):
                let table = floats.count
                floats += (0...127).map { MIDIMapping.value(controller: $0, low: low, high: high, curve: curve) }
                var route = MIDIRoute(nodeID: node.id, action: .control, number: cc, channel: (channel ?? 0) - 1, table: table)
                switch parameter {
                case .gain: route.action = .scalar; route.scalar = .gain
                case .inputGain: route.action = .scalar; route.scalar = .inputGain
                case .wet: route.action = .scalar; route.scalar = .wet
                case .temperature: route.control = .temperature
                case .noise: route.control = .noise
                case .bias(let d): route.control = .bias; route.index = d
                case .scale(let d): route.control = .scale; route.index = d
                case .latent(let d): route.control = .latent; route.index = d
                case .eq(let band, let field):
                    route.action = .eqField
                    route.index = band
                    switch field {
                    case .freq: route.field = 0
                    case .q: route.field = 1
                    case .gain: route.field = 2
                    }
                }
                routes.append(route)
            case .trigger(let note, let latents, let className):
                var route = MIDIRoute(nodeID: node.id, action: .trigger, number: -1, channel: -1, table: -1)
                // The class's velocity channel (trigger contract 2; 0: the first, or contract 1's trigger).
                route.index = className.flatMap { node.plan.hitClasses.firstIndex(of: $0) } ?? 0
                if case .number(let n) = note { route.number = n }
                if let latents {
                    route.table = floats.count
                    route.count = latents.count
                    floats += latents
                }
                routes.append(route)
            }
        }
        let routing = MIDIRouting(routes: routes, floats: floats)
        send(.midiRouting(Unmanaged.passRetained(routing).toOpaque()))
    }

    /// Nodes joined or left: their mappings start or stop acting.
    func midiNodesChanged() {
        midi.contents.withLock { contents in
            guard !contents.mappings.isEmpty else { return }
            rebuildMIDIRouting(contents.mappings)
        }
    }

    /// Releases routings the audio thread replaced.
    func releaseRetiredRoutings() {
        while let pointer = kernel.retiredRouting.pop() { Unmanaged<MIDIRouting>.fromOpaque(pointer).release() }
    }
}

import CJack
import Foundation
import Synchronization

// The only file that touches libjack. Everything above deals in Swift errors and Swift values:
// `JackClient` owns the client handle and every port pointer; others name ports by `JackPort`.

/// A port of a `JackClient`: its slot in the client's port table. The JACK pointer stays inside
/// the client, so nodes and drivers hold plain values.
public struct JackPort: Sendable, Equatable {
    fileprivate let slot: Int
}

/// A node's pair of output ports (`<label>_out_1`, `_2`).
struct NodePorts: Sendable, Equatable {
    var left: JackPort
    var right: JackPort
}

/// A JACK client: open, ports, callbacks, connections. Errors name the call and the reason.
/// The one owner of libjack's pointers: the client handle and its ports' (in a table allocated
/// once, so the audio thread reads a port's pointer without a lock).
public final class JackClient: @unchecked Sendable {
    fileprivate let handle: OpaquePointer
    /// Registered ports by slot; slots are handed out and returned on the control side only.
    private let portTable: UnsafeMutablePointer<OpaquePointer?>
    private let freeSlots: Mutex<[Int]>
    /// Ports one client can hold at once (two per node, plus the fixed ones).
    public static let portCapacity = 1024
    /// The name JACK gave the client (it may differ from the one asked for).
    public let name: String

    /// Connects to a running server (never starts one). `server` nil means the
    /// default one (or `$JACK_DEFAULT_SERVER`).
    public init(name: String, server: String? = nil) throws {
        _ = Self.quiet
        var status = jack_status_t(rawValue: 0)
        let opened = timbre_jack_client_open(name, JackNoStartServer, &status, server)
        guard let opened else {
            let which = server.map { "JACK server '\($0)'" } ?? "JACK server (default" + (ProcessInfo.processInfo.environment["JACK_DEFAULT_SERVER"].map { " '\($0)')" } ?? ")")
            if status.rawValue & JackServerFailed.rawValue != 0 {
                throw EngineError("no \(which) is running: start one (e.g. `jackd -d alsa`, qjackctl, or `jackd -d dummy` to try without a sound card)")
            }
            if status.rawValue & JackNameNotUnique.rawValue != 0 {
                throw EngineError("a JACK client named '\(name)' already exists on the \(which)")
            }
            throw EngineError("cannot open a JACK client on the \(which) (status 0x\(String(status.rawValue, radix: 16)))")
        }
        handle = opened
        self.name = String(cString: jack_get_client_name(opened))
        portTable = .allocate(capacity: Self.portCapacity)
        portTable.initialize(repeating: nil, count: Self.portCapacity)
        freeSlots = Mutex(Array((0..<Self.portCapacity).reversed()))
    }

    deinit {
        jack_client_close(handle)
        portTable.deallocate()
        timebaseTempo?.deallocate()
    }

    /// Beats per minute and per bar read by this client's timebase callback (see `becomeTimebaseMaster`).
    private var timebaseTempo: UnsafeMutablePointer<Double>?

    /// libjack prints its own lines on stderr (several per failed connection); timbre
    /// reports failures itself, in one line.
    private static let quiet: Void = {
        jack_set_error_function { _ in }
        jack_set_info_function { _ in }
    }()

    public var sampleRate: Int { Int(jack_get_sample_rate(handle)) }
    public var bufferSize: Int { Int(jack_get_buffer_size(handle)) }
    /// JACK's DSP load, in percent.
    public var cpuLoad: Double { Double(jack_cpu_load(handle)) }

    /// Registers an audio port (or with `midi`, a MIDI port) of this client.
    func register(port: String, input: Bool, midi: Bool = false) throws -> JackPort {
        guard let slot = freeSlots.withLock({ $0.popLast() }) else {
            throw EngineError("JACK client '\(name)' holds \(Self.portCapacity) ports already")
        }
        let flags = UInt(input ? JackPortIsInput.rawValue : JackPortIsOutput.rawValue)
        let type = midi ? timbre_jack_midi_type() : timbre_jack_audio_type()
        // On an overloaded machine the server can answer a registration too late for libjack,
        // which then reports a failure for a port the server did make: take that port if it
        // is this client's, or try again (five times in half a second at most).
        var attempt = 0, registered = jack_port_register(handle, port, type, flags, 0)
        while registered == nil, attempt < 5 {
            if let made = jack_port_by_name(handle, "\(name):\(port)"), jack_port_is_mine(handle, made) != 0 {
                registered = made
                break
            }
            attempt += 1
            usleep(100_000)
            registered = jack_port_register(handle, port, type, flags, 0)
        }
        guard let registered else {
            freeSlots.withLock { $0.append(slot) }
            throw EngineError("JACK refused to register port '\(name):\(port)'")
        }
        portTable[slot] = registered
        return JackPort(slot: slot)
    }

    /// Unregisters a port; its slot may name another port afterwards.
    func unregister(_ port: JackPort) {
        guard let registered = portTable[port.slot] else { return }
        jack_port_unregister(handle, registered)
        portTable[port.slot] = nil
        freeSlots.withLock { $0.append(port.slot) }
    }

    /// The port's buffer for this cycle (the process callback only: no allocation, no lock).
    @inline(__always)
    fileprivate func buffer(_ port: JackPort, frames: Int) -> UnsafeMutablePointer<Float> {
        jack_port_get_buffer(portTable[port.slot], jack_nframes_t(frames))!.assumingMemoryBound(to: Float.self)
    }

    /// Copies this cycle's MIDI channel messages of an input MIDI port into `events` (at most
    /// `capacity`, in time order; longer messages such as SysEx and running-status fragments are
    /// skipped). Process callback only. Returns the count copied and the count that did not fit.
    @inline(__always)
    func midiEvents(_ port: JackPort, frames: Int, into events: UnsafeMutablePointer<MIDIEvent>, capacity: Int) -> (copied: Int, overflow: Int) {
        guard let buffer = jack_port_get_buffer(portTable[port.slot], jack_nframes_t(frames)) else { return (0, 0) }
        let count = Int(jack_midi_get_event_count(buffer))
        var copied = 0, overflow = 0
        var time: UInt32 = 0, size: UInt32 = 0
        var bytes: (UInt8, UInt8, UInt8) = (0, 0, 0)
        for i in 0..<count {
            let result = withUnsafeMutableBytes(of: &bytes) { raw in
                timbre_jack_midi_event(buffer, UInt32(i), &time, &size, raw.baseAddress!.assumingMemoryBound(to: UInt8.self))
            }
            guard result == 0, size >= 2, size <= 3, bytes.0 & 0x80 != 0, bytes.0 < 0xF0 else { continue }
            guard copied < capacity else {
                overflow += 1
                continue
            }
            events[copied] = MIDIEvent(frame: Int32(time), status: bytes.0, data1: bytes.1, data2: size == 3 ? bytes.2 : 0)
            copied += 1
        }
        return (copied, overflow)
    }

    /// Writes MIDI messages into an output MIDI port's buffer for this cycle (process callback only):
    /// `body` is called with a writer taking a frame and up to three bytes.
    @inline(__always)
    fileprivate func writeMIDI(_ port: JackPort, frames: Int, _ body: ((Int, UInt8, UInt8, UInt8) -> Void) -> Void) {
        guard let buffer = jack_port_get_buffer(portTable[port.slot], jack_nframes_t(frames)) else { return }
        jack_midi_clear_buffer(buffer)
        body { frame, status, data1, data2 in
            var bytes: (UInt8, UInt8, UInt8) = (status, data1, data2)
            let size = status & 0xF0 == 0xC0 || status & 0xF0 == 0xD0 ? 2 : 3
            _ = withUnsafeBytes(of: &bytes) { raw in
                jack_midi_event_write(buffer, jack_nframes_t(frame), raw.baseAddress!.assumingMemoryBound(to: jack_midi_data_t.self), size)
            }
        }
    }

    /// JACK's frame count at the start of this cycle (process callback only): the same in every
    /// client of a cycle, so two clients can compare where their samples fall.
    @inline(__always)
    fileprivate var cycleStartFrame: Int { Int(jack_last_frame_time(handle)) }

    /// Connects two ports by full name (`client:port`); already connected is fine.
    public func connect(_ source: String, _ destination: String) throws {
        let result = jack_connect(handle, source, destination)
        if result != 0, result != EEXIST {
            throw EngineError("cannot connect JACK port \(source) to \(destination) (error \(result))")
        }
    }

    /// Full names of ports matching a pattern (a regular expression, as JACK takes it).
    public func ports(matching pattern: String? = nil, physical: Bool = false, input: Bool? = nil) -> [String] {
        var flags: UInt = 0
        if physical { flags |= UInt(JackPortIsPhysical.rawValue) }
        if let input { flags |= UInt(input ? JackPortIsInput.rawValue : JackPortIsOutput.rawValue) }
        guard let list = jack_get_ports(handle, pattern, nil, flags) else { return [] }
        defer { jack_free(UnsafeMutableRawPointer(mutating: list)) }
        var names: [String] = []
        var i = 0
        while let entry = list[i] {
            names.append(String(cString: entry))
            i += 1
        }
        return names
    }

    func activate() throws {
        guard jack_activate(handle) == 0 else { throw EngineError("cannot activate the JACK client '\(name)'") }
    }

    func deactivate() { jack_deactivate(handle) }

    // MARK: Transport (issue 17: `transport jack` sequences)

    /// JACK transport now: rolling, its frame, and the beat and tempo when a timebase master gives
    /// them (real-time safe: the process callback asks every cycle).
    @inline(__always)
    func transport() -> (rolling: Bool, frame: Int, beat: Double?, bpm: Double?) {
        var position = timbre_jack_transport_t()
        timbre_jack_transport_query(handle, &position)
        let bbt = position.has_bbt != 0
        return (position.rolling != 0, Int(position.frame), bbt ? position.beat : nil, bbt ? position.bpm : nil)
    }

    /// Starts JACK transport rolling (for every client of the server).
    public func startTransport() { jack_transport_start(handle) }

    /// Stops JACK transport.
    public func stopTransport() { jack_transport_stop(handle) }

    /// Makes this client JACK's timebase master at a constant tempo: while it is, every client
    /// (timbre's `transport jack` sequences among them) reads bar, beat and tick from transport's
    /// frame at `bpm`, `beatsPerBar` beats to the bar. Once per client (the tempo then stays).
    public func becomeTimebaseMaster(bpm: Double, beatsPerBar: Int = 4) throws {
        guard timebaseTempo == nil else { throw EngineError("the JACK client '\(name)' is already the timebase master") }
        guard bpm.isFinite, bpm > 0, beatsPerBar > 0 else { throw EngineError("a timebase master needs a positive tempo and beats per bar") }
        let tempo = UnsafeMutablePointer<Double>.allocate(capacity: 2)
        tempo.initialize(from: [bpm, Double(beatsPerBar)], count: 2)
        guard timbre_jack_set_constant_tempo(handle, tempo) == 0 else {
            tempo.deallocate()
            throw EngineError("JACK refused to make '\(name)' the timebase master")
        }
        timebaseTempo = tempo
    }

    /// Moves JACK transport to `frame`.
    public func locateTransport(frame: Int) throws {
        guard jack_transport_locate(handle, jack_nframes_t(clamping: frame)) == 0 else {
            throw EngineError("JACK refused to move transport to frame \(frame)")
        }
    }
}

/// Runs an instrument on JACK: `timbre:in_1`, `in_2`, `master_out_1`, `_2`, and a
/// pair of output ports per node (`<label>_out_1`, `_2`). The process callback only
/// moves buffers and calls the kernel; xruns are counted.
public final class JackDriver: NodePortHost, @unchecked Sendable {
    public let client: JackClient
    public let instrument: Instrument
    private let inputs: (JackPort, JackPort)
    private let masters: (JackPort, JackPort)
    /// `midi_in`, when the driver was opened with MIDI, and the cycle's events copied out of it.
    private let midiPort: JackPort?
    private let midiEvents: UnsafeMutablePointer<MIDIEvent>
    static let midiEventCapacity = 1024
    private let buffersTooLarge = Atomic<Int>(0)
    /// Whether `mlockall` succeeded (it needs the right to lock memory, as real-time scheduling does).
    public private(set) var memoryLocked = true

    /// Opens the client and its fixed ports. Build the instrument with `client.sampleRate`
    /// and `client.bufferSize` (see `JackDriver.open`).
    init(client: JackClient, instrument: Instrument, midi: Bool = false) throws {
        self.client = client
        self.instrument = instrument
        inputs = (try client.register(port: "in_1", input: true), try client.register(port: "in_2", input: true))
        masters = (try client.register(port: "master_out_1", input: false), try client.register(port: "master_out_2", input: false))
        if midi {
            midiPort = try client.register(port: "midi_in", input: true, midi: true)
        } else {
            midiPort = nil
        }
        let events = UnsafeMutablePointer<MIDIEvent>.allocate(capacity: Self.midiEventCapacity)
        events.initialize(repeating: MIDIEvent(frame: 0, status: 0, data1: 0, data2: 0), count: Self.midiEventCapacity)
        lockResident(events, count: Self.midiEventCapacity)
        midiEvents = events
        if midi { instrument.midi.port.withLock { $0 = "\(client.name):midi_in" } }
        instrument.ports = self
        let context = Unmanaged.passUnretained(self).toOpaque()
        jack_set_process_callback(client.handle, { frames, context in
            Unmanaged<JackDriver>.fromOpaque(context!)._withUnsafeGuaranteedRef { $0.process(Int(frames)) }
            return 0
        }, context)
        jack_set_xrun_callback(client.handle, { context in
            _ = Unmanaged<JackDriver>.fromOpaque(context!)._withUnsafeGuaranteedRef { $0.instrument.xruns.wrappingAdd(1, ordering: .relaxed) }
            return 0
        }, context)
        jack_set_buffer_size_callback(client.handle, { frames, context in
            Unmanaged<JackDriver>.fromOpaque(context!)._withUnsafeGuaranteedRef { $0.instrument.period.store(Int(frames), ordering: .relaxed) }
            return 0
        }, context)
    }

    /// Connects to JACK as `clientName` and builds an instrument at JACK's rate and buffer size.
    /// - Parameter configure: adjusts the configuration (models folders, block, allowance).
    /// - Parameter midi: also open the MIDI input port `midi_in` (`serve --midi`).
    public static func open(clientName: String = "timbre", server: String? = nil, midi: Bool = false,
                            configure: (inout Instrument.Configuration) -> Void) throws -> JackDriver {
        let client = try JackClient(name: clientName, server: server)
        var configuration = Instrument.Configuration(sampleRate: client.sampleRate, period: client.bufferSize, modelsDirectories: [])
        configure(&configuration)
        configuration.sampleRate = client.sampleRate
        configuration.period = client.bufferSize
        configuration.offline = false
        return try JackDriver(client: client, instrument: Instrument(configuration: configuration), midi: midi)
    }

    /// Starts processing. With `connect`, the first capture ports feed `in_1`/`in_2`
    /// and the master goes to the first playback ports.
    public func start(connect: Bool) throws {
        // Keep the pages mapped now (code, libraries, the kernel's buffers) resident, as JACK
        // clients do: a page fault on the audio thread waits for the kernel. Not MCL_FUTURE:
        // that also locks (and faults in) every later allocation, libtorch's included, and a
        // model loading next to playing nodes then cost them dropouts (see `lockResident`;
        // nodes lock their own audio buffers when they are built).
        if mlockall(MCL_CURRENT) != 0 {
            memoryLocked = false
        }
        try client.activate()
        if midiPort != nil { instrument.midi.listening.store(true, ordering: .releasing) }
        guard connect else { return }
        let captures = client.ports(physical: true, input: false)
        let playbacks = client.ports(physical: true, input: true)
        for (source, port) in zip(captures, ["in_1", "in_2"]) { try client.connect(source, "\(client.name):\(port)") }
        for (port, destination) in zip(["master_out_1", "master_out_2"], playbacks) { try client.connect("\(client.name):\(port)", destination) }
    }

    /// Stops processing and closes the instrument's workers.
    public func stop() {
        instrument.midi.listening.store(false, ordering: .releasing)
        client.deactivate()
        instrument.stop()
    }

    // The callbacks hold this object unretained: stop them before it goes.
    deinit {
        client.deactivate()
        midiEvents.deallocate()
    }

    /// The real-time callback: no allocation, no locks, no logging, no libtorch.
    private func process(_ frames: Int) {
        let in0 = client.buffer(inputs.0, frames: frames)
        let in1 = client.buffer(inputs.1, frames: frames)
        let out0 = client.buffer(masters.0, frames: frames)
        let out1 = client.buffer(masters.1, frames: frames)
        let kernel = instrument.kernel
        guard frames <= kernel.maxFrames else {
            buffersTooLarge.wrappingAdd(1, ordering: .relaxed)
            out0.update(repeating: 0, count: frames)
            out1.update(repeating: 0, count: frames)
            return
        }
        let transport = client.transport()
        instrument.transport.publish(clock: kernel.sampleClock, rolling: transport.rolling, frame: transport.frame,
                                     beat: transport.beat, bpm: transport.bpm)
        var midi = UnsafeBufferPointer<MIDIEvent>(start: nil, count: 0)
        if let midiPort {
            let (copied, overflow) = client.midiEvents(midiPort, frames: frames, into: midiEvents, capacity: Self.midiEventCapacity)
            if overflow > 0 { kernel.midiDropped.wrappingAdd(overflow, ordering: .relaxed) }
            midi = UnsafeBufferPointer(start: midiEvents, count: copied)
        }
        kernel.process(frames: frames, left: in0, right: in1, masterLeft: out0, masterRight: out1, midi: midi)
        kernel.forEachNode { node in
            guard let ports = node.ports else { return }
            let l = client.buffer(ports.left, frames: frames)
            let r = client.buffer(ports.right, frames: frames)
            l.update(from: node.bus, count: frames)
            r.update(from: node.bus + kernel.maxFrames, count: frames)
        }
    }

    // MARK: NodePortHost

    func registerPorts(label: String) throws -> NodePorts {
        let left = try client.register(port: "\(label)_out_1", input: false)
        do {
            return NodePorts(left: left, right: try client.register(port: "\(label)_out_2", input: false))
        } catch {
            client.unregister(left)
            throw error
        }
    }

    func unregisterPorts(_ ports: NodePorts?) {
        guard let ports else { return }
        client.unregister(ports.left)
        client.unregister(ports.right)
    }
}

/// A JACK client that plays a buffer into ports and records other ports, both
/// starting in the same cycle: for tests, benchmarks, and capturing a set.
public final class JackTap: @unchecked Sendable {
    public let client: JackClient
    private let outs: [JackPort]
    private let ins: [JackPort]
    private let play: UnsafeMutablePointer<Float>
    private let playFrames: Int
    private let loop: Bool
    private let record: UnsafeMutablePointer<Float>
    private let recordCapacity: Int
    private let armed = Atomic<Bool>(false)
    /// Frames played (and recorded) since `start`.
    public let frames = Atomic<Int>(0)
    /// JACK's frame count at the first cycle after `start` (-1 before): taps started apart can
    /// compare where their frames fall.
    public let startFrame = Atomic<Int>(-1)

    /// A MIDI channel message the tap plays at a frame from its start.
    public struct MIDIMessage: Sendable, Equatable {
        public var frame: Int
        public var status: UInt8
        public var data1: UInt8
        public var data2: UInt8
        /// A message of up to three bytes at `frame` (frames from `start`).
        public init(frame: Int, status: UInt8, data1: UInt8, data2: UInt8) {
            self.frame = frame
            self.status = status
            self.data1 = data1
            self.data2 = data2
        }
        /// Control change `controller` to `value` on `channel` (1...16).
        public static func controlChange(frame: Int, channel: Int = 1, controller: Int, value: Int) -> MIDIMessage {
            MIDIMessage(frame: frame, status: 0xB0 | UInt8(channel - 1), data1: UInt8(controller), data2: UInt8(value))
        }
        /// Note-on of `note` at `velocity` on `channel` (1...16).
        public static func noteOn(frame: Int, channel: Int = 1, note: Int, velocity: Int) -> MIDIMessage {
            MIDIMessage(frame: frame, status: 0x90 | UInt8(channel - 1), data1: UInt8(note), data2: UInt8(velocity))
        }
    }
    /// `midi_out` and the messages it plays (sorted by frame), with the next one's index.
    private let midiOut: JackPort?
    private let midiMessages: UnsafeMutablePointer<MIDIMessage>
    private let midiCount: Int
    private var nextMIDI = 0
    /// Messages played so far.
    public let midiPlayed = Atomic<Int>(0)

    /// - Parameters:
    ///   - playing: planar channels to play (one output port each), looped when `loop`.
    ///   - recordChannels: input ports to record; `recordSeconds` at most.
    ///   - midi: MIDI messages to play on a port `midi_out` (none: no such port), at their frames from `start`.
    public init(name: String, server: String? = nil, playing: [[Float]], loop: Bool = false,
                recordChannels: Int, recordFrames: Int, midi: [MIDIMessage]? = nil) throws {
        let client = try JackClient(name: name, server: server)
        self.client = client
        outs = try playing.indices.map { try client.register(port: "out_\($0 + 1)", input: false) }
        ins = try (0..<recordChannels).map { try client.register(port: "in_\($0 + 1)", input: true) }
        if midi != nil {
            midiOut = try client.register(port: "midi_out", input: false, midi: true)
        } else {
            midiOut = nil
        }
        let messages = (midi ?? []).sorted { $0.frame < $1.frame }
        midiCount = messages.count
        let stored = UnsafeMutablePointer<MIDIMessage>.allocate(capacity: max(1, messages.count))
        if !messages.isEmpty { messages.withUnsafeBufferPointer { stored.initialize(from: $0.baseAddress!, count: messages.count) } }
        midiMessages = stored
        let count = playing.first?.count ?? 0
        playFrames = count
        let buffer = UnsafeMutablePointer<Float>.allocate(capacity: max(1, playing.count * count))
        for (c, channel) in playing.enumerated() {
            channel.withUnsafeBufferPointer { (buffer + c * count).update(from: $0.baseAddress!, count: count) }
        }
        play = buffer
        self.loop = loop
        recordCapacity = recordFrames
        record = .allocate(capacity: max(1, recordChannels * recordFrames))
        record.initialize(repeating: 0, count: max(1, recordChannels * recordFrames))
        let context = Unmanaged.passUnretained(self).toOpaque()
        jack_set_process_callback(client.handle, { n, context in
            Unmanaged<JackTap>.fromOpaque(context!)._withUnsafeGuaranteedRef { $0.process(Int(n)) }
            return 0
        }, context)
        try client.activate()
    }

    deinit {
        client.deactivate()
        play.deallocate()
        record.deallocate()
        midiMessages.deallocate()
    }

    /// The MIDI output's full name (`tap:midi_out`).
    public var midiOutputName: String { "\(client.name):midi_out" }

    /// Full port names, for connections.
    public func outputName(_ index: Int) -> String { "\(client.name):out_\(index + 1)" }
    public func inputName(_ index: Int) -> String { "\(client.name):in_\(index + 1)" }

    /// Starts playing and recording at the next cycle.
    public func start() { armed.store(true, ordering: .releasing) }

    /// What was recorded so far (planar).
    public func recording() -> [[Float]] {
        let n = min(frames.load(ordering: .acquiring), recordCapacity)
        return (0..<ins.count).map { c in Array(UnsafeBufferPointer(start: record + c * recordCapacity, count: n)) }
    }

    private func process(_ n: Int) {
        let started = armed.load(ordering: .acquiring)
        let position = frames.load(ordering: .relaxed)
        if started, position == 0 { startFrame.store(client.cycleStartFrame, ordering: .releasing) }
        if let midiOut {
            client.writeMIDI(midiOut, frames: n) { write in
                guard started else { return }
                while nextMIDI < midiCount, midiMessages[nextMIDI].frame < position + n {
                    let message = midiMessages[nextMIDI]
                    write(max(0, message.frame - position), message.status, message.data1, message.data2)
                    nextMIDI += 1
                }
                midiPlayed.store(nextMIDI, ordering: .releasing)
            }
        }
        for (c, port) in outs.enumerated() {
            let out = client.buffer(port, frames: n)
            for i in 0..<n {
                let index = position + i
                let source = loop && playFrames > 0 ? index % playFrames : index
                out[i] = started && source < playFrames ? play[c * playFrames + source] : 0
            }
        }
        guard started else { return }
        for (c, port) in ins.enumerated() {
            let input = client.buffer(port, frames: n)
            let count = max(0, min(n, recordCapacity - position))
            if count > 0 { (record + c * recordCapacity + position).update(from: input, count: count) }
        }
        frames.store(position + n, ordering: .releasing)
    }
}

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
    }

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

    /// Registers an audio port of this client.
    func register(port: String, input: Bool) throws -> JackPort {
        guard let slot = freeSlots.withLock({ $0.popLast() }) else {
            throw EngineError("JACK client '\(name)' holds \(Self.portCapacity) ports already")
        }
        let flags = UInt(input ? JackPortIsInput.rawValue : JackPortIsOutput.rawValue)
        guard let registered = jack_port_register(handle, port, timbre_jack_audio_type(), flags, 0) else {
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
    private let buffersTooLarge = Atomic<Int>(0)
    /// Whether `mlockall` succeeded (it needs the right to lock memory, as real-time scheduling does).
    public private(set) var memoryLocked = true

    /// Opens the client and its fixed ports. Build the instrument with `client.sampleRate`
    /// and `client.bufferSize` (see `JackDriver.open`).
    init(client: JackClient, instrument: Instrument) throws {
        self.client = client
        self.instrument = instrument
        inputs = (try client.register(port: "in_1", input: true), try client.register(port: "in_2", input: true))
        masters = (try client.register(port: "master_out_1", input: false), try client.register(port: "master_out_2", input: false))
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
    public static func open(clientName: String = "timbre", server: String? = nil,
                            configure: (inout Instrument.Configuration) -> Void) throws -> JackDriver {
        let client = try JackClient(name: clientName, server: server)
        var configuration = Instrument.Configuration(sampleRate: client.sampleRate, period: client.bufferSize, modelsDirectories: [])
        configure(&configuration)
        configuration.sampleRate = client.sampleRate
        configuration.period = client.bufferSize
        configuration.offline = false
        return try JackDriver(client: client, instrument: Instrument(configuration: configuration))
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
        guard connect else { return }
        let captures = client.ports(physical: true, input: false)
        let playbacks = client.ports(physical: true, input: true)
        for (source, port) in zip(captures, ["in_1", "in_2"]) { try client.connect(source, "\(client.name):\(port)") }
        for (port, destination) in zip(["master_out_1", "master_out_2"], playbacks) { try client.connect("\(client.name):\(port)", destination) }
    }

    /// Stops processing and closes the instrument's workers.
    public func stop() {
        client.deactivate()
        instrument.stop()
    }

    // The callbacks hold this object unretained: stop them before it goes.
    deinit { client.deactivate() }

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
        kernel.process(frames: frames, left: in0, right: in1, masterLeft: out0, masterRight: out1)
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

    /// - Parameters:
    ///   - playing: planar channels to play (one output port each), looped when `loop`.
    ///   - recordChannels: input ports to record; `recordSeconds` at most.
    public init(name: String, server: String? = nil, playing: [[Float]], loop: Bool = false,
                recordChannels: Int, recordFrames: Int) throws {
        let client = try JackClient(name: name, server: server)
        self.client = client
        outs = try playing.indices.map { try client.register(port: "out_\($0 + 1)", input: false) }
        ins = try (0..<recordChannels).map { try client.register(port: "in_\($0 + 1)", input: true) }
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
    }

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

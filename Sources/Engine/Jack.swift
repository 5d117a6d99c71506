import CJack
import Foundation
import Synchronization

// The only file that touches libjack. Everything above deals in Swift errors.

/// A JACK client: open, ports, callbacks, connections. Errors name the call and the reason.
public final class JackClient: @unchecked Sendable {
    let handle: OpaquePointer
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
    }

    deinit { jack_client_close(handle) }

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
    func register(port: String, input: Bool) throws -> OpaquePointer {
        let flags = UInt(input ? JackPortIsInput.rawValue : JackPortIsOutput.rawValue)
        guard let port = jack_port_register(handle, port, timbre_jack_audio_type(), flags, 0) else {
            throw EngineError("JACK refused to register port '\(name):\(port)'")
        }
        return port
    }

    func unregister(_ port: OpaquePointer) { jack_port_unregister(handle, port) }

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
}

/// Runs an instrument on JACK: `timbre:in_1`, `in_2`, `master_out_1`, `_2`, and a
/// pair of output ports per node (`<label>_out_1`, `_2`). The process callback only
/// moves buffers and calls the kernel; xruns are counted.
public final class JackDriver: NodePortHost, @unchecked Sendable {
    public let client: JackClient
    public let instrument: Instrument
    private let inputs: (OpaquePointer, OpaquePointer)
    private let masters: (OpaquePointer, OpaquePointer)
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
        let in0 = jack_port_get_buffer(inputs.0, jack_nframes_t(frames))!.assumingMemoryBound(to: Float.self)
        let in1 = jack_port_get_buffer(inputs.1, jack_nframes_t(frames))!.assumingMemoryBound(to: Float.self)
        let out0 = jack_port_get_buffer(masters.0, jack_nframes_t(frames))!.assumingMemoryBound(to: Float.self)
        let out1 = jack_port_get_buffer(masters.1, jack_nframes_t(frames))!.assumingMemoryBound(to: Float.self)
        let kernel = instrument.kernel
        guard frames <= kernel.maxFrames else {
            buffersTooLarge.wrappingAdd(1, ordering: .relaxed)
            out0.update(repeating: 0, count: frames)
            out1.update(repeating: 0, count: frames)
            return
        }
        kernel.process(frames: frames, left: in0, right: in1, masterLeft: out0, masterRight: out1)
        kernel.forEachNode { node in
            guard let left = node.ports.left, let right = node.ports.right else { return }
            let l = jack_port_get_buffer(left, jack_nframes_t(frames))!.assumingMemoryBound(to: Float.self)
            let r = jack_port_get_buffer(right, jack_nframes_t(frames))!.assumingMemoryBound(to: Float.self)
            l.update(from: node.bus, count: frames)
            r.update(from: node.bus + kernel.maxFrames, count: frames)
        }
    }

    // MARK: NodePortHost

    func registerPorts(label: String) throws -> (left: OpaquePointer?, right: OpaquePointer?) {
        let left = try client.register(port: "\(label)_out_1", input: false)
        do {
            return (left, try client.register(port: "\(label)_out_2", input: false))
        } catch {
            client.unregister(left)
            throw error
        }
    }

    func unregisterPorts(_ ports: (left: OpaquePointer?, right: OpaquePointer?)) {
        if let left = ports.left { client.unregister(left) }
        if let right = ports.right { client.unregister(right) }
    }
}

/// A JACK client that plays a buffer into ports and records other ports, both
/// starting in the same cycle: for tests, benchmarks, and capturing a set.
public final class JackTap: @unchecked Sendable {
    public let client: JackClient
    private let outs: [OpaquePointer]
    private let ins: [OpaquePointer]
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
            let out = jack_port_get_buffer(port, jack_nframes_t(n))!.assumingMemoryBound(to: Float.self)
            for i in 0..<n {
                let index = position + i
                let source = loop && playFrames > 0 ? index % playFrames : index
                out[i] = started && source < playFrames ? play[c * playFrames + source] : 0
            }
        }
        guard started else { return }
        for (c, port) in ins.enumerated() {
            let input = jack_port_get_buffer(port, jack_nframes_t(n))!.assumingMemoryBound(to: Float.self)
            let count = max(0, min(n, recordCapacity - position))
            if count > 0 { (record + c * recordCapacity + position).update(from: input, count: count) }
        }
        frames.store(position + n, ordering: .releasing)
    }
}

/// A `jackd` this process starts (on the dummy driver by default) and stops.
public final class JackServer: @unchecked Sendable {
    public let name: String
    private let process: Process

    /// Starts `jackd -n NAME -d dummy -r RATE -p PERIOD` and waits until it accepts clients.
    public init(name: String = "timbre-\(getpid())-\(UInt32.random(in: 0...UInt32.max))", sampleRate: Int = 44100,
                period: Int = 512) throws {
        self.name = name
        if Self.registeredServers().count >= Self.registrySlots { Self.reclaimStaleRegistrations() }
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/jackd")
        process.arguments = ["-n", name, "-d", "dummy", "-r", String(sampleRate), "-p", String(period)]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        do { try process.run() } catch {
            throw EngineError("cannot start jackd (install jackd2): \(error)")
        }
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            if (try? JackClient(name: "timbre-probe", server: name)) != nil { return }
            guard process.isRunning else { break }
            usleep(50_000)
        }
        stop()
        throw EngineError("jackd -n \(name) -d dummy did not start")
    }

    // MARK: JACK's server registry

    /// JACK registers every running server in `/dev/shm/jack-shm-registry`, which has room
    /// for eight. A server that exits cleanly (SIGTERM, as `stop()` does) frees its entry; one
    /// that dies otherwise (killed, crashed, its machine's session cut) leaves it behind, and
    /// JACK reuses a dead server's entry only when a server of the same name starts. After
    /// eight such deaths under unique names no server starts at all ("Too many servers
    /// already active"), so `init` reclaims them first when the registry is full.
    static let registrySlots = 8
    static let registryPath = "/dev/shm/jack-shm-registry"

    /// The servers in JACK's registry: each entry's process id and server name.
    static func registeredServers() -> [(pid: Int32, name: String)] {
        guard let data = FileManager.default.contents(atPath: registryPath), data.count >= 24 else { return [] }
        let bytes = [UInt8](data)
        func word(_ offset: Int) -> UInt32 {
            UInt32(bytes[offset]) | UInt32(bytes[offset + 1]) << 8 | UInt32(bytes[offset + 2]) << 16 | UInt32(bytes[offset + 3]) << 24
        }
        // jack_shm_header_t: magic 'JACK', type, size, hdr_len, entry_len, then the server table.
        let headerLength = Int(word(12))
        guard word(0) == 0x4A41_434B, headerLength > 24, headerLength <= bytes.count, (headerLength - 24) % registrySlots == 0 else { return [] }
        let stride = (headerLength - 24) / registrySlots
        var servers: [(pid: Int32, name: String)] = []
        for slot in 0..<registrySlots {
            let offset = 24 + slot * stride
            let pid = Int32(bitPattern: word(offset))
            guard pid != 0 else { continue }
            let field = bytes[(offset + 4)..<(offset + stride)].prefix { $0 != 0 }
            // Recorded as "jack-UID:NAME:".
            let text = String(decoding: field, as: UTF8.self)
            guard let first = text.firstIndex(of: ":"), text.hasSuffix(":"), text.index(after: first) < text.index(before: text.endIndex) else { continue }
            servers.append((pid, String(text[text.index(after: first)..<text.index(before: text.endIndex)])))
        }
        return servers
    }

    /// Frees the registry entries of servers whose process is gone, the one way JACK allows:
    /// a server of the same name starts (taking the dead entry over) and exits cleanly.
    /// - Returns: the names reclaimed.
    @discardableResult
    public static func reclaimStaleRegistrations() -> [String] {
        var reclaimed: [String] = []
        for server in registeredServers() where kill(server.pid, 0) != 0 && errno == ESRCH {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/jackd")
            process.arguments = ["-n", server.name, "-d", "dummy"]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            process.standardInput = FileHandle.nullDevice
            guard (try? process.run()) != nil else { continue }
            let deadline = Date().addingTimeInterval(5)
            while Date() < deadline, process.isRunning, !isRunning(server.name) { usleep(50_000) }
            if process.isRunning {
                process.terminate()
                process.waitUntilExit()
            }
            if !registeredServers().contains(where: { $0.name == server.name }) { reclaimed.append(server.name) }
        }
        return reclaimed
    }

    /// Whether a server of this name accepts clients now.
    public static func isRunning(_ name: String?) -> Bool {
        (try? JackClient(name: "timbre-probe", server: name)) != nil
    }

    public func stop() {
        guard process.isRunning else { return }
        process.terminate()
        process.waitUntilExit()
    }

    deinit { stop() }
}

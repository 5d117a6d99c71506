import Engine
import Foundation

// JACK server management for tests and benchmarks: not part of the engine library (a user
// starts their own JACK server; `timbre serve` only connects to one).

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
    public static let registrySlots = 8
    public static let registryPath = "/dev/shm/jack-shm-registry"

    /// The servers in JACK's registry: each entry's process id and server name.
    public static func registeredServers() -> [(pid: Int32, name: String)] {
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

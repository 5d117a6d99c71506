// FoundationEssentials, not Foundation: the light front end then maps neither
// Foundation's NSString layer nor ICU (a few milliseconds and megabytes per call).
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif

/// The default UDP port of `timbre serve` (next to SuperCollider's 57110 and 57120).
public let defaultOSCPort = 57130

/// A UDP client for `timbre serve` on plain POSIX sockets: no event loop, no threads, so
/// `timbre send` and `timbre status` start in a few milliseconds and a few megabytes.
public enum OSCClient {
    /// The largest datagram UDP carries: a status reply of many nodes comes in one.
    public static let largestDatagram = 65_507

    /// Sends one message and waits up to `timeout` seconds for the first valid OSC message back.
    public static func request(_ message: OSCMessage, host: String = "127.0.0.1", port: Int = defaultOSCPort,
                               timeout: Double = 30) throws(ClientError) -> OSCMessage {
        let socket = try UDPSocket(host: host, port: port)
        defer { socket.close() }
        try socket.send(OSCCodec.encode(message))
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            let left = deadline.timeIntervalSinceNow
            guard left > 0, let bytes = try socket.receive(within: left) else {
                throw ClientError("no reply from", host: host, port: port,
                                  reason: "nothing within \(formatSeconds(timeout)) s (is it running? `timbre serve --port \(port)`)")
            }
            // Anything that is not one OSC message (a stray datagram) is skipped.
            if case .message(let reply)? = try? OSCCodec.decode(bytes) { return reply }
        }
    }

    /// Sends a command and waits for its reply.
    public static func request(_ command: ControlCommand, host: String = "127.0.0.1", port: Int = defaultOSCPort,
                               timeout: Double = 30) throws(ClientError) -> OSCMessage {
        try request(command.message, host: host, port: port, timeout: timeout)
    }

    /// Sends one packet's bytes and does not wait (fire-and-forget control, tests).
    public static func send(_ bytes: [UInt8], host: String = "127.0.0.1", port: Int = defaultOSCPort) throws(ClientError) {
        let socket = try UDPSocket(host: host, port: port)
        defer { socket.close() }
        try socket.send(bytes)
    }

    /// Asks for the engine's status and decodes it.
    public static func status(host: String = "127.0.0.1", port: Int = defaultOSCPort, timeout: Double = 5) throws -> (status: EngineStatus, json: String) {
        let reply = try request(.status, host: host, port: port, timeout: timeout)
        guard reply.address == "/timbre/status", case .string(let json)? = reply.arguments.first else {
            throw ClientError("unexpected status reply from", host: host, port: port,
                              reason: ([reply.address] + reply.arguments.map(\.description)).joined(separator: " "))
        }
        return (try EngineStatus.decode(json), json)
    }

    private static func formatSeconds(_ seconds: Double) -> String {
        seconds == seconds.rounded() ? String(Int(seconds)) : String(seconds)
    }
}

/// One connected IPv4 UDP socket (the client's own port chosen by the system).
private struct UDPSocket {
    let fd: Int32
    let host: String
    let port: Int

    init(host: String, port: Int) throws(ClientError) {
        self.host = host
        self.port = port
        guard (0...65535).contains(port) else { throw ClientError("connect to", host: host, port: port, reason: "port out of range 0...65535") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port)).bigEndian
        let resolved = host == "localhost" ? "127.0.0.1" : host
        guard inet_pton(AF_INET, resolved, &address.sin_addr) == 1 else {
            throw ClientError("connect to", host: host, port: port, reason: "not an IPv4 address")
        }
        fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { throw ClientError("open a UDP socket for", host: host, port: port, reason: String(cString: strerror(errno))) }
        // Connected: the kernel then delivers only the server's datagrams to this socket.
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            let reason = String(cString: strerror(errno))
            Glibc.close(fd)
            throw ClientError("connect to", host: host, port: port, reason: reason)
        }
    }

    func send(_ bytes: [UInt8]) throws(ClientError) {
        let sent = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, 0) }
        guard sent == bytes.count else { throw ClientError("send to", host: host, port: port, reason: String(cString: strerror(errno))) }
    }

    /// One datagram, or nil when none came within `seconds`.
    func receive(within seconds: Double) throws(ClientError) -> [UInt8]? {
        var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let ready = poll(&poller, 1, Int32(min(seconds * 1000, Double(Int32.max)).rounded(.up)))
        if ready < 0, errno == EINTR { return [] }
        guard ready > 0 else { return nil }
        var buffer = [UInt8](repeating: 0, count: OSCClient.largestDatagram)
        let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if count < 0 {
            // ECONNREFUSED: nothing listens on the port (ICMP unreachable); keep waiting until the
            // deadline, as a server may be starting, but say so when time runs out.
            if errno == ECONNREFUSED || errno == EINTR { usleep(20_000); return [] }
            throw ClientError("receive from", host: host, port: port, reason: String(cString: strerror(errno)))
        }
        return Array(buffer.prefix(count))
    }

    func close() { Glibc.close(fd) }
}

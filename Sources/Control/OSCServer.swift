import Engine
import Foundation
import NIOCore
import NIOPosix
import Synchronization

/// OSC over UDP (swift-nio): decodes packets, runs commands, answers the sender.
/// Malformed packets are counted by kind, logged (the first few of each kind, then
/// every thousandth) and answered with `/timbre/fail`; they never reach the engine.
/// Bundles are applied at their time tags (nested ones at their own).
public final class OSCServer: @unchecked Sendable {
    private let group: MultiThreadedEventLoopGroup
    private let channel: Channel
    private let state: ServerState
    /// The port bound (useful when asked for port 0).
    public let port: Int

    public init(host: String = "127.0.0.1", port: Int = defaultOSCPort, executor: CommandExecutor,
                log: @escaping @Sendable (String) -> Void) throws {
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let state = ServerState(executor: executor, log: log)
        self.state = state
        do {
            channel = try DatagramBootstrap(group: group)
                .channelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
                .channelOption(ChannelOptions.recvAllocator, value: largestDatagram)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(OSCHandler(state: state)) }
                }
                .bind(host: host, port: port).wait()
        } catch {
            try? group.syncShutdownGracefully()
            throw CommandError("cannot listen for OSC on \(host):\(port): \(error)")
        }
        self.port = channel.localAddress?.port ?? port
    }

    /// Malformed packets seen, by kind.
    public var errorCounts: [String: Int] { state.errors.withLock { $0 } }

    private let closed = Atomic<Bool>(false)

    /// Stops listening (also done when the server is released).
    public func close() {
        guard !closed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        try? channel.close().wait()
        try? group.syncShutdownGracefully()
    }

    deinit { close() }
}

final class ServerState: Sendable {
    let executor: CommandExecutor
    let log: @Sendable (String) -> Void
    let errors = Mutex<[String: Int]>([:])

    init(executor: CommandExecutor, log: @escaping @Sendable (String) -> Void) {
        self.executor = executor
        self.log = log
    }

    func malformed(_ error: OSCError, from sender: String) {
        let count = errors.withLock { counts -> Int in
            counts[error.kind.rawValue, default: 0] += 1
            return counts[error.kind.rawValue]!
        }
        if count <= 3 || count % 1000 == 0 {
            log("osc: malformed packet from \(sender) (\(error)); \(count) of this kind so far")
        }
    }
}

private final class OSCHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>
    let state: ServerState

    init(state: ServerState) { self.state = state }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        let bytes = Array(envelope.data.readableBytesView)
        let channel = context.channel
        let remote = envelope.remoteAddress
        let reply: @Sendable (OSCMessage) -> Void = { message in
            var buffer = channel.allocator.buffer(capacity: 256)
            buffer.writeBytes(OSCCodec.encode(message))
            channel.writeAndFlush(AddressedEnvelope(remoteAddress: remote, data: buffer), promise: nil)
        }
        do {
            let packet = try OSCCodec.decode(bytes)
            dispatch(packet, at: nil, loop: context.eventLoop, reply: reply)
        } catch {
            state.malformed(error, from: "\(remote)")
            reply(OSCMessage("/timbre/fail", [.string("malformed"), .string(error.description)]))
        }
    }

    private func dispatch(_ packet: OSCPacket, at parent: Date?, loop: EventLoop, reply: @escaping @Sendable (OSCMessage) -> Void) {
        switch packet {
        case .message(let message):
            let run: @Sendable () -> Void = { [state] in state.executor.handle(message, reply: reply) }
            if let parent, parent.timeIntervalSinceNow > 0 {
                loop.scheduleTask(in: .nanoseconds(Int64(parent.timeIntervalSinceNow * 1e9))) { run() }
            } else {
                run()
            }
        case .bundle(let bundle):
            // A nested bundle's time cannot come before its parent's (OSC 1.0).
            var time = OSCCodec.date(of: bundle.timeTag)
            if let parent, time.map({ $0 < parent }) ?? true { time = parent }
            for element in bundle.elements { dispatch(element, at: time, loop: loop, reply: reply) }
        }
    }
}

/// Receive whole datagrams, up to UDP's limit: NIO's default for datagram channels (2048
/// bytes) cut a status reply of more than about four nodes, and large bundles, short.
let largestDatagram = FixedSizeRecvByteBufferAllocator(capacity: 65_507)

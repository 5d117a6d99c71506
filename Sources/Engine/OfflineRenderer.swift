import AudioIO
import Foundation

/// A change to the graph at a given sample of an offline render.
public struct RenderEvent {
    /// The sample (at the server's rate) the change applies at.
    public var frame: Int
    /// What to do: call the instrument (toggle, set, free...). Loads happen synchronously.
    public var apply: (Instrument) throws -> Void

    public init(frame: Int, apply: @escaping (Instrument) throws -> Void) {
        self.frame = frame
        self.apply = apply
    }
}

/// What an offline render produced.
public struct RenderResult {
    /// The sum of every node, stereo.
    public var master: AudioBuffer
    /// Each label's own bus, stereo, over the whole render (silent where the node was absent).
    public var buses: [(label: String, buffer: AudioBuffer)]
    /// Each label's latency in samples, as the node reported it.
    public var latencies: [String: Int]
}

/// Drives the live graph from a buffer with no clock: the same kernel, nodes,
/// conditioning, fades and latency as `timbre serve`, but each node's model runs
/// as soon as its block is complete, on this thread, so a render is exact and
/// repeatable (it is how the tests check the engine).
public enum OfflineRenderer {
    /// Renders `frames` samples of `input` (its first two channels are the engine's
    /// inputs; a mono file feeds both), applying each event at its sample.
    public static func render(input: AudioBuffer, frames total: Int, configuration: Instrument.Configuration,
                              events: [RenderEvent], progress: ((Double) -> Void)? = nil) throws -> RenderResult {
        var configuration = configuration
        configuration.offline = true
        configuration.sampleRate = Int(input.sampleRate)
        let instrument = Instrument(configuration: configuration)
        let period = min(configuration.period, configuration.maxFrames)
        let in0 = padded(input.channels.first ?? [], total)
        let in1 = input.channelCount > 1 ? padded(input.channels[1], total) : in0
        var masterLeft = [Float](repeating: 0, count: total), masterRight = masterLeft
        var buses: [String: ([Float], [Float])] = [:]
        var order: [String] = []
        var latencies: [String: Int] = [:]
        let sorted = events.enumerated().sorted { ($0.element.frame, $0.offset) < ($1.element.frame, $1.offset) }.map(\.element)
        var next = 0
        var position = 0
        while position < total {
            while next < sorted.count, sorted[next].frame <= position {
                try sorted[next].apply(instrument)
                next += 1
            }
            var n = min(period, total - position)
            if next < sorted.count { n = min(n, sorted[next].frame - position) }
            in0.withUnsafeBufferPointer { a in
                in1.withUnsafeBufferPointer { b in
                    masterLeft.withUnsafeMutableBufferPointer { l in
                        masterRight.withUnsafeMutableBufferPointer { r in
                            instrument.kernel.process(frames: n, left: a.baseAddress! + position, right: b.baseAddress! + position,
                                                      masterLeft: l.baseAddress! + position, masterRight: r.baseAddress! + position)
                        }
                    }
                }
            }
            instrument.kernel.forEachNode { node in
                if buses[node.label] == nil {
                    buses[node.label] = ([Float](repeating: 0, count: total), [Float](repeating: 0, count: total))
                    order.append(node.label)
                }
                latencies[node.label] = node.latency
                for i in 0..<n {
                    buses[node.label]!.0[position + i] += node.bus[i]
                    buses[node.label]!.1[position + i] += node.bus[configuration.maxFrames + i]
                }
            }
            instrument.collectRetired()
            position += n
            progress?(Double(position) / Double(max(total, 1)))
        }
        instrument.stop()
        let rate = input.sampleRate
        return RenderResult(
            master: AudioBuffer(sampleRate: rate, channels: [masterLeft, masterRight]),
            buses: order.map { ($0, AudioBuffer(sampleRate: rate, channels: [buses[$0]!.0, buses[$0]!.1])) },
            latencies: latencies)
    }

    private static func padded(_ samples: [Float], _ count: Int) -> [Float] {
        samples.count >= count ? Array(samples.prefix(count)) : samples + [Float](repeating: 0, count: count - samples.count)
    }
}

// FoundationEssentials, not Foundation: the light front end then maps neither
// Foundation's NSString layer nor ICU (a few milliseconds and megabytes per call).
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// One node in `timbre status`. Every key is documented in docs/OSC.md; new fields are
/// additions (optional, so older replies still decode).
/// How a node without input plays, in `timbre status` (`NodeStatus.playing`, issue 18).
public struct PlayingStatus: Codable, Sendable, Equatable {
    /// A msprior node's prior: `listen` (it follows its input's latents) or `free`.
    public var prior: String?
    /// A msprior node's mean perplexity over its last block (nil before the first).
    public var perplexity: Double?
    /// A walking decode node's walk: rate (Hz) and depth.
    public var walk: [Double]?
    public init(prior: String? = nil, perplexity: Double? = nil, walk: [Double]? = nil) {
        self.prior = prior
        self.perplexity = perplexity
        self.walk = walk
    }
}

public struct NodeStatus: Codable, Sendable, Equatable {
    public var label: String
    public var model: String
    public var method: String
    /// Samples per block at the model's rate.
    public var block: Int
    public var modelSampleRate: Int
    /// Input to output, in samples at the server's rate (fixed while the node runs).
    public var latencySamples: Int
    /// Where the node's blocks begin on the engine's clock, in samples modulo its block:
    /// nodes with different values complete their blocks in different JACK cycles (the
    /// engine picks it when the node joins, see docs/ENGINE.md). It never changes the latency.
    public var phaseSamples: Int
    public var latencyMilliseconds: Double
    /// Average inference time as a share of the block's duration.
    public var load: Double
    /// Blocks that were not ready in time.
    public var dropouts: Int
    /// Late input blocks the worker skipped to catch up.
    public var skippedBlocks: Int
    public var blocks: Int
    public var errors: Int
    public var lastError: String?
    /// Peak level of each output channel since the last status, in dBFS.
    public var peakDBFS: [Double]
    public var input: String
    public var seed: UInt64?
    /// Nodes sharing this node's batched calls (itself included), and the average number of
    /// nodes per call; nil when the node runs alone on its own instance.
    public var lane: LaneStatus?
    /// The node's step sequencer, when it has one (set after `init`, so the initialiser stays as it was).
    public var sequence: SequenceStatus?
    /// The model a `/timbre/swap` is loading (or holding until the swap before it has
    /// finished its crossfade), as the command named it; nil when no swap is pending.
    public var pendingSwap: String?
    /// Issue 18 (set after `init`): a msprior node's prior or a walking decode node's walk; nil otherwise.
    public var playing: PlayingStatus?

    public init(label: String, model: String, method: String, block: Int, modelSampleRate: Int, latencySamples: Int,
                phaseSamples: Int, latencyMilliseconds: Double, load: Double, dropouts: Int, skippedBlocks: Int,
                blocks: Int, errors: Int, lastError: String?, peakDBFS: [Double], input: String, seed: UInt64?,
                lane: LaneStatus?, pendingSwap: String? = nil) {
        self.label = label
        self.model = model
        self.method = method
        self.block = block
        self.modelSampleRate = modelSampleRate
        self.latencySamples = latencySamples
        self.phaseSamples = phaseSamples
        self.latencyMilliseconds = latencyMilliseconds
        self.load = load
        self.dropouts = dropouts
        self.skippedBlocks = skippedBlocks
        self.blocks = blocks
        self.errors = errors
        self.lastError = lastError
        self.peakDBFS = peakDBFS
        self.input = input
        self.seed = seed
        self.lane = lane
        self.pendingSwap = pendingSwap
    }
}

/// A node's share of batched calls (see Engine's `BatchLane`).
public struct LaneStatus: Codable, Sendable, Equatable {
    public var members: Int
    public var averageBatch: Double

    public init(members: Int, averageBatch: Double) {
        self.members = members
        self.averageBatch = averageBatch
    }
}

/// The engine in `timbre status`: the reply to `/timbre/status`, as one JSON string.
public struct EngineStatus: Codable, Sendable, Equatable {
    public var sampleRate: Int
    public var period: Int
    public var workers: Int
    /// Workers running at a real-time priority (below JACK's); 0 means normal scheduling.
    public var realtimeWorkers: Int
    public var xruns: Int
    public var cycles: Int
    public var nodes: [NodeStatus]
    /// Labels whose models are still loading.
    public var loading: [String]
    /// The MIDI input and its mappings (nil from servers before MIDI; see `MIDIStatus`).
    public var midi: MIDIStatus? = nil

    public init(sampleRate: Int, period: Int, workers: Int, realtimeWorkers: Int, xruns: Int, cycles: Int,
                nodes: [NodeStatus], loading: [String]) {
        self.sampleRate = sampleRate
        self.period = period
        self.workers = workers
        self.realtimeWorkers = realtimeWorkers
        self.xruns = xruns
        self.cycles = cycles
        self.nodes = nodes
        self.loading = loading
    }

    /// The JSON the server sends (sorted keys, so replies compare as text).
    public func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }

    /// Reads a status reply's JSON.
    public static func decode(_ json: String) throws(CommandError) -> EngineStatus {
        do {
            return try JSONDecoder().decode(EngineStatus.self, from: Data(json.utf8))
        } catch {
            throw CommandError("status reply is not the engine's status JSON: \(error)")
        }
    }
}

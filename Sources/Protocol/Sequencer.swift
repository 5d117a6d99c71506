// FoundationEssentials, not Foundation: the light front end then maps neither
// Foundation's NSString layer nor ICU (a few milliseconds and megabytes per call).
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// How a node's latent step sequencer keeps time: what `/timbre/seq LABEL steps N bpm B
/// [div D] [swing S] [transport jack]` carries.
public struct SequenceSettings: Sendable, Equatable {
    /// Steps in the pattern (played 0, 1, ..., N − 1, then again from 0).
    public var steps: Int
    /// Beats per minute (the sequence's own tempo; with `transport jack` the transport's
    /// tempo wins when a timebase master gives one).
    public var bpm: Float
    /// Steps per beat (4: sixteenth notes in 4/4).
    public var division: Int
    /// Odd steps (1, 3, ...) start this share of a step late (0 straight, 1/3 a triplet feel).
    public var swing: Float
    /// Follow JACK transport's position (and tempo, when it has one) instead of counting from `play`.
    public var followsTransport: Bool

    /// The most steps a pattern holds.
    public static let maximumSteps = 256
    /// Tempo bounds, beats per minute.
    public static let bpmRange: ClosedRange<Float> = 1...999
    /// The most steps per beat.
    public static let maximumDivision = 64
    /// The largest swing (a step must keep some length).
    public static let maximumSwing: Float = 0.9

    public init(steps: Int, bpm: Float, division: Int = 4, swing: Float = 0, followsTransport: Bool = false) {
        self.steps = steps
        self.bpm = bpm
        self.division = division
        self.swing = swing
        self.followsTransport = followsTransport
    }
}

/// One step of a pattern: what `/timbre/seq/step LABEL I latents V... [trigger [VELOCITY]] [class NAME] [glide G]` sets.
public struct SequenceStep: Sendable, Equatable {
    /// Every latent channel's value (the node's latent size; channel 0 is the trigger channel
    /// of trigger-driven drum exports, as with `set latents`).
    public var latents: [Float]
    /// The trigger channel's value at the step's first latent frame (the velocity); nil: no trigger.
    public var velocity: Float?
    /// Share of the step (0...1) over which the latents move from the previous values to these;
    /// 0 jumps at the step's first frame.
    public var glide: Float
    /// The class the trigger plays on a drum export of trigger contract 2 (its velocity
    /// channel); nil: the first class (and the only trigger channel of contract 1).
    public var className: String?

    public init(latents: [Float], velocity: Float? = nil, glide: Float = 0, className: String? = nil) {
        self.latents = latents
        self.velocity = velocity
        self.glide = glide
        self.className = className
    }
}

/// The sequencer commands of one node (`/timbre/seq...`).
public enum SequencerCommand: Sendable, Equatable {
    /// Creates or changes the node's sequence (steps already set are kept).
    case configure(SequenceSettings)
    /// Sets step `index` (counted from 0).
    case step(index: Int, SequenceStep)
    /// Starts the pattern at step 0 (from now, or at the transport's position).
    case play
    /// Stops it; the node's latents return to the values set with `set`.
    case stop
    /// Fills the steps from a sound file's encoding through the node's model.
    case encode(file: String)

    /// The address's last part (`seq`, `seq/step`, ...).
    public var name: String {
        switch self {
        case .configure: "seq"
        case .step: "seq/step"
        case .play: "seq/play"
        case .stop: "seq/stop"
        case .encode: "seq/encode"
        }
    }

    /// The arguments after the label.
    public var values: [OSCValue] {
        switch self {
        case .configure(let s):
            var out: [OSCValue] = [.string("steps"), .int(Int32(s.steps)), .string("bpm"), .float(s.bpm)]
            if s.division != 4 { out += [.string("div"), .int(Int32(s.division))] }
            if s.swing != 0 { out += [.string("swing"), .float(s.swing)] }
            if s.followsTransport { out += [.string("transport"), .string("jack")] }
            return out
        case .step(let index, let step):
            var out: [OSCValue] = [.int(Int32(index)), .string("latents")] + step.latents.map { .float($0) }
            if let velocity = step.velocity { out += [.string("trigger"), .float(velocity)] }
            if let className = step.className { out += [.string("class"), .string(className)] }
            if step.glide != 0 { out += [.string("glide"), .float(step.glide)] }
            return out
        case .play, .stop: return []
        case .encode(let file): return [.string(file)]
        }
    }

    /// The syntax rows of the sequencer commands (appended to `ControlCommand.syntax`).
    static let syntax: [ControlCommand.Syntax] = [
        ControlCommand.Syntax(name: "seq", usage: "LABEL steps N bpm B [div D] [swing S] [transport jack]") { r throws(CommandError) in
            let label = try r.label()
            return .sequencer(label: label, .configure(try SequenceSettings.read(&r)))
        },
        ControlCommand.Syntax(name: "seq/step", usage: "LABEL I latents V... [trigger [VELOCITY]] [class NAME] [glide G]") { r throws(CommandError) in
            let label = try r.label()
            let index = try r.integer("step", in: 0...(SequenceSettings.maximumSteps - 1))
            return .sequencer(label: label, .step(index: index, try SequenceStep.read(&r)))
        },
        ControlCommand.Syntax(name: "seq/play", usage: "LABEL") { r throws(CommandError) in
            let label = try r.label()
            try r.finish()
            return .sequencer(label: label, .play)
        },
        ControlCommand.Syntax(name: "seq/stop", usage: "LABEL") { r throws(CommandError) in
            let label = try r.label()
            try r.finish()
            return .sequencer(label: label, .stop)
        },
        ControlCommand.Syntax(name: "seq/encode", usage: "LABEL FILE") { r throws(CommandError) in
            let label = try r.label()
            let file = try r.text("FILE")
            guard !file.isEmpty else { throw r.error("empty file name") }
            try r.finish()
            return .sequencer(label: label, .encode(file: file))
        },
        ControlCommand.Syntax(name: "session/save", usage: "FILE") { r throws(CommandError) in
            let file = try r.text("FILE")
            guard !file.isEmpty else { throw r.error("empty file name") }
            try r.finish()
            return .saveSession(file: file)
        },
    ]
}

extension SequenceSettings {
    /// Reads `steps N bpm B [div D] [swing S] [transport jack]` (keywords in any order; steps and bpm required).
    static func read(_ r: inout ArgumentReader) throws(CommandError) -> SequenceSettings {
        var steps: Int?, bpm: Float?
        var settings = SequenceSettings(steps: 1, bpm: 120)
        var seen: Set<String> = []
        while !r.isAtEnd {
            let key = try r.text("option")
            guard seen.insert(key).inserted else { throw r.error("'\(key)' given twice") }
            switch key {
            case "steps": steps = try r.integer("steps", in: 1...maximumSteps)
            case "bpm": bpm = try r.float("bpm", in: bpmRange)
            case "div": settings.division = try r.integer("div", in: 1...maximumDivision)
            case "swing": settings.swing = try r.float("swing", in: 0...maximumSwing)
            case "transport":
                let source = try r.text("transport")
                guard source == "jack" else { throw r.error("transport '\(source)' is not 'jack'") }
                settings.followsTransport = true
            default: throw r.error("unknown option '\(key)' (steps, bpm, div, swing, transport)")
            }
        }
        guard let steps else { throw r.error("missing 'steps N'") }
        guard let bpm else { throw r.error("missing 'bpm B'") }
        settings.steps = steps
        settings.bpm = bpm
        return settings
    }
}

extension SequenceStep {
    /// Reads `latents V... [trigger [VELOCITY]] [class NAME] [glide G]`.
    static func read(_ r: inout ArgumentReader) throws(CommandError) -> SequenceStep {
        let keyword = try r.text("'latents'")
        guard keyword == "latents" else { throw r.error("expected 'latents', got '\(keyword)'") }
        var latents: [Float] = []
        while let next = r.peek(), next.text != "trigger", next.text != "glide", next.text != "class" {
            guard latents.count < NodeParameter.maximumLatents else {
                throw r.error("'latents' takes at most \(NodeParameter.maximumLatents) values")
            }
            latents.append(try r.float("latent value \(latents.count)"))
        }
        guard !latents.isEmpty else { throw r.error("'latents' needs one value per latent dimension") }
        var step = SequenceStep(latents: latents)
        var seen: Set<String> = []
        while !r.isAtEnd {
            let key = try r.text("option")
            guard seen.insert(key).inserted else { throw r.error("'\(key)' given twice") }
            switch key {
            case "trigger":
                // A velocity follows when the next argument is not the other keyword.
                if let next = r.peek(), next.text != "glide", next.text != "class" {
                    step.velocity = try r.float("velocity", in: 0...1)
                } else {
                    step.velocity = 1
                }
            case "glide": step.glide = try r.float("glide", in: 0...1)
            case "class":
                let name = try r.text("class")
                guard !name.isEmpty else { throw r.error("empty class name") }
                step.className = name
            default: throw r.error("unknown option '\(key)' (trigger, class, glide)")
            }
        }
        if step.className != nil, step.velocity == nil { throw r.error("'class' names the class a trigger plays: give 'trigger' too") }
        return step
    }
}

/// A node's sequencer in `timbre status` (`NodeStatus.sequence`).
public struct SequenceStatus: Codable, Sendable, Equatable {
    public var steps: Int
    public var bpm: Double
    public var division: Int
    public var swing: Double
    /// `internal` (counted from `play`) or `jack` (JACK transport's position).
    public var transport: String
    public var playing: Bool
    /// The pattern step the node computed last (heard `latencySamples` later); nil before the first.
    public var step: Int?
    /// Steps started since the last `play`.
    public var stepsStarted: Int

    public init(steps: Int, bpm: Double, division: Int, swing: Double, transport: String, playing: Bool,
                step: Int?, stepsStarted: Int) {
        self.steps = steps
        self.bpm = bpm
        self.division = division
        self.swing = swing
        self.transport = transport
        self.playing = playing
        self.step = step
        self.stepsStarted = stepsStarted
    }
}

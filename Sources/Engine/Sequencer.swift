import Foundation
import ModelHost
import Synchronization

/// Where JACK transport stands for one block of a `transport jack` sequence (filled by the node
/// from the kernel's `TransportClock`).
struct SequencerTransport {
    /// Whether the transport rolls (a stopped transport holds the sequence where it is).
    var rolling: Bool
    /// The transport frame (at the model's rate) at which the block's first sample is heard.
    var frame: Double
    /// The beat (counted from 0) at that frame and the tempo, when a timebase master gives them.
    var beat: Double?
    var bpm: Double?
}

/// A node's latent step sequencer: a pattern of latent points (and triggers) played per latent
/// frame by the node's plan (the decode feed asks its stream, `PlanStream.feedSequence`).
///
/// Time is counted in the node's samples, never on a wall clock: with the internal clock a step's
/// frame is a function of the block's first sample and the sample `play` arrived at, so an
/// offline render repeats bit for bit. Each latent frame takes the step its centre falls in: a
/// step that starts inside a block takes effect at its own frame (within half a frame).
///
/// The control side writes the pattern into atomics under a sequence lock (its writers take
/// `mirror`'s lock among themselves); the worker copies it into its own arrays when the version
/// changed, with no lock and no allocation, and keeps where it stands (the step playing, the glide).
final class LatentSequencer: @unchecked Sendable {
    let latentSize: Int
    /// The velocity channels' classes of a drum export of trigger contract 2 (the plan's
    /// `hitClasses`): a step's trigger plays on its class's channel, and these channels hold 0
    /// between hits. Empty: one trigger channel (contract 1).
    let hitClasses: [String]
    /// Steps the pattern can hold.
    let capacity: Int

    // MARK: Control side

    /// The pattern as commands set it (for `session/save` and `status`), and the writers' lock.
    private struct Mirror {
        var settings: SequenceSettings?
        var steps: [SequenceStep?]
        var playing = false
        var start = 0
        var plays = 0
    }
    private let mirror: Mutex<Mirror>

    // MARK: Shared (written under the sequence lock, read by the worker)

    private let version = Atomic<Int>(0)
    private enum Field: Int, CaseIterable { case steps, bpm, division, swing, transport, playing, start, plays }
    private let header: UnsafeMutablePointer<Atomic<UInt64>>
    /// Per step: flags (1 set, 2 trigger, the trigger's class channel from bit 8), velocity,
    /// glide, then the latents (as float bits).
    private let words: UnsafeMutablePointer<Atomic<UInt32>>
    private var stride: Int { 3 + latentSize }
    /// The pattern step the worker started last (-1 none) and steps started since `play`.
    let lastStep = Atomic<Int>(-1)
    let stepsStarted = Atomic<Int>(0)

    // MARK: Worker side (one worker at a time)

    private var seenVersion = -1
    private var local = (steps: 1, bpm: 120.0, division: 4, swing: 0.0, transport: false, playing: false, start: 0, plays: 0)
    private let localSteps: UnsafeMutablePointer<UInt32>
    private var seenPlays = 0
    /// The absolute step playing (Int.min: none since `play`), where it started and how long it is (in steps).
    private var currentStep = Int.min
    private var stepStart = 0.0, stepLength = 1.0
    private var active = false
    private var glide: Float = 0
    private let from: UnsafeMutablePointer<Float>
    private let target: UnsafeMutablePointer<Float>

    init(latentSize: Int, hitClasses: [String] = [], capacity: Int = SequenceSettings.maximumSteps) {
        self.latentSize = latentSize
        self.hitClasses = hitClasses
        self.capacity = capacity
        mirror = Mutex(Mirror(steps: [SequenceStep?](repeating: nil, count: capacity)))
        header = .allocate(capacity: Field.allCases.count)
        for i in 0..<Field.allCases.count { (header + i).initialize(to: Atomic(0)) }
        let count = capacity * (3 + latentSize)
        words = .allocate(capacity: count)
        for i in 0..<count { (words + i).initialize(to: Atomic(0)) }
        localSteps = .allocate(capacity: count)
        localSteps.initialize(repeating: 0, count: count)
        from = .allocate(capacity: max(1, latentSize))
        from.initialize(repeating: 0, count: max(1, latentSize))
        target = .allocate(capacity: max(1, latentSize))
        target.initialize(repeating: 0, count: max(1, latentSize))
    }

    deinit {
        header.deinitialize(count: Field.allCases.count)
        header.deallocate()
        words.deinitialize(count: capacity * stride)
        words.deallocate()
        localSteps.deallocate()
        from.deallocate()
        target.deallocate()
    }

    // MARK: - Control side

    /// Creates or changes the sequence. A playing internal clock keeps its place: the start moves
    /// so that the step position at `now` (the node's input position) stays where it was.
    func configure(_ settings: SequenceSettings, now: Int, sampleRate: Int) {
        write { m in
            if m.playing, let old = m.settings, !old.followsTransport, !settings.followsTransport {
                let oldRate = Double(old.bpm) * Double(old.division) / 60 / Double(sampleRate)
                let newRate = Double(settings.bpm) * Double(settings.division) / 60 / Double(sampleRate)
                let position = Double(now - m.start) * oldRate
                m.start = now - Int((position / newRate).rounded())
            }
            m.settings = settings
        }
    }

    /// Sets one step (its latents already checked against the node's latent size).
    func setStep(_ index: Int, _ step: SequenceStep) {
        write { $0.steps[index] = step }
    }

    /// Starts the pattern at step 0, `now` being the node's input position.
    func play(now: Int) {
        write { m in
            m.playing = true
            m.start = now
            m.plays += 1
        }
    }

    func stop() { write { $0.playing = false } }

    /// Takes over `other`'s pattern when a swap replaces its node: settings, the steps (latents cut
    /// or padded with zeros to this node's size) and, when it plays, its place in time: the start
    /// moves by the difference of the two nodes' input positions, so the pattern goes on in step.
    /// Returns the steps whose latents did not fit.
    @discardableResult
    func adopt(_ other: LatentSequencer, otherNow: Int, now: Int) -> Int {
        let (settings, steps, playing, start) = other.mirror.withLock { ($0.settings, $0.steps, $0.playing, $0.start) }
        guard let settings else { return 0 }
        var cut = 0
        write { m in
            m.settings = settings
            for (i, step) in steps.prefix(capacity).enumerated() {
                guard var step else { m.steps[i] = nil; continue }
                if step.latents.count > latentSize { cut += step.latents.contains { $0 != 0 } ? 1 : 0 }
                step.latents = Array((step.latents + [Float](repeating: 0, count: max(0, latentSize - step.latents.count))).prefix(latentSize))
                m.steps[i] = step
            }
            if playing {
                m.playing = true
                m.start = start - otherNow + now
                m.plays += 1
            }
        }
        return cut
    }

    /// The settings, the steps set and whether it plays (nil: no sequence yet).
    var pattern: (settings: SequenceSettings, steps: [(Int, SequenceStep)], playing: Bool)? {
        mirror.withLock { m in
            guard let settings = m.settings else { return nil }
            let steps = m.steps.enumerated().compactMap { i, s in s.map { (i, $0) } }
            return (settings, steps, m.playing)
        }
    }

    /// What `timbre status` shows (nil: no sequence yet).
    func status() -> SequenceStatus? {
        let (settings, playing) = mirror.withLock { ($0.settings, $0.playing) }
        guard let settings else { return nil }
        let step = lastStep.load(ordering: .relaxed)
        return SequenceStatus(steps: settings.steps, bpm: Double(settings.bpm), division: settings.division,
                              swing: Double(settings.swing), transport: settings.followsTransport ? "jack" : "internal",
                              playing: playing, step: playing && step >= 0 ? step : nil,
                              stepsStarted: stepsStarted.load(ordering: .relaxed))
    }

    /// Changes the mirror and publishes all of it under the sequence lock (odd version while writing).
    private func write(_ change: (inout Mirror) -> Void) {
        mirror.withLock { m in
            change(&m)
            let v = version.load(ordering: .relaxed)
            version.store(v + 1, ordering: .relaxed)
            atomicMemoryFence(ordering: .releasing)
            let s = m.settings ?? SequenceSettings(steps: 1, bpm: 120)
            store(.steps, UInt64(s.steps))
            store(.bpm, Double(s.bpm).bitPattern)
            store(.division, UInt64(s.division))
            store(.swing, Double(s.swing).bitPattern)
            store(.transport, s.followsTransport ? 1 : 0)
            store(.playing, m.playing && m.settings != nil ? 1 : 0)
            store(.start, UInt64(bitPattern: Int64(m.start)))
            store(.plays, UInt64(m.plays))
            for (index, step) in m.steps.enumerated() {
                let base = words + index * stride
                guard let step else {
                    base[0].store(0, ordering: .relaxed)
                    continue
                }
                // A class this model lacks (kept across a swap) plays as the first.
                let channel = step.className.flatMap { hitClasses.firstIndex(of: $0) } ?? 0
                base[0].store(1 | (step.velocity != nil ? 2 : 0) | UInt32(channel) << 8, ordering: .relaxed)
                base[1].store((step.velocity ?? 0).bitPattern, ordering: .relaxed)
                base[2].store(step.glide.bitPattern, ordering: .relaxed)
                for d in 0..<min(latentSize, step.latents.count) { base[3 + d].store(step.latents[d].bitPattern, ordering: .relaxed) }
            }
            version.store(v + 2, ordering: .releasing)
        }
    }

    private func store(_ field: Field, _ value: UInt64) { header[field.rawValue].store(value, ordering: .relaxed) }

    // MARK: - Worker side (no allocation, no lock)

    /// Copies the pattern when it changed; a copy torn by a writer is retried (a few times; then
    /// the copy is taken as it is for this block and checked again at the next).
    private func refresh() {
        for _ in 0..<4 {
            let v1 = version.load(ordering: .acquiring)
            if v1 == seenVersion { return }
            if v1 & 1 == 1 { continue }
            func load(_ field: Field) -> UInt64 { header[field.rawValue].load(ordering: .relaxed) }
            local.steps = min(max(1, Int(load(.steps))), capacity)
            local.bpm = max(1e-3, Double(bitPattern: load(.bpm)))
            local.division = max(1, Int(load(.division)))
            local.swing = min(max(0, Double(bitPattern: load(.swing))), Double(SequenceSettings.maximumSwing))
            local.transport = load(.transport) != 0
            local.playing = load(.playing) != 0
            local.start = Int(Int64(bitPattern: load(.start)))
            local.plays = Int(load(.plays))
            for i in 0..<(local.steps * stride) { localSteps[i] = words[i].load(ordering: .relaxed) }
            atomicMemoryFence(ordering: .acquiring)
            if version.load(ordering: .relaxed) == v1 {
                seenVersion = v1
                return
            }
        }
    }

    /// The absolute step a position (in steps from step 0's start) falls in: odd steps start `swing` late.
    @inline(__always)
    private func step(at position: Double) -> Int {
        let whole = position.rounded(.down)
        let k = Int(whole)
        return k & 1 == 1 && position - whole < local.swing ? k - 1 : k
    }

    @inline(__always)
    private func start(of step: Int) -> Double { Double(step) + (step & 1 == 1 ? local.swing : 0) }

    /// Fills the block's latent frames (`channels` × `frames`, planar) when the sequence plays, and
    /// leaves `values` at the latents of the last frame (without a trigger's raise), from where the
    /// plain feed glides on once it stops. False when it does not play.
    /// - Parameters:
    ///   - blockStart: the block's first sample, in the node's samples at the model's rate.
    ///   - samplesPerFrame: the latent frame's length in samples.
    ///   - transport: where JACK transport stands for this block (asked only by `transport jack`).
    func fill(_ z: UnsafeMutableBufferPointer<Float>, channels: Int, frames: Int, triggerChannel: Int,
              values: UnsafeMutableBufferPointer<Float>, blockStart: Int, samplesPerFrame: Int, sampleRate: Int,
              transport: () -> SequencerTransport) -> Bool {
        refresh()
        guard local.playing else {
            currentStep = Int.min
            return false
        }
        if local.plays != seenPlays {
            seenPlays = local.plays
            currentStep = Int.min
            active = false
            stepsStarted.store(0, ordering: .relaxed)
        }
        let rate = Double(sampleRate)
        let base: Double, beatsPerSample: Double, rolling: Bool
        if local.transport {
            let t = transport()
            rolling = t.rolling
            beatsPerSample = (t.bpm ?? local.bpm) / 60 / rate
            base = t.beat ?? t.frame * local.bpm / 60 / rate
        } else {
            rolling = true
            beatsPerSample = local.bpm / 60 / rate
            base = Double(blockStart - local.start) * beatsPerSample
        }
        let division = Double(local.division)
        let dimensions = min(channels, latentSize)
        for f in 0..<frames {
            var raise: Float?
            var raiseChannel = 0
            let centre = Double(f * samplesPerFrame) + Double(samplesPerFrame) / 2
            let position = (base + centre * beatsPerSample) * division
            if rolling, position >= 0 {
                let k = step(at: position)
                if k != currentStep {
                    currentStep = k
                    stepStart = start(of: k)
                    stepLength = start(of: k + 1) - stepStart
                    let index = ((k % local.steps) + local.steps) % local.steps
                    let record = localSteps + index * stride
                    active = record[0] & 1 != 0
                    if active {
                        glide = Float(bitPattern: record[2])
                        for d in 0..<dimensions {
                            from[d] = values[d]
                            target[d] = Float(bitPattern: record[3 + d])
                        }
                        if record[0] & 2 != 0 {
                            raise = Float(bitPattern: record[1])
                            raiseChannel = Int(record[0] >> 8)
                        }
                    }
                    lastStep.store(index, ordering: .relaxed)
                    stepsStarted.wrappingAdd(1, ordering: .relaxed)
                }
                if active {
                    let t = glide > 0 ? Float((position - stepStart) / (Double(glide) * stepLength)) : 1
                    if t >= 1 {
                        for d in 0..<dimensions { values[d] = target[d] }
                    } else {
                        let u = max(0, t)
                        for d in 0..<dimensions { values[d] = from[d] + (target[d] - from[d]) * u }
                    }
                }
            }
            for d in 0..<channels { z[d * frames + f] = d < dimensions ? values[d] : 0 }
            if !hitClasses.isEmpty {
                // Velocity channels: 0 but at a hit (whatever a step's latents hold there).
                for d in triggerChannel..<min(channels, triggerChannel + hitClasses.count) { z[d * frames + f] = 0 }
            }
            if let raise, triggerChannel + raiseChannel < channels { z[(triggerChannel + raiseChannel) * frames + f] = raise }
        }
        return true
    }
}

/// JACK transport as the audio thread saw it at the start of its last cycle, for the workers: a
/// sequence lock over plain atomics (the audio thread writes without waiting; a reader retries).
/// Offline (and until a JACK driver publishes) it reads as a transport rolling from the engine's
/// first sample with no tempo of its own, so a `transport jack` sequence renders at its own bpm.
final class TransportClock: @unchecked Sendable {
    private let version = Atomic<Int>(0)
    private let clock = Atomic<Int>(0)
    private let frame = Atomic<Int>(0)
    private let rolling = Atomic<Bool>(true)
    private let hasBeat = Atomic<Bool>(false)
    private let beat = Atomic<UInt64>(0)
    private let bpm = Atomic<UInt64>(0)
    /// The engine's rate (to extrapolate beats between cycles).
    let sampleRate: Double

    init(sampleRate: Int) { self.sampleRate = Double(sampleRate) }

    /// Audio thread: the transport at engine sample `clock` (the cycle's first).
    @inline(__always)
    func publish(clock now: Int, rolling isRolling: Bool, frame at: Int, beat beats: Double?, bpm tempo: Double?) {
        let v = version.load(ordering: .relaxed)
        version.store(v + 1, ordering: .relaxed)
        atomicMemoryFence(ordering: .releasing)
        clock.store(now, ordering: .relaxed)
        frame.store(at, ordering: .relaxed)
        rolling.store(isRolling, ordering: .relaxed)
        hasBeat.store(beats != nil && tempo != nil, ordering: .relaxed)
        beat.store((beats ?? 0).bitPattern, ordering: .relaxed)
        bpm.store((tempo ?? 0).bitPattern, ordering: .relaxed)
        version.store(v + 2, ordering: .releasing)
    }

    /// Worker: the transport at engine sample `at` (extrapolated from the last cycle while it rolls).
    func position(at engineSample: Int) -> (rolling: Bool, frame: Double, beat: Double?, bpm: Double?) {
        var result: (rolling: Bool, frame: Double, beat: Double?, bpm: Double?) = (false, 0, nil, nil)
        for _ in 0..<8 {
            let v1 = version.load(ordering: .acquiring)
            if v1 & 1 == 1 { continue }
            let c = clock.load(ordering: .relaxed), f = frame.load(ordering: .relaxed)
            let r = rolling.load(ordering: .relaxed), b = hasBeat.load(ordering: .relaxed)
            let beatValue = Double(bitPattern: beat.load(ordering: .relaxed)), tempo = Double(bitPattern: bpm.load(ordering: .relaxed))
            atomicMemoryFence(ordering: .acquiring)
            let elapsed = r ? Double(engineSample - c) : 0
            result = (r, Double(f) + elapsed, b ? beatValue + elapsed * tempo / 60 / sampleRate : nil, b ? tempo : nil)
            if version.load(ordering: .relaxed) == v1 { break }
        }
        return result
    }
}

import DSP
import Foundation

/// A band as the control side hands it to the audio thread (plain values only).
struct KernelBand: BitwiseCopyable {
    var kind: UInt8
    var frequency: Float
    var q: Float
    var gainDB: Float
    var enabled: Bool

    init(_ band: EQBand) {
        kind = UInt8(BiquadKind.allCases.firstIndex(of: band.kind) ?? 0)
        frequency = band.frequency
        q = band.q
        gainDB = band.gainDB
        enabled = band.enabled
    }

    /// The kind, without touching `allCases` (an array) on the audio thread.
    var biquadKind: BiquadKind {
        switch kind {
        case 0: .lowPass
        case 1: .highPass
        case 2: .bandPass
        case 3: .peak
        case 4: .lowShelf
        case 5: .highShelf
        default: .notch
        }
    }
}

/// A node's input EQ: any number of biquad bands in series, per channel. Owned by the
/// audio thread; when a band index beyond the storage is set, the control side allocates
/// larger storage and hands it over (`adopt`), and the old one is freed off the audio thread. Frequency, Q and gain glide towards their
/// targets (coefficients recomputed every 32 samples while they move), so a sweep
/// never clicks.
final class EQChain {
    /// Bands allocated at first; more are added on demand.
    static let initialCapacity = 16
    private static let hop = 32

    struct Band {
        var kind: BiquadKind = .peak
        var enabled = false
        var target: (f: Float, q: Float, g: Float) = (1000, 0.7071, 0)
        var current: (f: Float, q: Float, g: Float) = (1000, 0.7071, 0)
        var left = Biquad()
        var right = Biquad()
        var moving = false
    }

    private let sampleRate: Double
    private var bands: UnsafeMutablePointer<Band>
    /// Bands the storage holds now.
    private(set) var capacity: Int
    /// One past the highest band index in use.
    private(set) var count = 0
    private let glide: Float

    init(sampleRate: Double) {
        self.sampleRate = sampleRate
        capacity = Self.initialCapacity
        bands = Self.allocateBands(Self.initialCapacity)
        // About 20 ms to settle, in steps of `hop` samples.
        glide = Float(1 - exp(-Double(Self.hop) / (0.02 * sampleRate)))
    }

    deinit { bands.deallocate() }

    /// Storage for `count` bands, all off (control side: allocation happens here).
    static func allocateBands(_ count: Int) -> UnsafeMutablePointer<Band> {
        let storage = UnsafeMutablePointer<Band>.allocate(capacity: count)
        storage.initialize(repeating: Band(), count: count)
        lockResident(storage, count: count)
        return storage
    }

    /// Audio thread: moves the bands into larger storage and returns the old storage
    /// (plain values: the caller hands it back to the control side to free).
    func adopt(_ storage: UnsafeMutablePointer<Band>, capacity newCapacity: Int) -> UnsafeMutableRawPointer {
        for i in 0..<min(capacity, newCapacity) { storage[i] = bands[i] }
        let old = bands
        bands = storage
        capacity = newCapacity
        return UnsafeMutableRawPointer(old)
    }

    /// Audio thread: takes `other`'s bands as they are now, filter memories included, so this
    /// chain conditions the same input into the same samples from here on (a swap's new
    /// model hears what the old one heard). Bands beyond this chain's storage are not
    /// copied; the instrument sizes the storage first, so none are.
    func copyBands(from other: EQChain) {
        let copied = min(other.count, capacity)
        for i in 0..<copied { bands[i] = other.bands[i] }
        if count > copied { for i in copied..<count { bands[i].enabled = false } }
        count = copied
    }

    /// Sets band `index` (audio thread). A new band or a change of kind starts from
    /// its target; peak and shelf bands that are switched off glide to 0 dB first.
    func set(_ index: Int, _ value: KernelBand) {
        guard index >= 0, index < capacity else { return }
        let kind = value.biquadKind
        let target = (f: value.frequency, q: value.q, g: value.gainDB)
        if !value.enabled {
            // A gain band glides to 0 dB (where it passes its input); the others stop at once.
            let old = bands[index].kind
            if Self.same(old, .peak) || Self.same(old, .lowShelf) || Self.same(old, .highShelf) {
                bands[index].target.g = 0
                bands[index].moving = true
            } else {
                bands[index].enabled = false
            }
            return
        }
        // Compared by case, not through the String raw value (which would retain on the audio thread).
        if !bands[index].enabled || !Self.same(bands[index].kind, kind) {
            let isGainBand = Self.same(kind, .peak) || Self.same(kind, .lowShelf) || Self.same(kind, .highShelf)
            // Gain bands fade in from 0 dB; the others start where they are asked to.
            bands[index].current = isGainBand ? (target.f, target.q, 0) : target
            bands[index].left.reset()
            bands[index].right.reset()
            bands[index].kind = kind
            bands[index].enabled = true
            update(index)
        }
        bands[index].target = target
        bands[index].moving = true
        count = max(count, index + 1)
    }

    /// Moves one field of an enabled band (MIDI: 0 frequency, 1 Q, 2 gain in dB); the band
    /// glides there. A band that is off or absent is left alone (switch it on with `set eq` first).
    func setField(_ index: Int, field: UInt8, _ value: Float) {
        guard index >= 0, index < capacity, bands[index].enabled else { return }
        switch field {
        case 0: bands[index].target.f = max(value, 1)
        case 1: bands[index].target.q = max(value, 0.001)
        default: bands[index].target.g = value
        }
        bands[index].moving = true
    }

    @inline(__always)
    private static func same(_ a: BiquadKind, _ b: BiquadKind) -> Bool {
        switch (a, b) {
        case (.lowPass, .lowPass), (.highPass, .highPass), (.bandPass, .bandPass), (.peak, .peak),
             (.lowShelf, .lowShelf), (.highShelf, .highShelf), (.notch, .notch): true
        default: false
        }
    }

    private func update(_ index: Int) {
        let band = bands[index]
        let coefficients = BiquadCoefficients(band.kind, frequency: Double(band.current.f), q: Double(band.current.q),
                                              gainDB: Double(band.current.g), sampleRate: sampleRate)
        bands[index].left.coefficients = coefficients
        bands[index].right.coefficients = coefficients
    }

    /// Moves a band one hop towards its target.
    private func glideStep(_ index: Int) {
        var band = bands[index]
        let t = band.target
        var c = band.current
        c.f = c.f * pow(t.f / max(c.f, 1), glide)
        c.q += (t.q - c.q) * glide
        c.g += (t.g - c.g) * glide
        if abs(c.f - t.f) < 0.01 * t.f, abs(c.q - t.q) < 0.001, abs(c.g - t.g) < 0.01 {
            c = t
            band.moving = false
        }
        band.current = c
        bands[index] = band
        update(index)
    }

    /// Filters `channels` planar channels (`stride` apart) in place.
    func process(_ buffer: UnsafeMutablePointer<Float>, channels: Int, stride: Int, frames: Int) {
        for b in 0..<count where bands[b].enabled {
            var start = 0
            while start < frames {
                let run = min(Self.hop, frames - start)
                if bands[b].moving { glideStep(b) }
                for c in 0..<channels {
                    let data = buffer + c * stride + start
                    if c == 0 {
                        for i in 0..<run { data[i] = bands[b].left.process(data[i]) }
                    } else {
                        for i in 0..<run { data[i] = bands[b].right.process(data[i]) }
                    }
                }
                start += run
            }
        }
    }
}

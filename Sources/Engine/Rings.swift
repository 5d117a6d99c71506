import Glibc
import Synchronization

// The only raw-pointer code shared between the audio thread, the workers and the
// control side. Every type here is single-producer single-consumer and lock-free:
// the producer and the consumer each own one index and publish it with release
// ordering, the other side reads it with acquire ordering.

/// Keeps memory the audio thread touches resident (`mlock`), so it never waits on a page
/// fault for it. Only the audio thread's buffers are locked, when they are built: locking
/// the whole process for the future (`mlockall(MCL_FUTURE)`) made every libtorch
/// allocation of a loading model fault in its pages under the kernel's memory-map lock,
/// which the workers of the nodes already playing then waited for (measured: three
/// dropouts on the playing nodes per model loaded at block 512). Best effort: without
/// the right to lock memory the buffers stay ordinary (and on a machine without swap
/// they stay resident anyway).
@inline(__always)
func lockResident<T: ~Copyable>(_ pointer: UnsafeMutablePointer<T>, count: Int) {
    _ = mlock(UnsafeRawPointer(pointer), count * MemoryLayout<T>.stride)
}

/// A fixed-capacity single-producer single-consumer queue of plain values
/// (commands, opaque node pointers). `push` and `pop` never allocate or lock.
final class SPSCQueue<Element: BitwiseCopyable>: @unchecked Sendable {
    private let storage: UnsafeMutablePointer<Element>
    private let mask: Int
    private let head = Atomic<Int>(0)  // next slot the consumer reads
    private let tail = Atomic<Int>(0)  // next slot the producer writes

    /// - Parameter capacity: rounded up to a power of two.
    init(capacity: Int) {
        var size = 1
        while size < capacity { size <<= 1 }
        storage = .allocate(capacity: size)
        mask = size - 1
    }

    deinit { storage.deallocate() }

    /// Adds an element; false when the queue is full (the element is not added).
    @discardableResult
    func push(_ element: Element) -> Bool {
        let t = tail.load(ordering: .relaxed)
        let h = head.load(ordering: .acquiring)
        if t - h > mask { return false }
        (storage + (t & mask)).initialize(to: element)
        tail.store(t + 1, ordering: .releasing)
        return true
    }

    /// Removes the oldest element, or nil when empty.
    func pop() -> Element? {
        let h = head.load(ordering: .relaxed)
        let t = tail.load(ordering: .acquiring)
        if h == t { return nil }
        let element = storage[h & mask]
        head.store(h + 1, ordering: .releasing)
        return element
    }
}

/// Planar audio written by one thread at absolute sample indices and read by another.
///
/// The producer (the audio thread) never waits and never checks for room: it
/// overwrites the oldest samples. The consumer (a worker) reads a range only
/// when it has been written and checks afterwards that it was not overwritten
/// while it copied, so a stalled worker loses old input instead of blocking the
/// audio thread.
final class SampleRing: @unchecked Sendable {
    let channels: Int
    let capacity: Int
    private let storage: UnsafeMutablePointer<Float>
    /// Samples written since the start (per channel).
    let written = Atomic<Int>(0)

    init(channels: Int, capacity: Int) {
        self.channels = channels
        self.capacity = capacity
        storage = .allocate(capacity: channels * capacity)
        storage.initialize(repeating: 0, count: channels * capacity)
        lockResident(storage, count: channels * capacity)
    }

    deinit { storage.deallocate() }

    /// Producer: appends `count` samples of channel `channel` starting at absolute index `start`.
    /// Call for every channel, then `publish(upTo:)`.
    @inline(__always) @_noLocks
    func write(channel: Int, start: Int, _ source: UnsafePointer<Float>, count: Int) {
        let base = storage + channel * capacity
        var index = start % capacity
        var done = 0
        while done < count {
            let run = min(count - done, capacity - index)
            for i in 0..<run { base[index + i] = source[done + i] }
            done += run
            index = 0
        }
    }

    /// Producer: makes samples before `end` visible to the consumer.
    @inline(__always) @_noLocks
    func publish(upTo end: Int) { written.store(end, ordering: .releasing) }

    /// Consumer: copies `count` samples of every channel from absolute index `start`
    /// into `destination` (planar, `count` per channel). False when the range is
    /// not yet written or was overwritten during the copy.
    func read(start: Int, count: Int, into destination: UnsafeMutablePointer<Float>) -> Bool {
        let before = written.load(ordering: .acquiring)
        guard before >= start + count, before - start <= capacity else { return false }
        for c in 0..<channels {
            let base = storage + c * capacity
            var index = start % capacity
            var done = 0
            while done < count {
                let run = min(count - done, capacity - index)
                (destination + c * count + done).update(from: base + index, count: run)
                done += run
                index = 0
            }
        }
        // The producer may have lapped us while we copied; `maxWrite` of slack is kept.
        let after = written.load(ordering: .acquiring)
        return after - start <= capacity - Self.slack
    }

    /// Samples the producer may write between two of our checks (one audio cycle at most).
    static let slack = 8192
}

/// Output blocks written by a worker and read by the audio thread.
///
/// Block `k` lives in slot `k % slots` with a tag holding `k` once complete; the
/// audio thread checks the tag before and after copying, so it never plays a
/// half-written block or a stale one from a previous lap. A block that is not
/// there when needed is a dropout.
final class BlockSlots: @unchecked Sendable {
    let channels: Int
    let blockFrames: Int
    let slots: Int
    private let storage: UnsafeMutablePointer<Float>
    private let tags: UnsafeMutablePointer<Atomic<Int>>

    init(channels: Int, blockFrames: Int, slots: Int) {
        self.channels = channels
        self.blockFrames = blockFrames
        self.slots = slots
        storage = .allocate(capacity: channels * blockFrames * slots)
        storage.initialize(repeating: 0, count: channels * blockFrames * slots)
        tags = .allocate(capacity: slots)
        for i in 0..<slots { (tags + i).initialize(to: Atomic(-1)) }
        lockResident(storage, count: channels * blockFrames * slots)
        lockResident(tags, count: slots)
    }

    deinit {
        storage.deallocate()
        tags.deinitialize(count: slots)
        tags.deallocate()
    }

    /// Worker: where block `index`'s channel `channel` is written (after `beginWrite`).
    func slot(_ index: Int, channel: Int) -> UnsafeMutablePointer<Float> {
        storage + ((index % slots) * channels + channel) * blockFrames
    }

    /// Worker: invalidates the slot before writing into it.
    func beginWrite(_ index: Int) { tags[index % slots].store(-1, ordering: .releasing) }

    /// Worker: publishes a complete block.
    func endWrite(_ index: Int) { tags[index % slots].store(index, ordering: .releasing) }

    /// Audio thread: copies `count` frames of block `index` from `offset` into
    /// `destination[c]`. False (nothing usable) when the block is not complete.
    @inline(__always) @_noLocks
    func read(_ index: Int, offset: Int, count: Int, channel: Int, into destination: UnsafeMutablePointer<Float>) -> Bool {
        guard tags[index % slots].load(ordering: .acquiring) == index else { return false }
        let source = slot(index, channel: channel) + offset
        for i in 0..<count { destination[i] = source[i] }
        return tags[index % slots].load(ordering: .acquiring) == index
    }

    /// Audio thread: whether block `index` is complete.
    @inline(__always)
    func isReady(_ index: Int) -> Bool { tags[index % slots].load(ordering: .acquiring) == index }
}

/// Floats shared between the control side (writer) and a worker (reader), each
/// stored as its bit pattern in an atomic so neither side ever locks.
final class AtomicFloats: @unchecked Sendable {
    let count: Int
    private let storage: UnsafeMutablePointer<Atomic<UInt32>>

    init(count: Int, value: Float) {
        self.count = count
        storage = .allocate(capacity: max(count, 1))
        for i in 0..<max(count, 1) { (storage + i).initialize(to: Atomic(value.bitPattern)) }
    }

    deinit {
        storage.deinitialize(count: max(count, 1))
        storage.deallocate()
    }

    subscript(index: Int) -> Float {
        get { Float(bitPattern: storage[index].load(ordering: .relaxed)) }
        set { storage[index].store(newValue.bitPattern, ordering: .relaxed) }
    }
}

import Foundation

/// Phase-gradient heap integration (Průša, Balazs & Søndergaard, "A noniterative method
/// for reconstruction of phase from STFT magnitude", IEEE/ACM TASLP 2017).
///
/// For a Gaussian window exp(−π t²/λ) the STFT is an analytic function times a known
/// factor, so the Cauchy-Riemann equations tie the phase's slopes to the log-magnitude's.
/// For timbre's STFT (frame t centred on sample t·hop, window centred in an N-point frame,
/// so phase is measured from the frame's start), derived afresh:
///
/// - per frame:  Δφ_t(t, k) = (hop·N / λ) · ∂_k log s + 2π k hop / N
/// - per bin:    Δφ_k(t, k) = −(λ / (N·hop)) · ∂_t log s − π
///
/// with ∂ as centred differences on the grid. A Hann window is treated as the Gaussian with
/// λ = 0.25645·N². The phase is then integrated with the trapezoid rule outwards from the
/// loudest bin, always continuing from the loudest bin whose phase is known (a max-heap),
/// so errors start where the signal is strongest and spread least. Bins quieter than
/// `tolerance` × the loudest carry nothing reliable: they get random phase and the
/// integration does not pass through them; a new start is taken from the loudest bin not
/// yet reached.
final class PGHIWorkspace {
    let frames: Int, bins: Int
    private let logs: UnsafeMutablePointer<Float>
    private let slopeK: UnsafeMutablePointer<Float>   // ∂_k log s
    private let slopeT: UnsafeMutablePointer<Float>   // ∂_t log s
    private let done: UnsafeMutablePointer<Bool>
    private let heap: UnsafeMutablePointer<HeapEntry>
    private let seeds: UnsafeMutablePointer<HeapEntry>

    init(frames: Int, bins: Int) {
        self.frames = frames
        self.bins = bins
        let cells = max(frames * bins, 1)
        logs = .allocate(capacity: cells)
        slopeK = .allocate(capacity: cells)
        slopeT = .allocate(capacity: cells)
        done = .allocate(capacity: cells)
        heap = .allocate(capacity: cells)
        seeds = .allocate(capacity: cells)
    }

    deinit {
        logs.deallocate(); slopeK.deallocate(); slopeT.deallocate(); done.deallocate(); heap.deallocate(); seeds.deallocate()
    }

    /// Writes a phase for every bin of the magnitude `m` (`frames × bins`) into `phase`.
    func integrate(logMagnitudeOf m: UnsafePointer<Float>, into phase: UnsafeMutablePointer<Float>,
                   hop: Int, fftSize n: Int, lambda: Double, tolerance: Float, rng: inout SplitMix64) {
        let cells = frames * bins
        var largest: Float = 0
        for i in 0..<cells { largest = max(largest, m[i]) }
        guard largest > 0 else {
            for i in 0..<cells { phase[i] = 0 }
            return
        }
        // Clamp the log at the tolerance so silence does not make huge slopes.
        let floorLog = log(largest * max(tolerance, 1e-30))
        for i in 0..<cells { logs[i] = max(log(max(m[i], .leastNormalMagnitude)), floorLog) }

        for t in 0..<frames {
            let row = logs + t * bins
            let dk = slopeK + t * bins
            // log s is even about DC and Nyquist, so its slope there is zero.
            dk[0] = 0
            if bins > 1 { dk[bins - 1] = 0 }
            if bins > 2 { for k in 1..<(bins - 1) { dk[k] = 0.5 * (row[k + 1] - row[k - 1]) } }
            let dt = slopeT + t * bins
            if frames == 1 {
                for k in 0..<bins { dt[k] = 0 }
            } else if t == 0 {
                for k in 0..<bins { dt[k] = row[bins + k] - row[k] }
            } else if t == frames - 1 {
                for k in 0..<bins { dt[k] = row[k] - row[k - bins] }
            } else {
                for k in 0..<bins { dt[k] = 0.5 * (row[bins + k] - row[k - bins]) }
            }
        }
        let timeScale = Float(Double(hop) * Double(n) / lambda)
        let freqScale = Float(lambda / (Double(n) * Double(hop)))
        let twoPi = 2 * Double.pi

        // Bins below the tolerance: random phase, never integrated through.
        let threshold = largest * tolerance
        var candidates = 0
        for i in 0..<cells {
            if m[i] < threshold {
                done[i] = true
                phase[i] = rng.nextUnitFloat() * Float(twoPi)
            } else {
                done[i] = false
                seeds[candidates] = HeapEntry(key: logs[i], index: Int32(i))
                candidates += 1
            }
        }
        var remaining = candidates

        @inline(__always) func wrap(_ x: Double) -> Float {
            Float(x - twoPi * (x / twoPi).rounded())
        }
        // Starting points come from a max-heap of every candidate, built in linear time and
        // popped only when the integration runs dry (a full sort cost more than the rest of PGHI).
        var seedCount = candidates
        if seedCount > 1 {
            for i in stride(from: seedCount / 2 - 1, through: 0, by: -1) { Self.siftDown(seeds, count: seedCount, from: i) }
        }
        var heapCount = 0
        let heapPtr = heap
        @inline(__always) func push(_ i: Int) {
            let entry = HeapEntry(key: logs[i], index: Int32(i))
            var c = heapCount
            heapCount += 1
            while c > 0 {
                let parent = (c - 1) >> 1
                if heapPtr[parent].key >= entry.key { break }
                heapPtr[c] = heapPtr[parent]
                c = parent
            }
            heapPtr[c] = entry
        }
        while remaining > 0 && seedCount > 0 {
            let start = Int(seeds[0].index)
            seedCount -= 1
            if seedCount > 0 {
                seeds[0] = seeds[seedCount]
                Self.siftDown(seeds, count: seedCount, from: 0)
            }
            if done[start] { continue }
            phase[start] = 0
            done[start] = true
            remaining -= 1
            push(start)
            while heapCount > 0 {
                let i = Int(heapPtr[0].index)
                heapCount -= 1
                if heapCount > 0 {
                    heapPtr[0] = heapPtr[heapCount]
                    Self.siftDown(heapPtr, count: heapCount, from: 0)
                }
                let t = i / bins, k = i - t * bins
                let p = Double(phase[i])
                let binAdvance = twoPi * Double(k * hop % n) / Double(n)
                if t + 1 < frames, !done[i + bins] {
                    let j = i + bins
                    phase[j] = wrap(p + Double(timeScale * 0.5 * (slopeK[i] + slopeK[j])) + binAdvance)
                    done[j] = true
                    remaining -= 1
                    push(j)
                }
                if t > 0, !done[i - bins] {
                    let j = i - bins
                    phase[j] = wrap(p - Double(timeScale * 0.5 * (slopeK[i] + slopeK[j])) - binAdvance)
                    done[j] = true
                    remaining -= 1
                    push(j)
                }
                if k + 1 < bins, !done[i + 1] {
                    let j = i + 1
                    phase[j] = wrap(p - Double(freqScale * 0.5 * (slopeT[i] + slopeT[j])) - .pi)
                    done[j] = true
                    remaining -= 1
                    push(j)
                }
                if k > 0, !done[i - 1] {
                    let j = i - 1
                    phase[j] = wrap(p + Double(freqScale * 0.5 * (slopeT[i] + slopeT[j])) + .pi)
                    done[j] = true
                    remaining -= 1
                    push(j)
                }
            }
        }
        Self.snapRealBins(phase, frames: frames, bins: bins, fftSize: n)
    }

    /// The DC and Nyquist bins of a real signal's STFT are real: their phase is 0 or π.
    /// The integrated phase is snapped to the nearer one; left as is, the inverse FFT would
    /// keep only its cosine part, and Griffin-Lim cannot flip a sign that came out wrong
    /// (a kick's sub-bass then stays stuck near -14 dB).
    static func snapRealBins(_ phase: UnsafeMutablePointer<Float>, frames: Int, bins: Int, fftSize: Int) {
        let realBins = fftSize % 2 == 0 && bins > 1 ? [0, bins - 1] : [0]
        for t in 0..<frames {
            for k in realBins {
                let p = phase[t * bins + k]
                phase[t * bins + k] = cos(p) >= 0 ? 0 : .pi
            }
        }
    }

    /// Restores the max-heap order below `from`.
    @inline(__always)
    private static func siftDown(_ heap: UnsafeMutablePointer<HeapEntry>, count: Int, from: Int) {
        let entry = heap[from]
        var c = from
        while true {
            var child = 2 * c + 1
            if child >= count { break }
            if child + 1 < count && heap[child + 1].key > heap[child].key { child += 1 }
            if heap[child].key <= entry.key { break }
            heap[c] = heap[child]
            c = child
        }
        heap[c] = entry
    }
}

/// A bin in a heap, with its log-magnitude beside it so comparisons need no second load.
struct HeapEntry {
    var key: Float
    var index: Int32
}

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
    private let heap: UnsafeMutablePointer<Int32>
    private var order: [Int32]

    init(frames: Int, bins: Int) {
        self.frames = frames
        self.bins = bins
        let cells = max(frames * bins, 1)
        logs = .allocate(capacity: cells)
        slopeK = .allocate(capacity: cells)
        slopeT = .allocate(capacity: cells)
        done = .allocate(capacity: cells)
        heap = .allocate(capacity: cells)
        order = []
        order.reserveCapacity(cells)
    }

    deinit {
        logs.deallocate(); slopeK.deallocate(); slopeT.deallocate(); done.deallocate(); heap.deallocate()
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
        order.removeAll(keepingCapacity: true)
        for i in 0..<cells {
            if m[i] < threshold {
                done[i] = true
                phase[i] = rng.nextUnitFloat() * Float(twoPi)
            } else {
                done[i] = false
                order.append(Int32(i))
            }
        }
        let logValues = logs
        order.sort { logValues[Int($0)] > logValues[Int($1)] }

        @inline(__always) func wrap(_ x: Double) -> Float {
            Float(x - twoPi * (x / twoPi).rounded())
        }
        // Per-bin constant of the time slope, 2π k hop / N, wrapped once.
        var heapCount = 0
        let heapPtr = heap
        @inline(__always) func push(_ i: Int32) {
            var c = heapCount
            heapCount += 1
            let v = logValues[Int(i)]
            while c > 0 {
                let parent = (c - 1) >> 1
                if logValues[Int(heapPtr[parent])] >= v { break }
                heapPtr[c] = heapPtr[parent]
                c = parent
            }
            heapPtr[c] = i
        }
        @inline(__always) func pop() -> Int32 {
            let top = heapPtr[0]
            heapCount -= 1
            if heapCount > 0 {
                let last = heapPtr[heapCount]
                let v = logValues[Int(last)]
                var c = 0
                while true {
                    var child = 2 * c + 1
                    if child >= heapCount { break }
                    if child + 1 < heapCount && logValues[Int(heapPtr[child + 1])] > logValues[Int(heapPtr[child])] { child += 1 }
                    if logValues[Int(heapPtr[child])] <= v { break }
                    heapPtr[c] = heapPtr[child]
                    c = child
                }
                heapPtr[c] = last
            }
            return top
        }
        for start in order where !done[Int(start)] {
            phase[Int(start)] = 0
            done[Int(start)] = true
            push(start)
            while heapCount > 0 {
                let i = Int(pop())
                let t = i / bins, k = i - t * bins
                let p = Double(phase[i])
                let binAdvance = twoPi * Double(k * hop % n) / Double(n)
                if t + 1 < frames, !done[i + bins] {
                    let j = i + bins
                    phase[j] = wrap(p + Double(timeScale * 0.5 * (slopeK[i] + slopeK[j])) + binAdvance)
                    done[j] = true
                    push(Int32(j))
                }
                if t > 0, !done[i - bins] {
                    let j = i - bins
                    phase[j] = wrap(p - Double(timeScale * 0.5 * (slopeK[i] + slopeK[j])) - binAdvance)
                    done[j] = true
                    push(Int32(j))
                }
                if k + 1 < bins, !done[i + 1] {
                    let j = i + 1
                    phase[j] = wrap(p - Double(freqScale * 0.5 * (slopeT[i] + slopeT[j])) - .pi)
                    done[j] = true
                    push(Int32(j))
                }
                if k > 0, !done[i - 1] {
                    let j = i - 1
                    phase[j] = wrap(p + Double(freqScale * 0.5 * (slopeT[i] + slopeT[j])) + .pi)
                    done[j] = true
                    push(Int32(j))
                }
            }
        }
    }
}

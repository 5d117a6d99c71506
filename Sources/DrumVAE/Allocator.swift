/// glibc's `mallopt` (malloc.h is not part of Swift's Glibc module).
@_silgen_name("mallopt")
private func glibcMallopt(_ parameter: Int32, _ value: Int32) -> Int32

/// glibc's allocator, set up for training.
///
/// A training step allocates and frees tensors of several megabytes (a batch of 2-second
/// clips is 2.8 MB; each scale of the multi-scale spectrum 10–20 MB, and their gradients).
/// With glibc's defaults, blocks that large are mapped with `mmap` and unmapped when freed,
/// and the top of the heap is trimmed back to the kernel, so every step faults the same
/// pages in again (13% of the process's time was system time). Keeping them in the heap
/// costs memory the process holds until it exits (a few hundred MB) and made steps
/// 1.2× faster here (`timbre bench train`, docs/BENCHMARKS.md). Not used by the engine, whose
/// resident memory is measured while nodes come and go.
public enum TrainingAllocator {
    /// The settings, as glibc's environment variables (for a child process to share them).
    public static let environment: [String: String] = [
        "MALLOC_MMAP_THRESHOLD_": String(mmapThreshold),
        "MALLOC_TRIM_THRESHOLD_": String(trimThreshold),
        "MALLOC_TOP_PAD_": String(topPad),
    ]
    static let mmapThreshold = 32 << 20  // glibc's largest accepted value
    static let trimThreshold = 1 << 30
    static let topPad = 64 << 20

    /// Applies the settings to this process (idempotent).
    public static func configure() {
        // malloc.h: M_TRIM_THRESHOLD -1, M_TOP_PAD -2, M_MMAP_THRESHOLD -3.
        _ = glibcMallopt(-3, Int32(mmapThreshold))
        _ = glibcMallopt(-1, Int32(trimThreshold))
        _ = glibcMallopt(-2, Int32(topPad))
    }
}

import CTorch

/// Process-wide libtorch settings.
///
/// libtorch's thread pools and random generator are global: tests that touch
/// them run serially, and hosts set them once at start.
public enum Torch {
    /// The libtorch version timbre was built against.
    public static var version: String { String(cString: tb_version()) }

    /// libtorch's intra-op thread count. timbre defaults to 1 everywhere: on a
    /// small machine the default pool made one block of a RAVE model up to 50
    /// times slower whenever another core was busy.
    public static var intraOpThreads: Int {
        get { Int(tb_get_num_threads()) }
        set { tb_set_num_threads(Int32(newValue)) }
    }

    /// libtorch's inter-op thread count (settable once, before any parallel work).
    public static var interOpThreads: Int { Int(tb_get_num_interop_threads()) }

    /// Sets the inter-op thread count; libtorch refuses once inter-op work has started.
    public static func setInterOpThreads(_ count: Int) throws {
        try check(tb_set_num_interop_threads(Int32(count)), "setting libtorch's inter-op threads")
    }

    /// Seeds libtorch's global CPU generator, as `torch.manual_seed` does.
    public static func manualSeed(_ seed: UInt64) {
        tb_manual_seed(seed)
    }

    /// Applies timbre's defaults once per process: one intra-op and one inter-op thread.
    /// Model loading calls this, so every entry point gets them.
    public static func applyDefaults() {
        _ = defaultsApplied
    }

    private static let defaultsApplied: Bool = {
        tb_set_num_threads(1)
        _ = tb_set_num_interop_threads(1)
        return true
    }()
}

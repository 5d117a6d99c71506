import Foundation

/// A real, untrained msprior export combined with a RAVE export, made on the fly by msprior's own
/// `export` and `combine` (Tests/Fixtures/make_msprior.py), in a virtual environment that sees
/// Debian's python3-torch and is kept between runs in `$XDG_CACHE_HOME/timbre/msprior-venv`
/// (made from PyPI on first use, like `timbre bench phase`'s venv).
public enum MSPriorExport {
    /// The packages, pinned as issue 18 names them (`--no-deps`: torch is Debian's), and absl-py,
    /// which msprior's command line imports.
    public static let packages = ["acids-msprior==1.1.3", "nn-tilde==1.5.6", "cached-conv==2.5.0", "gin-config", "einops", "absl-py"]

    /// `$XDG_CACHE_HOME/timbre` (default `~/.cache/timbre`).
    static let cache: URL = {
        let env = ProcessInfo.processInfo.environment
        return (env["XDG_CACHE_HOME"].map { URL(fileURLWithPath: $0) }
            ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache"))
            .appendingPathComponent("timbre")
    }()

    /// The virtual environment.
    public static let venv = cache.appendingPathComponent("msprior-venv")

    private static let lock = NSLock()
    nonisolated(unsafe) private static var made: [String: URL] = [:]

    /// The combined export for `rave`, made once per test process (into the cache folder, replaced
    /// on every run, so it is always made by this checkout's script).
    public static func combined(with rave: URL) throws -> URL {
        lock.lock()
        defer { lock.unlock() }
        if let url = made[rave.path] { return url }
        let python = try environment()
        let out = cache.appendingPathComponent("msprior-export/\(rave.deletingPathExtension().lastPathComponent)")
        try? FileManager.default.removeItem(at: out)
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        let result = try runProcess(python, [TestPaths.fixture("make_msprior.py").path, rave.path, out.path])
        guard result.status == 0, let line = result.stdout.split(separator: "\n").last else {
            throw Failure("make_msprior.py failed: \(result.stderr.split(separator: "\n").suffix(3).joined(separator: " | "))")
        }
        let url = URL(fileURLWithPath: String(line))
        made[rave.path] = url
        return url
    }

    /// The venv's python, made (and the packages installed) when missing.
    static func environment() throws -> URL {
        let python = venv.appendingPathComponent("bin/python")
        let check = "import msprior, msprior_scripts.combine, nn_tilde, cached_conv, gin, einops, absl"
        if FileManager.default.fileExists(atPath: python.path), (try? runProcess(python, ["-c", check]))?.status == 0 {
            return python
        }
        try FileManager.default.createDirectory(at: cache, withIntermediateDirectories: true)
        let made = try runProcess(TestPaths.python, ["-m", "venv", "--system-site-packages", venv.path])
        guard made.status == 0 else { throw Failure("cannot make \(venv.path): \(made.stderr)") }
        let pip = try runProcess(venv.appendingPathComponent("bin/pip"), ["install", "--quiet", "--no-deps"] + packages)
        guard pip.status == 0 else { throw Failure("pip install into \(venv.path) failed: \(pip.stderr.split(separator: "\n").suffix(2).joined(separator: " | "))") }
        return python
    }

    /// Why the export could not be made.
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
        init(_ description: String) { self.description = description }
    }
}

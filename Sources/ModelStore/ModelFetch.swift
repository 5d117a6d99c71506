import Checksum
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif

/// `timbre models fetch`: downloads a model into a partial file outside the models folder,
/// resumes an interrupted transfer (HTTP Range), verifies the result and renames it into place.
///
/// The transfer is Debian's `curl` program, run with explicit arguments: it speaks HTTP/1.1
/// and HTTPS (certificates checked against the system's store), follows redirects (Hugging
/// Face answers with one to its file store) and resumes with a Range request (`--continue-at -`),
/// failing when a server ignores the Range. The package has no TLS of its own (swift-nio
/// without swift-nio-ssl), and every published address is https, so a client of our own could
/// not fetch a single catalogue entry; the `curl` program keeps the light front end light.
public enum ModelFetch {
    /// What to fetch and how to check it.
    public struct Request: Sendable {
        /// The installed name (the file is `NAME.ts`).
        public var name: String
        public var url: String
        /// The expected SHA-256 (lowercase hex), nil when unknown.
        public var sha256: String?
        /// The expected size in bytes, nil when unknown.
        public var bytes: Int64?

        public init(name: String, url: String, sha256: String? = nil, bytes: Int64? = nil) {
            self.name = name
            self.url = url
            self.sha256 = sha256?.lowercased()
            self.bytes = bytes
        }

        /// A catalogue entry's request.
        public init(_ entry: CatalogueEntry) {
            self.init(name: entry.name, url: entry.url, sha256: entry.sha256, bytes: entry.bytes)
        }
    }

    /// How a fetch went.
    public struct Outcome: Sendable {
        public var file: URL
        public var bytes: Int64
        public var sha256: String
        /// Transfers started (1 when nothing was interrupted; 0 when a complete partial file was found).
        public var transfers: Int
        /// Bytes already on disk from an earlier, interrupted fetch when this one started.
        public var resumedFrom: Int64
        public var archive: TorchScriptArchive.Summary
    }

    /// The settings a fetch may change.
    public struct Options: Sendable {
        /// Transfers to try before giving up (each resumes where the last stopped).
        public var attempts = 3
        /// Replace an installed model of the same name.
        public var replace = false
        /// Show curl's progress bar (on a terminal).
        public var progressBar = false
        /// Seconds curl may take to connect.
        public var connectTimeout = 30
        /// A PEM file of certificate authorities to trust for https in place of the system's
        /// (curl's `--cacert`): a site behind a private CA, or a test server's own certificate.
        public var certificateAuthorities: String?

        public init() {}
    }

    /// Fetches `request` into `folder`, keeping the partial file in `downloads`.
    public static func fetch(_ request: Request, into folder: ModelsFolder, downloads: URL,
                             options: Options = Options(), log: (String) -> Void = { _ in }) throws -> Outcome {
        let fileName = try ModelsFolder.fileName(for: request.name)
        let target = folder.url.appendingPathComponent(fileName)
        if !options.replace, FileManager.default.fileExists(atPath: target.path) {
            throw ModelStoreError("fetch a model", target.path, "already installed (remove it first, or --force)")
        }
        guard let scheme = URL(string: request.url)?.scheme?.lowercased(), ["http", "https"].contains(scheme) else {
            throw ModelStoreError("fetch a model", request.url, "not an http:// or https:// address")
        }
        let curl = try curlProgram()
        do {
            try FileManager.default.createDirectory(at: downloads, withIntermediateDirectories: true)
        } catch {
            throw ModelStoreError("fetch a model", downloads.path, "cannot create the downloads folder (\(error))")
        }
        let partial = downloads.appendingPathComponent(fileName + ".partial")
        let origin = downloads.appendingPathComponent(fileName + ".partial.url")
        // A partial file of another address is not this download's beginning.
        if let recorded = try? String(contentsOf: origin, encoding: .utf8), recorded != request.url {
            try? FileManager.default.removeItem(at: partial)
        }
        try Data(request.url.utf8).write(to: origin)
        let resumedFrom = size(of: partial)

        var transfers = 0
        // A partial file an earlier fetch completed but did not install needs no transfer.
        let complete = resumedFrom > 0 && (try? verify(partial, request)) != nil
        if !complete {
            var restarted = false
            while true {
                let before = size(of: partial)
                transfers += 1
                let result = try run(curl, arguments(request.url, partial, options), showProgress: options.progressBar)
                if result.status == 0 { break }
                let now = size(of: partial)
                // 33: the server ignored the Range; 22 with bytes on disk: an HTTP error to the
                // resumed request (416 when the file on disk is longer than the remote one).
                // Both mean the partial file cannot be continued: start again from nothing, once.
                if (result.status == 33 || (result.status == 22 && before > 0)), !restarted {
                    log("the server cannot continue \(partial.lastPathComponent) (\(result.message)); starting again")
                    try? FileManager.default.removeItem(at: partial)
                    restarted = true
                    continue
                }
                let progressed = now > before
                if transfers < options.attempts, progressed || result.status == 18 || result.status == 56 {
                    log("transfer interrupted at \(now) bytes (\(result.message)); resuming")
                    continue
                }
                throw ModelStoreError("fetch a model", request.name,
                                      "download from \(request.url) failed after \(transfers) transfer(s), \(now) bytes kept in \(partial.path) (\(result.message)); run fetch again to resume")
            }
        }
        let checked: (String, TorchScriptArchive.Summary)
        do {
            checked = try verify(partial, request)
        } catch {
            // Bytes that fail the check cannot be fixed by resuming: drop them.
            try? FileManager.default.removeItem(at: partial)
            try? FileManager.default.removeItem(at: origin)
            throw error
        }
        let bytes = size(of: partial)
        let installed = try folder.install(moving: partial, as: fileName, replace: options.replace)
        try? FileManager.default.removeItem(at: origin)
        return Outcome(file: installed, bytes: bytes, sha256: checked.0, transfers: transfers, resumedFrom: resumedFrom, archive: checked.1)
    }

    /// Checks a downloaded file against the request: size and SHA-256 when known, and always
    /// the TorchScript archive. Returns its SHA-256 and the archive's summary.
    static func verify(_ file: URL, _ request: Request) throws -> (String, TorchScriptArchive.Summary) {
        let bytes = size(of: file)
        if let expected = request.bytes, bytes != expected {
            throw ModelStoreError("fetch a model", request.name,
                                  "the download has \(bytes) bytes, \(expected) expected; refused, nothing installed")
        }
        let digest = try sha256(of: file)
        if let expected = request.sha256, digest != expected {
            throw ModelStoreError("fetch a model", request.name,
                                  "the download's SHA-256 is \(digest), \(expected) expected; refused, nothing installed")
        }
        do {
            return (digest, try TorchScriptArchive.check(file))
        } catch let error as ModelStoreError {
            throw ModelStoreError("fetch a model", request.name, "\(error.reason); refused, nothing installed")
        }
    }

    /// The SHA-256 of a file, read in 1 MiB pieces.
    public static func sha256(of file: URL) throws -> String {
        var hasher = SHA256()
        try POSIX.read(file.path) { hasher.update($0) }
        return hasher.finalizeHex()
    }

    static func size(of file: URL) -> Int64 {
        POSIX.size(file.path) ?? 0
    }

    static func arguments(_ url: String, _ partial: URL, _ options: Options) -> [String] {
        [options.progressBar ? "--progress-bar" : "--silent", "--show-error", "--fail", "--location",
         "--proto", "=http,https", "--proto-redir", "=http,https",
         "--connect-timeout", String(options.connectTimeout),
         // A stalled transfer (under 1 byte/s for 60 s) ends, and the next attempt resumes it.
         "--speed-limit", "1", "--speed-time", "60",
         "--continue-at", "-", "--output", partial.path]
            + (options.certificateAuthorities.map { ["--cacert", $0] } ?? []) + ["--", url]
    }

    /// The `curl` program on PATH.
    static func curlProgram() throws -> URL {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for folder in path.split(separator: ":") {
            let candidate = URL(fileURLWithPath: String(folder)).appendingPathComponent("curl")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        throw ModelStoreError("fetch a model", nil, "fetch needs the curl program (Debian: apt-get install curl)")
    }

    /// Runs curl; its exit status and its error message: the `curl: (N) ...` line on stderr
    /// (a certificate failure adds a paragraph of advice after it), else the last line.
    /// With `showProgress`, curl's stderr (its progress bar) goes to the terminal and the message is its exit status.
    static func run(_ curl: URL, _ arguments: [String], showProgress: Bool = false) throws -> (status: Int32, message: String) {
        let (status, text) = try POSIX.run(curl.path, arguments, captureErrors: !showProgress)
        let lines = text.split(whereSeparator: { $0 == "\n" || $0 == "\r" }).map(String.init)
        let message = lines.last { $0.hasPrefix("curl: (") } ?? lines.last ?? "curl exit \(status)"
        return (status, message)
    }
}

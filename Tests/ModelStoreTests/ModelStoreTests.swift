import Checksum
import Foundation
import ModelStore
import Testing
import TestSupport

/// The model library without libtorch: the archive check, the folder, and `fetch` against a
/// real HTTP server on 127.0.0.1 (Tests/Fixtures/range_server.py) through the real `curl`.
@Suite(.serialized)
struct ModelStoreTests {
    static let fixture = TestPaths.fixture("models/tiny-batched.ts")

    static func digest(_ url: URL) throws -> String { try ModelFetch.sha256(of: url) }

    /// A models folder and a downloads folder in a fresh temporary directory.
    struct Place {
        let directory = TemporaryDirectory("timbre-models")
        var folder: ModelsFolder { ModelsFolder(url: directory.file("data/timbre/models")) }
        var downloads: URL { directory.file("cache/timbre/downloads") }
        /// Everything in the models folder, hidden files included.
        var folderContents: [String] { ((try? FileManager.default.contentsOfDirectory(atPath: folder.url.path)) ?? []).sorted() }
        var partial: URL { downloads.appendingPathComponent("tiny.ts.partial") }
    }

    static func options(attempts: Int) -> ModelFetch.Options {
        var options = ModelFetch.Options()
        options.attempts = attempts
        options.connectTimeout = 5
        return options
    }

    // MARK: The archive check

    @Test func everyFixtureModelIsAWholeArchive() throws {
        let models = try FileManager.default.contentsOfDirectory(atPath: TestPaths.fixture("models").path).filter { $0.hasSuffix(".ts") }
        #expect(models.count >= 8)
        for model in models {
            let summary = try TorchScriptArchive.check(TestPaths.fixture("models/" + model))
            #expect(summary.root == String(model.dropLast(3)) || !summary.root.isEmpty)
            #expect(summary.checkedEntries > 0, "\(model): stored entries are CRC-checked")
        }
    }

    @Test func truncatedCorruptAndForeignFilesAreRefused() throws {
        let directory = TemporaryDirectory("timbre-archive")
        let bytes = try Data(contentsOf: Self.fixture)
        // Truncated at several points: never a whole archive.
        for fraction in [0.1, 0.5, 0.9, 0.999] {
            let cut = directory.file("cut-\(fraction).ts")
            try bytes.prefix(Int(Double(bytes.count) * fraction)).write(to: cut)
            #expect(throws: ModelStoreError.self) { try TorchScriptArchive.check(cut) }
        }
        // One flipped byte in the middle (the weights): the stored entry's CRC-32 fails.
        var corrupt = bytes
        corrupt[bytes.count / 2] ^= 0xFF
        try corrupt.write(to: directory.file("corrupt.ts"))
        let error = #expect(throws: ModelStoreError.self) { try TorchScriptArchive.check(directory.file("corrupt.ts")) }
        #expect(error?.description.contains("CRC-32") == true, "\(String(describing: error))")
        #expect(error?.description.contains("corrupt.ts") == true)
        // A zip that is not TorchScript, and random bytes.
        let zip = directory.file("other.zip")
        let made = try runProcess(TestPaths.python, ["-c", "import zipfile,sys; z=zipfile.ZipFile(sys.argv[1],'w'); z.writestr('a/b.txt','hello'); z.close()", zip.path])
        #expect(made.status == 0)
        let foreign = #expect(throws: ModelStoreError.self) { try TorchScriptArchive.check(zip) }
        #expect(foreign?.description.contains("not a TorchScript model") == true)
        var generator = SystemRandomNumberGenerator()
        try Data((0..<5000).map { _ in UInt8.random(in: 0...255, using: &generator) }).write(to: directory.file("random.ts"))
        #expect(throws: ModelStoreError.self) { try TorchScriptArchive.check(directory.file("random.ts")) }
    }

    // MARK: The folder

    @Test func folderFollowsXDGAndHome() {
        #expect(ModelsFolder.standard(environment: ["XDG_DATA_HOME": "/x/data", "HOME": "/h"]).url.path == "/x/data/timbre/models")
        #expect(ModelsFolder.standard(environment: ["HOME": "/h"]).url.path == "/h/.local/share/timbre/models")
        // The XDG rule: a relative value is ignored.
        #expect(ModelsFolder.standard(environment: ["XDG_DATA_HOME": "rel", "HOME": "/h"]).url.path == "/h/.local/share/timbre/models")
        #expect(ModelsFolder.downloads(environment: ["XDG_CACHE_HOME": "/c", "HOME": "/h"]).path == "/c/timbre/downloads")
        #expect(ModelsFolder.downloads(environment: ["HOME": "/h"]).path == "/h/.cache/timbre/downloads")
    }

    @Test func installListAndRemove() throws {
        let place = Place()
        let installed = try place.folder.install(copying: Self.fixture, as: "tiny")
        #expect(installed.lastPathComponent == "tiny.ts")
        #expect(try Self.digest(installed) == Self.digest(Self.fixture))
        #expect(place.folderContents == ["tiny.ts"], "no temporary file left behind")
        #expect(throws: ModelStoreError.self) { try place.folder.install(copying: Self.fixture, as: "tiny") }
        try place.folder.install(copying: Self.fixture, as: "tiny.ts", replace: true)
        // A catalogue entry's file counts as installed; other files are listed apart.
        let entry = Catalogue.entries[0]
        try place.folder.install(copying: Self.fixture, as: entry.name)
        let listing = place.folder.listing()
        #expect(listing.entries.count == Catalogue.entries.count)
        #expect(listing.entries.filter { $0.installed != nil }.map(\.entry.name) == [entry.name])
        #expect(listing.others.map(\.file) == ["tiny.ts"])
        for bad in ["../x", "a/b", ".hidden", ""] {
            #expect(throws: ModelStoreError.self) { try place.folder.install(copying: Self.fixture, as: bad) }
            #expect(throws: ModelStoreError.self) { try place.folder.remove(bad) }
        }
        try place.folder.remove("tiny")
        #expect(throws: ModelStoreError.self) { try place.folder.remove("tiny") }
        #expect(place.folderContents == [entry.file])
    }

    @Test func catalogueEntriesAreWellFormed() {
        let names = Catalogue.entries.map(\.name)
        #expect(Set(names).count == names.count, "names are unique")
        #expect(Catalogue.entries.contains { $0.publisher == "ACIDS-IRCAM" })
        #expect(Catalogue.entries.contains { $0.publisher == "Intelligent Instruments Lab" })
        for entry in Catalogue.entries {
            #expect(entry.url.hasPrefix("https://"), "\(entry.name)")
            #expect(entry.sourcePage.hasPrefix("https://"), "\(entry.name)")
            #expect(entry.dateRead == "2026-12-07")
            #expect((try? ModelsFolder.fileName(for: entry.name)) == entry.file)
            if let sha = entry.sha256 { #expect(sha.count == 64 && sha.allSatisfy { "0123456789abcdef".contains($0) }, "\(entry.name)") }
            // A name that states a rate (`_r48000`) agrees with the entry's rate.
            if let range = entry.name.range(of: #"_r(\d+)"#, options: .regularExpression) {
                #expect(entry.sampleRate == Int(entry.name[range].dropFirst(2)), "\(entry.name)")
            }
        }
    }

    // MARK: fetch against a local server

    @Test func interruptedTransferResumesToTheRightChecksum() throws {
        let place = Place()
        let server = try RangeServer(file: Self.fixture, options: ["--cut-after", "60000", "--cut-requests", "1"], directory: place.directory)
        defer { server.stop() }
        let request = ModelFetch.Request(name: "tiny", url: server.url, sha256: try Self.digest(Self.fixture))
        // One transfer only: it is cut, so the fetch fails and keeps the partial file outside the folder.
        let error = #expect(throws: ModelStoreError.self) {
            try ModelFetch.fetch(request, into: place.folder, downloads: place.downloads, options: Self.options(attempts: 1))
        }
        #expect(error?.description.contains("run fetch again to resume") == true, "\(String(describing: error))")
        #expect(ModelFetch.fileSize(place.partial) == 60000)
        #expect(!place.folderContents.contains("tiny.ts"), "nothing installed")
        // Run again: it resumes from byte 60000 with a Range request and installs the right bytes.
        let outcome = try ModelFetch.fetch(request, into: place.folder, downloads: place.downloads, options: Self.options(attempts: 1))
        #expect(outcome.resumedFrom == 60000)
        #expect(outcome.transfers == 1)
        #expect(server.requests.last == "GET /tiny-batched.ts range=bytes=60000-", "\(server.requests)")
        #expect(try Self.digest(outcome.file) == Self.digest(Self.fixture))
        #expect(place.folderContents == ["tiny.ts"])
        #expect(!FileManager.default.fileExists(atPath: place.partial.path), "the partial file became the model")
    }

    @Test func oneFetchResumesByItself() throws {
        let place = Place()
        let server = try RangeServer(file: Self.fixture, options: ["--cut-after", "1000", "--cut-requests", "2"], directory: place.directory)
        defer { server.stop() }
        let outcome = try ModelFetch.fetch(ModelFetch.Request(name: "tiny", url: server.url), into: place.folder,
                                           downloads: place.downloads, options: Self.options(attempts: 3))
        #expect(outcome.transfers == 3)
        let expected = ["GET /tiny-batched.ts range=-", "GET /tiny-batched.ts range=bytes=1000-", "GET /tiny-batched.ts range=bytes=2000-"]
        #expect(server.requests == expected)
        #expect(try Self.digest(outcome.file) == Self.digest(Self.fixture))
    }

    /// https, as every catalogue address is: a local TLS server with a certificate made for the
    /// test (openssl). Trusting that certificate (`--cacert`), a transfer cut once resumes over
    /// https to the right checksum; without it curl refuses the certificate, the fetch fails in
    /// one line and nothing is installed (the control).
    @Test func httpsFetchesResumeAndUntrustedCertificatesAreRefused() throws {
        let place = Place()
        let cert = place.directory.file("cert.pem"), key = place.directory.file("key.pem")
        let made = try runProcess(URL(fileURLWithPath: "/usr/bin/openssl"), [
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key.path, "-out", cert.path, "-days", "1",
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
        ])
        try #require(made.status == 0, "openssl: \(made.stderr)")
        let server = try RangeServer(file: Self.fixture, options: ["--tls", cert.path, key.path, "--cut-after", "20000", "--cut-requests", "1"],
                                     directory: place.directory)
        defer { server.stop() }
        #expect(server.url.hasPrefix("https://127.0.0.1:"))
        let request = ModelFetch.Request(name: "tiny", url: server.url, sha256: try Self.digest(Self.fixture))

        let refused = #expect(throws: ModelStoreError.self) {
            try ModelFetch.fetch(request, into: place.folder, downloads: place.downloads, options: Self.options(attempts: 1))
        }
        print("untrusted: \(refused?.description ?? "no error")")
        #expect(refused?.description.contains("certificate") == true, "\(String(describing: refused))")
        #expect(refused?.description.contains("\n") == false)
        #expect(place.folderContents.isEmpty, "nothing installed")

        var options = Self.options(attempts: 2)
        options.certificateAuthorities = cert.path
        let outcome = try ModelFetch.fetch(request, into: place.folder, downloads: place.downloads, options: options)
        print("https: \(outcome.transfers) transfers, resumed from \(outcome.resumedFrom), requests \(server.requests)")
        #expect(outcome.transfers == 2, "the first transfer was cut, the second resumed")
        #expect(server.requests.last == "GET /tiny-batched.ts range=bytes=20000-", "\(server.requests)")
        #expect(try Self.digest(outcome.file) == Self.digest(Self.fixture))
        #expect(place.folderContents == ["tiny.ts"])
    }

    @Test func aServerIgnoringRangeMakesTheFetchStartAgain() throws {
        let place = Place()
        try FileManager.default.createDirectory(at: place.downloads, withIntermediateDirectories: true)
        try Data(try Data(contentsOf: Self.fixture).prefix(5000)).write(to: place.partial)
        let server = try RangeServer(file: Self.fixture, options: ["--ignore-range"], directory: place.directory)
        defer { server.stop() }
        let outcome = try ModelFetch.fetch(ModelFetch.Request(name: "tiny", url: server.url), into: place.folder,
                                           downloads: place.downloads, options: Self.options(attempts: 1))
        #expect(outcome.resumedFrom == 5000)
        #expect(outcome.transfers == 2, "the resume was refused, then the whole file came")
        #expect(try Self.digest(outcome.file) == Self.digest(Self.fixture))
    }

    @Test(arguments: [true, false])
    func corruptDownloadIsRefusedAndNothingIsInstalled(withChecksum: Bool) throws {
        let place = Place()
        let size = try Data(contentsOf: Self.fixture).count
        let server = try RangeServer(file: Self.fixture, options: ["--corrupt-at", String(size / 2)], directory: place.directory)
        defer { server.stop() }
        let request = ModelFetch.Request(name: "tiny", url: server.url, sha256: withChecksum ? try Self.digest(Self.fixture) : nil)
        let error = #expect(throws: ModelStoreError.self) {
            try ModelFetch.fetch(request, into: place.folder, downloads: place.downloads, options: Self.options(attempts: 1))
        }
        let text = error?.description ?? ""
        #expect(text.contains(withChecksum ? "SHA-256" : "CRC-32"), "\(text)")
        #expect(text.contains("tiny") && text.contains("nothing installed"), "\(text)")
        #expect(!text.contains("\n"))
        #expect(place.folderContents.isEmpty, "nothing half-written in the models folder: \(place.folderContents)")
        #expect(!FileManager.default.fileExists(atPath: place.partial.path), "the refused bytes are deleted")
    }

    @Test func refusals() throws {
        let place = Place()
        try place.folder.install(copying: Self.fixture, as: "tiny")
        let installed = #expect(throws: ModelStoreError.self) {
            try ModelFetch.fetch(ModelFetch.Request(name: "tiny", url: "http://127.0.0.1:9/tiny.ts"), into: place.folder, downloads: place.downloads)
        }
        #expect(installed?.description.contains("already installed") == true)
        let scheme = #expect(throws: ModelStoreError.self) {
            try ModelFetch.fetch(ModelFetch.Request(name: "other", url: "ftp://example.org/x.ts"), into: place.folder, downloads: place.downloads)
        }
        #expect(scheme?.description.contains("not an http") == true)
        // Nothing listens on port 9 of this machine: a one-line error naming the model, partial kept nowhere in the folder.
        let refused = #expect(throws: ModelStoreError.self) {
            try ModelFetch.fetch(ModelFetch.Request(name: "other", url: "http://127.0.0.1:9/x.ts"), into: place.folder,
                                 downloads: place.downloads, options: Self.options(attempts: 1))
        }
        #expect(refused?.description.hasPrefix("other: download from http://127.0.0.1:9/x.ts failed") == true, "\(String(describing: refused))")
        #expect(place.folderContents == ["tiny.ts"])
    }
}

extension ModelFetch {
    /// The size of a file (0 when missing), for the tests' checks on partial files.
    static func fileSize(_ url: URL) -> Int64 {
        (try? FileManager.default.attributesOfItem(atPath: url.path)[.size] as? NSNumber)?.int64Value ?? 0
    }
}

import ArgumentParser
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import ModelStore
#if canImport(Glibc)
import Glibc
#endif

// `timbre models list | remove | fetch`: the model library's commands that need no libtorch,
// run by the light front end itself (and by `timbre-core`, whose `models` adds `add`, which
// describes a model with libtorch). Each parses, calls ModelStore, prints.

/// `timbre models list`: the catalogue, each entry marked installed or not, then local files.
public struct ModelsList: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List the catalogue of published RAVE models (installed or not), then the other models in the models folder.")

    @Flag(help: "Print the catalogue and the folder as JSON (every field: address, source page, date read, checksum).")
    var json = false

    public init() {}

    public func run() throws {
        let folder = ModelsFolder.standard()
        let listing = folder.listing()
        if json {
            print(try Self.json(listing, folder: folder))
            return
        }
        print(Self.lines(listing, folder: folder).joined(separator: "\n"))
    }

    /// The lines `list` prints: a header naming the folder, one line per catalogue entry, the local files.
    static func lines(_ listing: ModelsFolder.Listing, folder: ModelsFolder) -> [String] {
        let rows = listing.entries.map { entry, installed in
            [installed == nil ? "-" : "installed", entry.name, entry.publisher,
             entry.sampleRate.map { "\($0) Hz" } ?? "rate unknown", entry.size, entry.licence,
             entry.sha256 == nil ? "sha256 unknown" : "sha256 " + entry.sha256!.prefix(12)]
        }
        let widths = (0..<7).map { i in rows.map { $0[i].count }.max() ?? 0 }
        var lines = ["# models folder: \(folder.url.path) (catalogue read \(Catalogue.dateRead); `timbre models fetch NAME` installs one)"]
        lines += rows.map { row in
            row.enumerated().map { i, text in i == row.count - 1 ? text : text + String(repeating: " ", count: max(0, widths[i] - text.count)) }
                .joined(separator: "  ")
        }
        lines.append("# local models not in the catalogue: \(listing.others.count)")
        lines += listing.others.map { "local  \($0.file)  \(megabytes($0.bytes))" }
        return lines
    }

    static func megabytes(_ bytes: Int64) -> String {
        guard bytes >= 1_000_000 else { return "\(bytes) bytes" }
        let tenths = (bytes + 50_000) / 100_000
        return "\(tenths / 10).\(tenths % 10) MB"
    }

    struct JSONListing: Encodable {
        struct Entry: Encodable {
            var entry: CatalogueEntry
            var installed: Bool
            func encode(to encoder: Encoder) throws {
                try entry.encode(to: encoder)
                var container = encoder.container(keyedBy: Key.self)
                try container.encode(installed, forKey: .installed)
            }
            enum Key: String, CodingKey { case installed }
        }
        struct Local: Encodable { var file: String; var bytes: Int64 }
        var folder: String
        var catalogue: [Entry]
        var local: [Local]
    }

    static func json(_ listing: ModelsFolder.Listing, folder: ModelsFolder) throws -> String {
        let value = JSONListing(
            folder: folder.url.path,
            catalogue: listing.entries.map { JSONListing.Entry(entry: $0.entry, installed: $0.installed != nil) },
            local: listing.others.map { JSONListing.Local(file: $0.file, bytes: $0.bytes) })
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }
}

/// `timbre models remove NAME`.
public struct ModelsRemove: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "remove", abstract: "Remove a model (NAME or NAME.ts) from the models folder.")

    @Argument(help: "The model's name, as `timbre models list` shows it.")
    var name: String

    public init() {}

    public func run() throws {
        let removed = try ModelsFolder.standard().remove(name)
        print("removed \(removed.path)")
    }
}

/// `timbre models fetch NAME|URL`.
public struct ModelsFetch: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "fetch",
        abstract: "Download a catalogue model (or any http(s) address) into the models folder: resumed when interrupted, verified, then renamed into place.",
        discussion: """
        The partial file is kept in $XDG_CACHE_HOME/timbre/downloads (default ~/.cache/timbre/downloads); \
        running fetch again resumes it. The download is checked against the size and SHA-256 the \
        catalogue records (when published) and must be a whole TorchScript archive (zip layout and \
        CRC-32 of its stored entries); anything else is deleted and nothing is installed. Uses the \
        `curl` program (http and https).
        """)

    @Argument(help: "A catalogue name (timbre models list), or an http:// or https:// address of a .ts file.")
    var model: String

    @Option(help: "Install under this name (default: the catalogue name, or the address's file name).")
    var name: String?

    @Option(help: "The expected SHA-256 (hex): checked in place of the catalogue's.")
    var sha256: String?

    @Option(help: "Transfers to try before giving up (each resumes where the last stopped).")
    var attempts: Int = 3

    @Flag(help: "Replace an installed model of the same name.")
    var force = false

    @Option(help: ArgumentHelp("Trust the certificate authorities in this PEM file for https (as curl's --cacert).", valueName: "file"))
    var cacert: String?

    public init() {}

    public func validate() throws {
        if let cacert, !FileManager.default.isReadableFile(atPath: cacert) {
            throw ValidationError("--cacert \(cacert): no such readable file")
        }
        guard attempts >= 1 else { throw ValidationError("--attempts must be at least 1") }
        if let sha256, sha256.count != 64 || !sha256.allSatisfy(\.isHexDigit) {
            throw ValidationError("--sha256 takes 64 hexadecimal digits")
        }
    }

    public func run() throws {
        var request: ModelFetch.Request
        if model.contains("://") {
            let file = URL(string: model)?.lastPathComponent ?? ""
            let stem = file.hasSuffix(".ts") ? String(file.dropLast(3)) : file
            request = ModelFetch.Request(name: name ?? stem, url: model)
        } else {
            guard let entry = Catalogue.entry(named: model) else {
                throw ModelStoreError("fetch a model", model, "not in the catalogue (timbre models list shows it; an http(s) address also works)")
            }
            request = ModelFetch.Request(entry)
            if let name { request.name = name }
        }
        if let sha256 { request.sha256 = sha256.lowercased() }
        var options = ModelFetch.Options()
        options.attempts = attempts
        options.replace = force
        options.progressBar = isatty(2) != 0
        options.certificateAuthorities = cacert
        let outcome = try ModelFetch.fetch(request, into: .standard(), downloads: ModelsFolder.downloads(), options: options) { line in
            writeStandardError("timbre: " + line + "\n")
        }
        print("installed \(outcome.file.path) (\(outcome.bytes) bytes)")
        if outcome.resumedFrom > 0 { print("  resumed from \(outcome.resumedFrom) bytes of an earlier fetch") }
        print("  sha256 \(outcome.sha256)" + (request.sha256 == nil ? " (none published: not compared)" : " (matches)"))
        print("  TorchScript archive '\(outcome.archive.root)': \(outcome.archive.entries) entries, CRC-32 of \(outcome.archive.checkedEntries) checked")
    }
}

/// `timbre models` as the light front end runs it (list, remove, fetch); `timbre-core`'s
/// group adds `add`. The front end hands `timbre models` alone, `--help` and `add` to the core.
public struct LightModels: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "models",
        abstract: "The model library: list, fetch and remove models in the models folder.",
        subcommands: [ModelsList.self, ModelsRemove.self, ModelsFetch.self])

    /// The subcommands the front end runs without the core.
    public static let light = ["list", "remove", "fetch"]

    public init() {}
}

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif

/// The user's models folder, `$XDG_DATA_HOME/timbre/models` (default
/// `~/.local/share/timbre/models`): where `timbre models add` and `fetch` install models,
/// and which `serve` and `render` search after their `--models-dir` folders.
///
/// Models are flat files `NAME.ts` in it. Files are written beside their final name under a
/// hidden temporary name and renamed, so the folder never holds half a model under a model's name.
public struct ModelsFolder: Sendable, Equatable {
    public let url: URL

    public init(url: URL) { self.url = url }

    /// The folder for `environment` (the process's by default): `$XDG_DATA_HOME/timbre/models`
    /// when XDG_DATA_HOME is an absolute path (the XDG rule), else `$HOME/.local/share/timbre/models`.
    public static func standard(environment: [String: String] = ProcessInfo.processInfo.environment) -> ModelsFolder {
        ModelsFolder(url: xdgFolder("XDG_DATA_HOME", fallback: ".local/share", environment).appendingPathComponent("timbre/models"))
    }

    /// Where `fetch` keeps partial downloads, outside the models folder:
    /// `$XDG_CACHE_HOME/timbre/downloads` (default `~/.cache/timbre/downloads`).
    public static func downloads(environment: [String: String] = ProcessInfo.processInfo.environment) -> URL {
        xdgFolder("XDG_CACHE_HOME", fallback: ".cache", environment).appendingPathComponent("timbre/downloads")
    }

    static func xdgFolder(_ variable: String, fallback: String, _ environment: [String: String]) -> URL {
        if let value = environment[variable], value.hasPrefix("/") { return URL(fileURLWithPath: value) }
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? POSIX.homeFromPasswordDatabase
        return URL(fileURLWithPath: home).appendingPathComponent(fallback)
    }

    /// Checks `name` names a file directly in the folder (no `/`, not hidden, not `.`/`..`)
    /// and returns its file name, `.ts` added when missing.
    public static func fileName(for name: String) throws -> String {
        guard !name.isEmpty, !name.contains("/"), !name.hasPrefix("."), !name.contains("\0") else {
            throw ModelStoreError("name a model", name.isEmpty ? "''" : name,
                                  "a model name is a plain file name in the models folder (no '/', not starting with '.')")
        }
        return name.hasSuffix(".ts") ? name : name + ".ts"
    }

    /// The path `name` has in the folder (whether or not it exists).
    public func file(for name: String) throws -> URL { url.appendingPathComponent(try Self.fileName(for: name)) }

    /// Creates the folder (and its parents) when missing.
    public func create() throws {
        do {
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        } catch {
            throw ModelStoreError("create the models folder", url.path, "cannot create it (\(error))")
        }
    }

    /// One model file found in the folder.
    public struct LocalFile: Sendable, Equatable {
        /// The file's name (`NAME.ts`).
        public var file: String
        public var bytes: Int64
    }

    /// The `.ts` files in the folder, sorted by name (hidden and temporary files left out).
    public func files() -> [LocalFile] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: url.path) else { return [] }
        return names.filter { $0.hasSuffix(".ts") && !$0.hasPrefix(".") }.sorted().compactMap { name in
            let path = url.appendingPathComponent(name).path
            guard POSIX.isRegularFile(path) else { return nil }
            return LocalFile(file: name, bytes: POSIX.size(path) ?? 0)
        }
    }

    /// What `timbre models list` prints: each catalogue entry with the local file when it is
    /// installed, then the local files no entry names.
    public struct Listing: Sendable {
        public var entries: [(entry: CatalogueEntry, installed: LocalFile?)]
        public var others: [LocalFile]
    }

    /// The catalogue against the folder's files.
    public func listing(catalogue: [CatalogueEntry] = Catalogue.entries) -> Listing {
        let local = files()
        let byName = Dictionary(local.map { ($0.file, $0) }, uniquingKeysWith: { a, _ in a })
        let entries = catalogue.map { ($0, byName[$0.file]) }
        let named = Set(catalogue.map(\.file))
        return Listing(entries: entries, others: local.filter { !named.contains($0.file) })
    }

    /// Copies `source` into the folder as `name` (temporary file, then rename); refuses to
    /// replace an existing model unless `replace`. Returns the installed file.
    @discardableResult
    public func install(copying source: URL, as name: String, replace: Bool = false) throws -> URL {
        let target = try file(for: name)
        try refuseExisting(target, replace: replace, operation: "add a model")
        try create()
        let temporary = url.appendingPathComponent(".\(target.lastPathComponent).\(getpid()).tmp")
        try? FileManager.default.removeItem(at: temporary)
        do {
            try FileManager.default.copyItem(at: source, to: temporary)
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            throw ModelStoreError("add a model", source.path, "cannot copy it into \(url.path) (\(error))")
        }
        try moveIntoPlace(temporary, target, operation: "add a model")
        return target
    }

    /// Moves `file` (already verified) into the folder as `name`: a rename when both are on one
    /// file system, else a copy to a temporary file in the folder and a rename.
    @discardableResult
    public func install(moving file: URL, as name: String, replace: Bool = false) throws -> URL {
        let target = try self.file(for: name)
        try refuseExisting(target, replace: replace, operation: "install a model")
        try create()
        if rename(file.path, target.path) == 0 { return target }
        guard errno == EXDEV else {
            throw ModelStoreError("install a model", target.path, "cannot move \(file.path) into place (\(POSIX.lastError))")
        }
        try install(copying: file, as: name, replace: replace)
        try? FileManager.default.removeItem(at: file)
        return target
    }

    /// Removes the model `name` (with or without `.ts`) from the folder.
    @discardableResult
    public func remove(_ name: String) throws -> URL {
        let target = try file(for: name)
        guard POSIX.isRegularFile(target.path) else {
            throw ModelStoreError("remove a model", name, "no model file \(target.lastPathComponent) in \(url.path)")
        }
        do {
            try FileManager.default.removeItem(at: target)
        } catch {
            throw ModelStoreError("remove a model", target.path, "cannot remove it (\(error))")
        }
        return target
    }

    private func refuseExisting(_ target: URL, replace: Bool, operation: String) throws {
        if !replace, FileManager.default.fileExists(atPath: target.path) {
            throw ModelStoreError(operation, target.path, "a model of that name is already installed (remove it first, or --force)")
        }
    }

    private func moveIntoPlace(_ temporary: URL, _ target: URL, operation: String) throws {
        guard rename(temporary.path, target.path) == 0 else {
            let reason = POSIX.lastError
            try? FileManager.default.removeItem(at: temporary)
            throw ModelStoreError(operation, target.path, "cannot rename the copy into place (\(reason))")
        }
    }
}

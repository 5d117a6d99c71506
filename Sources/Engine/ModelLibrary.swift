import Foundation
import Synchronization
import Torch

/// Finds models by name inside the allowed folders and keeps one loaded
/// prototype per file; every node gets its own deep copy (`NNModel.instance()`).
public final class ModelLibrary: @unchecked Sendable {
    /// The folders models may come from (resolved, symlinks followed).
    public let directories: [URL]
    private let prototypes = Mutex<[String: (modified: Date, model: NNModel)]>([:])

    public init(directories: [URL]) {
        self.directories = directories.map { $0.standardizedFileURL.resolvingSymlinksInPath() }
    }

    /// The file a model name refers to. A relative name is looked up in each folder
    /// in turn; an absolute path must lie inside one. Anything that resolves outside
    /// the folders (`../x.ts`, a symlink out, `/elsewhere/x.ts`) is refused.
    public func resolve(_ name: String) throws -> URL {
        guard !name.isEmpty else { throw EngineError("empty model name") }
        let folders = directories.map(\.path).joined(separator: ", ")
        var outside: String?
        for directory in directories {
            let candidate = name.hasPrefix("/") ? URL(fileURLWithPath: name) : directory.appendingPathComponent(name)
            let resolved = candidate.standardizedFileURL.resolvingSymlinksInPath()
            let inside = resolved.path.hasPrefix(directory.path.hasSuffix("/") ? directory.path : directory.path + "/")
            guard FileManager.default.fileExists(atPath: resolved.path) else { continue }
            if inside { return resolved }
            outside = resolved.path
        }
        if let outside {
            throw EngineError("model '\(name)' resolves to \(outside), outside the models folders (\(folders)); refused")
        }
        if name.hasPrefix("/") {
            throw EngineError("model '\(name)' is not inside the models folders (\(folders)); refused")
        }
        throw EngineError("no model '\(name)' in the models folders (\(folders))")
    }

    /// A fresh instance of the model at `url` (loading it the first time, or again when the file changed).
    public func instance(of url: URL) throws -> NNModel {
        let modified = (try? FileManager.default.attributesOfItem(atPath: url.path)[.modificationDate] as? Date) ?? .distantPast
        if let cached = prototypes.withLock({ $0[url.path] }), cached.modified == modified {
            return try cached.model.instance()
        }
        let model = try NNModel(contentsOf: url)
        prototypes.withLock { $0[url.path] = (modified, model) }
        return try model.instance()
    }
}

extension ModelLibrary {
    /// The model files (`.ts`) a command may name, as it would name them: paths relative to
    /// their folder, sorted, each name once (the first folder holding it wins, as in `resolve`).
    /// Each folder is searched with `depth - 1` levels of subfolders below it; hidden files and folders are skipped, and so is
    /// anything `resolve` would refuse (a symlink out of the folders). What `/timbre/models`
    /// answers, and what the REPL completes.
    public func available(depth: Int = 4) -> [String] {
        var names = Set<String>()
        for directory in directories {
            var pending: [(URL, String, Int)] = [(directory, "", 0)]
            while let (folder, prefix, level) = pending.popLast() {
                guard let entries = try? FileManager.default.contentsOfDirectory(atPath: folder.path) else { continue }
                for entry in entries where !entry.hasPrefix(".") {
                    let url = folder.appendingPathComponent(entry)
                    let name = prefix + entry
                    var isFolder: ObjCBool = false
                    guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isFolder) else { continue }
                    if isFolder.boolValue {
                        if level + 1 < depth { pending.append((url, name + "/", level + 1)) }
                    } else if entry.hasSuffix(".ts"), !names.contains(name), (try? resolve(name)) != nil {
                        names.insert(name)
                    }
                }
            }
        }
        return names.sorted()
    }
}

import Foundation

/// The folders server-side files live in (`seq/encode` reads a sound file, `session/save` writes
/// a session), confined as models are by `ModelLibrary`: a relative name is looked up in each
/// folder in turn (written into the first), an absolute path must lie inside one, and anything
/// that resolves outside them (`../x`, a symlink out, `/etc/passwd`) is refused with one line.
public struct FileFolders: Sendable {
    /// The folders, resolved (symlinks followed).
    public let directories: [URL]

    public init(directories: [URL]) {
        self.directories = directories.map { $0.standardizedFileURL.resolvingSymlinksInPath() }
    }

    private var listed: String { directories.map(\.path).joined(separator: ", ") }

    private func inside(_ url: URL, _ directory: URL) -> Bool {
        url.path.hasPrefix(directory.path.hasSuffix("/") ? directory.path : directory.path + "/")
    }

    /// An existing file to read.
    public func reading(_ name: String) throws -> URL {
        guard !name.isEmpty else { throw EngineError("empty file name") }
        var outside: String?
        for directory in directories {
            let candidate = name.hasPrefix("/") ? URL(fileURLWithPath: name) : directory.appendingPathComponent(name)
            let resolved = candidate.standardizedFileURL.resolvingSymlinksInPath()
            guard FileManager.default.fileExists(atPath: resolved.path) else { continue }
            if inside(resolved, directory) { return resolved }
            outside = resolved.path
        }
        if let outside { throw EngineError("file '\(name)' resolves to \(outside), outside the allowed folders (\(listed)); refused") }
        if name.hasPrefix("/") { throw EngineError("file '\(name)' is not inside the allowed folders (\(listed)); refused") }
        throw EngineError("no file '\(name)' in the allowed folders (\(listed))")
    }

    /// A file to write: its folder must exist inside an allowed folder (a file already there that
    /// is a symlink out is refused too).
    public func writing(_ name: String) throws -> URL {
        guard !name.isEmpty, !name.hasSuffix("/") else { throw EngineError("'\(name)' is not a file name") }
        guard let first = directories.first else {
            throw EngineError("cannot write '\(name)': no folder may be written to (start serve or render with --files-dir DIR)")
        }
        let candidate = name.hasPrefix("/") ? URL(fileURLWithPath: name) : first.appendingPathComponent(name)
        let folder = candidate.deletingLastPathComponent().standardizedFileURL.resolvingSymlinksInPath()
        let resolved = folder.appendingPathComponent(candidate.lastPathComponent).resolvingSymlinksInPath()
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder.path, isDirectory: &isFolder), isFolder.boolValue else {
            throw EngineError("file '\(name)': no folder \(folder.path)")
        }
        guard directories.contains(where: { inside(resolved, $0) }) else {
            throw EngineError("file '\(name)' resolves to \(resolved.path), outside the allowed folders (\(listed)); refused")
        }
        return resolved
    }
}

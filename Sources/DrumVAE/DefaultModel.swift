import Foundation
import Torch

extension RunFolder {
    /// A packed folder's weights: every weight by name in float16, and the step (`TrainedRun.pack`).
    public var weights: URL { url.appendingPathComponent("weights.pt") }
}

/// The drum model timbre ships (`Resources/default/`): what `generate`, `morph`, `encode` and
/// `export` use when no run is given, and what `train --from default` starts from.
///
/// It is a packed run folder (`TrainedRun.pack`): config.json, weights.pt (float16, no
/// optimiser state), prior.json and split.json, beside its model card MODEL.md. The executable
/// finds it, in this order:
/// 1. the folder in `$TIMBRE_DEFAULT_MODEL`, when set (an error when it holds no model);
/// 2. `PREFIX/share/timbre/default` for an executable in `PREFIX/bin` (`make install`);
/// 3. `Resources/default` in the nearest folder above the executable that has one: a build
///    inside a clone (`.build/<triple>/release/timbre-core` → the clone's `Resources/default`).
public enum DefaultModel {
    /// The word that names the shipped model wherever a run folder is asked for.
    public static let name = "default"
    /// The environment variable that points at another default model folder.
    public static let environmentVariable = "TIMBRE_DEFAULT_MODEL"

    /// True when `folder` holds a loadable model: config.json and weights.pt or checkpoint.pt.
    public static func holdsModel(_ folder: URL) -> Bool {
        let run = RunFolder(folder), fm = FileManager.default
        return fm.fileExists(atPath: run.config.path)
            && (fm.fileExists(atPath: run.weights.path) || fm.fileExists(atPath: run.checkpoint.path))
    }

    /// The running executable's real path (/proc/self/exe: symbolic links resolved).
    public static func executable() -> URL {
        if let path = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            return URL(fileURLWithPath: path)
        }
        return URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL
    }

    /// The places looked at, in order (without the environment variable).
    public static func candidates(executable: URL) -> [URL] {
        let bin = executable.deletingLastPathComponent().standardizedFileURL
        var out = [bin.deletingLastPathComponent().appendingPathComponent("share/timbre/default")]
        var folder = bin
        while true {
            out.append(folder.appendingPathComponent("Resources/default"))
            let parent = folder.deletingLastPathComponent()
            if parent.path == folder.path { break }
            folder = parent
        }
        return out
    }

    /// The shipped model's folder, or a one-line error saying where it was looked for.
    public static func locate(executable: URL = DefaultModel.executable(),
                              environment: [String: String] = ProcessInfo.processInfo.environment) throws -> URL {
        if let path = environment[environmentVariable], !path.isEmpty {
            let url = URL(fileURLWithPath: path)
            guard holdsModel(url) else {
                throw DrumVAEError(path: path, reason: "\(environmentVariable) names no model folder (config.json and weights.pt)")
            }
            return url
        }
        let places = candidates(executable: executable)
        if let found = places.first(where: holdsModel) { return found }
        throw DrumVAEError(path: executable.path, reason: "no default model beside this executable (looked for "
            + "\(places[0].path) and Resources/default above it); give a run folder or set \(environmentVariable)")
    }

    /// A run argument as a folder: nil or `default` is the shipped model, anything else a path
    /// (a folder that is itself called default: `./default`).
    public static func resolve(_ argument: String?) throws -> URL {
        guard let argument, argument != name else { return try locate() }
        return URL(fileURLWithPath: argument)
    }
}

extension TrainedRun {
    /// Writes the model as a packed folder for inference and fine-tuning: config.json,
    /// weights.pt (every weight in float16 and the step: about 2 bytes a parameter, no
    /// optimiser state), prior.json and split.json when the run has them. Each file is
    /// written to a temporary name and renamed; other files in `folder` (a model card) are
    /// left alone. Refuses a folder that holds a training run (checkpoint.pt), whose
    /// checkpoint would shadow the packed weights. Returns the bytes of weights.pt.
    @discardableResult
    public func pack(to destination: URL) throws -> Int {
        let target = RunFolder(destination), fm = FileManager.default
        guard !fm.fileExists(atPath: target.checkpoint.path) else {
            throw DrumVAEError(path: destination.path, reason: "holds a training run (checkpoint.pt); pack into another folder")
        }
        guard destination.standardizedFileURL.path != folder.url.standardizedFileURL.path else {
            throw DrumVAEError(path: destination.path, reason: "is the run itself; pack into another folder")
        }
        do {
            try fm.createDirectory(at: destination, withIntermediateDirectories: true)
        } catch {
            throw DrumVAEError(path: destination.path, reason: "cannot create the folder: \(error.localizedDescription)")
        }
        let archive = try TensorArchive()
        try Torch.withoutGradients {
            for (name, tensor) in model.namedParameters { try archive.write(name, tensor.toHalf()) }
        }
        try archive.write("step", Tensor.indices([step]))
        try archive.save(to: target.weights)
        try config.write(to: target.config)
        for (from, to) in [(folder.prior, target.prior), (folder.split, target.split)] {
            guard fm.fileExists(atPath: from.path) else {
                // A file of an earlier pack would describe another model.
                if fm.fileExists(atPath: to.path) { try fm.removeItem(at: to) }
                continue
            }
            guard let data = fm.contents(atPath: from.path) else {
                throw DrumVAEError(path: from.path, reason: "cannot read")
            }
            try writeAtomically(data, to: to)
        }
        return ((try? fm.attributesOfItem(atPath: target.weights.path))?[.size] as? Int) ?? 0
    }
}

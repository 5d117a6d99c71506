import Foundation

/// Synthetic drum hits, so the phase tests always run (real hydrogen samples are used too when installed).
public enum Drums {
    public static let rate = 44100.0

    /// Deterministic white noise in [-1, 1).
    public static func noise(_ n: Int, seed: UInt64) -> [Float] {
        var s = seed &+ 0x9E37_79B9_7F4A_7C15
        return (0..<n).map { _ in
            s = s &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int64(bitPattern: s) >> 40) / Float(1 << 23)
        }
    }

    /// A kick: a sine sweeping from 150 Hz down to 50 Hz with a 0.15 s decay and a short click.
    public static func kick(seconds: Double = 0.5) -> [Float] {
        let n = Int(seconds * rate)
        var phase = 0.0
        let click = noise(n, seed: 1)
        return (0..<n).map { i in
            let t = Double(i) / rate
            let f = 50 + 100 * exp(-t / 0.03)
            phase += 2 * .pi * f / rate
            return Float(0.9 * sin(phase) * exp(-t / 0.15)) + click[i] * Float(0.3 * exp(-t / 0.002))
        }
    }

    /// A snare: noise with a 60 ms decay over a 190 Hz body.
    public static func snare(seconds: Double = 0.5) -> [Float] {
        let n = Int(seconds * rate)
        let hiss = noise(n, seed: 2)
        return (0..<n).map { i in
            let t = Double(i) / rate
            return Float(0.5 * exp(-t / 0.06)) * hiss[i] + Float(0.4 * sin(2 * .pi * 190 * t) * exp(-t / 0.04))
        }
    }

    /// A closed hat: noise high-passed (a second difference, twice) with a 30 ms decay.
    public static func hat(seconds: Double = 0.5) -> [Float] {
        let n = Int(seconds * rate)
        var x = noise(n + 4, seed: 3)
        for _ in 0..<2 { x = (0..<(x.count - 2)).map { x[$0] - 2 * x[$0 + 1] + x[$0 + 2] } }
        return (0..<n).map { i in Float(0.12 * exp(-Double(i) / rate / 0.03)) * x[i] }
    }

    /// Real one-shots of a kind from hydrogen-drumkits (acoustic and electronic kits); tests
    /// using them are `.needsHydrogenKits`.
    public static func hydrogen(_ kind: String) -> [URL] {
        let root = TestPaths.hydrogenKits.path
        let chosen = [
            "kick": ["ElectricEmpireKit/EE_Kick_Hard_2.flac", "ForzeeStereo/Kick-2.wav",
                     "ColomboAcousticDrumkit/bassdrum-4mics-br-stereo-normal3.flac"],
            "snare": ["ElectricEmpireKit/EE_Snare_2.flac", "Millo_MultiLayered2/jsnare_02.flac",
                      "ColomboAcousticDrumkit/snare-opaque-normal-mic-normal_shot2.flac"],
            "hat": ["ColomboAcousticDrumkit/hihat-closed-1.flac", "ForzeeStereo/HiHatClosed-3.wav",
                    "The Black Pearl 1.0/SabianHatClosed-Hard.wav"],
        ][kind] ?? []
        return chosen.map { URL(fileURLWithPath: "\(root)/\($0)") }.filter { FileManager.default.fileExists(atPath: $0.path) }
    }
}

/// Hydrogen kits for tests that prepare a small dataset.
public enum HydrogenKits {
    /// A folder `into/<kit>/<file>` of symlinks to the first `perKit` WAV and FLAC files (sorted
    /// by path) of each hydrogen kit named: the input `timbre prep` makes one group per kit from.
    @discardableResult
    public static func stage(perKit: Int, kits: [String], into folder: URL) throws -> URL {
        let fm = FileManager.default
        for kit in kits {
            let root = TestPaths.hydrogenKits.appendingPathComponent(kit)
            guard let walker = fm.enumerator(at: root, includingPropertiesForKeys: nil) else {
                throw CocoaError(.fileNoSuchFile, userInfo: [NSFilePathErrorKey: root.path])
            }
            let files = walker.compactMap { $0 as? URL }
                .filter { ["wav", "flac"].contains($0.pathExtension.lowercased()) }
                .sorted { $0.path < $1.path }
                .prefix(perKit)
            let target = folder.appendingPathComponent(kit)
            try fm.createDirectory(at: target, withIntermediateDirectories: true)
            for file in files {
                let relative = String(file.path.dropFirst(root.path.count + 1)).replacingOccurrences(of: "/", with: "_")
                try fm.createSymbolicLink(at: target.appendingPathComponent(relative), withDestinationURL: file)
            }
        }
        return folder
    }
}

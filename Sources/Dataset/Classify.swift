import Foundation

/// The drum classes a prepared dataset is sorted into.
public enum DrumClass: String, Codable, Sendable, CaseIterable {
    case kick, snare, clap, hat, tom, cymbal, perc, other

    /// Words that name each class. The class named earliest in a name wins, and at one position the
    /// class listed first (so "SnareRim" is a snare, "CrashRideBell" a cymbal, "Ride (Custom, Zagrebin)"
    /// a cymbal although "custom" ends in "tom", and "Dununba1 Bell" a percussion bell). Short
    /// abbreviations must be a whole word; longer words may sit inside another ("909kick", "closehihat").
    static let vocabulary: [(DrumClass, whole: [String], inside: [String])] = [
        (.kick, ["bd", "kik", "kck", "bassdrum", "bass drum"], ["kick", "bassdrum", "bassdrm"]),
        (.snare, ["sd", "sn", "snr", "rs", "sr"], ["snare"]),
        (.clap, ["clp", "cp"], ["clap", "fingersnap", "snap"]),
        (.hat, ["hh", "ch", "oh", "ohh", "chh", "hho", "hhc", "ho", "hc"], ["hihat", "hat", "hhat"]),
        (.tom, ["tom", "tm", "ft", "ht", "mt", "lt", "t"], ["tom"]),
        (.cymbal, ["cc", "rc", "rd", "cy", "cym", "cra", "bell"], ["crash", "ride", "cymbal", "china", "splash"]),
        (.perc, ["cb", "rim", "bl", "fx", "drum"],
         ["perc", "cowbell", "conga", "bongo", "shaker", "shake", "tamb", "clave", "rimclick", "stick", "cabasa", "guiro",
          "block", "triangle", "agogo", "timbale", "maraca", "djembe", "dununba", "sangban", "kenkeni", "glass",
          "whistle", "click", "wood"]),
    ]

    /// Guesses a class from a path: the file's name first, then its folders from the nearest up.
    public static func guess(relativePath: String) -> DrumClass {
        var parts = relativePath.split(separator: "/").map(String.init)
        guard let file = parts.popLast() else { return .other }
        let stem = (file as NSString).deletingPathExtension
        for name in [stem] + parts.reversed() {
            if let found = match(name) { return found }
        }
        return .other
    }

    /// The class a single name suggests, if any: the vocabulary entry that starts earliest in the name.
    static func match(_ name: String) -> DrumClass? {
        let words = tokens(name)
        let joined = words.joined()
        var offsets = [Int]()
        var offset = 0
        for word in words { offsets.append(offset); offset += word.count }
        var best: (position: Int, cls: DrumClass)?
        for (cls, whole, inside) in vocabulary {
            var position = Int.max
            for (i, word) in words.enumerated() where whole.contains(word) { position = min(position, offsets[i]); break }
            for piece in inside {
                if let r = joined.range(of: piece) { position = min(position, joined.distance(from: joined.startIndex, to: r.lowerBound)) }
            }
            if position < (best?.position ?? Int.max) { best = (position, cls) }
        }
        return best?.cls
    }

    /// Lowercased words: split at anything not a letter, at letter/digit changes and at camelCase humps.
    static func tokens(_ name: String) -> [String] {
        var words = [String]()
        var current = ""
        var previous: Character?
        for ch in name {
            if !ch.isLetter {
                if !current.isEmpty { words.append(current.lowercased()); current = "" }
                previous = nil
                continue
            }
            if let p = previous, p.isLowercase, ch.isUppercase, !current.isEmpty {
                words.append(current.lowercased()); current = ""
            }
            current.append(ch)
            previous = ch
        }
        if !current.isEmpty { words.append(current.lowercased()) }
        return words
    }
}

import Foundation

/// The instrument names of a Hydrogen drum kit (`drumkit.xml` beside its samples): the kit author's
/// own label of each sample ("c3 - bass drum 1", "hi-hat open"), a better guide to the drum than a
/// file named `beats_06-38.flac`. Prep names a clip's class after its instrument when the name says
/// one, else after its path (`DrumClass.guess`).
public enum HydrogenKit {
    /// Sample file name (as written in the kit, relative to its folder) → instrument name, for the
    /// kit whose `drumkit.xml` is at `url`; empty when the file is missing or unreadable. Only the
    /// elements this needs are read (`<instrument>`, its `<name>`, every `<filename>` inside it, in
    /// layers or directly), so Hydrogen's older and newer formats both work.
    public static func instrumentNames(drumkitXML url: URL) -> [String: String] {
        guard let data = FileManager.default.contents(atPath: url.path),
              let text = String(data: data, encoding: .utf8) ?? String(data: data, encoding: .isoLatin1) else { return [:] }
        var names: [String: String] = [:]
        for block in text.components(separatedBy: "<instrument>").dropFirst() {
            let body = block.components(separatedBy: "</instrument>")[0]
            guard let name = firstElement("name", in: body) else { continue }
            for file in elements("filename", in: body) where names[file] == nil { names[file] = name }
        }
        return names
    }

    /// The text of every `<tag>…</tag>` in `text`, entities decoded, trimmed.
    static func elements(_ tag: String, in text: String) -> [String] {
        text.components(separatedBy: "<\(tag)>").dropFirst().compactMap { piece in
            guard let end = piece.range(of: "</\(tag)>") else { return nil }
            let value = decodeEntities(String(piece[..<end.lowerBound])).trimmingCharacters(in: .whitespacesAndNewlines)
            return value.isEmpty ? nil : value
        }
    }

    static func firstElement(_ tag: String, in text: String) -> String? { elements(tag, in: text).first }

    static func decodeEntities(_ s: String) -> String {
        s.replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
            .replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&apos;", with: "'")
            .replacingOccurrences(of: "&amp;", with: "&")
    }
}

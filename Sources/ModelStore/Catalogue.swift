/// One published model that `timbre models fetch NAME` can download.
///
/// Every field was read from the publisher's pages (`sourcePage`, on `dateRead`); nothing
/// is guessed: a checksum, size or sample rate the source does not state is nil and prints
/// as "unknown".
public struct CatalogueEntry: Sendable, Codable, Equatable {
    /// The name `fetch`, `remove` and `list` use: the installed file is `NAME.ts`.
    public var name: String
    /// Who publishes it: "ACIDS-IRCAM" or "Intelligent Instruments Lab".
    public var publisher: String
    /// The model's sample rate in Hz, as its publisher states it (nil: not stated).
    public var sampleRate: Int?
    /// The size as the source shows it ("164 MB", rounded), or "unknown".
    public var size: String
    /// The exact size in bytes, when published; `fetch` then checks it.
    public var bytes: Int64?
    /// The licence as the source states it.
    public var licence: String
    /// Where `fetch` downloads it from.
    public var url: String
    /// The page the entry was read from.
    public var sourcePage: String
    /// The day the entry was read (YYYY-MM-DD).
    public var dateRead: String
    /// The SHA-256 the source publishes (lowercase hex), nil when none is published.
    public var sha256: String?
    /// Anything a user should know about the entry (a pinned revision, an update).
    public var note: String?

    public init(name: String, publisher: String, sampleRate: Int?, size: String, bytes: Int64? = nil, licence: String,
                url: String, sourcePage: String, dateRead: String, sha256: String?, note: String? = nil) {
        self.name = name
        self.publisher = publisher
        self.sampleRate = sampleRate
        self.size = size
        self.bytes = bytes
        self.licence = licence
        self.url = url
        self.sourcePage = sourcePage
        self.dateRead = dateRead
        self.sha256 = sha256
        self.note = note
    }

    /// The installed file's name.
    public var file: String { name + ".ts" }
}

/// The published RAVE models of ACIDS-IRCAM and the Intelligent Instruments Lab (IIL).
///
/// A Swift table rather than a data file: the executables are installed as two files
/// (`make release` builds `timbre` and `timbre-core`), and a table compiled in cannot be left
/// behind by a copy. `timbre models list --json` prints it. How it was read, and how to add an
/// entry: docs/MODELS.md.
public enum Catalogue {
    /// The day every entry below was read.
    public static let dateRead = "2026-12-07"

    static let iilPage = "https://huggingface.co/Intelligent-Instruments-Lab/rave-models"
    static let iilFiles = "https://huggingface.co/Intelligent-Instruments-Lab/rave-models/tree/main"
    static let iilLicence = "CC-BY-NC-4.0"
    static let acidsPage = "https://acids-ircam.github.io/rave_models_download"

    /// An IIL model at `main` (or at a pinned revision where the checksum was read there).
    static func iil(_ name: String, _ rate: Int?, _ size: String, sha256: String? = nil,
                    revision: String = "main", file: String? = nil, note: String? = nil) -> CatalogueEntry {
        CatalogueEntry(
            name: name, publisher: "Intelligent Instruments Lab", sampleRate: rate, size: size, licence: iilLicence,
            url: "https://huggingface.co/Intelligent-Instruments-Lab/rave-models/resolve/\(revision)/\(file ?? name + ".ts")",
            sourcePage: sha256 == nil ? iilFiles : "https://huggingface.co/Intelligent-Instruments-Lab/rave-models/blob/\(revision)/\(file ?? name + ".ts")",
            dateRead: dateRead, sha256: sha256, note: note)
    }

    /// An ACIDS-IRCAM model served by the RAVE VST's model API.
    static func acids(_ name: String) -> CatalogueEntry {
        CatalogueEntry(
            name: name, publisher: "ACIDS-IRCAM", sampleRate: nil, size: "unknown",
            licence: "not stated where read",
            url: "https://play.forum.ircam.fr/rave-vst-api/get_model/\(name)",
            sourcePage: acidsPage, dateRead: dateRead, sha256: nil,
            note: "name as served by the IRCAM Forum's RAVE VST model API; rate, size and licence are not stated where read")
    }

    /// Every entry, IIL's then ACIDS-IRCAM's, each group sorted by name.
    public static let entries: [CatalogueEntry] = [
        iil("birds_dawnchorus_b2048_r48000_z8", 48000, "67 MB"),
        iil("birds_motherbird_b2048_r48000_z16", 48000, "138 MB"),
        iil("birds_pluma_b2048_r48000_z12", 48000, "42.1 MB"),
        iil("crozzoli_bigensemblesmusic_18d", nil, "149 MB"),
        iil("guitar_iil_b2048_r48000_z16", 48000, "164 MB",
            sha256: "02458214e23890d6818504319a5b9903eabfe87a524491f6524f453e7f3dbcf0"),
        iil("humpbacks_pondbrain_b2048_r48000_z20", 48000, "121 MB"),
        iil("magnets_b2048_r48000_z8", 48000, "114 MB"),
        iil("marinemammals_pondbrain_b2048_r48000_z20", 48000, "121 MB"),
        iil("mrp_strengjavera_b2048_r44100_z16", 44100, "150 MB"),
        iil("organ_archive_b2048_r48000_z16", 48000, "164 MB"),
        // Published first as organ_bach_b2048_sr48000_z16.ts, renamed unchanged (a rename
        // commit of 0 bytes); the checksum was read at the first revision, so the address is pinned there.
        iil("organ_bach_b2048_r48000_z16", 48000, "164 MB",
            sha256: "f7c06309e0388e666993226c06ed1438b56adc23b2a5a3b8f9155ed26990423c",
            revision: "8471a1691f659ce52fcb2bb393afcc6f80187b17", file: "organ_bach_b2048_sr48000_z16.ts",
            note: "pinned to revision 8471a16, where the checksum was read (later renamed to this name unchanged)"),
        iil("sax_soprano_franziskaschroeder_b2048_r48000_z20", 48000, "121 MB",
            sha256: "216cf07fe8c121671b23771b03652c23fa39a20f7e7072d093cce1aef3fda3ae",
            revision: "64a104676f63c35f2985312ed5d8761a68031102",
            note: "pinned to revision 64a1046, where the checksum was read"),
        iil("voice_hifitts_b2048_r48000_z16", 48000, "164 MB"),
        iil("voice_jvs_b2048_r44100_z16", 44100, "150 MB",
            note: "updated 2023-11-28 (reduced latency); the checksum shown for the first upload is not this file's"),
        iil("voice_vctk_b2048_r44100_z22", 44100, "150 MB",
            note: "updated 2023-11-28 (reduced latency)"),
        iil("voice_vocalset_b2048_r48000_z16", 48000, "164 MB",
            sha256: "ba1b5392c4645c8040aa618e43b8269d840b9752536caac37c91c698334fa9a6"),
        iil("water_pondbrain_b2048_r48000_z16", 48000, "unknown"),
    ] + ["darbouka_onnx", "isis", "musicnet", "nasa", "percussion", "sol_full", "sol_ordinario",
         "sol_ordinario_fast", "vintage", "VCTK"].map(acids)

    /// The entry named `name` (with or without `.ts`), if any.
    public static func entry(named name: String) -> CatalogueEntry? {
        let stem = name.hasSuffix(".ts") ? String(name.dropLast(3)) : name
        return entries.first { $0.name == stem }
    }
}

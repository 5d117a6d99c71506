import ArgumentParser
import Dataset
import Foundation

struct Groups: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show how far a prepared folder's clips are from their nearest neighbours.",
        discussion: """
        For every clip: the log-mel distance (dB, the one prep groups kits with) to the nearest \
        clip of its own kit and class (a distinct recording of the same kind of drum) and to the \
        nearest clip of another kit. Prints quantiles of both and how many clips fall under \
        each threshold; prep merges kits below \(Grouping.nearIdenticalDB) dB.
        """)

    @Argument(help: "A folder made by `timbre prep` or `timbre corpus`.")
    var dataset: String

    @Option(help: "Only kits whose name contains this (e.g. \"GM\" or a hydrogen kit).")
    var kit: String?

    @Option(help: "Leave out kits whose name contains this.")
    var notKit: String?

    func run() throws {
        let survey = try GroupingSurvey.measure(folder: URL(fileURLWithPath: dataset))
        let clips = survey.clips.filter { c in
            (kit.map { c.kit.contains($0) } ?? true) && !(notKit.map { c.kit.contains($0) } ?? false)
        }
        for (label, values) in [("same kit, same class", clips.compactMap(\.sameKitSameClass)),
                                ("another kit", clips.compactMap(\.otherKit))] {
            let q = [0.0, 0.01, 0.05, 0.25, 0.5].map { GroupingSurvey.quantile(values, $0).map { String(format: "%.2f", $0) } ?? "-" }
            let under = [0.5, 1, 2, 3, 4].map { t in "\(values.filter { $0 < t }.count) < \(t)" }
            print("\(label): \(values.count) clips; min \(q[0]), 1% \(q[1]), 5% \(q[2]), 25% \(q[3]), median \(q[4]) dB; "
                  + under.joined(separator: ", "))
        }
        let closest = clips.filter { $0.otherKit != nil }.sorted { $0.otherKit! < $1.otherKit! }.prefix(10)
        print("closest across kits:")
        for c in closest { print(String(format: "  %.3f dB  %@ ~ %@", c.otherKit!, c.path, c.otherKitPath ?? "")) }
    }
}

import Foundation

/// Progress on stderr: a bar redrawn in place on a terminal, a line every
/// ten percent otherwise (logs, CI).
final class ProgressReporter {
    private let label: String
    private let isTerminal = isatty(STDERR_FILENO) == 1
    private var lastDecile = -1
    private var lastDraw = Date.distantPast
    private let start = Date()

    init(_ label: String) { self.label = label }

    func update(_ fraction: Double) {
        let fraction = min(max(fraction, 0), 1)
        let elapsed = Date().timeIntervalSince(start)
        if isTerminal {
            guard Date().timeIntervalSince(lastDraw) > 0.1 || fraction >= 1 else { return }
            lastDraw = Date()
            let width = 30
            let filled = Int(fraction * Double(width))
            let eta = fraction > 0 ? elapsed / fraction - elapsed : 0
            let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
            let line = String(format: "\r%@ %@ %3.0f%%  %.1fs left ", label, bar, fraction * 100, eta)
            FileHandle.standardError.write(Data(line.utf8))
            if fraction >= 1 { FileHandle.standardError.write(Data("\n".utf8)) }
        } else {
            let decile = Int(fraction * 10)
            guard decile > lastDecile else { return }
            lastDecile = decile
            let line = String(format: "%@: %3.0f%% (%.1fs)\n", label, fraction * 100, elapsed)
            FileHandle.standardError.write(Data(line.utf8))
        }
    }
}

import ArgumentParser
import AudioIO
import DSP
import Foundation

extension PhaseMethod: ExpressibleByArgument {}

struct Invert: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Drop the phase of a file (or take a magnitude array) and reconstruct it.",
        discussion: """
        timbre invert IN.wav OUT.wav keeps only IN's STFT magnitude, reconstructs a phase with \
        --method and writes OUT (each channel on its own). timbre invert --magnitude M.npy OUT.wav \
        inverts a frames × bins float32 magnitude made elsewhere (bins = fft/2 + 1). Prints the \
        spectral convergence of OUT's STFT against the magnitude (dB, lower is better) and the time taken.
        """)

    @Option(help: "gla, fgla, pghi or pghi+fgla.")
    var method: PhaseMethod = .pghiFGLA

    @Option(help: "Griffin-Lim iterations (gla, fgla, pghi+fgla).")
    var iterations: Int = 100

    @Option(help: "FFT size (Hann window of that length).")
    var fft: Int = 1024

    @Option(help: "Hop in samples.")
    var hop: Int = 128

    @Option(help: "PGHI's tolerance: bins quieter than this fraction of the loudest get random phase.")
    var tolerance: Float = 1e-3

    @Option(help: "Invert this .npy magnitude (frames × bins, float32) instead of an audio file's.")
    var magnitude: String?

    @Option(help: "Sample rate written with --magnitude.")
    var rate: Double = 44100

    @Option(help: "Output sample format: 16, 24 or float.")
    var format: String = "float"

    @Argument(help: "IN.wav OUT.wav, or only OUT.wav with --magnitude.")
    var files: [String] = []

    func run() throws {
        guard let sampleFormat = SampleFormat(userName: format) else { throw ValidationError("--format must be 16, 24 or float") }
        guard fft >= 16, fft % 2 == 0 else { throw UserError("--fft must be an even size of at least 16, not \(fft)") }
        guard hop >= 1, hop <= fft / 2 else { throw UserError("--hop must be between 1 and fft/2 (\(fft / 2)), not \(hop)") }
        guard iterations >= 0 else { throw UserError("--iterations must not be negative") }
        let stft = STFT(size: fft, hop: hop)
        let started = Date()
        let output: String
        var channels: [[Float]] = []
        var scores: [Double] = []
        var sampleRate = rate
        if let magnitude {
            guard files.count == 1 else { throw ValidationError("with --magnitude give only OUT.wav") }
            output = files[0]
            let (shape, values) = try Npy.read(URL(fileURLWithPath: magnitude))
            guard shape.count == 2 else {
                throw UserError("\(magnitude): expected a 2-D frames × bins array, got shape \(shape)")
            }
            do {
                let audio = try PhaseReconstruction.reconstruct(magnitude: values, frames: shape[0], bins: shape[1], stft: stft,
                                                                method: method, iterations: iterations, tolerance: tolerance)
                channels = [audio]
                scores = [SpectralConvergence.decibels(audio: audio, referenceMagnitude: values, stft: stft)]
            } catch {
                throw UserError("\(magnitude): \(error)")
            }
        } else {
            guard files.count == 2 else { throw ValidationError("give IN.wav OUT.wav (or --magnitude M.npy OUT.wav)") }
            output = files[1]
            let input = try AudioFile.read(URL(fileURLWithPath: files[0]))
            sampleRate = input.sampleRate
            guard input.frameCount > 0 else { throw UserError("\(files[0]): the file has no samples") }
            for channel in input.channels {
                do {
                    let result = try PhaseReconstruction.invert(signal: channel, stft: stft, method: method, iterations: iterations,
                                                                     tolerance: tolerance)
                    channels.append(result.audio)
                    scores.append(result.spectralConvergenceDB)
                } catch {
                    throw UserError("\(files[0]): \(error)")
                }
            }
        }
        let seconds = Date().timeIntervalSince(started)
        try AudioFile.write(AudioBuffer(sampleRate: sampleRate, channels: channels), to: URL(fileURLWithPath: output), format: sampleFormat)
        let mean = scores.reduce(0, +) / Double(max(scores.count, 1))
        let iterationNote = method == .pghi ? "" : ", \(iterations) iterations"
        print(output)
        print(String(format: "  %@%@, fft %d, hop %d: spectral convergence %.2f dB, %.1f ms",
                     method.rawValue, iterationNote, fft, hop, mean, seconds * 1000))
    }
}

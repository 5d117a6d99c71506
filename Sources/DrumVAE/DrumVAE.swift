import Foundation

/// The drum one-shot VAE: model, training, generation, report, TorchScript export.
///
/// A clip-level β-VAE on fixed-length one-shots. The encoder reads a log-magnitude
/// STFT; the decoder writes a complex STFT (log-magnitude and a phase direction per
/// bin) that an inverse STFT turns into the waveform, trained with a multi-scale
/// spectral loss on that waveform. The magnitude-only variant (the failure mode this
/// project started from) is kept as a representation for the baseline measurements.
public enum DrumVAE {}

/// An error in a run folder, a dataset or an argument, reported as one line naming the file.
public struct DrumVAEError: Error, CustomStringConvertible, Sendable {
    public var path: String
    public var reason: String

    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }

    public var description: String { path.isEmpty ? reason : "\(path): \(reason)" }
}

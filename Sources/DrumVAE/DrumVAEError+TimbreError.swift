import Errors

extension DrumVAEError: TimbreError {
    public var operation: String { "drum VAE" }
    public var location: String? { self.path.isEmpty ? nil : Optional(self.path) }
}

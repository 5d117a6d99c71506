import Errors

extension AudioFileError: TimbreError {
    public var operation: String { "audio file" }
    public var location: String? { path }
}

extension NpyError: TimbreError {
    public var operation: String { "npy file" }
    public var location: String? { path }
}

extension ResamplerError: TimbreError {
    public var operation: String { "resample" }
    public var location: String? { nil }
}

import Testing
@testable import DrumVAE

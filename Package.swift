// swift-tools-version: 6.1
import PackageDescription

// Debian's libtorch keeps the C++ API headers (torch/torch.h) one level down.
let torchCxxFlags: [String] = ["-I/usr/include/torch/csrc/api/include", "-Wno-deprecated-declarations"]

let package = Package(
    name: "timbre",
    platforms: [.macOS(.v15)],
    products: [
        // `timbre` is the light front end (no libtorch): it runs `send` and `status` and hands
        // every other command line to `timbre-core`, built beside it from the `timbre` target.
        .executable(name: "timbre", targets: ["TimbreFront"]),
        .executable(name: "timbre-core", targets: ["timbre"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
    ],
    targets: [
        // MARK: C shims, one per native library.
        .target(
            name: "CTorch",
            cxxSettings: [.unsafeFlags(torchCxxFlags)],
            linkerSettings: [
                .linkedLibrary("torch"), .linkedLibrary("torch_cpu"), .linkedLibrary("c10"),
            ]
        ),
        .systemLibrary(name: "CSndfile", pkgConfig: "sndfile", providers: [.apt(["libsndfile1-dev"])]),
        .systemLibrary(name: "CSoxr", pkgConfig: "soxr", providers: [.apt(["libsoxr-dev"])]),
        .systemLibrary(name: "CFFTW", pkgConfig: "fftw3f", providers: [.apt(["libfftw3-dev"])]),
        .systemLibrary(name: "CCairo", pkgConfig: "cairo", providers: [.apt(["libcairo2-dev"])]),
        .systemLibrary(name: "CEbur128", pkgConfig: "libebur128", providers: [.apt(["libebur128-dev"])]),
        .systemLibrary(name: "CAubio", pkgConfig: "aubio", providers: [.apt(["libaubio-dev"])]),
        .systemLibrary(name: "CJack", pkgConfig: "jack", providers: [.apt(["libjack-jackd2-dev"])]),
        .systemLibrary(name: "CEdit", pkgConfig: "libedit", providers: [.apt(["libedit-dev"])]),

        // MARK: The error protocol every module conforms to (no dependencies).
        .target(name: "Errors"),
        // MARK: The control protocol: OSC, typed commands, status, the UDP client (no libtorch).
        .target(name: "Protocol", dependencies: ["Errors"]),

        // MARK: Swift modules, each the only user of its native library.
        .target(name: "Torch", dependencies: ["CTorch", "Errors"]),
        .target(name: "AudioIO", dependencies: ["CSndfile", "CSoxr", "Errors"]),
        .target(name: "DSP", dependencies: ["CFFTW", "Errors"]),
        .target(name: "Plot", dependencies: ["CCairo", "DSP", "Errors"]),
        .target(name: "ModelHost", dependencies: ["Torch", "AudioIO", "DSP"]),
        .target(name: "Dataset", dependencies: ["AudioIO", "DSP", "CEbur128", "CAubio", "Checksum", "Errors"]),
        .target(name: "Engine", dependencies: ["Torch", "AudioIO", "DSP", "ModelHost", "CJack", "Protocol", "Errors"]),
        .target(
            name: "Control",
            dependencies: [
                "Engine", "Errors",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .target(name: "DrumVAE", dependencies: ["Torch", "AudioIO", "DSP", "Plot", "Dataset", "Errors"]),
        .target(name: "DrumEval", dependencies: ["DrumVAE", "Torch", "DSP", "Plot", "Dataset", "AudioIO", "Errors"]),

        // MARK: Harnesses outside the libraries: a dummy jackd for tests and `bench capacity`,
        // and the benchmarks behind `timbre bench` (only the command line and tests use them).
        .target(name: "JackTestSupport", dependencies: ["Engine"]),
        .target(name: "Benchmarks", dependencies: ["Torch", "AudioIO", "DSP", "ModelHost", "Dataset", "DrumVAE", "Engine", "JackTestSupport"]),

        // MARK: The REPL (light: Protocol and libedit, never libtorch).
        // `LineEditor` is the one module over libedit; `Console` is `timbre repl`'s library.
        .target(name: "LineEditor", dependencies: ["CEdit"]),
        .target(name: "Console", dependencies: ["LineEditor", "Protocol"]),

        // MARK: The model library (issue 18): the catalogue, the models folder, fetch (no libtorch).
        // `Checksum` holds SHA-256, shared with Dataset, so the front end needs no native library for it.
        .target(name: "Checksum"),
        .target(name: "ModelStore", dependencies: ["Checksum", "Errors"]),

        // MARK: The command line.
        // The commands both executables run (send, status) and the one error-to-exit mapping.
        .target(
            name: "ClientCommands",
            dependencies: ["Protocol", "Console", "ModelStore", "Errors", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        // `timbre`: the light front end (see the products above).
        .executableTarget(name: "TimbreFront", dependencies: ["ClientCommands"]),
        // `timbre-core`: every command.
        .executableTarget(
            name: "timbre",
            dependencies: [
                "Torch", "AudioIO", "DSP", "Plot", "ModelHost", "Dataset", "Engine", "Control", "DrumVAE", "DrumEval", "Benchmarks",
                "ClientCommands", "ModelStore", "Errors",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),

        // MARK: Tests mirror modules.
        .testTarget(name: "TorchTests", dependencies: ["Torch", "TestSupport"]),
        .testTarget(name: "AudioIOTests", dependencies: ["AudioIO", "TestSupport"]),
        .testTarget(name: "DSPTests", dependencies: ["DSP", "AudioIO", "TestSupport"]),
        .testTarget(name: "PlotTests", dependencies: ["Plot", "DSP", "AudioIO", "TestSupport"]),
        .testTarget(name: "DatasetTests", dependencies: ["Dataset", "TestSupport"]),
        .testTarget(name: "EngineTests", dependencies: ["Engine", "JackTestSupport", "Benchmarks", "TestSupport"]),
        .testTarget(name: "ProtocolTests", dependencies: ["Protocol", "TestSupport"]),
        .testTarget(name: "ConsoleTests", dependencies: ["Console", "TestSupport"]),
        .testTarget(name: "ControlTests", dependencies: ["Control", "JackTestSupport", "TestSupport"]),
        .testTarget(name: "DrumVAETests", dependencies: ["DrumVAE", "Dataset", "TestSupport"]),
        .testTarget(name: "DrumEvalTests", dependencies: ["DrumEval", "DrumVAE", "Dataset", "DSP", "TestSupport"]),
        .testTarget(name: "ModelHostTests", dependencies: ["ModelHost", "DSP", "Benchmarks", "TestSupport"]),
        .testTarget(name: "ModelStoreTests", dependencies: ["ModelStore", "TestSupport"]),
        .testTarget(name: "TimbreCLITests", dependencies: ["TestSupport", "AudioIO", "Engine", "JackTestSupport", "ModelStore"]),
        .target(name: "TestSupport", dependencies: ["DSP"], path: "Tests/TestSupport"),
    ],
    cxxLanguageStandard: .cxx17
)

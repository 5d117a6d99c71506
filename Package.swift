// swift-tools-version: 6.1
import PackageDescription

// Debian's libtorch keeps the C++ API headers (torch/torch.h) one level down.
let torchCxxFlags: [String] = ["-I/usr/include/torch/csrc/api/include", "-Wno-deprecated-declarations"]

let package = Package(
    name: "timbre",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "timbre", targets: ["timbre"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
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

        // MARK: Swift modules, each the only user of its native library.
        .target(name: "Torch", dependencies: ["CTorch"]),
        .target(name: "AudioIO", dependencies: ["CSndfile", "CSoxr"]),
        .target(name: "ModelHost", dependencies: ["Torch", "AudioIO"]),

        // MARK: The command line.
        .executableTarget(
            name: "timbre",
            dependencies: [
                "Torch", "AudioIO", "ModelHost",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),

        // MARK: Tests mirror modules.
        .testTarget(name: "TorchTests", dependencies: ["Torch", "TestSupport"]),
        .testTarget(name: "AudioIOTests", dependencies: ["AudioIO", "TestSupport"]),
        .testTarget(name: "ModelHostTests", dependencies: ["ModelHost", "TestSupport"]),
        .testTarget(name: "TimbreCLITests", dependencies: ["TestSupport", "AudioIO"]),
        .target(name: "TestSupport", path: "Tests/TestSupport"),
    ],
    cxxLanguageStandard: .cxx17
)

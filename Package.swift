// swift-tools-version: 6.0
// ThermoSweep: distributed SGD-temperature sweeps with a SIMD CNN trainer.
//
// The release build targets a CPU explicitly (see the Makefile: `CPU ?= x86-64-v4`); the C target
// CPUCheck refuses to start on a CPU that lacks what the build was compiled for, before any
// vectorised Swift code runs.
import PackageDescription

let kernelFlags: [SwiftSetting] = [
    // Bounds checks live in debug-only asserts inside Kernels; release kernels run unchecked.
    .unsafeFlags(["-Ounchecked"], .when(configuration: .release)),
]

let package = Package(
    name: "ThermoSweep",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "thermosweep", targets: ["thermosweep"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
    ],
    targets: [
        .systemLibrary(name: "CZlib", path: "Sources/CZlib"),
        .systemLibrary(name: "CZeroMQ", path: "Sources/CZeroMQ", pkgConfig: "libzmq",
                       providers: [.apt(["libzmq3-dev"])]),
        .target(name: "CPUCheck", path: "Sources/CPUCheck"),
        .target(name: "Kernels", swiftSettings: kernelFlags),
        .target(name: "Trainer", dependencies: ["Kernels", "CZlib"]),
        .target(name: "Thermometer", dependencies: ["Trainer"]),
        .target(name: "ZeroMQ", dependencies: ["CZeroMQ"]),
        .target(name: "ScalingLaw"),
        .target(name: "SweepProtocol"),
        .target(name: "Store", dependencies: ["SweepProtocol", .product(name: "GRDB", package: "GRDB.swift")]),
        .target(name: "Coordinator", dependencies: ["SweepProtocol", "Store", "ZeroMQ"]),
        .target(name: "Worker", dependencies: ["SweepProtocol", "ZeroMQ", "Trainer", "Thermometer"]),
        // Thermometer: it owns the CellResult format that the journal's results are decoded from.
        .target(name: "Report", dependencies: ["ScalingLaw", "SweepProtocol", "Store", "Thermometer"]),
        .executableTarget(
            name: "thermosweep",
            dependencies: [
                "CPUCheck", "Kernels", "Trainer", "Thermometer", "SweepProtocol", "Store", "Coordinator", "Worker", "ZeroMQ",
                "Report",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        .testTarget(name: "KernelsTests", dependencies: ["Kernels"]),
        .testTarget(name: "TrainerTests", dependencies: ["Trainer", "Kernels"]),
        .testTarget(name: "ThermometerTests", dependencies: ["Thermometer", "Trainer"]),
        .testTarget(name: "ZeroMQTests", dependencies: ["ZeroMQ"]),
        .testTarget(name: "ScalingLawTests", dependencies: ["ScalingLaw"]),
        .testTarget(name: "SweepProtocolTests", dependencies: ["SweepProtocol"]),
        .testTarget(name: "StoreTests", dependencies: ["Store", "SweepProtocol"]),
        .testTarget(name: "CoordinatorTests", dependencies: ["Coordinator", "SweepProtocol", "Store", "ZeroMQ"]),
        .testTarget(name: "ReportTests",
                    dependencies: ["Report", "ScalingLaw", "Store", "SweepProtocol", "Thermometer"]),
        .testTarget(name: "WorkerTests", dependencies: ["Worker", "SweepProtocol", "ZeroMQ"]),
        .testTarget(name: "SweepTests", dependencies: ["Store", "SweepProtocol", "ZeroMQ", "Worker", "thermosweep"],
                    exclude: ["Fixtures"]),
        .testTarget(name: "CLITests", dependencies: ["thermosweep", "SweepProtocol", "Thermometer", "Trainer"]),
    ]
)

// swift-tools-version: 6.0
// ThermoSweep: distributed SGD-temperature sweeps with a SIMD CNN trainer.
//
// The release build targets a CPU explicitly (the Makefile's `CPU`, by default the widest this
// machine runs: scripts/host_cpu.sh); the C target CPUCheck refuses to start on a CPU that lacks
// what the build was compiled for, before any vectorised Swift code runs.
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
        // The cell contract (specs, limits, the result record) and the small things every module
        // shares (hash, seeded generators); it depends on nothing.
        .target(name: "Cell"),
        .target(name: "Kernels", swiftSettings: kernelFlags),
        .target(name: "Trainer", dependencies: ["Cell", "Kernels", "CZlib"]),
        .target(name: "Thermometer", dependencies: ["Cell", "Trainer", "Kernels"]),
        .target(name: "ZeroMQ", dependencies: ["CZeroMQ"]),
        .target(name: "ScalingLaw", dependencies: ["Cell"]),
        .target(name: "SweepProtocol", dependencies: ["Cell", "CZlib"]),
        .target(name: "Store", dependencies: ["Cell", "SweepProtocol", .product(name: "GRDB", package: "GRDB.swift"),
                                              .product(name: "GRDBSQLite", package: "GRDB.swift")]),
        .target(name: "Coordinator", dependencies: ["Cell", "SweepProtocol", "Store", "ZeroMQ"]),
        .target(name: "Worker", dependencies: ["Cell", "SweepProtocol", "ZeroMQ", "Trainer", "Thermometer"]),
        .target(name: "Report", dependencies: ["Cell", "ScalingLaw", "SweepProtocol", "Store"]),
        // One run of a sweep's coordinator (journal, loop, local worker processes, stop, exports),
        // the status read model and key files: what the commands are thin shells over.
        .target(name: "Session", dependencies: ["Cell", "Coordinator", "Report", "Store", "SweepProtocol", "ZeroMQ"]),
        .executableTarget(
            name: "thermosweep",
            dependencies: [
                "CPUCheck", "Cell", "Kernels", "Trainer", "Thermometer", "SweepProtocol", "Store", "Coordinator",
                "Worker", "ZeroMQ", "Report", "ScalingLaw", "Session",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        // What the test targets share: the opt-in benchmark switch, `.ownThread` for tests that wait.
        .target(name: "TestSupport", dependencies: ["Cell"], path: "Tests/TestSupport"),
        .testTarget(name: "CellTests", dependencies: ["Cell"]),
        .testTarget(name: "KernelsTests", dependencies: ["Cell", "Kernels"]),
        .testTarget(name: "TrainerTests", dependencies: ["TestSupport", "Cell", "Trainer", "Kernels"]),
        .testTarget(name: "ThermometerTests", dependencies: ["TestSupport", "Cell", "Thermometer", "Trainer"]),
        .testTarget(name: "ZeroMQTests", dependencies: ["TestSupport", "ZeroMQ"]),
        .testTarget(name: "ScalingLawTests", dependencies: ["TestSupport", "Cell", "ScalingLaw"]),
        .testTarget(name: "SweepProtocolTests", dependencies: ["TestSupport", "Cell", "SweepProtocol"]),
        .testTarget(name: "StoreTests", dependencies: ["TestSupport", "Cell", "Store", "SweepProtocol",
                                                    .product(name: "GRDB", package: "GRDB.swift")]),
        .testTarget(name: "CoordinatorTests", dependencies: ["TestSupport", "Cell", "Coordinator", "SweepProtocol", "Store", "ZeroMQ"]),
        .testTarget(name: "ReportTests", dependencies: ["TestSupport", "Cell", "Report", "ScalingLaw", "Store", "SweepProtocol"]),
        .testTarget(name: "SessionTests", dependencies: ["TestSupport", "Session", "Store", "SweepProtocol", "Worker", "ZeroMQ"]),
        .testTarget(name: "WorkerTests", dependencies: ["TestSupport", "Cell", "Worker", "SweepProtocol", "ZeroMQ"]),
        // A worker with test-only faults (a given release, hanging jobs), built beside thermosweep.
        .executableTarget(name: "thermosweep-fault-worker", dependencies: ["SweepProtocol", "Worker"],
                          path: "Tests/FaultWorker"),
        .testTarget(name: "SweepTests", dependencies: ["TestSupport", "Cell", "Session", "Store", "SweepProtocol", "ZeroMQ", "Worker", "thermosweep",
                                                       "thermosweep-fault-worker"],
                    exclude: ["Fixtures"]),
        .testTarget(name: "CLITests", dependencies: ["TestSupport", "Cell", "thermosweep", "SweepProtocol", "Thermometer", "Trainer",
                                                    "Report", "ScalingLaw"]),
    ]
)

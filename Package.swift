// swift-tools-version: 6.1
//
// Concord: an embedded CRDT database for Swift.
//
// Layers (each a target; a lower layer never imports a higher one):
//   CLMDB  -> LMDB  -> Concord -> ConcordReports -> ConcordServer -> ConcordCommand (the
//   `concord` executable)
//   CRDTs (standard library only) -> Concord
//   Concord uses swift-log, swift-metrics and swift-crypto; ConcordReports builds the JSON
//   documents the command and the HTTP server share; ConcordServer (`concord serve`) is the
//   only target that uses Hummingbird and swift-prometheus, so an application that links
//   Concord never resolves a web server.
//   NATSClient (swift-nio, swift-nio-ssl; nothing of Concord's) -> ConcordNATS (Concord +
//   NATSClient: `NATSReplica`, members in separate processes) -> ConcordCommand
//
// `Fuzz/` and `Benchmarks/` are separate packages that depend on this one by path, so an
// application that links Concord never resolves the fuzzing or benchmarking dependencies.
//
// Compile flags:
//   CONCORD_INVARIANTS  enables expensive internal invariant checks (assertions that walk
//                       whole data structures). Debug builds always run the cheap ones.

import PackageDescription

let strictSettings: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
]

// The layers an application calls on its hot paths (CRDT types, the LMDB face, the engine):
// release builds serialize their function bodies for other modules, so that a caller's
// `LWWRegister<[UInt8]>` or `Replica.update` is specialized for its types instead of
// instantiating generic metadata on every call.
let hotPathSettings: [SwiftSetting] =
    strictSettings + [.unsafeFlags(["-cross-module-optimization"], .when(configuration: .release))]

let package = Package(
    name: "Concord",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "Concord", targets: ["Concord"]),
        .library(name: "CRDTs", targets: ["CRDTs"]),
        .library(name: "LMDB", targets: ["LMDB"]),
        .library(name: "ConcordSimulation", targets: ["ConcordSimulation"]),
        .library(name: "ConcordServer", targets: ["ConcordServer"]),
        .library(name: "ConcordNATS", targets: ["ConcordNATS"]),
        .executable(name: "concord", targets: ["ConcordCommand"]),
        .library(name: "NATSClient", targets: ["NATSClient"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.5.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.0"),
        .package(url: "https://github.com/x-sheep/swift-property-based", from: "2.0.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.0.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.0.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.65.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.27.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CLMDB",
            pkgConfig: "lmdb",
            providers: [.apt(["liblmdb-dev"])]
        ),
        .target(
            name: "Locking",
            swiftSettings: strictSettings
        ),
        .target(
            name: "LMDB",
            dependencies: ["CLMDB", "Locking"],
            swiftSettings: hotPathSettings
        ),
        .target(
            name: "CRDTs",
            dependencies: ["Locking"],
            swiftSettings: hotPathSettings
        ),
        .target(
            name: "Concord",
            dependencies: [
                "LMDB",
                "CRDTs",
                "Locking",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: hotPathSettings
        ),
        .target(
            name: "ConcordReports",
            dependencies: ["Concord"],
            swiftSettings: strictSettings
        ),
        .target(
            name: "ConcordSimulation",
            dependencies: ["Concord"],
            swiftSettings: strictSettings
        ),
        .target(
            name: "ConcordServer",
            dependencies: [
                "Concord",
                "ConcordReports",
                "Locking",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        // A member replicating with other processes through NATS JetStream (`NATSReplica`):
        // the only target joining Concord and the NATS client, so an application that keeps
        // its replicas in one process never links swift-nio.
        .target(
            name: "ConcordNATS",
            dependencies: [
                "Concord", "NATSClient", "Locking",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "ConcordCommand",
            dependencies: [
                "Concord",
                "ConcordNATS",
                "NATSClient",
                "ConcordReports",
                "ConcordServer",
                "ConcordSimulation",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        // NATS + JetStream client on swift-nio; depends on nothing of Concord's.
        .target(
            name: "NATSClient",
            dependencies: [
                "Locking",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "NATSClientTests",
            dependencies: ["NATSClient"],
            swiftSettings: strictSettings
        ),
        // Needs `nats-server` in PATH and `openssl`: run by `make test-cluster`, not `make test`.
        .testTarget(
            name: "NATSIntegrationTests",
            dependencies: ["NATSClient"],
            swiftSettings: strictSettings
        ),
        // Members as `concord replica run` processes over real nats-servers: run by
        // `make test-cluster`, not `make test`.
        .testTarget(
            name: "ConcordClusterTests",
            dependencies: ["NATSClient"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "LMDBTests",
            dependencies: ["LMDB", "Locking"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "CRDTsTests",
            dependencies: [
                "CRDTs",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "ConcordTests",
            dependencies: [
                "Concord", "ConcordSimulation", "LMDB", "Locking",
                .product(name: "MetricsTestKit", package: "swift-metrics"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strictSettings
        ),
    ]
)

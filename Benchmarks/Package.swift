// swift-tools-version: 6.1
//
// Concord's benchmark suite: a package of its own so that an application that links Concord
// never resolves ordo-one/benchmark.
//
// - `Benchmarks/ConcordBenchmarks`: the package-benchmark suite (`swift package benchmark`),
//   latency and malloc counters for every single-operation shape, Concord and raw LMDB.
// - `Sources/ConcordBenchmarkTable`: runs every shape (Concord and raw LMDB in the same
//   process and run) and prints the one summary table of BENCHMARKS.md (`make bench`).
// - `Sources/RawLMDB`: the raw LMDB side, in C, calling liblmdb directly.
// - `Sources/BenchmarkKit`: the workloads both executables share.
// - `Sources/ConcordClusterBench`: replication between processes through NATS JetStream (one
//   server and three) beside the in-memory bus (`make bench-cluster`).

import PackageDescription

let package = Package(
    name: "ConcordBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "Concord", path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.0.0"),
    ],
    targets: [
        .target(
            name: "RawLMDB",
            linkerSettings: [.linkedLibrary("lmdb")]
        ),
        .target(
            name: "BenchmarkKit",
            dependencies: [
                "RawLMDB",
                .product(name: "Concord", package: "Concord"),
                .product(name: "LMDB", package: "Concord"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        .executableTarget(
            name: "ConcordClusterBench",
            dependencies: [
                .product(name: "Concord", package: "Concord"),
                .product(name: "ConcordNATS", package: "Concord"),
                .product(name: "NATSClient", package: "Concord"),
            ],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        .executableTarget(
            name: "ConcordInstructions",
            dependencies: [.product(name: "Concord", package: "Concord"), "RawLMDB"],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        .executableTarget(
            name: "ConcordBenchmarkTable",
            dependencies: [
                "BenchmarkKit",
                .product(name: "Benchmark", package: "benchmark"),
            ],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        .executableTarget(
            name: "ConcordBenchmarks",
            dependencies: [
                "BenchmarkKit",
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/ConcordBenchmarks",
            swiftSettings: [.swiftLanguageMode(.v6)],
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ]
)

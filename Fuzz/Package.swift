// swift-tools-version: 6.1
//
// Concord's libFuzzer targets: a nested package, so an application that depends on
// Concord never resolves or builds them. See README.md.
//
// `Sources/FuzzSupport` is a symbolic link to `Tests/ConcordTests/FuzzSupport` in the root
// package: the checks and the operations interpreter are compiled into the fuzz targets
// here and into the root test target, where `FuzzRegressionTests` replays every committed
// crasher and seed through the same code without the fuzzer.

import PackageDescription

let strictSettings: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
]

/// A libFuzzer target: an executable whose entry point is `LLVMFuzzerTestOneInput`
/// (libFuzzer supplies `main`), so it is built as a library-style module.
func fuzzTarget(_ name: String) -> Target {
    .executableTarget(
        name: name,
        dependencies: ["FuzzSupport"],
        swiftSettings: strictSettings + [.unsafeFlags(["-parse-as-library"])]
    )
}

let package = Package(
    name: "ConcordFuzz",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "Concord", path: "..")
    ],
    targets: [
        .target(
            name: "FuzzSupport",
            dependencies: [
                .product(name: "Concord", package: "Concord"),
                .product(name: "ConcordSimulation", package: "Concord"),
                .product(name: "LMDB", package: "Concord"),
            ],
            swiftSettings: strictSettings
        ),
        fuzzTarget("decoders"),
        fuzzTarget("wire"),
        fuzzTarget("operations"),
        fuzzTarget("cluster"),
        fuzzTarget("sealed"),
        // The NATS frame parser: needs only the NATSClient library, not FuzzSupport.
        .executableTarget(
            name: "nats",
            dependencies: [.product(name: "NATSClient", package: "Concord")],
            swiftSettings: strictSettings + [.unsafeFlags(["-parse-as-library"])]
        ),
    ]
)

// swift-tools-version:6.0
//
// studybuddy-batch: the nightly brain of the StudyBuddy app.
//
// Module map (each name says what it holds):
//   CLibPQ, CSystemd   thin C shims over libpq and libsystemd
//   PostgresClient     connections, parameterized statements, typed rows, transactions
//   SystemdNotify      sd_notify for Type=notify services
//   BatchSQL           the `sql/` folder, embedded at build time (the files stay the source)
//   BatchEngine        config, migrations, job registry, runner, run recorder, reports
//   LearningJobs       one file per learning job; each job's SQL lives in sql/jobs/
//   BatchDaemon        the long-running worker: scheduler loop, catch-up, sd_notify, signals
//   StudyBuddyCLI      the command structs of `studybuddy-batch`
//   BatchTesting       throwaway PostgreSQL clusters and fresh databases for tests
import PackageDescription

let strict: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
]

let package = Package(
    name: "studybuddy-batch",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "studybuddy-batch", targets: ["studybuddy-batch"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", exact: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", exact: "1.16.2"),
        .package(url: "https://github.com/LebJe/TOMLKit", exact: "0.6.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", exact: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", exact: "2.4.1"),
    ],
    targets: [
        .systemLibrary(
            name: "CLibPQ",
            pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"])]
        ),
        .systemLibrary(
            name: "CSystemd",
            pkgConfig: "libsystemd",
            providers: [.apt(["libsystemd-dev"])]
        ),
        .target(
            name: "PostgresClient",
            dependencies: ["CLibPQ"],
            swiftSettings: strict
        ),
        .target(
            name: "SystemdNotify",
            dependencies: ["CSystemd"],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "SQLEmbedder",
            swiftSettings: strict
        ),
        .plugin(
            name: "EmbedSQL",
            capability: .buildTool(),
            dependencies: ["SQLEmbedder"]
        ),
        .target(
            name: "BatchSQL",
            swiftSettings: strict,
            plugins: ["EmbedSQL"]
        ),
        .target(
            name: "BatchEngine",
            dependencies: [
                "PostgresClient",
                "SystemdNotify",
                "BatchSQL",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "TOMLKit", package: "TOMLKit"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "LearningJobs",
            dependencies: [
                "BatchEngine",
                "PostgresClient",
                "BatchSQL",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "BatchDaemon",
            dependencies: [
                "BatchEngine",
                "PostgresClient",
                "SystemdNotify",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "StudyBuddyCLI",
            dependencies: [
                "BatchDaemon",
                "BatchEngine",
                "LearningJobs",
                "PostgresClient",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "studybuddy-batch",
            dependencies: ["StudyBuddyCLI"],
            swiftSettings: strict
        ),
        .target(
            name: "BatchTesting",
            dependencies: ["PostgresClient", "BatchEngine", "LearningJobs"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "PostgresClientTests",
            dependencies: ["PostgresClient", "BatchTesting"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "BatchEngineTests",
            dependencies: ["BatchEngine", "BatchTesting", "PostgresClient", "LearningJobs"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "LearningJobsTests",
            dependencies: ["LearningJobs", "BatchEngine", "BatchTesting", "PostgresClient"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "DaemonTests",
            dependencies: ["BatchDaemon", "BatchEngine", "BatchTesting", "PostgresClient"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "CLITests",
            dependencies: ["BatchTesting", "PostgresClient"],
            swiftSettings: strict
        ),
        // The fault drills of issue 6 (kill, timeouts, bad input, least
        // privilege): short variants in `swift test`, long ones in `make drills`.
        .testTarget(
            name: "DrillTests",
            dependencies: ["BatchTesting", "BatchEngine", "PostgresClient", "LearningJobs"],
            swiftSettings: strict
        ),
    ]
)

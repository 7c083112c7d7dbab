// swift-tools-version: 6.0
import PackageDescription

// No package dependencies by design (SPEC §2): the toolchain plus the system's OpenSSL 3.
let package = Package(
    name: "marac-broker",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "maracd", targets: ["maracd"]),
        .executable(name: "marac", targets: ["marac"]),
    ],
    targets: [
        // System calls, file descriptors and atomic file writes: Foundation and Glibc only.
        .target(name: "POSIX"),
        .systemLibrary(
            name: "COpenSSL",
            pkgConfig: "openssl",
            providers: [.apt(["libssl-dev"])]
        ),
        .target(name: "CShims", dependencies: ["COpenSSL"]),
        .target(name: "TLS", dependencies: ["COpenSSL", "CShims"]),
        .target(name: "HTTPServer", dependencies: ["TLS", "POSIX"]),
        .target(name: "Journal", dependencies: ["TLS", "POSIX"]),
        .target(name: "Broker"),
        .target(name: "BrokerAPI", dependencies: ["Broker", "Journal", "HTTPServer", "TLS", "POSIX"]),
        .target(name: "MaracClient", dependencies: ["TLS", "POSIX"]),
        .executableTarget(name: "maracd", dependencies: ["BrokerAPI", "Broker", "Journal", "TLS"]),
        .executableTarget(name: "marac", dependencies: ["MaracClient", "POSIX"]),
        .executableTarget(name: "journal-bench", dependencies: ["Journal", "TLS", "POSIX"]),
        // Benchmarks against nginx (scripts/bench-vs-nginx.sh) and the fuzz targets (scripts/fuzz.sh;
        // libFuzzer only with -DFUZZING, otherwise marac-fuzz replays files).
        .target(name: "CBenchEpoll"),
        .executableTarget(name: "marac-bench", dependencies: ["MaracClient", "TLS", "CBenchEpoll", "POSIX"]),
        .target(name: "FuzzTargets", dependencies: ["HTTPServer", "Broker", "Journal", "TLS"]),
        .executableTarget(name: "marac-fuzz", dependencies: ["FuzzTargets"]),

        // Shared by the test targets: certificates minted per test, a server on port 0, child processes.
        .target(name: "TestSupport", dependencies: ["TLS", "HTTPServer", "MaracClient", "BrokerAPI"], path: "Tests/TestSupport"),

        .testTarget(name: "POSIXTests", dependencies: ["POSIX", "TestSupport"]),
        .testTarget(name: "TLSTests", dependencies: ["TLS"]),
        .testTarget(name: "HTTPServerTests", dependencies: ["HTTPServer", "TLS", "MaracClient", "TestSupport"]),
        .testTarget(name: "JournalTests", dependencies: ["Journal", "TLS", "TestSupport"]),
        .testTarget(name: "BrokerTests", dependencies: ["Broker"]),
        .testTarget(name: "BrokerAPITests", dependencies: ["BrokerAPI", "Journal", "MaracClient", "TLS", "TestSupport"]),
        .testTarget(name: "EndToEndTests", dependencies: ["MaracClient", "TLS", "TestSupport", "Broker", "BrokerAPI", "HTTPServer", "Journal"]),
        .testTarget(name: "FuzzRegressionTests", dependencies: ["FuzzTargets", "TLS"]),
    ],
    swiftLanguageModes: [.v6]
)

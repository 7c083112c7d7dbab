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
        .systemLibrary(
            name: "COpenSSL",
            pkgConfig: "openssl",
            providers: [.apt(["libssl-dev"])]
        ),
        .target(name: "CShims", dependencies: ["COpenSSL"]),
        .target(name: "TLS", dependencies: ["COpenSSL", "CShims"]),
        // JSON reading and writing, RFC 3339, calendar days, the logger: what every layer that
        // speaks the wire format shares. A leaf: Foundation only.
        .target(name: "Wire"),
        .target(name: "HTTPServer", dependencies: ["TLS", "Wire"]),
        .target(name: "Journal", dependencies: ["TLS"]),
        .target(name: "Broker", dependencies: ["Wire"]),
        .target(name: "BrokerAPI", dependencies: ["Broker", "Journal", "HTTPServer", "TLS", "Wire"]),
        .target(name: "MaracClient", dependencies: ["TLS", "Wire"]),
        .executableTarget(name: "maracd", dependencies: ["BrokerAPI", "Broker", "Journal", "HTTPServer", "TLS", "Wire"]),
        .executableTarget(name: "marac", dependencies: ["MaracClient", "TLS", "Wire"]),
        .executableTarget(name: "journal-bench", dependencies: ["Journal", "TLS"]),
        // Benchmarks against nginx (scripts/bench-vs-nginx.sh) and the fuzz targets (scripts/fuzz.sh;
        // libFuzzer only with -DFUZZING, otherwise marac-fuzz replays files).
        .target(name: "CBenchEpoll"),
        .executableTarget(name: "marac-bench", dependencies: ["MaracClient", "TLS", "CBenchEpoll", "Wire"]),
        .target(name: "FuzzTargets", dependencies: ["HTTPServer", "Broker", "Journal", "TLS", "Wire"]),
        .executableTarget(name: "marac-fuzz", dependencies: ["FuzzTargets"]),

        // Shared by the test targets: certificates minted per test, a server on port 0, child processes.
        .target(name: "TestSupport", dependencies: ["TLS", "HTTPServer", "MaracClient", "BrokerAPI", "Wire"], path: "Tests/TestSupport"),

        .testTarget(name: "WireTests", dependencies: ["Wire", "TestSupport"]),
        .testTarget(name: "TLSTests", dependencies: ["TLS"]),
        .testTarget(name: "HTTPServerTests", dependencies: ["HTTPServer", "TLS", "MaracClient", "TestSupport", "Wire"]),
        .testTarget(name: "JournalTests", dependencies: ["Journal", "TLS", "TestSupport"]),
        .testTarget(name: "BrokerTests", dependencies: ["Broker", "TestSupport", "Wire"]),
        .testTarget(name: "BrokerAPITests", dependencies: ["BrokerAPI", "Broker", "Journal", "MaracClient", "TLS", "TestSupport", "Wire"]),
        .testTarget(name: "EndToEndTests", dependencies: ["MaracClient", "TLS", "TestSupport", "Broker", "BrokerAPI", "HTTPServer", "Journal", "Wire"]),
        .testTarget(name: "FuzzRegressionTests", dependencies: ["FuzzTargets", "TLS"]),
    ],
    swiftLanguageModes: [.v6]
)

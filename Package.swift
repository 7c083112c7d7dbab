// swift-tools-version: 6.0
import PackageDescription

// No package dependencies by design (SPEC §2): the toolchain plus the system's OpenSSL 3.
// Linux only: the server, the journal and the client call Glibc (epoll, fsync semantics,
// SO_* options) and are built and tested on Linux alone; no Apple platform is declared.
let package = Package(
    name: "marac-broker",
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
        // AES-256-GCM, SHA-256, HMAC, secure random, symmetric keys, hex: the leaf the journal seals with.
        .target(name: "Crypto", dependencies: ["COpenSSL"]),
        .target(name: "TLS", dependencies: ["COpenSSL", "CShims", "Crypto"]),
        .target(name: "HTTPServer", dependencies: ["TLS"]),
        .target(name: "Journal", dependencies: ["Crypto"]),
        .target(name: "Broker"),
        // The command pipeline over an event store (the journal, or memory in tests).
        .target(name: "Engine", dependencies: ["Broker", "Journal", "HTTPServer", "TLS", "Crypto"]),
        .target(name: "BrokerAPI", dependencies: ["Broker", "Engine", "Journal", "HTTPServer", "TLS", "Crypto"]),
        // Start-up: configuration, PKI files, opening the journal, the assembled server, offline commands.
        .target(name: "BrokerHost", dependencies: ["BrokerAPI", "Engine", "Broker", "Journal", "HTTPServer", "TLS", "Crypto"]),
        .target(name: "MaracClient", dependencies: ["TLS"]),
        .executableTarget(name: "maracd", dependencies: ["BrokerHost", "BrokerAPI", "Broker", "Journal", "HTTPServer", "TLS", "Crypto"]),
        .executableTarget(name: "marac", dependencies: ["MaracClient", "TLS"]),
        .executableTarget(name: "journal-bench", dependencies: ["Journal", "Crypto"]),
        // Benchmarks against nginx (scripts/bench-vs-nginx.sh) and the fuzz targets (scripts/fuzz.sh;
        // libFuzzer only with -DFUZZING, otherwise marac-fuzz replays files).
        .target(name: "CBenchEpoll"),
        .executableTarget(name: "marac-bench", dependencies: ["MaracClient", "TLS", "CBenchEpoll"]),
        .target(name: "FuzzTargets", dependencies: ["HTTPServer", "Broker", "Journal", "TLS", "Crypto"]),
        .executableTarget(name: "marac-fuzz", dependencies: ["FuzzTargets"]),

        // Shared by the test targets: certificates minted per test, a server on port 0, child processes.
        .target(name: "TestSupport", dependencies: ["TLS", "HTTPServer", "MaracClient", "BrokerHost", "BrokerAPI"], path: "Tests/TestSupport"),

        .testTarget(name: "CryptoTests", dependencies: ["Crypto"]),
        .testTarget(name: "TLSTests", dependencies: ["TLS"]),
        .testTarget(name: "HTTPServerTests", dependencies: ["HTTPServer", "TLS", "MaracClient", "TestSupport"]),
        .testTarget(name: "JournalTests", dependencies: ["Journal", "Crypto", "TestSupport"]),
        .testTarget(name: "BrokerTests", dependencies: ["Broker"]),
        .testTarget(name: "EngineTests", dependencies: ["Engine", "Broker", "Journal", "HTTPServer"]),
        .testTarget(name: "BrokerAPITests", dependencies: ["BrokerHost", "BrokerAPI", "Engine", "Broker", "Journal", "MaracClient", "TLS", "TestSupport"]),
        .testTarget(name: "EndToEndTests", dependencies: ["MaracClient", "TLS", "Crypto", "TestSupport", "Broker", "BrokerHost", "BrokerAPI", "HTTPServer", "Journal"]),
        .testTarget(name: "FuzzRegressionTests", dependencies: ["FuzzTargets", "TLS"]),
    ],
    swiftLanguageModes: [.v6]
)

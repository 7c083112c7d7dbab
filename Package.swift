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
        // System calls, file descriptors and atomic file writes: Foundation and Glibc only.
        .target(name: "POSIX"),
        .systemLibrary(
            name: "COpenSSL",
            pkgConfig: "openssl",
            providers: [.apt(["libssl-dev"])]
        ),
        .target(name: "CShims", dependencies: ["COpenSSL"]),
        // AES-256-GCM, SHA-256, HMAC, secure random, symmetric keys, hex: the leaf the journal seals with.
        .target(name: "Crypto", dependencies: ["COpenSSL"]),
        .target(name: "TLS", dependencies: ["COpenSSL", "CShims", "Crypto"]),
        // JSON reading and writing, RFC 3339, calendar days, the logger: what every layer that
        // speaks the wire format shares. Foundation and POSIX only.
        .target(name: "Wire", dependencies: ["POSIX"]),
        // epoll, eventfd and accept4 behind plain C functions, for the server's event loops (no OpenSSL).
        .target(name: "CEpoll"),
        .target(name: "HTTPServer", dependencies: ["TLS", "CEpoll", "Wire", "POSIX"]),
        .target(name: "Journal", dependencies: ["Crypto", "POSIX"]),
        .target(name: "Broker", dependencies: ["Wire"]),
        // The command pipeline over an event store (the journal, or memory in tests).
        .target(name: "Engine", dependencies: ["Broker", "Journal", "TLS", "Crypto", "Wire"]),
        .target(name: "BrokerAPI", dependencies: ["Broker", "Engine", "Journal", "HTTPServer", "TLS", "Crypto", "Wire", "POSIX"]),
        // Start-up: configuration, PKI files, opening the journal, the assembled server, offline commands.
        .target(name: "BrokerHost", dependencies: ["BrokerAPI", "Engine", "Broker", "Journal", "HTTPServer", "TLS", "Crypto", "Wire", "POSIX"]),
        .target(name: "MaracClient", dependencies: ["TLS", "Wire", "POSIX"]),
        .executableTarget(name: "maracd", dependencies: ["BrokerHost", "BrokerAPI", "Broker", "Journal", "HTTPServer", "TLS", "Crypto", "Wire"]),
        .executableTarget(name: "marac", dependencies: ["MaracClient", "TLS", "Wire", "POSIX"]),
        .executableTarget(name: "journal-bench", dependencies: ["Journal", "Crypto", "POSIX", "Broker", "Engine", "Wire"]),
        // Benchmarks against nginx (scripts/bench-vs-nginx.sh) and the fuzz targets (scripts/fuzz.sh;
        // libFuzzer only with -DFUZZING, otherwise marac-fuzz replays files).
        .target(name: "CBenchEpoll"),
        .executableTarget(name: "marac-bench", dependencies: ["MaracClient", "TLS", "CBenchEpoll", "Wire", "POSIX"]),
        .target(name: "FuzzTargets", dependencies: ["HTTPServer", "Broker", "Journal", "TLS", "Crypto", "Wire"]),
        .executableTarget(name: "marac-fuzz", dependencies: ["FuzzTargets"]),

        // Shared by the test targets: certificates minted per test, a server on port 0, child processes.
        .target(name: "TestSupport", dependencies: ["TLS", "HTTPServer", "MaracClient", "BrokerHost", "BrokerAPI", "Wire", "Journal", "Crypto"], path: "Tests/TestSupport"),

        .testTarget(name: "WireTests", dependencies: ["Wire", "TestSupport"]),
        .testTarget(name: "CryptoTests", dependencies: ["Crypto"]),
        .testTarget(name: "POSIXTests", dependencies: ["POSIX", "TestSupport"]),
        .testTarget(name: "TLSTests", dependencies: ["TLS", "Crypto", "TestSupport"]),
        .testTarget(name: "HTTPServerTests", dependencies: ["HTTPServer", "TLS", "MaracClient", "TestSupport", "Wire"]),
        .testTarget(name: "JournalTests", dependencies: ["Journal", "Crypto", "TestSupport"]),
        .testTarget(name: "BrokerTests", dependencies: ["Broker", "Engine", "Journal", "Crypto", "TestSupport", "Wire"]),
        .testTarget(name: "EngineTests", dependencies: ["Engine", "Broker", "Journal", "Wire"]),
        .testTarget(name: "BrokerAPITests", dependencies: ["BrokerHost", "BrokerAPI", "Engine", "Broker", "Journal", "Crypto", "MaracClient", "TLS", "TestSupport", "Wire", "HTTPServer"]),
        .testTarget(name: "EndToEndTests", dependencies: ["MaracClient", "TLS", "Crypto", "TestSupport", "Broker", "BrokerHost", "BrokerAPI", "HTTPServer", "Journal", "Wire"]),
        .testTarget(name: "FuzzRegressionTests", dependencies: ["FuzzTargets", "TLS"]),
    ],
    swiftLanguageModes: [.v6]
)

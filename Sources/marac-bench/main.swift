// marac-bench: load generator for the broker and for nginx in the same shape, on MaracClient's
// TLS. One line per figure on stdout ("label.figure value unit") and, with --json, the same
// figures merged into a JSON file. Build it in release mode: swift build -c release --product marac-bench
//
//   marac-bench keepalive --url U --ca CA --cert C --key K --path P [--connections 1,16,64]
//   marac-bench handshake --url U --ca CA --cert C --key K --path P [--connections 16]
//   marac-bench enrol     --url U --ca CA --admin-cert C --admin-key K --dir DIR
//   marac-bench submit    --url U --ca CA --dir DIR [--writers 1,64] [--versions-per-request 20]
//   marac-bench longpoll  --url U --ca CA --dir DIR [--waiters 10000]
//   marac-bench fsync     --dir DIR
//   marac-bench crash-load  --url U --ca CA --dir DIR --acks FILE [--writers 8] [--versions-per-request 20]   (scripts/crash-test.sh)
//   marac-bench verify-acks --url U --ca CA --dir DIR --acks FILE
// Common: --seconds S (5), --warmup S (1), --threads N (2), --server-pid PID[,PID…] (CPU per
// operation from /proc/PID/stat, RSS from /proc/PID/status), --label NAME, --json FILE.
import Foundation
import MaracClient
import TLS
#if canImport(Glibc)
import Glibc
#endif

import Synchronization

struct Options {
    let mode: String
    private var values: [String: String] = [:]

    init(_ arguments: [String]) throws {
        guard let mode = arguments.first, !mode.hasPrefix("-") else { throw BenchError(Options.usage) }
        self.mode = mode
        var index = 1
        while index < arguments.count {
            let name = arguments[index]
            guard name.hasPrefix("--"), index + 1 < arguments.count else { throw BenchError("expected --option value at \(name)\n\(Options.usage)") }
            values[String(name.dropFirst(2))] = arguments[index + 1]
            index += 2
        }
    }

    func string(_ name: String) throws -> String {
        guard let value = values[name] else { throw BenchError("--\(name) is required for \(mode)") }
        return value
    }
    func string(_ name: String, default value: String) -> String { values[name] ?? value }
    func double(_ name: String, default value: Double) throws -> Double {
        guard let text = values[name] else { return value }
        guard let parsed = Double(text) else { throw BenchError("--\(name) must be a number, got \(text)") }
        return parsed
    }
    func integers(_ name: String, default value: [Int]) throws -> [Int] {
        guard let text = values[name] else { return value }
        let parsed = text.split(separator: ",").compactMap { Int($0) }
        guard !parsed.isEmpty, parsed.count == text.split(separator: ",").count else { throw BenchError("--\(name) must be numbers separated by commas") }
        return parsed
    }

    static let usage = "usage: marac-bench keepalive|handshake|enrol|submit|longpoll|fsync|crash-load|verify-acks --option value … (see the header of Sources/marac-bench/main.swift)"
}

/// Settings every load shares.
struct Load: Sendable {
    let host: String
    let port: Int
    let target: SocketTarget
    let seconds: Double
    let warmup: Double
    let threads: Int
    let serverPIDs: [Int32]
    let report: Report

    init(_ options: Options) throws {
        guard let url = URLComponents(string: try options.string("url")), url.scheme == "https", let host = url.host else {
            throw BenchError("--url must look like https://host:port")
        }
        self.host = host
        port = url.port ?? 443
        target = try SocketTarget(host: host, port: port)
        seconds = try options.double("seconds", default: 5)
        warmup = try options.double("warmup", default: 1)
        threads = Int(try options.double("threads", default: 2))
        serverPIDs = options.string("server-pid", default: "").split(separator: ",").compactMap { Int32($0) }
        report = Report(label: options.string("label", default: ""))
    }

    func context(certificate: String, key: String, ca: String) throws -> TLSContext {
        let identity = try ClientIdentity(certificateFile: certificate, keyFile: key, caFile: ca)
        return try TLSContext(configuration: .client(trustRoots: identity.trustRoots, certificate: identity.certificate,
                                                     privateKey: identity.privateKey, serverName: host))
    }

    func request(_ method: String, _ path: String, body: [UInt8]? = nil, close: Bool = false) -> [UInt8] {
        var head = "\(method) \(path) HTTP/1.1\r\nHost: \(host)\r\n"
        if close { head += "Connection: close\r\n" }
        if let body { head += "Content-Type: application/json\r\nContent-Length: \(body.count)\r\n" }
        return Array((head + "\r\n").utf8) + (body ?? [])
    }

    /// Runs `connections` slots for warmup + seconds and reports rate, latency and server CPU.
    func repeatLoad(name: String, context: TLSContext, connections: Int, perConnection: Bool, unit: String,
                    requestFor: @escaping @Sendable (_ slot: Int, _ n: Int) -> [UInt8]) {
        let tally = Tally()
        let start = monotonicNow() + warmup
        let end = start + seconds
        let cpuAtStart = CPUSample()
        let sampler = Thread { [serverPIDs] in
            while monotonicNow() < start { usleep(1_000) }
            cpuAtStart.set(ServerProcess.cpuSeconds(serverPIDs))
        }
        sampler.start()
        runLoops(threads: threads, slots: connections, target: target, context: context,
                 maxConnecting: perConnection ? connections : 64) { _ in
            RepeatWorkload(requestFor: requestFor, windowStart: start, windowEnd: end, tally: tally, oneRequestPerConnection: perConnection)
        }
        let cpuEnd = ServerProcess.cpuSeconds(serverPIDs)
        let result = tally.snapshot
        let elapsed = end - start
        report.add("\(name).\(unit)s_per_s", Double(result.ok) / elapsed, "\(unit)s/s")
        let sorted = result.latencies.sorted()
        report.add("\(name).p50_ms", percentile(sorted, 50) * 1000, "ms")
        report.add("\(name).p99_ms", percentile(sorted, 99) * 1000, "ms")
        if let cpuStart = cpuAtStart.value, let cpuEnd, result.ok > 0 {
            report.add("\(name).server_cpu_us_per_\(unit)", (cpuEnd - cpuStart) / Double(result.ok) * 1e6, "µs")
        }
        report.add("\(name).errors", Double(result.refused + result.failures), "count")
        if let problem = result.problem { FileHandle.standardError.write(Data("marac-bench: \(name): first problem: \(problem)\n".utf8)) }
    }
}

/// The server's CPU time when the measured window opened, taken on a sampler thread.
final class CPUSample: Sendable {
    private let seconds = Mutex<Double?>(nil)
    func set(_ value: Double?) { seconds.withLock { $0 = value } }
    var value: Double? { seconds.withLock { $0 } }
}

func raiseFileLimit() {
    var limit = rlimit()
    getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    limit.rlim_cur = limit.rlim_max
    setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
}

func main() throws {
    let options = try Options(Array(CommandLine.arguments.dropFirst()))
    raiseFileLimit()
    if options.mode == "fsync" {
        try rawFsync(options)
        return
    }
    let load = try Load(options)
    let ca = try options.string("ca")
    let setup = BrokerSetup(host: load.host, port: load.port, caFile: ca)
    switch options.mode {
    case "keepalive", "handshake":
        let context = try load.context(certificate: try options.string("cert"), key: try options.string("key"), ca: ca)
        let path = try options.string("path")
        let keepAlive = options.mode == "keepalive"
        for connections in try options.integers("connections", default: keepAlive ? [1, 16, 64] : [16]) {
            let request = load.request("GET", path, close: !keepAlive)
            load.repeatLoad(name: "\(options.mode).c\(connections)", context: context, connections: connections,
                            perConnection: !keepAlive, unit: keepAlive ? "request" : "handshake") { _, _ in request }
        }
    case "enrol":
        try setup.enrol(adminCertificate: try options.string("admin-cert"), adminKey: try options.string("admin-key"),
                        directory: try options.string("dir"))
        print("enrolled agency and principals in \(try options.string("dir"))")
    case "submit":
        // A return keeps at most limits.maxReturnVersionsPerRequest versions (default 20, then
        // 409 return_limit_reached), so each writer moves to a fresh request every
        // `--versions-per-request` submissions (default 20: the broker's default limit).
        let cast = BrokerSetup.Cast(directory: try options.string("dir"))
        let writers = try options.integers("writers", default: [1, 64])
        let pool = Int(try options.double("requests", default: 640))
        let context = try load.context(certificate: cast.certificate("spoc"), key: cast.key("spoc"), ca: ca)
        let body = Array(#"{"knownToAgency":true,"summary":"Bench return: known since 2024.","answers":["Yes"],"withheld":[]}"#.utf8)
        for count in writers {
            let ids = try setup.dispatchRequests(cast: cast, count: max(pool, count))
            let requests = ids.map { load.request("PUT", "/v1/requests/\($0)/return", body: body) }
            let versionsPerRequest = Int(try options.double("versions-per-request", default: Double(defaultVersionsPerRequest)))
            // Unbuffered: bench-vs-nginx.sh starts perf on this line (PROFILE=1).
            FileHandle.standardOutput.write(Data("# submit.w\(count) started\n".utf8))
            load.repeatLoad(name: "submit.w\(count)", context: context, connections: count, perConnection: false, unit: "submission") { slot, n in
                requests[(slot + count * (n / versionsPerRequest)) % requests.count]
            }
        }
    case "longpoll":
        try longPoll(load, options, setup)
    case "crash-load":
        try crashLoad(load, options, setup)
    case "verify-acks":
        try verifyAcks(options, setup)
    default:
        throw BenchError(Options.usage)
    }
    if let json = Optional(options.string("json", default: "")), !json.isEmpty { try load.report.merge(into: json) }
}

/// Submissions per request before a writer moves on: the broker's default
/// `limits.maxReturnVersionsPerRequest`; more needs a broker configured for more.
let defaultVersionsPerRequest = 20

do { try main() } catch {
    FileHandle.standardError.write(Data("marac-bench: \(error)\n".utf8))
    // _exit, not exit: loop threads may still be inside OpenSSL, and exit's atexit handlers
    // (OPENSSL_cleanup) would free its state under them.
    _exit(1)
}

import Foundation
import HTTPServer
import MaracClient
import TLS
import Wire

/// A real `HTTPServer` on an ephemeral loopback port with certificates minted for the test.
public final class TestServer: @unchecked Sendable {
    public let pki: TestPKI
    public let server: HTTPServer
    public let logLines = LogCapture()

    public init(pki: TestPKI, limits: HTTPLimits = .default, minimumVersion: TLSConfiguration.ProtocolVersion = .tls13,
                responder: any HTTPResponder) throws {
        self.pki = pki
        let capture = logLines
        server = HTTPServer(configuration: ServerConfiguration(host: "127.0.0.1", port: 0, limits: limits, shutdownGracePeriod: .seconds(2)),
                            tlsContext: try pki.serverContext(minimumVersion: minimumVersion), responder: responder,
                            logger: Logger { capture.append($0) })
        try server.start()
    }

    public var port: Int { server.port }

    /// A blocking connection presenting `credential`.
    public func connect(_ credential: TestCredential?, timeout: TimeInterval = 10) throws -> HTTPSConnection {
        try HTTPSConnection(host: "127.0.0.1", port: port, context: try pki.clientContext(credential), timeout: timeout)
    }

    public func stop() async { await server.shutdown() }
}

/// Collects log lines for assertions.
public final class LogCapture: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []
    public init() {}
    public func append(_ line: String) { lock.withLock { lines.append(line) } }
    public var all: [String] { lock.withLock { lines } }
}

/// Answers every request with JSON describing it (method, path, body size, peer).
public struct EchoResponder: HTTPResponder {
    private let slowStarted = LogCapture()
    private let gate = LogCapture()

    /// Lets every `/gated` request be answered.
    public func openGate() { gate.append("open") }
    public init() {}

    /// Requests for `/slow` that have reached the responder (a test waits for one to be in flight).
    public var slowRequestsStarted: Int { slowStarted.all.count }

    public func respond(to request: HTTPRequest, context: RequestContext) async -> HTTPResponse {
        struct Echo: Encodable { let method: String; let path: String; let bodyBytes: Int; let serial: String; let cn: String? }
        if request.path == "/slow" {
            slowStarted.append(request.path)
            try? await Task.sleep(for: .milliseconds(300))
        }
        if request.path == "/gated" {
            // Answered only once the test opens the gate (at most 20 s), so "in flight" does not depend on timing.
            slowStarted.append(request.path)
            for _ in 0..<2_000 where gate.all.isEmpty { try? await Task.sleep(for: .milliseconds(10)) }
        }
        if request.path == "/big" { return .text(.ok, String(repeating: "0123456789abcdef", count: 256 * 1024)) }
        // More than loopback's socket buffers can hold (they grow to several MiB).
        if request.path == "/huge" { return .text(.ok, String(repeating: "0123456789abcdef", count: 2 * 1024 * 1024)) }
        return .json(.ok, Echo(method: request.method, path: request.path, bodyBytes: request.body.count,
                               serial: context.peer.serial, cn: context.peer.commonName))
    }
}

/// Polls `condition` every 10 ms until it holds or `timeout` passes; answers whether it held.
/// Tests wait for a state (a parked waiter, a log line) this way instead of sleeping and hoping.
public func eventually(timeout: Duration = .seconds(10), _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return try await condition()
}

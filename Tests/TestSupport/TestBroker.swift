import BrokerAPI
import BrokerHost
import Foundation
import HTTPServer
import MaracClient
import Synchronization
import TLS
import Wire

/// A clock tests move by hand; the domain reads it, the shipped binary never does.
public final class TestClock: Sendable {
    private let now: Mutex<Date>
    public init(_ start: Date) { now = Mutex(start) }
    public var date: Date { now.withLock { $0 } }
    public func set(_ date: Date) { now.withLock { $0 = date } }
    public func advance(by seconds: TimeInterval) { now.withLock { $0 = $0.addingTimeInterval(seconds) } }
    public var closure: @Sendable () -> Date { { self.date } }
}

/// The whole broker (`BrokerApp`) on an ephemeral loopback port in a
/// temporary directory, with the repository's config/ and an injected clock.
public final class TestBroker: @unchecked Sendable {
    public let directory: TemporaryDirectory
    public let clock: TestClock
    public private(set) var app: BrokerApp
    public let logLines = LogCapture()
    public let configDirectory: String
    var configuration: BrokerConfiguration

    /// The repository's config/ directory (policy, calendar, agencies).
    public static var repositoryConfig: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("config").path
    }

    /// - Parameter configDirectory: the domain configuration (default: the repository's config/).
    public init(now: Date = Date(), directory: TemporaryDirectory? = nil, configDirectory: String? = nil,
                configure: (inout BrokerConfiguration) -> Void = { _ in }) throws {
        self.directory = try directory ?? TemporaryDirectory()
        clock = TestClock(now)
        self.configDirectory = configDirectory ?? Self.repositoryConfig
        var configuration = BrokerConfiguration()
        configuration.listenPort = 0
        configuration.certsDirectory = self.directory.path("certs")
        configuration.dataDirectory = self.directory.path("data")
        configure(&configuration)
        self.configuration = configuration
        let pki = BrokerPKI(directory: configuration.certsDirectory)
        try pki.initialize()
        app = try Self.makeApp(configuration, self.configDirectory, clock, logLines)
        try app.start()
    }

    static func makeApp(_ configuration: BrokerConfiguration, _ configDirectory: String, _ clock: TestClock, _ capture: LogCapture) throws -> BrokerApp {
        try BrokerApp(configuration: configuration, configDirectory: configDirectory, clock: clock.closure,
                      logger: Logger { capture.append($0) })
    }

    public var port: Int { app.port }
    public var url: String { "https://127.0.0.1:\(port)" }
    public var pki: BrokerPKI { app.pki }

    /// Stops the broker and starts a new one on the same directories (and a new port).
    public func restart() async throws {
        await app.shutdown()
        app = try Self.makeApp(configuration, configDirectory, clock, logLines)
        try app.start()
    }

    public func stop() async { await app.shutdown() }

    /// Starts a new broker on the same directories after `stop()` (files may be changed in between).
    public func start() throws {
        app = try Self.makeApp(configuration, configDirectory, clock, logLines)
        try app.start()
    }

    /// A client with the bootstrap admin credential.
    public func adminClient() throws -> BrokerClient {
        try BrokerClient(host: "127.0.0.1", port: port,
                         identity: ClientIdentity(certificateFile: pki.adminCertificatePath, keyFile: pki.adminKeyPath,
                                                  caFile: pki.caCertificatePath))
    }

    /// Registers a principal through the API (as admin), has its certificate issued
    /// from a CSR made here, approves that certificate as the server operator would
    /// (unless an admin's), and returns a client holding it.
    public func enrol(_ id: String, agency: String, role: String, admin: BrokerClient) async throws -> Enrolled {
        struct NewPrincipal: Encodable { let id, name, agency, role: String }
        let created = try await admin.send("POST", "/v1/principals",
                                           body: try JSON.encode(NewPrincipal(id: id, name: id.capitalized, agency: agency, role: role)))
        guard created.status == 201 else { throw BrokerClient.refusal(created) }
        let key = try PrivateKey.generateECDSA()
        let csr = try CertificateSigningRequest.create(key: key, commonName: id, organization: agency)
        struct Issue: Encodable { let principal: String; let csr: String }
        struct Issued: Decodable { let serial: String; let certificate: String; let notAfter: Date }
        let issued = try BrokerClient.decode(
            try await admin.send("POST", "/v1/credentials", body: try JSON.encode(Issue(principal: id, csr: String(decoding: csr.pemBytes, as: UTF8.self)))),
            as: Issued.self)
        // Every role but admin and monitor starts pending; approved here as the server operator would.
        if role != "admin" && role != "monitor" { try await app.approveAsOperator(serial: issued.serial, operatorName: "test") }
        let certificate = try Certificate(pem: Array(issued.certificate.utf8))
        let certPath = try directory.write("\(id).pem", certificate.pemBytes)
        let keyPath = try directory.write("\(id)-key.pem", try key.pemBytes())
        let client = try BrokerClient(host: "127.0.0.1", port: port,
                                      identity: ClientIdentity(certificate: certificate, privateKey: key,
                                                               trustRoots: [try Certificate(pemFile: pki.caCertificatePath)]))
        return Enrolled(id: id, serial: issued.serial, certificate: certificate, key: key, certificatePath: certPath, keyPath: keyPath, client: client)
    }
}

/// A principal enrolled through the API, with its own credential and client.
public struct Enrolled: Sendable {
    public let id: String
    public let serial: String
    public let certificate: Certificate
    public let key: PrivateKey
    public let certificatePath: String
    public let keyPath: String
    public let client: BrokerClient

    /// The same credential with a client for `broker`'s current port (a restart listens on a new one).
    public func reconnected(to broker: TestBroker) throws -> Enrolled {
        let client = try BrokerClient(host: "127.0.0.1", port: broker.port, identity: ClientIdentity(
            certificate: certificate, privateKey: key, trustRoots: [try Certificate(pemFile: broker.pki.caCertificatePath)]))
        return Enrolled(id: id, serial: serial, certificate: certificate, key: key, certificatePath: certificatePath, keyPath: keyPath, client: client)
    }
}

/// Runs `body` against a fresh broker and stops it on every path, thrown errors included.
public func withTestBroker(now: Date = Date(), _ body: (TestBroker) async throws -> Void) async throws {
    let broker = try TestBroker(now: now)
    do {
        try await body(broker)
    } catch {
        await broker.stop()
        throw error
    }
    await broker.stop()
}

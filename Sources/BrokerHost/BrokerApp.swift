import Broker
import BrokerAPI
import Crypto
import Dispatch
import Engine
import Foundation
import HTTPServer
import Journal
import TLS
import Wire

import Synchronization

/// The whole broker assembled: configuration, PKI, HTTP server and routes.
/// `maracd serve` runs one; tests start one on port 0 in a temporary directory.
public final class BrokerApp: Sendable {
    public let configuration: BrokerConfiguration
    public let pki: BrokerPKI
    let logger: Logger
    let server: HTTPServer
    let core: BrokerEngine
    let journal: Journal
    let service: BrokerService
    let ca: CertificateAuthority
    private let renewalTimer: DispatchSourceTimerBox
    /// Every route the API serves, `"METHOD /pattern"`; `docs/openapi.json` must describe exactly these.
    public var routeTable: [String] { service.routeTable }
    /// Long-polls parked right now: tests wait for a poll to park instead of sleeping.
    @_spi(Testing) public var parkedLongPolls: Int { service.parkedLongPolls }

    /// Server certificates are checked for renewal this often.
    public static let renewalCheckInterval: DispatchTimeInterval = .seconds(86_400)

    /// Builds the broker: loads `config/`, opens the journal (replaying it, or
    /// bootstrapping a new one with the default agencies and the admin
    /// certificate), and prepares the TLS server. `init` of the PKI must have run.
    /// - Parameters:
    ///   - clock: the domain's clock; the shipped binary uses the system clock, tests inject another.
    /// - Throws: `BrokerSetupError` naming the file (and key) at fault, or a `JournalError`.
    public init(configuration: BrokerConfiguration, configDirectory: String, clock: @escaping @Sendable () -> Date = { Date() },
                logger: Logger = .standardError) throws {
        self.configuration = configuration
        self.logger = logger
        pki = BrokerPKI(directory: configuration.certsDirectory)
        try pki.checkPrivateKeyModes()
        if try pki.renewServerCertificateIfNeeded() {
            logger.log("server_certificate_renewed", ["file": pki.serverCertificatePath])
        }
        (core, journal) = try Self.openEngine(configuration: configuration, configDirectory: configDirectory, pki: pki, clock: clock, logger: logger)
        ca = try pki.loadCA()
        let context = try pki.serverContext(minimumVersion: configuration.tlsMinimumVersion, verifier: Self.verifier(core, logger: logger))
        let service = BrokerService(engine: core, issuer: configuration.credentialIssuer(ca), settings: configuration.apiSettings, logger: logger)
        self.service = service
        server = HTTPServer(
            configuration: ServerConfiguration(host: configuration.listenHost, port: configuration.listenPort,
                                               limits: configuration.limits, maxConnections: configuration.maxConnections,
                                               maxConnectionsPerGroup: configuration.maxConnectionsPerPrincipal,
                                               maxHandshakesPerAddress: configuration.maxHandshakesPerAddress, eventLoops: configuration.eventLoops),
            tlsContext: context, responder: service, logger: logger)
        renewalTimer = DispatchSourceTimerBox()
        let server = self.server
        service.metrics.attach(BrokerMetrics.Sources(openConnections: { server.connectionCount },
                                                     handshakeFailures: { server.handshakeFailures.snapshot }, journal: journal.metrics))
        logExpiringCredentials()
    }

    /// Loads `config/` and the data key, and opens the journal: replaying it, or
    /// bootstrapping a new one with the default agencies and the admin certificate.
    /// - Throws: `BrokerSetupError` naming the file at fault, or a `JournalError` (e.g. `in_use`).
    static func openEngine(configuration: BrokerConfiguration, configDirectory: String, pki: BrokerPKI, anchorMode: JournalAnchor.Mode = .require,
                           clock: @escaping @Sendable () -> Date, logger: Logger) throws -> (BrokerEngine, Journal) {
        let domain = try DomainConfiguration.load(directory: configDirectory, configuration: configuration)
        let key: SymmetricKey
        do { key = try KeyFile.load(from: pki.dataKeyPath) } catch {
            throw BrokerSetupError(file: pki.dataKeyPath, message: "\(error)")
        }
        // A certs directory from before repeat detection gets its identifier key now.
        let identifierKey: SymmetricKey
        let createdIdentifierKey = !FileManager.default.fileExists(atPath: pki.identifierKeyPath)
        do {
            identifierKey = createdIdentifierKey ? try KeyFile.create(at: pki.identifierKeyPath) : try KeyFile.load(from: pki.identifierKeyPath)
        } catch {
            throw BrokerSetupError(file: pki.identifierKeyPath, message: "\(error)")
        }
        let hasher = IdentifierHasher { message in HMACSHA256.authenticationCode(for: message, key: identifierKey.rawBytes) }
        var journalOptions = configuration.journalOptions
        journalOptions.anchor = JournalAnchor.Settings(path: pki.journalAnchorPath, mode: anchorMode)
        do {
            let (engine, journal) = try openEngine(configuration: configuration, domain: domain, key: key, hasher: hasher, pki: pki,
                                                   journalOptions: journalOptions, clock: clock, logger: logger)
            // A new key where the journal already holds hashes under a lost one would make every
            // earlier identifier silently unmatchable: stop instead, and leave no new key behind.
            if createdIdentifierKey, engine.read({ $0.state.identifierHashes?.isEmpty == false }) {
                journal.close()
                try? FileManager.default.removeItem(atPath: pki.identifierKeyPath)
                throw BrokerSetupError(file: pki.identifierKeyPath, message: "missing, but the journal holds identifier hashes made under it; "
                    + "restore it from the backup of certs/ (without it no earlier case can be recognised as a repeat)")
            }
            return (engine, journal)
        } catch let error as JournalError where error.code == .truncated {
            throw BrokerSetupError(file: pki.journalAnchorPath, message: "\(error.message). Nothing was changed. If the records were really lost (a disk failure), "
                + "restore data/ from a backup, or record the loss with `maracd journal accept-truncation` (broker stopped; audited)")
        } catch let error as JournalError where error.code == .anchor && anchorMode == .require && error.message.contains("is missing") {
            throw BrokerSetupError(file: pki.journalAnchorPath, message: "\(error.message). If this data directory was written by a broker from before "
                + "journal anchoring, anchor it once with `maracd journal anchor --init` (broker stopped; audited)")
        }
    }

    private static func openEngine(configuration: BrokerConfiguration, domain: DomainConfiguration, key: SymmetricKey, hasher: IdentifierHasher, pki: BrokerPKI,
                                   journalOptions: JournalOptions, clock: @escaping @Sendable () -> Date, logger: Logger) throws -> (BrokerEngine, Journal) {
        // The journal first: its LOCK keeps a second broker from opening the content key store, where it
        // would cut another's append in progress as torn, remove its temporary file, or append over its records.
        let journal = try Journal.open(directory: configuration.dataDirectory, key: key, options: journalOptions) { message in
            logger.log("journal", ["message": message])
        }
        let contentKeys: ContentKeyStore
        do { contentKeys = try ContentKeyStore(path: pki.contentKeyStorePath, dataKey: key) } catch {
            journal.close()
            throw BrokerSetupError(file: pki.contentKeyStorePath, message: "\(error)")
        }
        do {
            let engine = try BrokerEngine(
                store: journal, contentKeys: contentKeys, location: configuration.dataDirectory, policyLoader: domain.policy, rules: domain.rules,
                returnLimits: configuration.returnLimits, panels: domain.panels, identifierHasher: hasher,
                bootstrap: {
                    let admin = try Certificate(pemFile: pki.adminCertificatePath)
                    return BrokerState.bootstrap(agencies: domain.seeds, adminSerial: admin.serial, adminNotAfter: admin.notAfter,
                                                 adminIssuedAt: admin.notBefore)
                },
                snapshotPolicy: configuration.snapshots, clock: clock, logger: logger)
            return (engine, journal)
        } catch {
            journal.close()
            throw error
        }
    }

    /// The handshake check: only certificates the registry knows, unrevoked,
    /// of an enabled principal in an active agency, complete a handshake.
    /// A refusal is logged with the certificate's serial and subject, so an administrator can see who was turned away.
    static func verifier(_ core: BrokerEngine, logger: Logger) -> @Sendable (PeerCertificate) -> PeerRefusal? {
        { peer in
            switch core.identify(serial: peer.serial, allowPending: true) {
            case .success: return nil
            case .failure(let error):
                logger.log("certificate_refused", ["serial": peer.serial, "subject": peer.subject, "code": error.code.rawValue,
                                                   "reason": error.message])
                return error.code == .credentialRevoked ? .revoked : .unknown
            }
        }
    }

    private func logExpiringCredentials() {
        let now = core.clock()
        let soon: [Credential] = core.read { broker in
            broker.state.credentials.values.filter {
                $0.revokedAt == nil && $0.notAfter > now && $0.notAfter.timeIntervalSince(now) < Double(Limits.expiryWarningDays) * 86_400
            }
        }
        for credential in soon.sorted(by: { $0.notAfter < $1.notAfter }) {
            logger.log("credential_expiring", ["serial": credential.serial, "principal": credential.principal,
                                               "notAfter": RFC3339.format(credential.notAfter)])
        }
    }

    /// Starts listening, and the daily server-certificate renewal check.
    public func start() throws {
        try server.start()
        core.releaseDue()
        core.sweepRetention()
        let pki = self.pki, logger = self.logger, server = self.server, configuration = self.configuration, core = self.core
        renewalTimer.start(interval: Self.renewalCheckInterval) {
            // Erasure at the end of retention (SPEC §11.7), checked with the certificate.
            core.sweepRetention()
            do {
                guard try pki.renewServerCertificateIfNeeded() else { return }
                server.replaceTLSContext(try pki.serverContext(minimumVersion: configuration.tlsMinimumVersion, verifier: Self.verifier(core, logger: logger)))
                logger.log("server_certificate_renewed", ["file": pki.serverCertificatePath])
            } catch {
                logger.log("server_certificate_renewal_failed", ["error": "\(error)"])
            }
        }
    }

    /// Approves a credential as the server operator, as `maracd credential approve`
    /// does offline; for embedding and tests, on a running broker.
    public func approveAsOperator(serial: String, operatorName: String) async throws {
        do { _ = try await core.approveAsOperator(serial: serial, operatorName: operatorName) } catch { throw APIError(error) }
    }

    /// The bound port.
    public var port: Int { server.port }

    /// Open connections, for tests and health.
    public var connectionCount: Int { server.connectionCount }

    /// Graceful shutdown: stop accepting, finish in-flight requests.
    public func shutdown() async {
        renewalTimer.cancel()
        core.close()
        service.close()
        await server.shutdown()
        service.saveLastUse()
        journal.close()
    }
}

/// A repeating Dispatch timer owned by one object (Dispatch sources are thread-safe).
final class DispatchSourceTimerBox: Sendable {
    private let timer = Mutex<DispatchSourceTimer?>(nil)

    func start(interval: DispatchTimeInterval, _ body: @escaping @Sendable () -> Void) {
        timer.withLock { timer in
            let source = DispatchSource.makeTimerSource(queue: .global())
            source.schedule(deadline: .now() + interval, repeating: interval, leeway: .seconds(60))
            source.setEventHandler(handler: body)
            source.resume()
            timer = source
        }
    }

    func cancel() {
        timer.withLock { $0?.cancel(); $0 = nil }
    }
}

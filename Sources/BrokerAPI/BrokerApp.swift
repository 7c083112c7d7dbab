import Dispatch
import Foundation
import HTTPServer
import TLS

/// The whole broker assembled: configuration, PKI, HTTP server and routes.
/// `maracd serve` runs one; tests start one on port 0 in a temporary directory.
public final class BrokerApp: Sendable {
    public let configuration: BrokerConfiguration
    public let pki: BrokerPKI
    let logger: Logger
    let server: HTTPServer
    private let renewalTimer: DispatchSourceTimerBox

    /// Server certificates are checked for renewal this often.
    public static let renewalCheckInterval: DispatchTimeInterval = .seconds(86_400)

    /// Builds the broker; `init` of the PKI must have run.
    /// - Throws: `BrokerSetupError` naming the file at fault.
    public init(configuration: BrokerConfiguration, logger: Logger = .standardError) throws {
        self.configuration = configuration
        self.logger = logger
        pki = BrokerPKI(directory: configuration.certsDirectory)
        if try pki.renewServerCertificateIfNeeded() {
            logger.log("server_certificate_renewed", ["file": pki.serverCertificatePath])
        }
        let context = try pki.serverContext(minimumVersion: configuration.tlsMinimumVersion, verifier: nil)
        var router = Router<BrokerService.Handler>()
        SystemRoutes.register(in: &router)
        let service = BrokerService(router: router, logger: logger)
        server = HTTPServer(
            configuration: ServerConfiguration(host: configuration.listenHost, port: configuration.listenPort,
                                               limits: configuration.limits, maxConnections: configuration.maxConnections),
            tlsContext: context, responder: service, logger: logger)
        renewalTimer = DispatchSourceTimerBox()
    }

    /// Starts listening, and the daily server-certificate renewal check.
    public func start() throws {
        try server.start()
        let pki = self.pki, logger = self.logger, server = self.server, configuration = self.configuration
        renewalTimer.start(interval: Self.renewalCheckInterval) {
            do {
                guard try pki.renewServerCertificateIfNeeded() else { return }
                server.replaceTLSContext(try pki.serverContext(minimumVersion: configuration.tlsMinimumVersion, verifier: nil))
                logger.log("server_certificate_renewed", ["file": pki.serverCertificatePath])
            } catch {
                logger.log("server_certificate_renewal_failed", ["error": "\(error)"])
            }
        }
    }

    /// The bound port.
    public var port: Int { server.port }

    /// Open connections, for tests and health.
    public var connectionCount: Int { server.connectionCount }

    /// Graceful shutdown: stop accepting, finish in-flight requests.
    public func shutdown() async {
        renewalTimer.cancel()
        await server.shutdown()
    }
}

/// A repeating Dispatch timer owned by one object (Dispatch sources are thread-safe).
final class DispatchSourceTimerBox: @unchecked Sendable {
    private var timer: DispatchSourceTimer?
    private let lock = NSLock()

    func start(interval: DispatchTimeInterval, _ body: @escaping @Sendable () -> Void) {
        let timer = DispatchSource.makeTimerSource(queue: .global())
        timer.schedule(deadline: .now() + interval, repeating: interval, leeway: .seconds(60))
        timer.setEventHandler(handler: body)
        lock.withLock { self.timer = timer }
        timer.resume()
    }

    func cancel() {
        lock.withLock { timer?.cancel(); timer = nil }
    }
}

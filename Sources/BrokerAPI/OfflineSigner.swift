import Broker
import Dispatch
import Foundation
import HTTPServer
import TLS

/// `maracd cert sign`: signs a CSR without a running broker, for bootstrap
/// and disaster recovery (the only admin certificate lost or expired). It
/// applies the same checks as `POST /v1/credentials`, takes the subject from
/// the registry, and records the issuance in the journal exactly as the API
/// does, with the operating-system user as the actor. The journal's lock
/// refuses it while a broker has the data directory open.
public enum OfflineSigner {
    /// A certificate signed offline.
    public struct Signed: Sendable {
        public let serial: String
        public let notAfter: Date
        /// The certificate, PEM.
        public let certificate: String
    }

    /// Signs `csrPEM` for the registered `principal` and journals it.
    /// - Parameters:
    ///   - operatorName: who ran the command (recorded in the audit trail).
    /// - Throws: `BrokerSetupError`/`JournalError` if the broker's files cannot be opened
    ///   (`in_use` while a broker runs), or `APIError` naming what is wrong with the CSR or principal.
    public static func sign(csrPEM: String, principal: String, validityDays: Int?, configuration: BrokerConfiguration,
                            configDirectory: String, operatorName: String, logger: Logger) throws -> Signed {
        let pki = BrokerPKI(directory: configuration.certsDirectory)
        let core = try BrokerApp.openCore(configuration: configuration, configDirectory: configDirectory, pki: pki,
                                          clock: { Date() }, logger: logger)
        defer {
            core.close()
            core.journal.close()
        }
        let routes = CredentialRoutes(core: core, ca: try pki.loadCA(), configuration: configuration)
        let issued = try routes.issue(.init(principal: principal, csr: csrPEM, validityDays: validityDays), now: core.clock())
        let actor = Actor(principal: "offline-\(operatorName)", agency: "", role: .admin, serial: "OFFLINE")
        let credential = NewCredential(serial: issued.serial, principal: issued.principal, issuedAt: core.clock(), notAfter: issued.notAfter)
        try waitFor {
            _ = try await core.perform(as: actor) { broker, actor, env in broker.registerCredential(credential, by: actor, env: env) }
        }
        return Signed(serial: issued.serial, notAfter: issued.notAfter, certificate: issued.certificate)
    }

    /// Runs async work to completion from synchronous command-line code.
    private static func waitFor(_ body: @escaping @Sendable () async throws -> Void) throws {
        let done = DispatchSemaphore(value: 0)
        let outcome = LockedResult()
        Task {
            do { try await body() } catch { outcome.set(error) }
            done.signal()
        }
        done.wait()
        if let error = outcome.error { throw error }
    }
}

private final class LockedResult: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Error?
    func set(_ error: Error) { lock.withLock { stored = error } }
    var error: Error? { lock.withLock { stored } }
}

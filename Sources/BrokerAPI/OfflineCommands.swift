import Broker
import Dispatch
import Foundation
import HTTPServer
import TLS

/// `maracd`'s offline commands, run by whoever holds the server's files
/// (bootstrap and disaster recovery). Each opens the journal itself, applies
/// the same checks as the API, and records what it did in the journal exactly
/// as the API does, with the operating-system user as the actor
/// (`offline-<user>`, serial `OFFLINE`). The journal's lock refuses them while
/// a broker has the data directory open.
public enum OfflineCommands {
    /// A certificate signed offline.
    public struct Signed: Sendable {
        public let serial: String
        public let notAfter: Date
        /// The certificate, PEM.
        public let certificate: String
    }

    /// `maracd cert sign`: signs `csrPEM` for the registered `principal` and journals it
    /// (the only admin certificate lost or expired).
    /// - Parameters:
    ///   - operatorName: who ran the command (recorded in the audit trail).
    /// - Throws: `BrokerSetupError`/`JournalError` if the broker's files cannot be opened
    ///   (`in_use` while a broker runs), or `APIError` naming what is wrong with the CSR or principal.
    public static func sign(csrPEM: String, principal: String, validityDays: Int?, configuration: BrokerConfiguration,
                            configDirectory: String, operatorName: String, logger: Logger) throws -> Signed {
        try withCore(configuration, configDirectory, logger) { core, pki in
            let routes = CredentialRoutes(core: core, ca: try pki.loadCA(), configuration: configuration)
            let issued = try routes.issue(.init(principal: principal, csr: csrPEM, validityDays: validityDays), now: core.clock())
            let actor = operatorActor(operatorName, role: .admin)
            let credential = NewCredential(serial: issued.serial, principal: issued.principal, issuedAt: core.clock(), notAfter: issued.notAfter)
            try waitFor {
                _ = try await core.perform(as: actor) { broker, actor, env in broker.registerCredential(credential, by: actor, env: env) }
            }
            return Signed(serial: issued.serial, notAfter: issued.notAfter, certificate: issued.certificate)
        }
    }

    /// `maracd credential approve`: approves one coordinator's, SPOC's or auditor's
    /// certificate as the server operator — how the first coordinator's is approved,
    /// when no coordinator exists yet to do it through the API.
    /// - Throws: as `sign`, or `APIError` (404 no such certificate, 409 already approved,
    ///   revoked, expired or an administrator's).
    public static func approve(serial: String, configuration: BrokerConfiguration, configDirectory: String,
                               operatorName: String, logger: Logger) throws -> CredentialView {
        try withCore(configuration, configDirectory, logger) { core, _ in
            let approved = LockedValue<CredentialView>()
            try waitFor {
                approved.set(try await core.approve(serial: serial, operatorName: operatorName))
            }
            return approved.value!
        }
    }

    /// The actor recorded for an offline command.
    static func operatorActor(_ name: String, role: Role) -> Actor {
        Actor(principal: "offline-\(name)", agency: "", role: role, serial: "OFFLINE")
    }

    private static func withCore<T>(_ configuration: BrokerConfiguration, _ configDirectory: String, _ logger: Logger,
                                    _ body: (BrokerCore, BrokerPKI) throws -> T) throws -> T {
        let pki = BrokerPKI(directory: configuration.certsDirectory)
        let core = try BrokerApp.openCore(configuration: configuration, configDirectory: configDirectory, pki: pki,
                                          clock: { Date() }, logger: logger)
        defer {
            core.close()
            core.journal.close()
        }
        return try body(core, pki)
    }

    /// Runs async work to completion from synchronous command-line code.
    private static func waitFor(_ body: @escaping @Sendable () async throws -> Void) throws {
        let done = DispatchSemaphore(value: 0)
        let outcome = LockedValue<Error>()
        Task {
            do { try await body() } catch { outcome.set(error) }
            done.signal()
        }
        done.wait()
        if let error = outcome.value { throw error }
    }
}

private final class LockedValue<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: T?
    func set(_ value: T) { lock.withLock { stored = value } }
    var value: T? { lock.withLock { stored } }
}

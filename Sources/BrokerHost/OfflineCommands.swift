import Broker
import BrokerAPI
import Crypto
import Dispatch
import Engine
import Foundation
import HTTPServer
import Journal
import TLS
import Synchronization
import Wire

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
    ///   (`in_use` while a broker runs), or `EngineError` naming what is wrong with the CSR or principal.
    public static func sign(csrPEM: String, principal: String, validityDays: Int?, configuration: BrokerConfiguration,
                            configDirectory: String, operatorName: String, logger: Logger) throws -> Signed {
        try withEngine(configuration, configDirectory, logger) { engine, _, pki in
            let issuer = configuration.credentialIssuer(try pki.loadCA())
            let signed = Mutex<IssuedCredential?>(nil)
            try waitFor {
                let issued = try await engine.execute(as: BrokerEngine.operatorActor(operatorName, role: .admin)) { broker, actor, env in
                    broker.issueCredential(principal: principal, by: actor, env: env) { principal in
                        issuer.sign(csrPEM: csrPEM, validityDays: validityDays, for: principal, now: env.now)
                    }
                }
                signed.withLock { $0 = issued }
            }
            let issued = signed.withLock { $0! }
            return Signed(serial: issued.serial, notAfter: issued.notAfter, certificate: issued.certificate)
        }
    }

    /// `maracd credential approve`: approves one coordinator's, SPOC's or auditor's
    /// certificate as the server operator — how the first coordinator's is approved,
    /// when no coordinator exists yet to do it through the API.
    /// - Throws: as `sign`, or `EngineError` (no such certificate; already approved,
    ///   revoked, expired or an administrator's).
    public static func approve(serial: String, configuration: BrokerConfiguration, configDirectory: String,
                               operatorName: String, logger: Logger) throws -> CredentialView {
        try withEngine(configuration, configDirectory, logger) { engine, _, _ in
            let approved = Mutex<CredentialView?>(nil)
            try waitFor {
                let view = try await engine.approveAsOperator(serial: serial, operatorName: operatorName)
                approved.withLock { $0 = view }
            }
            return approved.withLock { $0! }
        }
    }

    /// What `acceptTruncation` recorded.
    public struct AcceptedTruncation: Sendable {
        /// Where the anchor said the journal had reached.
        public let anchorSeq: UInt64
        /// Where the journal really ended.
        public let endSeq: UInt64
        /// The audit record saying so (the new anchored head).
        public let recordSeq: UInt64
        /// "records N+1…M were lost" (or "record N was lost").
        public let description: String
    }

    /// `maracd journal accept-truncation`: after a real loss of records from the
    /// journal's end (disk failure), appends an audit record
    /// `journal.truncation_accepted` saying which records were lost, by whom,
    /// and moves the head anchor to it. Never silent: the loss stays in the audit trail.
    /// - Throws: `BrokerSetupError` when the journal is not shorter than its anchor
    ///   (nothing to accept), when the anchor is missing, or the journal is damaged
    ///   in any other way (those are not a truncation); `in_use` while a broker runs.
    public static func acceptTruncation(configuration: BrokerConfiguration, configDirectory: String,
                                        operatorName: String, logger: Logger) throws -> AcceptedTruncation {
        try withEngine(configuration, configDirectory, logger, anchorMode: .acceptTruncation) { engine, journal, pki in
            guard let lost = journal.truncation else {
                throw BrokerSetupError(file: pki.journalAnchorPath, message: "nothing to accept: the journal ends at seq \(journal.head.seq), "
                                       + "at or after its anchor; nothing was changed")
            }
            let reason = "journal truncated: anchor at \(lost.anchor.seq), journal ends at \(lost.end.seq); \(lostRecords(lost)) "
                + "and \(lost.anchor.seq - lost.end.seq == 1 ? "is" : "are") not in this journal (anchored hash \(lost.anchor.hash.hexString)); accepted by the server operator"
            let record = try record(AuditDetail(action: AuditDetail.Action.journalTruncationAccepted, object: "journal", reason: reason),
                                    engine: engine, operatorName: operatorName)
            logger.log("journal_truncation_accepted", ["anchor": Int(lost.anchor.seq), "end": Int(lost.end.seq), "record": Int(record),
                                                       "operator": operatorName])
            return AcceptedTruncation(anchorSeq: lost.anchor.seq, endSeq: lost.end.seq, recordSeq: record, description: lostRecords(lost))
        }
    }

    /// "records 5…9 were lost", or "record 5 was lost".
    public static func lostRecords(_ lost: JournalTruncation) -> String {
        lost.anchor.seq - lost.end.seq == 1 ? "record \(lost.anchor.seq) was lost" : "records \(lost.end.seq + 1)…\(lost.anchor.seq) were lost"
    }

    /// `maracd journal anchor --init`: anchors a journal written before journal
    /// anchoring existed (the migration of an existing data directory). Refused
    /// when an anchor exists. Appends an audit record `journal.anchor_created`
    /// naming the head it found, and anchors the journal at that record.
    /// - Returns: the anchored record's seq.
    /// - Throws: `BrokerSetupError`/`JournalError` (`anchor` if one exists, damage, `in_use`).
    public static func initializeAnchor(configuration: BrokerConfiguration, configDirectory: String,
                                        operatorName: String, logger: Logger) throws -> UInt64 {
        try withEngine(configuration, configDirectory, logger, anchorMode: .create) { engine, journal, pki in
            let head = journal.head
            let reason = "journal anchor \(pki.journalAnchorPath) created for a journal that had none; it then ended at seq \(head.seq) (hash \(head.hash.hexString)); "
                + "records before this one were not anchored"
            let seq = try record(AuditDetail(action: AuditDetail.Action.journalAnchorCreated, object: "journal", reason: reason),
                                 engine: engine, operatorName: operatorName)
            logger.log("anchor_created", ["file": pki.journalAnchorPath, "head": Int(head.seq), "record": Int(seq), "operator": operatorName])
            return seq
        }
    }

    /// Appends an audit-only entry by the operator through the broker's normal journal path; returns its seq.
    private static func record(_ audit: AuditDetail, engine: BrokerEngine, operatorName: String) throws -> UInt64 {
        let actor = BrokerEngine.operatorActor(operatorName, role: .admin)
        try waitFor {
            try await engine.execute(as: actor) { _, actor, env in
                .success(Decision(entry: Entry(at: env.now, actor: actor, audit: audit, events: []), reply: ()))
            }
        }
        return engine.durablePosition.seq
    }

    private static func withEngine<T>(_ configuration: BrokerConfiguration, _ configDirectory: String, _ logger: Logger,
                                      anchorMode: JournalAnchor.Mode = .require,
                                      _ body: (BrokerEngine, Journal, BrokerPKI) throws -> T) throws -> T {
        let pki = BrokerPKI(directory: configuration.certsDirectory)
        let (engine, journal) = try BrokerApp.openEngine(configuration: configuration, configDirectory: configDirectory, pki: pki,
                                                         anchorMode: anchorMode, clock: { Date() }, logger: logger)
        defer {
            engine.close()
            journal.close()
        }
        return try body(engine, journal, pki)
    }

    /// Runs async work to completion from synchronous command-line code.
    private static func waitFor(_ body: @escaping @Sendable () async throws -> Void) throws {
        let done = DispatchSemaphore(value: 0)
        let outcome = Mutex<(any Error)?>(nil)
        Task {
            do { try await body() } catch { outcome.withLock { $0 = error } }
            done.signal()
        }
        done.wait()
        if let error = outcome.withLock({ $0 }) { throw error }
    }
}

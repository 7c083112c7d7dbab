import Broker
import Dispatch
import Foundation
import HTTPServer
import Journal
import Synchronization
import TLS
import Wire

/// The broker's state machine behind a lock, made durable by the journal.
///
/// Every command is decided and applied in one critical section, in the
/// order it is appended to the journal, so the next command is always decided
/// against everything ordered before it. Its answer is released only when the
/// journal reports the entry durable; concurrent commands share one write and
/// one fsync (the journal's group commit). If a write fails, the broker stops
/// serving (503) until it is restarted and replays what is durable: it never
/// answers from state that might not be on disk after a failure. A read that
/// changes nothing waits, too, until every entry ordered before it is durable,
/// so no answer shows (or hands out a cursor past) a change that could still be lost.
///
/// Lock order: `inner`, then the journal's own lock (appends are issued while
/// holding `inner` so that sequence numbers follow decision order).
public final class BrokerCore: Sendable {
    private struct Inner {
        var broker: Broker
        /// The sequence number the next appended entry will get.
        var nextSeq: UInt64
        /// The last entry known durable.
        var durable: JournalPosition
        var inFlight = 0
        var failure: String?
        var entriesSinceSnapshot = 0
        /// Journal payload bytes since the last snapshot, and that snapshot's size.
        var bytesSinceSnapshot = 0
        var lastSnapshotBytes = 0
        var crl: CRLCache?
        /// Reads waiting for entries ordered before them to become durable, oldest first.
        var readers: [(after: UInt64, resume: @Sendable (Result<Void, Error>) -> Void)] = []
    }

    private struct CRLCache {
        var revoked: Int
        var number: Int
        var issuedAt: Date
        var pem: [UInt8]
    }

    private let inner: Mutex<Inner>
    let journal: Journal
    let clock: @Sendable () -> Date
    let logger: Logger
    let hub = LongPollHub()
    let pollPages = PollPageCache()
    /// Journal completions are handled here, in journal order.
    private let commitQueue = DispatchQueue(label: "marac.commit")
    private let releaseTimer: Mutex<DispatchSourceTimer?> = Mutex(nil)
    private let snapshotQueue = DispatchQueue(label: "marac.snapshot", qos: .utility)

    /// When snapshots are written (`SnapshotPolicy`).
    let snapshotPolicy: SnapshotPolicy

    /// Opens the journal, restores the state (snapshot + replay) and, on a new
    /// journal, writes the bootstrap entry: the default agencies and the admin.
    /// - Throws: `BrokerSetupError` or `JournalError` naming what is wrong.
    public init(dataDirectory: String, key: SymmetricKey, policyLoader: (Set<String>) throws -> SharingPolicy,
                rules: DeadlineRules, returnLimits: ReturnLimits = .default, bootstrap: () throws -> Entry, snapshotPolicy: SnapshotPolicy = .default,
                journalOptions: JournalOptions = .init(), clock: @escaping @Sendable () -> Date, logger: Logger) throws {
        self.clock = clock
        self.logger = logger
        self.snapshotPolicy = snapshotPolicy
        journal = try Journal.open(directory: dataDirectory, key: key, options: journalOptions) { message in logger.log("journal", ["message": message]) }
        var state = BrokerState()
        var replayFrom: UInt64 = 0
        var snapshotBytes = 0
        if let snapshot = try journal.latestSnapshot() {
            snapshotBytes = snapshot.state.count
            do { state = try JSONDecoder().decode(BrokerState.self, from: Data(snapshot.state)) } catch {
                throw BrokerSetupError(file: dataDirectory, message: "snapshot at seq \(snapshot.position.seq) cannot be decoded: \(error)")
            }
            replayFrom = snapshot.position.seq
        }
        var replayed = 0
        var replayedBytes = 0
        try journal.replay(after: replayFrom) { record in
            state.apply(try Self.decodeEntry(record), position: Self.chainPosition(record))
            replayed += 1
            replayedBytes += record.payload.count
        }
        var head = journal.head
        if head.seq == 0 {
            let entry = try bootstrap()
            let record = try Self.appendAndWait(journal, try Self.encode(entry))
            state.apply(entry, position: Self.chainPosition(record))
            head = record.position
            logger.log("bootstrap", ["agencies": state.agencies.count, "admin": "admin"])
        }
        let policy = try policyLoader(Set(state.agencies.keys))
        let broker = Broker(state: state, policy: policy, rules: rules, returnLimits: returnLimits)
        inner = Mutex(Inner(broker: broker, nextSeq: head.seq + 1, durable: head, entriesSinceSnapshot: replayed,
                            bytesSinceSnapshot: replayedBytes, lastSnapshotBytes: snapshotBytes))
        logger.log("journal_open", ["head": Int(head.seq), "replayed": replayed, "snapshot": Int(replayFrom)])
    }

    // MARK: Commands

    /// Identifies the caller by certificate serial, runs `operation` against
    /// the current state and, if it produced an entry, journals and applies it.
    /// Returns once the entry is durable.
    /// - Throws: `APIError` — the domain's refusal, or 503 when storage has failed.
    /// `allowPending` only for what a pending certificate may do: `GET /v1/whoami`.
    func perform<Reply: Sendable>(serial: String, allowPending: Bool = false,
                                  _ operation: (Broker, Actor, Environment) -> Outcome<Reply>) async throws -> (Actor, Reply) {
        try await perform(identify: { broker, now in broker.identify(serial: serial, at: now, allowPending: allowPending) }, operation)
    }

    /// Runs `operation` as `actor` without a certificate lookup: for `maracd`'s
    /// offline commands, run by whoever holds the server's files.
    func perform<Reply: Sendable>(as actor: Actor, _ operation: (Broker, Actor, Environment) -> Outcome<Reply>) async throws -> Reply {
        try await perform(identify: { _, _ in .success(actor) }, operation).1
    }

    private func perform<Reply: Sendable>(identify: (Broker, Date) -> Result<Actor, DomainError>,
                                          _ operation: (Broker, Actor, Environment) -> Outcome<Reply>) async throws -> (Actor, Reply) {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<(Actor, Reply), Error>) in
            inner.withLock { inner in
                if let failure = inner.failure { return continuation.resume(throwing: Self.storageError(failure)) }
                let env = Environment(now: clock(), newID: { SecureRandom.hex(16) })
                let actor: Actor
                switch identify(inner.broker, env.now) {
                case .success(let identified): actor = identified
                case .failure(let error): return continuation.resume(throwing: APIError(error))
                }
                IdentifiedPrincipal.current?.principal = actor.principal
                let decision: Decision<Reply>
                switch operation(inner.broker, actor, env) {
                case .success(let decided): decision = decided
                case .failure(let error): return continuation.resume(throwing: APIError(error))
                }
                let reply = decision.reply
                guard let entry = decision.entry else {
                    let pending = inner.nextSeq - 1
                    if pending <= inner.durable.seq { return continuation.resume(returning: (actor, reply)) }
                    inner.readers.append((pending, { outcome in continuation.resume(with: outcome.map { (actor, reply) }) }))
                    return
                }
                enqueue(entry, in: &inner) { outcome in continuation.resume(with: outcome.map { (actor, reply) }) }
            }
        }
    }

    /// Approves a credential as the server operator (`maracd credential approve`).
    func approve(serial: String, operatorName: String) async throws -> CredentialView {
        try await perform(as: OfflineCommands.operatorActor(operatorName, role: .coordinator)) { broker, actor, env in
            broker.approveCredential(serial: serial, by: actor, env: env)
        }
    }

    /// Identifies a certificate serial without running anything (handshake hook, pre-checks).
    /// `allowPending`: the handshake, which a pending certificate completes (it may ask whoami).
    func identify(serial: String, allowPending: Bool = false) -> Result<Actor, DomainError> {
        inner.withLock { $0.broker.identify(serial: serial, at: clock(), allowPending: allowPending) }
    }

    /// Reads the state under the lock.
    func read<T>(_ body: (Broker) throws -> T) rethrows -> T {
        try inner.withLock { try body($0.broker) }
    }

    /// Orders, applies and journals one entry; `done` runs once it is durable (or failed).
    private func enqueue(_ entry: Entry, in inner: inout Inner, done: @escaping @Sendable (Result<Void, Error>) -> Void) {
        let payload: [UInt8]
        do { payload = try Self.encode(entry) } catch {
            return done(.failure(APIError(.internalServerError, "internal_error", "could not encode the journal entry: \(error)")))
        }
        let seq = inner.nextSeq
        inner.nextSeq += 1
        inner.inFlight += 1
        // Read before the entry is applied (a principal moved to another agency is parked under the old
        // one) and after (a request dispatched and released in the same entry exists only then).
        let before = Self.agenciesTouched(by: entry, in: inner.broker.state)
        // Applied now, so the next command is decided against it; the chain hash follows when durable.
        inner.broker.apply(entry, position: ChainPosition(seq: seq, hash: "", prevHash: ""))
        let agencies = before.union(Self.agenciesTouched(by: entry, in: inner.broker.state))
        let reschedules = Self.changesReleaseSchedule(entry)
        journal.append(payload) { [self] result in
            commitQueue.async { [self] in
                committed(seq: seq, result: result, agencies: agencies, reschedules: reschedules, done: done)
            }
        }
    }

    private func committed(seq: UInt64, result: Result<JournalRecord, JournalError>, agencies: Set<String>,
                           reschedules: Bool, done: @Sendable (Result<Void, Error>) -> Void) {
        switch result {
        case .success(let record) where record.seq == seq:
            let (snapshot, readers) = inner.withLock { inner -> ((BrokerState, JournalPosition)?, [@Sendable (Result<Void, Error>) -> Void]) in
                inner.inFlight -= 1
                inner.durable = record.position
                inner.broker.recordChain(Self.chainPosition(record))
                inner.entriesSinceSnapshot += 1
                inner.bytesSinceSnapshot += record.payload.count
                let ready = inner.readers.prefix { $0.after <= record.seq }.map(\.resume)
                inner.readers.removeFirst(ready.count)
                guard inner.inFlight == 0, snapshotPolicy.isDue(entries: inner.entriesSinceSnapshot, bytes: inner.bytesSinceSnapshot,
                                                                lastSnapshotBytes: inner.lastSnapshotBytes) else { return (nil, ready) }
                inner.entriesSinceSnapshot = 0
                inner.bytesSinceSnapshot = 0
                return ((inner.broker.state, record.position), ready)
            }
            if let (state, position) = snapshot { writeSnapshot(state, at: position) }
            // The writer is answered first; then the readers and long-polls it was holding up.
            done(.success(()))
            readers.forEach { $0(.success(())) }
            hub.notify(agencies)
            if reschedules { armReleaseTimer() }
        case .success(let record):
            fail("journal assigned seq \(record.seq) to the entry ordered as \(seq)")
            done(.failure(Self.storageError("journal order mismatch")))
        case .failure(let error):
            fail(error.description)
            done(.failure(Self.storageError(error.description)))
        }
    }

    /// Stops serving: every later command, and every read still waiting for durability, gets 503.
    private func fail(_ reason: String) {
        let (first, readers) = inner.withLock { inner in
            defer {
                if inner.failure == nil { inner.failure = reason }
                inner.readers.removeAll()
            }
            return (inner.failure == nil, inner.readers.map(\.resume))
        }
        if first { logger.log("storage_failed", ["error": reason]) }
        readers.forEach { $0(.failure(Self.storageError(reason))) }
    }

    static func storageError(_ reason: String) -> APIError {
        APIError(.serviceUnavailable, "storage_unavailable",
                 "the broker cannot store changes (\(reason)); nothing was acknowledged; an administrator must fix storage and restart the broker")
    }

    /// The last record known durable (what a checkpoint signs).
    var durablePosition: JournalPosition { inner.withLock { $0.durable } }

    /// Storage status for `GET /v1/health`.
    var storageStatus: (healthy: Bool, head: UInt64, failure: String?) {
        let failure = inner.withLock { $0.failure }
        return (failure == nil && journal.isHealthy, journal.head.seq, failure)
    }

    // MARK: Scheduled releases

    /// Releases every request whose `releaseAt` has come, then re-arms the timer for the next one.
    func releaseDue() {
        inner.withLock { inner in
            guard inner.failure == nil else { return }
            let env = Environment(now: clock(), newID: { SecureRandom.hex(16) })
            for entry in inner.broker.releaseDue(env: env) {
                enqueue(entry, in: &inner) { _ in }
            }
        }
        armReleaseTimer()
    }

    /// Arms a one-shot timer at the next scheduled release (or disarms it).
    func armReleaseTimer() {
        let next = inner.withLock { $0.broker.state.nextScheduledRelease }
        releaseTimer.withLock { timer in
            timer?.cancel()
            timer = nil
            guard let next else { return }
            let delay = max(0, next.timeIntervalSince(clock()))
            let source = DispatchSource.makeTimerSource(queue: commitQueue)
            source.schedule(deadline: .now() + delay, leeway: .milliseconds(5))
            source.setEventHandler { [weak self] in self?.releaseDue() }
            source.resume()
            timer = source
        }
    }

    /// Stops timers and wakes long-polls (graceful shutdown).
    func close() {
        releaseTimer.withLock { $0?.cancel(); $0 = nil }
        hub.close()
    }

    // MARK: CRL

    /// A CRL is valid for this long (its `nextUpdate`)…
    static let crlValidity: TimeInterval = 7 * 86_400
    /// …and is reissued once it is this old, so a relying party never holds an expired one.
    static let crlReissueAfter: TimeInterval = 86_400

    /// The current CRL (PEM): reissued when the set of revoked certificates
    /// changes and daily. Its number always increases, also across restarts
    /// (it is at least the issue time in Unix seconds).
    func crl(signedBy ca: CertificateAuthority) throws -> [UInt8] {
        try inner.withLock { inner in
            let revoked = inner.broker.state.credentials.values.filter { $0.revokedAt != nil }
            let now = clock()
            if let cache = inner.crl, cache.revoked == revoked.count,
               now.timeIntervalSince(cache.issuedAt) < Self.crlReissueAfter, now >= cache.issuedAt {
                return cache.pem
            }
            let number = max((inner.crl?.number ?? 0) + 1, Int(now.timeIntervalSince1970))
            let pem = try ca.makeCRL(revoked: revoked.map { .init(serial: $0.serial, revokedAt: $0.revokedAt!) },
                                     number: number, now: now, nextUpdate: now.addingTimeInterval(Self.crlValidity))
            inner.crl = CRLCache(revoked: revoked.count, number: number, issuedAt: now, pem: pem)
            return pem
        }
    }

    // MARK: Snapshots

    private func writeSnapshot(_ state: BrokerState, at position: JournalPosition) {
        snapshotQueue.async { [self] in
            do {
                let bytes = try Self.encode(state)
                try journal.writeSnapshot(bytes, at: position)
                inner.withLock { $0.lastSnapshotBytes = bytes.count }
                logger.log("snapshot_written", ["seq": Int(position.seq), "bytes": bytes.count])
            } catch {
                logger.log("snapshot_failed", ["seq": Int(position.seq), "error": "\(error)"])
            }
        }
    }

    // MARK: Encoding

    /// Journal entries and snapshots: Foundation's default JSON format, written by `JSON.encodeStored`.
    static func encode(_ value: some Encodable) throws -> [UInt8] {
        try JSON.encodeStored(value)
    }

    static func decodeEntry(_ record: JournalRecord) throws -> Entry {
        do { return try JSONDecoder().decode(Entry.self, from: Data(record.payload)) } catch {
            throw BrokerSetupError(file: "journal", key: "seq \(record.seq)", message: "entry cannot be decoded: \(error)")
        }
    }

    static func chainPosition(_ record: JournalRecord) -> ChainPosition {
        ChainPosition(seq: record.seq, hash: record.hash.hexString, prevHash: record.prevHash.hexString)
    }

    static func appendAndWait(_ journal: Journal, _ payload: [UInt8]) throws -> JournalRecord {
        let semaphore = DispatchSemaphore(value: 0)
        let outcome = Mutex<Result<JournalRecord, JournalError>?>(nil)
        journal.append(payload) { result in
            outcome.withLock { $0 = result }
            semaphore.signal()
        }
        semaphore.wait()
        return try outcome.withLock { $0! }.get()
    }

    /// Whether an entry can move the next scheduled release (the release timer is re-armed only then).
    static func changesReleaseSchedule(_ entry: Entry) -> Bool {
        entry.events.contains { event in
            switch event {
            case .requestDispatched, .requestReleased: true
            default: false
            }
        }
    }

    /// Agencies whose parked long-polls an entry must wake, as `state` shows them: those whose
    /// request feed it changes, and those with a poller it shuts out (a revoked or pending
    /// certificate, a disabled or changed principal, a deactivated agency), whose woken poll
    /// then meets the 403 at once instead of at its timeout.
    static func agenciesTouched(by entry: Entry, in state: BrokerState) -> Set<String> {
        var agencies = Set<String>()
        for event in entry.events {
            switch event {
            case .requestDispatched(let request) where request.releasedAt != nil: agencies.insert(request.agency)
            case .requestReleased(let id, _), .extensionGranted(let id, _, _):
                if let agency = state.requests[id]?.agency { agencies.insert(agency) }
            case .returnSubmitted(let version): agencies.insert(version.agency)
            case .credentialRevoked(let serial, _, _), .credentialApprovalChanged(let serial, _):
                if let principal = state.credentials[serial].flatMap({ state.principals[$0.principal] }) { agencies.insert(principal.agency) }
            case .principalUpdated(let principal):
                agencies.insert(principal.agency)
                if let before = state.principals[principal.id] { agencies.insert(before.agency) }
            case .agencyUpdated(let agency): agencies.insert(agency.id)
            default: break
            }
        }
        return agencies
    }
}

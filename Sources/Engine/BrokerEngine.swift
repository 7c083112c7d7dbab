import Broker
import Crypto
import Dispatch
import Foundation
import Wire
import Journal
import Synchronization
import TLS
import Wire

/// The command pipeline: the domain's state behind a lock, made durable by an `EventStore`.
///
/// Every command is decided and applied in one critical section, in the order it
/// is appended to the store, so the next command is always decided against
/// everything ordered before it. Its answer is released only when the store reports
/// the entry durable; concurrent commands share one write and one fsync (the
/// journal's group commit). If a write fails, the engine refuses everything
/// (`EngineError.storageUnavailable`) until it is restarted and replays what is
/// durable: it never answers from state that might not be on disk after a failure.
/// A read that changes nothing waits, too, until every entry ordered before it is
/// durable, so no answer shows (or hands out a cursor past) a change that could still be lost.
///
/// Lock order: `inner`, then the store's own lock (appends are issued while
/// holding `inner` so that sequence numbers follow decision order).
public final class BrokerEngine: Sendable {
    private struct Inner {
        var broker: Domain
        /// The sequence number the next appended entry will get.
        var nextSeq: UInt64
        /// The last entry known durable.
        var durable: JournalPosition
        var inFlight = 0
        var failure: String?
        var entriesSinceSnapshot = 0
        /// Store payload bytes since the last snapshot, and that snapshot's size.
        var bytesSinceSnapshot = 0
        var lastSnapshotBytes = 0
        /// An erasure committed since the last snapshot: the next snapshot is taken as soon as
        /// nothing is in flight, and every older snapshot (which holds the erased content) removed.
        var erasureSnapshotDue = false
        /// Erasures made durable while other entries were in flight: answered once the snapshot
        /// that removes every older one is written (README: the snapshot before the answer).
        var erasureWaiters: [@Sendable (Result<Void, EngineError>) -> Void] = []
        /// Reads waiting for entries ordered before them to become durable, oldest first.
        var readers: [(after: UInt64, resume: @Sendable (Result<Void, EngineError>) -> Void)] = []
    }

    private let inner: Mutex<Inner>
    /// Where entries are made durable (the journal, or memory in tests).
    public let store: any EventStore
    /// The content keys entries are sealed under (SPEC §11.7), outside the store.
    public let contentKeys: ContentKeyStore
    public let clock: @Sendable () -> Date
    let logger: Logger
    /// Told, after each durable entry, which agencies' request feeds or pollers it touched.
    private let changeObserver = Mutex<ChangeObserver?>(nil)
    /// Store completions are handled here, in store order.
    private let commitQueue = DispatchQueue(label: "marac.commit")
    /// Store completions not yet handled, in store order, and whether a drain is queued: a group
    /// commit completes many entries at once, and one hop to `commitQueue` handles them all.
    private let completions = Mutex<(pending: [StoreCompletion], drainQueued: Bool)>(([], false))
    private let snapshotQueue = DispatchQueue(label: "marac.snapshot", qos: .utility)
    private let releases: ReleaseScheduler
    private let revocations = CRLIssuer()

    /// When snapshots are written (`SnapshotPolicy`).
    public let snapshotPolicy: SnapshotPolicy

    /// Restores the state from `store` (snapshot + replay) and, on an empty store,
    /// appends the bootstrap entry: the default agencies and the admin.
    /// - Parameters:
    ///   - location: names the store in setup errors (the data directory).
    /// - Throws: `BrokerSetupError` or `JournalError` naming what is wrong.
    public init(store: any EventStore, contentKeys: ContentKeyStore, location: String, policyLoader: (Set<String>) throws -> SharingPolicy, rules: DeadlineRules,
                returnLimits: ReturnLimits = .default, panels: PanelSet? = nil, identifierHasher: IdentifierHasher? = nil, bootstrap: () throws -> Entry, snapshotPolicy: SnapshotPolicy = .default,
                clock: @escaping @Sendable () -> Date, logger: Logger) throws {
        self.store = store
        self.contentKeys = contentKeys
        self.clock = clock
        self.logger = logger
        self.snapshotPolicy = snapshotPolicy
        var state = BrokerState()
        var replayFrom: UInt64 = 0
        var snapshotBytes = 0
        if let snapshot = try store.latestSnapshot() {
            snapshotBytes = snapshot.state.count
            do { state = try EntryCodec.decodeState(snapshot.state) } catch {
                throw BrokerSetupError(file: location, message: "snapshot at seq \(snapshot.position.seq) cannot be decoded: \(error)")
            }
            replayFrom = snapshot.position.seq
        }
        var replayed = 0
        var replayedBytes = 0
        try store.replay(after: replayFrom) { record in
            state.apply(try EntryCodec.decode(record, keys: contentKeys), position: EntryCodec.chainPosition(record))
            replayed += 1
            replayedBytes += record.payload.count
        }
        var head = store.head
        if head.seq == 0 {
            let entry = try bootstrap()
            let record = try Self.appendAndWait(store, try EntryCodec.encode(entry, plan: state.sealingPlan(of: entry), keys: contentKeys))
            state.apply(entry, position: EntryCodec.chainPosition(record))
            head = record.position
            logger.log("bootstrap", ["agencies": state.agencies.count, "admin": "admin"])
        }
        let policy = try policyLoader(Set(state.agencies.keys))
        let broker = Domain(state: state, policy: policy, rules: rules, returnLimits: returnLimits, panels: panels, identifierHasher: identifierHasher)
        // Fail closed: a meeting or referral of a panel the configuration no longer defines would
        // silently take the first panel's rules and deadlines.
        let known = Set(broker.panels.panels.map(\.id))
        let used = Set(state.meetings.values.compactMap(\.panel)).union((state.referrals ?? [:]).values.map(\.panel))
        if let missing = used.subtracting(known).sorted().first {
            throw BrokerSetupError(file: "panels.json", key: "panels",
                                   message: "the journal has meetings or referrals of panel \(missing), which the configuration no longer defines; "
                                       + "put it back (its rules may change) before starting")
        }
        try Self.finishErasures(in: state, snapshotSeq: replayFrom, head: head, store: store, keys: contentKeys, logger: logger)
        inner = Mutex(Inner(broker: broker, nextSeq: head.seq + 1, durable: head, entriesSinceSnapshot: replayed,
                            bytesSinceSnapshot: replayedBytes, lastSnapshotBytes: snapshotBytes))
        releases = ReleaseScheduler(queue: commitQueue, clock: clock)
        logger.log("journal_open", ["head": Int(head.seq), "replayed": replayed, "snapshot": Int(replayFrom)])
    }

    /// `observer` is called after each durable entry with the agencies whose request feed
    /// it changed or whose pollers it shut out (the API's long-poll hub wakes them).
    public func observeChanges(_ observer: @escaping @Sendable (Set<String>) -> Void) {
        changeObserver.withLock { $0 = ChangeObserver(notify: observer) }
    }

    // MARK: Commands

    /// Identifies the caller by certificate serial, runs `operation` against the current
    /// state and, if it produced an entry, orders, applies and stores it. Returns once the
    /// entry (or, for a read, everything ordered before it) is durable.
    /// - Parameters:
    ///   - allowPending: only for what a pending certificate may do (`GET /v1/whoami`).
    ///   - identified: told who the caller is as soon as that is known (also when the command is then refused).
    /// - Throws: `EngineError`: the domain's refusal, or storage that has failed.
    public func execute<Reply: Sendable>(serial: String, allowPending: Bool = false, identified: (Actor) -> Void = { _ in },
                                         _ operation: (Domain, Actor, Environment) -> Outcome<Reply>) async throws(EngineError) -> (Actor, Reply) {
        try await execute(identify: { broker, now in broker.identify(serial: serial, at: now, allowPending: allowPending) },
                          identified: identified, operation)
    }

    /// Runs `operation` as `actor` without a certificate lookup: for `maracd`'s offline
    /// commands, run by whoever holds the server's files.
    public func execute<Reply: Sendable>(as actor: Actor, _ operation: (Domain, Actor, Environment) -> Outcome<Reply>) async throws(EngineError) -> Reply {
        try await execute(identify: { _, _ in .success(actor) }, identified: { _ in }, operation).1
    }

    private func execute<Reply: Sendable>(identify: (Domain, Date) -> Result<Actor, DomainError>, identified: (Actor) -> Void,
                                          _ operation: (Domain, Actor, Environment) -> Outcome<Reply>) async throws(EngineError) -> (Actor, Reply) {
        // A refusal, or a read with nothing before it still to be made durable, is answered at
        // once, without suspending the task (a suspension is a second turn of the caller's event
        // loop); only a command, or a read behind one, waits for its `Waiter`.
        let step: CommandStep<(Actor, Reply)> = inner.withLock { inner in
            if let failure = inner.failure { return .answered(.failure(.storageUnavailable(reason: failure))) }
            let env = Environment(now: clock(), newID: { SecureRandom.hex(16) })
            let actor: Actor
            switch identify(inner.broker, env.now) {
            case .success(let found): actor = found
            case .failure(let error): return .answered(.failure(.refused(error)))
            }
            identified(actor)
            let decision: Decision<Reply>
            switch operation(inner.broker, actor, env) {
            case .success(let decided): decision = decided
            case .failure(let error): return .answered(.failure(.refused(error)))
            }
            let reply = decision.reply
            guard let entry = decision.entry else {
                let pending = inner.nextSeq - 1
                if pending <= inner.durable.seq { return .answered(.success((actor, reply))) }
                let waiter = Waiter<(Actor, Reply)>()
                inner.readers.append((pending, { outcome in waiter.complete(outcome.map { (actor, reply) }) }))
                return .waiting(waiter)
            }
            let waiter = Waiter<(Actor, Reply)>()
            enqueue(entry, in: &inner) { outcome in waiter.complete(outcome.map { (actor, reply) }) }
            return .waiting(waiter)
        }
        switch step {
        case .answered(let outcome): return try outcome.get()
        case .waiting(let waiter): return try await waiter.value().get()
        }
    }

    /// The actor recorded for the server operator's commands (`maracd`, run by the OS user `name`).
    public static func operatorActor(_ name: String, role: Role) -> Actor {
        Actor(principal: "offline-\(name)", agency: "", role: role, serial: "OFFLINE")
    }

    /// Approves a credential as the server operator (`maracd credential approve`).
    public func approveAsOperator(serial: String, operatorName: String) async throws(EngineError) -> CredentialView {
        try await execute(as: Self.operatorActor(operatorName, role: .coordinator)) { broker, actor, env in
            broker.approveCredential(serial: serial, by: actor, env: env)
        }
    }

    /// Identifies a certificate serial without running anything (handshake hook, pre-checks).
    /// `allowPending`: the handshake, which a pending certificate completes (it may ask whoami).
    public func identify(serial: String, allowPending: Bool = false) -> Result<Actor, DomainError> {
        inner.withLock { $0.broker.identify(serial: serial, at: clock(), allowPending: allowPending) }
    }

    /// Reads the state under the lock.
    public func read<T>(_ body: (Domain) throws -> T) rethrows -> T {
        try inner.withLock { try body($0.broker) }
    }

    /// Orders, applies and stores one entry; `done` runs once it is durable (or failed).
    private func enqueue(_ entry: Entry, in inner: inout Inner, done: @escaping @Sendable (Result<Void, EngineError>) -> Void) {
        let payload: [UInt8]
        do { payload = try EntryCodec.encode(entry, plan: inner.broker.state.sealingPlan(of: entry), keys: contentKeys) } catch {
            return done(.failure(.encodingFailed("\(error)")))
        }
        let erasedKeys = entry.events.flatMap { event -> [String] in
            if case .contentErased(_, let keys, _) = event { return keys } else { return [] }
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
        let reschedules = ReleaseScheduler.changesSchedule(entry)
        store.append(payload) { [self] result in
            let completion = StoreCompletion(seq: seq, result: result, agencies: agencies, reschedules: reschedules, erasedKeys: erasedKeys, done: done)
            let queueDrain = completions.withLock { completions -> Bool in
                completions.pending.append(completion)
                defer { completions.drainQueued = true }
                return !completions.drainQueued
            }
            if queueDrain { commitQueue.async { [self] in drainCompletions() } }
        }
    }

    /// On `commitQueue`: handles every store completion queued so far, in store order, until none is left.
    private func drainCompletions() {
        while true {
            let batch = completions.withLock { completions -> [StoreCompletion] in
                if completions.pending.isEmpty {
                    completions.drainQueued = false
                    return []
                }
                defer { completions.pending.removeAll(keepingCapacity: true) }
                return completions.pending
            }
            if batch.isEmpty { return }
            for item in batch {
                committed(seq: item.seq, result: item.result, agencies: item.agencies, reschedules: item.reschedules,
                          erasedKeys: item.erasedKeys, done: item.done)
            }
        }
    }

    private func committed(seq: UInt64, result: Result<JournalRecord, JournalError>, agencies: Set<String>,
                           reschedules: Bool, erasedKeys: [String], done: @escaping @Sendable (Result<Void, EngineError>) -> Void) {
        switch result {
        case .success(let record) where record.seq == seq:
            var keysKept: String?
            if !erasedKeys.isEmpty {
                // The erasure is durable: destroy the keys now. If this fails (or the process dies first),
                // the next start destroys them before serving; the state already shows the case erased.
                do { try contentKeys.destroy(erasedKeys) } catch {
                    logger.log("content_keys_not_destroyed", ["seq": Int(seq), "error": "\(error)"])
                    keysKept = "the content keys erased at seq \(seq) could not be destroyed (\(error)); restart to destroy them"
                }
            }
            typealias Resume = @Sendable (Result<Void, EngineError>) -> Void
            let (snapshot, readers, waiters) = inner.withLock { inner -> ((BrokerState, JournalPosition, Bool)?, [Resume], [Resume]) in
                inner.inFlight -= 1
                inner.durable = record.position
                inner.broker.recordChain(EntryCodec.chainPosition(record))
                inner.entriesSinceSnapshot += 1
                inner.bytesSinceSnapshot += record.payload.count
                if !erasedKeys.isEmpty { inner.erasureSnapshotDue = true }
                let ready = inner.readers.prefix { $0.after <= record.seq }.map(\.resume)
                inner.readers.removeFirst(ready.count)
                guard inner.inFlight == 0, inner.erasureSnapshotDue
                        || snapshotPolicy.isDue(entries: inner.entriesSinceSnapshot, bytes: inner.bytesSinceSnapshot,
                                                lastSnapshotBytes: inner.lastSnapshotBytes) else {
                    // An erasure with later entries in flight: the state cannot be snapshotted at it (it holds
                    // entries not yet durable), so its answer waits for the snapshot the next idle commit takes.
                    if !erasedKeys.isEmpty { inner.erasureWaiters.append(done) }
                    return (nil, ready, [])
                }
                inner.entriesSinceSnapshot = 0
                inner.bytesSinceSnapshot = 0
                let waiters = inner.erasureSnapshotDue ? inner.erasureWaiters : []
                if inner.erasureSnapshotDue { inner.erasureWaiters.removeAll() }
                return ((inner.broker.state, record.position, inner.erasureSnapshotDue), ready, waiters)
            }
            if let (state, position, afterErasure) = snapshot {
                if afterErasure {
                    // Before answering: no snapshot may keep what was just erased. On the snapshot queue, so a
                    // snapshot of an earlier state queued before it cannot be written after this one.
                    snapshotQueue.sync { writeSnapshotNow(state, at: position, removingOlder: true) }
                } else {
                    writeSnapshot(state, at: position)
                }
            }
            // The writer is answered first (an erasure waiting for its snapshot, later); then the readers
            // and long-polls it was holding up.
            let waiting = snapshot == nil && !erasedKeys.isEmpty
            // A key that could not be destroyed: the erasure is not answered as done, and nothing more is
            // served until a restart destroys it (fail closed, as for a failed journal write). `fail` answers
            // the erasure if it is waiting for its snapshot.
            if let keysKept { fail(keysKept) }
            if !waiting { done(keysKept.map { .failure(.storageUnavailable(reason: $0)) } ?? .success(())) }
            waiters.forEach { $0(.success(())) }
            readers.forEach { $0(.success(())) }
            changeObserver.withLock { $0 }?.notify(agencies)
            if reschedules { armReleaseTimer() }
        case .success(let record):
            fail("journal assigned seq \(record.seq) to the entry ordered as \(seq)")
            done(.failure(.storageUnavailable(reason: "journal order mismatch")))
        case .failure(let error):
            fail(error.description)
            done(.failure(.storageUnavailable(reason: error.description)))
        }
    }

    /// Stops serving: every later command, and every read still waiting for durability, is refused.
    private func fail(_ reason: String) {
        let (first, readers) = inner.withLock { inner in
            defer {
                if inner.failure == nil { inner.failure = reason }
                inner.readers.removeAll()
                inner.erasureWaiters.removeAll()
            }
            // An erasure waiting for its snapshot is durable, but not yet complete on disk: the next start completes it.
            return (inner.failure == nil, inner.readers.map(\.resume) + inner.erasureWaiters)
        }
        if first { logger.log("storage_failed", ["error": reason]) }
        readers.forEach { $0(.failure(.storageUnavailable(reason: reason))) }
    }

    /// The last record known durable (what a checkpoint signs).
    public var durablePosition: JournalPosition { inner.withLock { $0.durable } }

    /// Storage status for `GET /v1/health`.
    public var storageStatus: (healthy: Bool, head: UInt64, failure: String?) {
        let failure = inner.withLock { $0.failure }
        return (failure == nil && store.isHealthy, store.head.seq, failure)
    }

    // MARK: Scheduled releases

    /// Releases every request whose `releaseAt` has come, then re-arms the timer for the next one.
    public func releaseDue() {
        inner.withLock { inner in
            guard inner.failure == nil else { return }
            let env = Environment(now: clock(), newID: { SecureRandom.hex(16) })
            for entry in inner.broker.releaseDue(env: env) {
                enqueue(entry, in: &inner) { _ in }
            }
        }
        armReleaseTimer()
    }

    private func armReleaseTimer() {
        releases.arm(at: inner.withLock { $0.broker.state.nextScheduledRelease }) { [weak self] in self?.releaseDue() }
    }

    /// Erases every case and referral whose retention has run out (SPEC §11.7): one journaled
    /// entry each, by the system. Run at start and daily by the host.
    public func sweepRetention() {
        inner.withLock { inner in
            guard inner.failure == nil else { return }
            let env = Environment(now: clock(), newID: { SecureRandom.hex(16) })
            for entry in inner.broker.erasuresDue(env: env) {
                enqueue(entry, in: &inner) { _ in }
            }
        }
    }

    /// Stops the release timer (graceful shutdown). The store is closed by its owner.
    public func close() {
        releases.cancel()
    }

    // MARK: CRL

    /// The revoked certificates in `domain`'s state, as a CRL lists them. Read it inside
    /// `execute`, so the list is one that is durable (a read waits for everything before it).
    public static func revocations(in domain: Domain) -> [CertificateAuthority.Revocation] {
        domain.state.credentials.values.compactMap { credential in
            credential.revokedAt.map { CertificateAuthority.Revocation(serial: credential.serial, revokedAt: $0) }
        }
    }

    /// The CRL (PEM) listing `revoked`, signed by `ca`: reissued when the set changes and
    /// daily (see `CRLIssuer`).
    public func crl(of revoked: [CertificateAuthority.Revocation], signedBy ca: CertificateAuthority) throws -> [UInt8] {
        try revocations.crl(revoked: revoked, now: clock(), signedBy: ca)
    }

    // MARK: Snapshots

    private func writeSnapshot(_ state: BrokerState, at position: JournalPosition) {
        snapshotQueue.async { [self] in writeSnapshotNow(state, at: position, removingOlder: false) }
    }

    /// Writes a snapshot; after an erasure also removes every older one. On failure the erasure
    /// snapshot stays due (the next idle commit, or the next start, takes it).
    private func writeSnapshotNow(_ state: BrokerState, at position: JournalPosition, removingOlder: Bool) {
        do {
            let bytes = try EntryCodec.encode(state)
            try store.writeSnapshot(bytes, at: position)
            if removingOlder { try store.removeSnapshots(before: position.seq) }
            inner.withLock {
                $0.lastSnapshotBytes = bytes.count
                if removingOlder, ($0.broker.state.lastErasureSeq ?? 0) <= position.seq { $0.erasureSnapshotDue = false }
            }
            logger.log("snapshot_written", ["seq": Int(position.seq), "bytes": bytes.count, "olderRemoved": removingOlder])
        } catch {
            logger.log("snapshot_failed", ["seq": Int(position.seq), "error": "\(error)"])
        }
    }

    /// At start, completes what a crash may have interrupted after an erasure was durable: destroys
    /// the keys of erased content still in the key store, and makes sure no snapshot from before the
    /// last erasure remains (writing one at `head` first when the newest is older).
    private static func finishErasures(in state: BrokerState, snapshotSeq: UInt64, head: JournalPosition, store: any EventStore,
                                       keys: ContentKeyStore, logger: Logger) throws {
        // Also ids the key store no longer lists as destroyed (whole records cut from its end, or an
        // older copy put back): marked again, so no key is ever made under an erased id.
        let leftover = (state.erasedKeys ?? []).filter { keys.key($0) != nil || !keys.isDestroyed($0) }
        if !leftover.isEmpty {
            try keys.destroy(leftover)
            logger.log("content_keys_destroyed", ["keys": leftover.count, "why": "erased before the last stop"])
        }
        guard let erasure = state.lastErasureSeq else { return }
        if snapshotSeq < erasure {
            try store.writeSnapshot(try EntryCodec.encode(state), at: head)
            logger.log("snapshot_written", ["seq": Int(head.seq), "why": "erasure after the last snapshot"])
        }
        try store.removeSnapshots(before: erasure)
    }

    static func appendAndWait(_ store: any EventStore, _ payload: [UInt8]) throws -> JournalRecord {
        let semaphore = DispatchSemaphore(value: 0)
        let outcome = Mutex<Result<JournalRecord, JournalError>?>(nil)
        store.append(payload) { result in
            outcome.withLock { $0 = result }
            semaphore.signal()
        }
        semaphore.wait()
        return try outcome.withLock { $0! }.get()
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
            case .actionAgreed(let action): agencies.insert(action.ownerAgency)
            case .actionCompleted(let id, _, _), .actionCancelled(let id, _, _):
                if let agency = state.actions?[id]?.ownerAgency { agencies.insert(agency) }
            default: break
            }
        }
        return agencies
    }
}

/// What `BrokerEngine.execute` decided under the lock: the answer, or the `Waiter` it comes to.
private enum CommandStep<Value: Sendable> {
    case answered(Result<Value, EngineError>)
    case waiting(Waiter<Value>)
}

/// The answer to a command that waits for durability: completed once, from whichever thread
/// makes the entry (or what a read waits behind) durable, and awaited by the command's task,
/// which suspends only if the answer is not there yet.
private final class Waiter<Value: Sendable>: Sendable {
    private let state = Mutex<(result: Result<Value, EngineError>?, continuation: CheckedContinuation<Result<Value, EngineError>, Never>?)>((nil, nil))

    func complete(_ result: Result<Value, EngineError>) {
        let continuation = state.withLock { state -> CheckedContinuation<Result<Value, EngineError>, Never>? in
            guard let continuation = state.continuation else {
                state.result = result
                return nil
            }
            state.continuation = nil
            return continuation
        }
        continuation?.resume(returning: result)
    }

    func value() async -> Result<Value, EngineError> {
        if let result = state.withLock({ $0.result }) { return result }
        return await withCheckedContinuation { continuation in
            let result = state.withLock { state -> Result<Value, EngineError>? in
                if let result = state.result { return result }
                state.continuation = continuation
                return nil
            }
            if let result { continuation.resume(returning: result) }
        }
    }
}

/// One entry's store result with what `BrokerEngine.committed` needs to finish it.
private struct StoreCompletion: Sendable {
    let seq: UInt64
    let result: Result<JournalRecord, JournalError>
    let agencies: Set<String>
    let reschedules: Bool
    let erasedKeys: [String]
    let done: @Sendable (Result<Void, EngineError>) -> Void
}

/// The change observer in a struct, never as a bare closure in the `Mutex`: a closure kept
/// as a generic value is re-abstracted on every `inout` access of `withLock`, and each
/// round trip wrapped it in two more thunks, so after n commits calling it walked 2n nested
/// thunks (seen in a profile of durable submissions: the cost grew with uptime, and the
/// stack with it). A struct field has one fixed representation.
private struct ChangeObserver: Sendable {
    let notify: @Sendable (Set<String>) -> Void
}

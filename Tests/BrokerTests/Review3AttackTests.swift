import Foundation
import Journal
import Synchronization
import Testing
@testable import Broker
@testable import Engine
import Wire

/// An in-memory store whose append completions (durability reports) can be held and released one by one:
/// commands "in flight" on demand.
final class GatedStore: EventStore {
    private struct Held {
        var holding = false
        var completions: [@Sendable () -> Void] = []
    }
    let inner = InMemoryEventStore()
    private let held = Mutex(Held())

    var head: JournalPosition { inner.head }
    var isHealthy: Bool { inner.isHealthy }
    var heldCount: Int { held.withLock { $0.completions.count } }

    func hold() { held.withLock { $0.holding = true } }

    /// Reports the oldest held append durable.
    func releaseFirst() {
        let first = held.withLock { $0.completions.isEmpty ? nil : $0.completions.removeFirst() }
        first?()
    }

    /// Reports every held append durable and stops holding.
    func releaseAll() {
        let all = held.withLock { held in
            defer { held = Held() }
            return held.completions
        }
        all.forEach { $0() }
    }

    func append(_ payload: [UInt8], completion: @escaping @Sendable (Result<JournalRecord, JournalError>) -> Void) {
        let result = inner.appendNow(payload)
        let deferred = held.withLock { held -> Bool in
            guard held.holding else { return false }
            held.completions.append { completion(result) }
            return true
        }
        if !deferred { completion(result) }
    }

    func replay(after seq: UInt64, _ body: (JournalRecord) throws -> Void) throws { try inner.replay(after: seq, body) }
    func latestSnapshot() throws -> JournalSnapshot? { try inner.latestSnapshot() }
    func writeSnapshot(_ state: [UInt8], at position: JournalPosition) throws { try inner.writeSnapshot(state, at: position) }
    func removeSnapshots(before seq: UInt64) throws { try inner.removeSnapshots(before: seq) }
    func close() { inner.close() }
}

/// The third review's attacks on erasure by key destruction (SPEC §11.7), in the domain.
@Suite("Review 3 attacks")
struct Review3AttackTests {
    /// A referral submitted as a journal from before content keys holds it: its entry has no `contentKeyAssigned`.
    func legacyReferral(_ s: inout Scenario, name: String, panel: String? = nil, caseType: String = "domestic-abuse",
                        criteria: [String] = ["repeat"]) throws -> Referral {
        guard case .success(let decision) = s.h.broker.submitReferral(NewReferral(
            panel: panel, caseType: caseType, fields: ["victim.name": .string(name), "victim.dateOfBirth": .string("1990-02-03")],
            consent: Consent(status: .obtained), criteria: criteria, reason: "LegacyReasonMk"), by: s.police, env: s.h.env),
            var entry = decision.entry else { throw TestFailure(description: "referral refused") }
        entry.events.removeAll { if case .contentKeyAssigned = $0 { return true } else { return false } }
        s.h.commit(entry)
        #expect(s.h.state.contentKey(of: decision.reply.id) == nil)
        return decision.reply
    }

    /// Whether `marker` is anywhere in the state or in any stored record.
    func survives(_ marker: String, in s: Scenario) -> Bool {
        json(s.h.state).contains(marker) || s.h.journal.contains { String(decoding: $0.payload, as: UTF8.self).contains(marker) }
    }

    /// The standard scenario with two panels hearing the same case type (the shipped ones hear disjoint
    /// types, so nothing can be redirected between them).
    func twoPanels() throws -> Scenario {
        var s = try Scenario()
        let panels = try PanelSet.load(Data("""
            {"panels": [
              {"id": "north", "name": "North", "caseTypes": ["domestic-abuse"], "retentionMonths": 24,
               "criteria": [{"id": "repeat", "text": "Repeat"}], "rules": []},
              {"id": "south", "name": "South", "caseTypes": ["domestic-abuse"], "retentionMonths": 24,
               "criteria": [{"id": "repeat", "text": "Repeat"}], "rules": []}]}
            """.utf8), file: "panels.json", policy: shippedPolicy())
        s.h.broker = Domain(state: s.h.state, policy: try shippedPolicy(), rules: DeadlineRules(calendar: try shippedCalendar()),
                            panels: panels, identifierHasher: RepeatTests.hasher)
        return s
    }

    @Test("A referral redirected, accepted at the other panel and erased: both referrals and the case blanked, live as on replay")
    func redirectedThenAcceptedThenErased() throws {
        var s = try twoPanels()
        let first = try s.h.run(s.h.broker.submitReferral(NewReferral(panel: "north", caseType: "domestic-abuse",
            fields: ["victim.name": .string("Rafe Moved"), "victim.dateOfBirth": .string("1985-07-08")], consent: Consent(status: .notObtained, lawfulBasis: "MovedBasisMk"),
            criteria: ["repeat"], reason: "MovedReasonMk"), by: s.police, env: s.h.env))
        let moved = try s.h.run(s.h.broker.decideReferral(id: first.id, DecisionOrder(decision: .redirected, reason: "RedirectReasonMk", panel: "south"),
                                                          by: s.coordinator, env: s.h.env))
        let second = try #require(moved.referral.decision?.referral)
        let meeting = try s.h.run(s.h.broker.createMeeting(NewMeeting(title: "South April", startsAt: date("2027-04-15T09:00:00Z"), panel: "south"),
                                                           by: s.coordinator, env: s.h.env))
        let accepted = try s.h.run(s.h.broker.decideReferral(id: second, DecisionOrder(decision: .accepted, meeting: meeting.id, reference: "SOUTH-1"),
                                                             by: s.coordinator, env: s.h.env))
        let record = try #require(accepted.case)
        try s.h.run(s.h.broker.closeCase(caseID: record.id, Reasoned(reason: "ClosedMk"), by: s.coordinator, env: s.h.env))
        let markers = ["Rafe Moved", "MovedBasisMk", "MovedReasonMk", "RedirectReasonMk", "ClosedMk"]
        for marker in markers { #expect(json(s.h.state).contains(marker), "\(marker) never reached the state") }
        try s.h.run(s.h.broker.eraseCase(caseID: record.id, Reasoned(reason: "retention"), by: s.coordinator, env: s.h.env))
        for marker in markers { #expect(!survives(marker, in: s), "\(marker) survives the erasure") }
        #expect(s.h.state.referrals?[first.id]?.erasedAt != nil && s.h.state.referrals?[second]?.erasedAt != nil)
        #expect(s.h.replayed() == s.h.state)
    }

    @Test("A case accepted from a referral recorded before content keys is not reported erased while the referral keeps its content")
    func caseFromALegacyReferral() throws {
        var (s, meeting) = try ErasureTests().scenario()
        let referral = try legacyReferral(&s, name: "Lorna Legacyperson")
        let decided = try s.h.run(s.h.broker.decideReferral(id: referral.id, DecisionOrder(decision: .accepted, meeting: meeting, reference: "MARAC-2027-0801"),
                                                            by: s.coordinator, env: s.h.env))
        let record = try #require(decided.case)
        try s.h.run(s.h.broker.closeCase(caseID: record.id, Reasoned(reason: "done"), by: s.coordinator, env: s.h.env))
        // The sweep must not erase it either (the referral's record is under the data key only).
        #expect(s.h.broker.erasuresDue(env: Environment(now: date("2040-01-01T00:00:00Z")) { "x" }).isEmpty, "the sweep erases a key that does not reach the referral")
        switch s.h.broker.eraseCase(caseID: record.id, Reasoned(reason: "retention"), by: s.coordinator, env: s.h.env) {
        case .failure(let error):
            #expect(error.code == .conflict && error.message.contains("before content keys"), "\(error)")
        case .success(let decision):
            if let entry = decision.entry { s.h.commit(entry) }
            // Told "erased": then nothing of the person may remain.
            #expect(!survives("Lorna Legacyperson", in: s), "erased, yet the referral it came from still holds the name (state or journal)")
            #expect(s.h.state.referrals?[referral.id]?.fields.isEmpty == true, "GET /v1/referrals/{id} still shows the fields")
        }
    }

    @Test("A declined referral redirected from one recorded before content keys is not swept while the first keeps the same content")
    func redirectFromALegacyReferral() throws {
        var s = try twoPanels()
        let referral = try legacyReferral(&s, name: "Rhona Redirected", panel: "north")
        let moved = try s.h.run(s.h.broker.decideReferral(id: referral.id, DecisionOrder(decision: .redirected, reason: "other panel", panel: "south"),
                                                          by: s.coordinator, env: s.h.env))
        let next = try #require(moved.referral.decision?.referral)
        #expect(s.h.state.contentKey(of: next) != nil)
        try s.h.run(s.h.broker.decideReferral(id: next, DecisionOrder(decision: .declined, reason: "no", advice: "none"), by: s.coordinator, env: s.h.env))
        let due = s.h.broker.erasuresDue(env: Environment(now: date("2040-01-01T00:00:00Z")) { "x" })
        for entry in due { s.h.commit(entry) }
        #expect(due.isEmpty || !survives("Rhona Redirected", in: s), "the sweep reports the redirected referral erased while its origin still holds the name")
    }

    // The limits only stop a hang: on a loaded CI machine (Chromium and schemathesis beside the rest) one run took 78 s.
    @Test("An erasure is answered only once no snapshot holds what it erased, even with another command in flight", .timeLimit(.minutes(5)))
    func erasureAnsweredWithACommandInFlight() async throws {
        let store = GatedStore()
        let now = Mutex(date("2027-03-01T09:00:00Z"))
        let seeds = try shippedSeeds()
        let engine = try BrokerEngine(
            store: store, contentKeys: try ContentKeyStore(path: nil, dataKey: .generate()), location: "memory",
            policyLoader: { _ in try shippedPolicy() }, rules: DeadlineRules(calendar: try shippedCalendar()),
            bootstrap: {
                BrokerState.bootstrap(agencies: seeds, adminSerial: Harness.adminSerial, adminNotAfter: date("2030-01-01T00:00:00Z"),
                                      adminIssuedAt: date("2027-03-01T08:00:00Z"))
            },
            snapshotPolicy: SnapshotPolicy(minEntries: 1, minGrowthPercent: 0), clock: { now.withLock { $0 } }, logger: Logger { _ in })
        let coordinator = Actor(principal: "coord", agency: "community-safety", role: .coordinator, serial: "C0")
        let admin = Actor(principal: "admin", agency: "community-safety", role: .admin, serial: Harness.adminSerial)
        let meeting = try await engine.execute(as: coordinator) { broker, actor, env in
            broker.createMeeting(NewMeeting(title: "MARAC April", startsAt: date("2027-04-15T09:00:00Z")), by: actor, env: env)
        }
        let record = try await engine.execute(as: coordinator) { broker, actor, env in
            broker.createCase(NewCase(meeting: meeting.id, reference: "MARAC-2027-0900", fields: ["victim.name": .string("Snapshot Sally")],
                                      consent: Consent(status: .obtained)), by: actor, env: env)
        }
        _ = try await engine.execute(as: coordinator) { broker, actor, env in broker.closeCase(caseID: record.id, Reasoned(reason: "done"), by: actor, env: env) }
        // The snapshot of the closed case (which holds its fields) is written.
        let closedAt = store.head.seq
        for _ in 0..<500 where (try store.latestSnapshot())?.position.seq != closedAt { try await Task.sleep(for: .milliseconds(10)) }
        #expect(String(decoding: try #require(try store.latestSnapshot()).state, as: UTF8.self).contains("Snapshot Sally"))

        // The erasure, then another command behind it, both in flight; the erasure is made durable first.
        store.hold()
        let seenAtAnswer = Mutex<JournalSnapshot?>(nil)
        let answered = Atomic<Bool>(false)
        let erase = Task {
            _ = try await engine.execute(as: coordinator) { broker, actor, env in
                broker.eraseCase(caseID: record.id, Reasoned(reason: "retention review"), by: actor, env: env)
            }
            seenAtAnswer.withLock { $0 = try? store.latestSnapshot() }
            answered.store(true, ordering: .sequentiallyConsistent)
        }
        for _ in 0..<500 where store.heldCount < 1 { try await Task.sleep(for: .milliseconds(5)) }
        let other = Task {
            _ = try await engine.execute(as: admin) { broker, actor, env in
                broker.createAgency(NewAgency(id: "x-fire", name: "Fire", kind: .core), by: actor, env: env)
            }
        }
        for _ in 0..<500 where store.heldCount < 2 { try await Task.sleep(for: .milliseconds(5)) }
        #expect(store.heldCount == 2)
        store.releaseFirst()
        for _ in 0..<100 where !answered.load(ordering: .sequentiallyConsistent) { try await Task.sleep(for: .milliseconds(10)) }
        store.releaseAll()
        try await erase.value
        try await other.value
        let snapshot = try #require(seenAtAnswer.withLock { $0 }, "no snapshot at all when the erasure was answered")
        #expect(snapshot.position.seq > closedAt, "the erasure was answered while the newest snapshot was from before it (seq \(snapshot.position.seq))")
        #expect(!String(decoding: snapshot.state, as: UTF8.self).contains("Snapshot Sally"), "the erasure was answered while a snapshot still held the case's fields")
    }

    @Test("An erasure whose key cannot be destroyed is not answered as done", .timeLimit(.minutes(5)))
    func erasureWhoseKeyCannotBeDestroyed() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("review3-keys-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let keys = try ContentKeyStore(path: directory.appendingPathComponent("content-keys").path, dataKey: .generate())
        let seeds = try shippedSeeds()
        let engine = try BrokerEngine(
            store: InMemoryEventStore(), contentKeys: keys, location: "memory",
            policyLoader: { _ in try shippedPolicy() }, rules: DeadlineRules(calendar: try shippedCalendar()),
            bootstrap: {
                BrokerState.bootstrap(agencies: seeds, adminSerial: Harness.adminSerial, adminNotAfter: date("2030-01-01T00:00:00Z"),
                                      adminIssuedAt: date("2027-03-01T08:00:00Z"))
            },
            clock: { date("2027-03-01T09:00:00Z") }, logger: Logger { _ in })
        let coordinator = Actor(principal: "coord", agency: "community-safety", role: .coordinator, serial: "C0")
        let meeting = try await engine.execute(as: coordinator) { broker, actor, env in
            broker.createMeeting(NewMeeting(title: "MARAC April", startsAt: date("2027-04-15T09:00:00Z")), by: actor, env: env)
        }
        let record = try await engine.execute(as: coordinator) { broker, actor, env in
            broker.createCase(NewCase(meeting: meeting.id, reference: "MARAC-2027-0901", fields: ["victim.name": .string("Kept Key")],
                                      consent: Consent(status: .obtained)), by: actor, env: env)
        }
        _ = try await engine.execute(as: coordinator) { broker, actor, env in broker.closeCase(caseID: record.id, Reasoned(reason: "done"), by: actor, env: env) }
        let key = try #require(engine.read { $0.state.contentKey(of: record.id) })
        // The key store's directory goes (a full or failed disk would do the same): the key cannot be destroyed.
        try FileManager.default.removeItem(at: directory)
        let answer: Result<ErasedCase, EngineError>
        do {
            answer = .success(try await engine.execute(as: coordinator) { broker, actor, env in
                broker.eraseCase(caseID: record.id, Reasoned(reason: "retention"), by: actor, env: env)
            })
        } catch { answer = .failure(error) }
        if case .success = answer {
            #expect(keys.key(key) == nil, "the coordinator is told the case is erased while its key still exists")
        }
        // Fail closed: nothing more is served until a restart, which destroys the key before serving.
        #expect(engine.storageStatus.failure != nil)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let store = engine.store as! InMemoryEventStore
        let restartKeys = keys
        let restarted = try BrokerEngine(
            store: store, contentKeys: restartKeys, location: "memory",
            policyLoader: { _ in try shippedPolicy() }, rules: DeadlineRules(calendar: try shippedCalendar()),
            bootstrap: { throw TestFailure(description: "no bootstrap on restart") },
            clock: { date("2027-03-01T09:00:00Z") }, logger: Logger { _ in })
        #expect(keys.key(key) == nil && keys.isDestroyed(key))
        #expect(restarted.read { $0.state.cases[record.id]?.currentState } == .erased)
    }
}


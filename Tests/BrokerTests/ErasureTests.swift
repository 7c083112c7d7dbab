import Crypto
import Foundation
import Testing
@testable import Broker
import Wire

/// SPEC §11.7 in the domain, over the engine's stored entry format: every piece of a case's
/// content is sealed under its content key from the first record; erasing destroys the key and
/// gives the same state live as a replay does; the retention sweep erases when the panel says.
@Suite("Erasure")
struct ErasureTests {
    /// Content written at every step of a cycle, each only in a content field.
    static let markers = ["Zed Quinlan", "07700 900555", "ReferralReasonMk", "QuestionMk", "UrgentMk", "ReturnMk", "AnswerMk", "WithheldMk",
                          "ExtensionMk", "AliasMk", "CorrectionMk", "ActionMk", "NoteMk", "CancelMk", "ClosureMk", "BasisMk"]

    func scenario() throws -> (Scenario, meeting: String) {
        var s = try Scenario()
        let panels = try PanelSet.load(configData("panels.json"), file: "panels.json", policy: shippedPolicy())
        s.h.broker = Domain(state: s.h.state, policy: try shippedPolicy(), rules: DeadlineRules(calendar: try shippedCalendar()),
                            panels: panels, identifierHasher: RepeatTests.hasher)
        let meeting = try s.h.run(s.h.broker.createMeeting(NewMeeting(title: "MARAC April", startsAt: date("2027-04-15T09:00:00Z")),
                                                          by: s.coordinator, env: s.h.env))
        return (s, meeting.id)
    }

    /// A referral accepted as a case, researched (urgent, extended), answered, corrected, given two actions
    /// (one completed, one cancelled) and closed: every free text carries a marker.
    func heardAndClosed(_ s: inout Scenario, meeting: String) throws -> Case {
        let referral = try s.h.run(s.h.broker.submitReferral(NewReferral(
            caseType: "domestic-abuse", fields: ["victim.name": .string("Zed Quinlan"), "victim.dateOfBirth": .string("1991-05-06"),
                                                 "victim.phone": .string("07700 900555")],
            consent: Consent(status: .notObtained, lawfulBasis: "BasisMk"), criteria: ["repeat"], reason: "ReferralReasonMk"), by: s.police, env: s.h.env))
        let decided = try s.h.run(s.h.broker.decideReferral(id: referral.id, DecisionOrder(decision: .accepted, meeting: meeting, reference: "MARAC-2027-0700"),
                                                            by: s.coordinator, env: s.h.env))
        let record = try #require(decided.case)
        s.h.now = date("2027-04-12T09:00:00Z")   // after the dispatch deadline: urgent
        let requests = try s.h.run(s.h.broker.dispatch(caseID: record.id, DispatchOrder(agencies: ["police"], questions: ["QuestionMk?"], urgent: true, reason: "UrgentMk"),
                                                       by: s.coordinator, env: s.h.env))
        let request = try #require(requests.requests.first)
        try s.h.run(s.h.broker.grantExtension(requestID: request.id, ExtensionGrant(until: date("2027-04-14T17:00:00Z"), reason: "ExtensionMk"),
                                              by: s.coordinator, env: s.h.env))
        try s.h.run(s.h.broker.submitReturn(requestID: request.id, ReturnSubmission(knownToAgency: true, summary: "ReturnMk", answers: ["AnswerMk"],
                                                                                     withheld: [WithheldItem(what: "WithheldMk", reason: "investigation")]),
                                            by: s.police, env: s.h.env))
        try s.h.run(s.h.broker.correctFields(caseID: record.id, FieldPatch(set: ["victim.alias": .string("AliasMk")], reason: "CorrectionMk"),
                                             by: s.coordinator, env: s.h.env))
        s.h.now = date("2027-04-15T11:00:00Z")
        let due = date("2027-04-20T17:00:00Z")
        let done = try s.h.run(s.h.broker.agreeAction(caseID: record.id, NewAction(ownerAgency: "police", text: "ActionMk", dueAt: due), by: s.coordinator, env: s.h.env))
        let dropped = try s.h.run(s.h.broker.agreeAction(caseID: record.id, NewAction(ownerAgency: "housing", text: "ActionMk 2", dueAt: due), by: s.coordinator, env: s.h.env))
        try s.h.run(s.h.broker.completeAction(id: done.id, ActionCompletion(note: "NoteMk"), by: s.police, env: s.h.env))
        try s.h.run(s.h.broker.cancelAction(id: dropped.id, Reasoned(reason: "CancelMk"), by: s.coordinator, env: s.h.env))
        return try s.h.run(s.h.broker.closeCase(caseID: record.id, Reasoned(reason: "ClosureMk"), by: s.coordinator, env: s.h.env))
    }

    @Test("No stored record ever holds a case's content in the clear; erasing live gives the state a replay gives")
    func sealedFromTheStartAndErasedAlike() throws {
        var (s, meeting) = try scenario()
        let record = try heardAndClosed(&s, meeting: meeting)
        // Everything is there while the key exists (so the searches below can find it) …
        let live = json(s.h.state)
        for marker in Self.markers { #expect(live.contains(marker), "\(marker) never reached the state") }
        #expect(s.h.replayed() == s.h.state)
        // … and no record's stored form shows any of it.
        for stored in s.h.journal {
            let text = String(decoding: stored.payload, as: UTF8.self)
            for marker in Self.markers { #expect(!text.contains(marker), "record \(stored.seq) holds \(marker) outside its sealed box") }
        }

        // Refused: by a SPOC, with hostile text, a case never closed, twice.
        #expect(s.h.broker.eraseCase(caseID: record.id, Reasoned(reason: "x"), by: s.police, env: s.h.env).failureCode == .forbidden)
        #expect(s.h.broker.eraseCase(caseID: s.caseRecord.id, Reasoned(reason: "x"), by: s.coordinator, env: s.h.env).failureCode == .conflict)
        let erased = try s.h.run(s.h.broker.eraseCase(caseID: record.id, Reasoned(reason: "Retention review"), by: s.coordinator, env: s.h.env))
        #expect(erased == ErasedCase(id: record.id, reference: "MARAC-2027-0700", state: .erased, erasedAt: s.h.now))
        #expect(s.h.broker.eraseCase(caseID: record.id, Reasoned(reason: "again"), by: s.coordinator, env: s.h.env).failureCode == .conflict)

        // The key is gone: a replay (which can no longer open the boxes) gives exactly the live state.
        let key = try #require(s.h.state.contentKey(of: record.id))
        #expect(s.h.keys.key(key) == nil && s.h.keys.isDestroyed(key))
        #expect(s.h.replayed() == s.h.state)
        let after = json(s.h.state)
        for marker in Self.markers { #expect(!after.contains(marker), "\(marker) is still in the state") }
        #expect(s.h.state.identifierHashes?["case:\(record.id)"] == [] && s.h.state.referrals?[record.referral ?? ""]?.erasedAt == s.h.now)

        // What remains: the stub, counts for statistics, the audit trail without case text.
        guard case .erased(let stub) = try s.h.run(s.h.broker.caseReply(id: record.id, by: s.coordinator, env: s.h.env)) else {
            Issue.record("not the erased shape"); return
        }
        #expect(stub == erased)
        #expect(s.h.broker.collatedReturns(caseID: record.id, by: s.coordinator, env: s.h.env).failureCode == .conflict)
        #expect(try s.h.run(s.h.broker.requests(after: nil, by: s.police, env: s.h.env)).requests.isEmpty)
        #expect(try s.h.run(s.h.broker.actions(after: nil, by: s.police, env: s.h.env)).actions.isEmpty)
        // Counted still: the scenario's own case (1 April) and the erased one (15 April).
        let stats = try s.h.run(s.h.broker.statistics(panelID: "domestic-abuse", from: "2027-04-01", to: "2027-04-30", by: s.auditor, env: s.h.env))
        #expect(stats.casesHeard.new == 2 && stats.actions.completedOnTime == 1 && stats.actions.cancelled == 1 && stats.returns.requested == 1, "\(stats)")
        let audit = s.h.state.audit.filter { $0.object == record.id }
        #expect(audit.contains { $0.action == "case.close" && $0.reason == nil } && audit.contains { $0.action == "case.erase" && $0.reason == "Retention review" })
        // Nothing can be sealed under the destroyed key again.
        #expect(throws: Error.self) { _ = try s.h.keys.keyCreatingIfNeeded(key) }
    }

    @Test("The retention sweep erases a closed case and a declined referral after the panel's months, never an open case")
    func retention() throws {
        var (s, meeting) = try scenario()
        let open = try s.h.run(s.h.broker.createCase(NewCase(meeting: meeting, reference: "MARAC-2027-0701", fields: ["victim.name": .string("Open Case")],
                                                             consent: Consent(status: .obtained)), by: s.coordinator, env: s.h.env))
        let record = try heardAndClosed(&s, meeting: meeting)   // closed 2027-04-15
        let declined = try s.h.run(s.h.broker.submitReferral(NewReferral(caseType: "domestic-abuse", fields: ["victim.name": .string("Yan Declined"), "victim.dateOfBirth": .string("1980-01-01")],
                                                                         consent: Consent(status: .obtained), criteria: ["repeat"], reason: "Below threshold?"),
                                                             by: s.police, env: s.h.env))
        try s.h.run(s.h.broker.decideReferral(id: declined.id, DecisionOrder(decision: .declined, reason: "Below threshold", advice: "IDVA"), by: s.coordinator, env: s.h.env))

        s.h.now = date("2029-04-14T12:00:00Z")   // a day short of 24 months
        #expect(s.h.broker.erasuresDue(env: s.h.env).isEmpty)
        s.h.now = date("2029-04-15T12:00:00Z")
        let due = s.h.broker.erasuresDue(env: s.h.env)
        #expect(due.count == 2 && due.allSatisfy { $0.actor == nil && $0.audit?.action == "case.erase" && ($0.audit?.reason ?? "").hasPrefix("retention:") })
        for entry in due { s.h.commit(entry) }
        #expect(s.h.state.cases[record.id]?.currentState == .erased && s.h.state.referrals?[declined.id]?.erasedAt != nil)
        #expect(s.h.state.cases[open.id]?.currentState == .open && s.h.state.cases[open.id]?.fields["victim.name"] == .string("Open Case"))
        #expect(s.h.broker.erasuresDue(env: s.h.env).isEmpty, "each is erased once")
        #expect(s.h.replayed() == s.h.state)
    }

    @Test("A case recorded before content keys is not erased: its content is outside any key")
    func legacyCaseRefused() throws {
        var s = try Scenario()
        // Scenario's case was made through createCase, which assigns a key: remove it as a journal from before would lack it.
        var legacy = s.caseRecord
        legacy.id = "legacy-case"
        legacy.reference = "MARAC-OLD-1"
        legacy.state = .closed
        s.h.commit(Entry(at: s.h.now, actor: nil, audit: nil, events: [.caseCreated(case: legacy)]))
        let refusal = try s.h.refusal(s.h.broker.eraseCase(caseID: "legacy-case", Reasoned(reason: "retention"), by: s.coordinator, env: s.h.env))
        #expect(refusal.code == .conflict && refusal.message.contains("before content keys"))
        #expect(s.h.broker.erasuresDue(env: Environment(now: date("2040-01-01T00:00:00Z")) { "x" }).isEmpty)
    }
}

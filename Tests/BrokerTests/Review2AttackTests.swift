import Crypto
import Foundation
import Testing
@testable import Broker
import Wire

/// Adversarial review of actions, closure, statistics and repeats (04725ac, ea0e8ee, d0a074e). Tests named
/// `DEFECT_…`/`WEAKNESS_…` failed on the reviewed code and pass since the fixes; `FINE_…` show attacks refused.
@Suite("Review2Attacks")
struct Review2AttackTests {
    /// The repeat tests' scenario: shipped panels, identifier hashing with a test key.
    func scenario() throws -> Scenario { try RepeatTests().scenario() }

    func hashedCase(_ s: inout Scenario, _ fields: [String: JSONValue], reference: String = "MARAC-2027-0099") throws -> Case {
        try s.h.run(s.h.broker.createCase(NewCase(meeting: s.meeting.id, reference: reference, fields: fields, consent: Consent(status: .obtained)),
                                          by: s.coordinator, env: s.h.env))
    }

    func coordinatorRepeats(_ s: inout Scenario, _ fields: [String: JSONValue]) throws -> [RepeatMatch]? {
        let made = try s.h.run(s.h.broker.submitReferral(NewReferral(caseType: "domestic-abuse", fields: fields, consent: Consent(status: .obtained),
                                                                     criteria: nil, reason: "Further incident"), by: s.police, env: s.h.env))
        return try s.h.run(s.h.broker.referral(id: made.id, by: s.coordinator, env: s.h.env)).repeatOf
    }

    // MARK: (d) closure

    @Test("DEFECT: research scheduled before closure is still released to the agency after the case is closed")
    func DEFECT_scheduledReleaseAfterClosure() throws {
        var s = try Scenario()
        let scheduled = try s.h.run(s.dispatch(["police"], releaseAt: date("2027-03-10T09:00:00Z"))).requests[0]
        _ = try s.h.run(s.h.broker.closeCase(caseID: s.caseRecord.id, Reasoned(reason: "Duplicate referral"), by: s.coordinator, env: s.h.env))
        s.h.now = date("2027-03-10T09:00:00Z")
        let due = s.h.broker.releaseDue(env: s.h.env)
        for entry in due { s.h.commit(entry) }
        let leaked = s.h.broker.readRequest(id: scheduled.id, by: s.police, env: s.h.env)
        #expect(due.isEmpty, "a closed case takes no research, yet its scheduled request was released")
        #expect(leaked.failureCode != nil, "the police SPOC reads the closed case's fields")
    }

    @Test("WEAKNESS: a closed case still takes consent changes and deadline extensions")
    func WEAKNESS_closedCaseStillChanges() throws {
        var s = try Scenario()
        let request = try s.h.run(s.dispatch(["police"])).requests[0]
        _ = try s.h.run(s.h.broker.closeCase(caseID: s.caseRecord.id, Reasoned(reason: "Risk reduced"), by: s.coordinator, env: s.h.env))
        let consent = s.h.broker.recordConsent(caseID: s.caseRecord.id, Consent(status: .obtained), by: s.coordinator, env: s.h.env)
        #expect(consent.failureCode == .conflict, "consent recorded on a closed case")
        let extended = s.h.broker.grantExtension(requestID: request.id, ExtensionGrant(until: date("2027-04-01T08:59:00Z"), reason: "late"),
                                                 by: s.coordinator, env: s.h.env)
        #expect(extended.failureCode == .conflict, "extension granted on a closed case")
    }

    @Test("FINE: a closed case refuses actions, returns, relisting, corrections and research")
    func FINE_closedCaseRefuses() throws {
        var s = try Scenario()
        let request = try s.h.run(s.dispatch(["police"])).requests[0]
        _ = try s.h.run(s.h.broker.closeCase(caseID: s.caseRecord.id, Reasoned(reason: "Risk reduced"), by: s.coordinator, env: s.h.env))
        #expect(s.h.broker.submitReturn(requestID: request.id, s.answer("x"), by: s.police, env: s.h.env).failureCode == .conflict)
        #expect(s.h.broker.dispatch(caseID: s.caseRecord.id, DispatchOrder(agencies: ["housing"], questions: ["q"]), by: s.coordinator, env: s.h.env).failureCode == .conflict)
        #expect(s.h.broker.correctFields(caseID: s.caseRecord.id, FieldPatch(set: ["victim.alias": .string("A")], reason: "x"), by: s.coordinator, env: s.h.env).failureCode == .conflict)
        s.h.now = date("2027-04-02T09:00:00Z")
        #expect(s.h.broker.agreeAction(caseID: s.caseRecord.id, NewAction(ownerAgency: "police", text: "t", dueAt: date("2027-05-01T09:00:00Z")),
                                       by: s.coordinator, env: s.h.env).failureCode == .conflict)
        #expect(s.h.broker.closeCase(caseID: s.caseRecord.id, Reasoned(reason: "again"), by: s.coordinator, env: s.h.env).failureCode == .conflict)
    }

    // MARK: (a) actions across agencies

    @Test("FINE: another agency's SPOC cannot read, complete or see in its feed a police action; admin audit hides reasons")
    func FINE_actionIsolation() throws {
        var s = try Scenario()
        s.h.now = date("2027-04-02T09:00:00Z")
        let action = try s.h.run(s.h.broker.agreeAction(caseID: s.caseRecord.id, NewAction(ownerAgency: "police", text: "Serve the notice SECRET-TEXT",
                                                                                         dueAt: date("2027-05-01T09:00:00Z")), by: s.coordinator, env: s.h.env))
        #expect(s.h.broker.action(id: action.id, by: s.housing, env: s.h.env).failureCode == .notFound)
        #expect(s.h.broker.completeAction(id: action.id, ActionCompletion(note: "done"), by: s.housing, env: s.h.env).failureCode == .notFound)
        let housingPage = try s.h.run(s.h.broker.actions(after: nil, by: s.housing, env: s.h.env))
        #expect(housingPage.actions.isEmpty)
        // The housing cursor does not move when police actions change.
        _ = try s.h.run(s.h.broker.cancelAction(id: action.id, Reasoned(reason: "CANCEL-SECRET"), by: s.coordinator, env: s.h.env))
        let again = try s.h.run(s.h.broker.actions(after: housingPage.cursor, by: s.housing, env: s.h.env))
        #expect(again.cursor == housingPage.cursor && again.actions.isEmpty)
        let auditRecords = s.h.state.audit.map(\.withoutCaseText)
        #expect(!json(auditRecords).contains("CANCEL-SECRET") && !json(auditRecords).contains("SECRET-TEXT"))
    }

    // MARK: (c) statistics

    @Test("DEFECT: statistics lack the repeat rate SPEC §11.8 requires")
    func DEFECT_statisticsRepeatRate() throws {
        var s = try scenario()
        s.h.now = date("2027-04-02T09:00:00Z")
        let stats = try s.h.run(s.h.broker.statistics(panelID: s.h.broker.panels.first.id, from: nil, to: nil, by: s.auditor, env: s.h.env))
        #expect(json(stats).lowercased().contains("repeat"), "\(json(stats))")
    }

    @Test("DEFECT: placeholder identifiers ('unknown' PNC, all-zero NHS number, 'Flat 1' in one postcode) match different people")
    func DEFECT_placeholderFalseMatches() {
        let a = RepeatIdentifiers.normalised(["perpetrator.pncId": .string("Unknown"), "victim.nhsNumber": .string("000 000 0000"),
                                              "victim.postcode": .string("AB1 2CD"), "victim.address": .string("Flat 1, Tower House")])
        let b = RepeatIdentifiers.normalised(["perpetrator.pncId": .string("unknown"), "victim.nhsNumber": .string("0000000000"),
                                              "victim.postcode": .string("ab12cd"), "victim.address": .string("Flat 1, Other Court")])
        #expect(Set(a).isDisjoint(with: b), "different people share identifier hashes: \(Set(a).intersection(b))")
    }

    @Test("WEAKNESS: a hyphen or an accent hides a repeat")
    func WEAKNESS_trivialEvasion() {
        func id(_ name: String) -> [String] {
            RepeatIdentifiers.normalised(["victim.name": .string(name), "victim.dateOfBirth": .string("1980-01-02")])
        }
        #expect(id("Mary-Jane Smith") == id("Mary Jane Smith"), "hyphen vs space")
        #expect(id("José Smith") == id("Jose Smith"), "accent")
    }

    @Test("DEFECT: the same name in NFC and NFD (macOS input) hashes differently: no Unicode normalisation before HMAC")
    func DEFECT_unicodeNormalisation() {
        func id(_ name: String) -> [String] {
            RepeatIdentifiers.normalised(["victim.name": .string(name), "victim.dateOfBirth": .string("1980-01-02")])
        }
        // Swift's == is canonical equivalence, but the HMAC is over UTF-8 bytes: compare what is hashed.
        #expect(id("Zo\u{00EB} Smith").map { Array($0.utf8) } == id("Zoe\u{0308} Smith").map { Array($0.utf8) }, "NFC vs NFD of the same name")
    }

    @Test("DEFECT: a field correction leaves the old identifier hashes; the corrected identifiers never match")
    func DEFECT_correctionStaleHashes() throws {
        var s = try scenario()
        let wrong: [String: JSONValue] = ["victim.name": .string("Alicia Typo"), "victim.dateOfBirth": .string("1991-05-06")]
        let record = try hashedCase(&s, wrong)
        _ = try s.h.run(s.h.broker.correctFields(caseID: record.id, FieldPatch(set: ["victim.name": .string("Alicia Right")], reason: "Typo"),
                                                 by: s.coordinator, env: s.h.env))
        s.h.now = date("2027-06-01T09:00:00Z")
        let right = try coordinatorRepeats(&s, ["victim.name": .string("Alicia Right"), "victim.dateOfBirth": .string("1991-05-06")])
        #expect(right?.map(\.case) == [record.id], "the corrected identity is not recognised as a repeat")
        let stale = try coordinatorRepeats(&s, wrong)
        #expect(stale?.contains { $0.case == record.id } != true, "the removed (wrong) identity still matches")
    }

    @Test("FINE: the referring SPOC's reply, views and list are identical in shape for a repeat and a new person")
    func FINE_spocLearnsNothing() throws {
        var s = try scenario()
        let fields: [String: JSONValue] = ["victim.name": .string("Rita Repeat"), "victim.dateOfBirth": .string("1970-01-01")]
        _ = try hashedCase(&s, fields)
        s.h.now = date("2027-06-01T09:00:00Z")
        func submit(_ f: [String: JSONValue]) throws -> Referral {
            try s.h.run(s.h.broker.submitReferral(NewReferral(caseType: "domestic-abuse", fields: f, consent: Consent(status: .obtained),
                                                              criteria: nil, reason: "r"), by: s.police, env: s.h.env))
        }
        let rep = try submit(fields)
        let fresh = try submit(["victim.name": .string("Nina New"), "victim.dateOfBirth": .string("1970-01-01")])
        func strip(_ r: Referral) -> String {
            var r = r; r.id = ""; r.fields = [:]; r.createdAt = Date(timeIntervalSince1970: 0); return json(r)
        }
        #expect(strip(rep) == strip(fresh))
        #expect(strip(try s.h.run(s.h.broker.referral(id: rep.id, by: s.police, env: s.h.env)))
                == strip(try s.h.run(s.h.broker.referral(id: fresh.id, by: s.police, env: s.h.env))))
    }

    @Test("WEAKNESS: a case closed while listed for review at a later meeting stays on that meeting's agenda (SPOCs see it)")
    func WEAKNESS_closedCaseStaysOnAgenda() throws {
        var s = try Scenario()
        s.h.now = date("2027-04-02T09:00:00Z")
        let may = try s.h.run(s.h.broker.createMeeting(NewMeeting(title: "MARAC May", startsAt: date("2027-05-06T09:00:00Z")), by: s.coordinator, env: s.h.env))
        _ = try s.h.run(s.h.broker.relistCase(caseID: s.caseRecord.id, NewListing(meeting: may.id), by: s.coordinator, env: s.h.env))
        _ = try s.h.run(s.h.broker.closeCase(caseID: s.caseRecord.id, Reasoned(reason: "Risk reduced"), by: s.coordinator, env: s.h.env))
        let agenda = try s.h.run(s.h.broker.agenda(meetingID: may.id, by: s.coordinator, env: s.h.env))
        #expect(!agenda.items.contains { $0.reference == s.caseRecord.reference }, "the closed case is still listed for review")
    }

    @Test("WEAKNESS: a request-feed cursor is accepted by the action feed (same 'a' form) and silently skips actions")
    func WEAKNESS_cursorKindsConfused() throws {
        var s = try Scenario()
        for _ in 0..<3 {
            let record = try s.h.run(s.h.broker.createCase(NewCase(meeting: s.meeting.id, reference: "R-\(s.h.journal.count)", fields: ["victim.name": .string("X")],
                                                                   consent: Consent(status: .obtained)), by: s.coordinator, env: s.h.env))
            _ = try s.h.run(s.h.broker.dispatch(caseID: record.id, DispatchOrder(agencies: ["police"], questions: ["q"]), by: s.coordinator, env: s.h.env))
        }
        let requestCursor = try s.h.run(s.h.broker.requests(after: nil, by: s.police, env: s.h.env)).cursor
        s.h.now = date("2027-04-02T09:00:00Z")
        let action = try s.h.run(s.h.broker.agreeAction(caseID: s.caseRecord.id, NewAction(ownerAgency: "police", text: "Do it", dueAt: date("2027-05-01T09:00:00Z")),
                                                        by: s.coordinator, env: s.h.env))
        let outcome = s.h.broker.actions(after: requestCursor, by: s.police, env: s.h.env)
        var missed = false
        if case .success(let decision) = outcome { missed = !decision.reply.actions.contains { $0.id == action.id } }
        #expect(outcome.failureCode == .invalid || !missed, "cursor \(requestCursor) from /v1/requests hid action \(action.id)")
    }

    @Test("FINE: actions, closure and identifier hashes replay to the same state")
    func FINE_replay() throws {
        var s = try scenario()
        _ = try hashedCase(&s, ["victim.name": .string("Rita Repeat"), "victim.dateOfBirth": .string("1970-01-01"), "perpetrator.pncId": .string("11/1A")])
        s.h.now = date("2027-04-02T09:00:00Z")
        let a = try s.h.run(s.h.broker.agreeAction(caseID: s.caseRecord.id, NewAction(ownerAgency: "police", text: "A", dueAt: date("2027-05-01T09:00:00Z")), by: s.coordinator, env: s.h.env))
        let b = try s.h.run(s.h.broker.agreeAction(caseID: s.caseRecord.id, NewAction(ownerAgency: "housing", text: "B", dueAt: date("2027-05-01T09:00:00Z")), by: s.coordinator, env: s.h.env))
        _ = try s.h.run(s.h.broker.completeAction(id: a.id, ActionCompletion(note: "done"), by: s.police, env: s.h.env))
        _ = try s.h.run(s.h.broker.cancelAction(id: b.id, Reasoned(reason: "moot"), by: s.coordinator, env: s.h.env))
        _ = try s.h.run(s.h.broker.closeCase(caseID: s.caseRecord.id, Reasoned(reason: "done"), by: s.coordinator, env: s.h.env))
        #expect(s.h.replayed() == s.h.state)
    }

    @Test("FINE: statistics refuse or survive extreme dates")
    func FINE_statisticsExtremeDates() throws {
        var s = try Scenario()
        for (from, to) in [("0000-01-01", "0000-01-02"), ("9999-12-30", "9999-12-31"), ("2027-13-01", "2027-13-02"), ("2027-04-01", "2017-04-01"), ("1990-01-01", "2027-01-01")] {
            let outcome = s.h.broker.statistics(panelID: s.h.broker.panels.first.id, from: from, to: to, by: s.auditor, env: s.h.env)
            // Well-formed dates making a backwards or over-long period: 422 (issue 18: schemathesis sends them as valid data).
            if from == "2027-04-01" || from == "1990-01-01" { #expect(outcome.failureCode == .validationFailed) }
        }
    }

    @Test("FINE: a snapshot written before actions and repeats (no actions/actionFeed/identifierHashes, cases without state) decodes and works")
    func FINE_oldSnapshot() throws {
        var s = try Scenario()
        let data = try JSONEncoder().encode(s.h.state)
        var object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        for key in ["actions", "actionFeed", "identifierHashes"] { object.removeValue(forKey: key) }
        if var cases = object["cases"] as? [String: [String: Any]] {
            for id in cases.keys { cases[id]?.removeValue(forKey: "state"); cases[id]?.removeValue(forKey: "closedAt") }
            object["cases"] = cases
        }
        let old = try JSONDecoder().decode(BrokerState.self, from: try JSONSerialization.data(withJSONObject: object))
        #expect(old.cases[s.caseRecord.id]?.currentState == .open && old.actions == nil)
        s.h.broker = Domain(state: old, policy: try shippedPolicy(), rules: DeadlineRules(calendar: try shippedCalendar()))
        s.h.now = date("2027-04-02T09:00:00Z")
        let action = try s.h.run(s.h.broker.agreeAction(caseID: s.caseRecord.id, NewAction(ownerAgency: "police", text: "A", dueAt: date("2027-05-01T09:00:00Z")),
                                                        by: s.coordinator, env: s.h.env))
        #expect(try s.h.run(s.h.broker.actions(after: nil, by: s.police, env: s.h.env)).actions.map(\.id) == [action.id])
    }
}

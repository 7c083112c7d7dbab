import Foundation
import Testing
@testable import Broker
import Wire

/// SPEC §11.3: field corrections (versioned, policy-checked, audited by name; released
/// requests keep what they released) and follow-up research after the meeting.
@Suite("Cases across meetings")
struct CaseCycleTests {
    @Test("A correction versions the case; a request released before keeps the values it released")
    func corrections() throws {
        var s = try Scenario()
        let police = try s.h.run(s.dispatch(["police"])).requests[0]
        let patch = FieldPatch(set: ["victim.address": .string("3 New Road"), "victim.alias": .string("Ally")], remove: ["victim.phone"],
                               reason: "Moved; phone no longer in use", version: 0)
        let corrected = try s.h.run(s.h.broker.correctFields(caseID: s.caseRecord.id, patch, by: s.coordinator, env: s.h.env))
        #expect(corrected.version == 1 && corrected.fields["victim.address"] == .string("3 New Road") && corrected.fields["victim.phone"] == nil)
        #expect(json(corrected).contains(#""version":1"#) && !json(corrected).contains("12 Acacia"), "the reply holds no earlier value")

        // The police request was released before: it still shows the old address and phone.
        let seen = try s.h.run(s.h.broker.readRequest(id: police.id, by: s.police, env: s.h.env))
        #expect(seen.fields["victim.address"] == .string("12 Acacia Avenue") && seen.fields["victim.phone"] == .string("07700 900123"))
        #expect(seen.fields["victim.alias"] == nil, "a field added later was not released")
        // Research sent after the correction shows the corrected case.
        let housing = try s.h.run(s.dispatch(["housing"])).requests[0]
        #expect(housing.fields["victim.address"] == .string("3 New Road") && housing.fields["victim.phone"] == nil)

        // Audited by field name and reason, never a value.
        let audit = try #require(s.h.state.audit.last { $0.action == "case.correct" })
        #expect(audit.fields == ["victim.address", "victim.alias", "victim.phone"] && audit.reason == "Moved; phone no longer in use")
        #expect(!json(audit).contains("New Road") && !json(audit).contains("Ally"))

        // Refusals store nothing: a stale version, an unclassified path, removing what is absent, no reason.
        let before = s.h.journal.count
        let stale = try s.h.refusal(s.h.broker.correctFields(caseID: s.caseRecord.id, FieldPatch(set: ["victim.alias": .string("A")], reason: "x", version: 0),
                                                             by: s.coordinator, env: s.h.env))
        #expect(stale.code == .conflict && stale.message.contains("version 1"))
        #expect(try s.h.refusal(s.h.broker.correctFields(caseID: s.caseRecord.id, FieldPatch(set: ["victim.shoeSize": .string("9")], reason: "x"),
                                                         by: s.coordinator, env: s.h.env)).code == .unknownField)
        #expect(try s.h.refusal(s.h.broker.correctFields(caseID: s.caseRecord.id, FieldPatch(remove: ["victim.phone"], reason: "x"),
                                                         by: s.coordinator, env: s.h.env)).code == .validationFailed)
        #expect(try s.h.refusal(s.h.broker.correctFields(caseID: s.caseRecord.id, FieldPatch(set: ["victim.alias": .string("A")], reason: " "),
                                                         by: s.coordinator, env: s.h.env)).code == .validationFailed)
        #expect(try s.h.refusal(s.h.broker.correctFields(caseID: s.caseRecord.id, FieldPatch(set: ["victim.alias": .string("A")], reason: "x"),
                                                         by: s.police, env: s.h.env)).code == .forbidden)
        #expect(s.h.journal.count == before)

        // A second correction, then replay: the same state, and the police request still shows version 0.
        try s.h.run(s.h.broker.correctFields(caseID: s.caseRecord.id, FieldPatch(set: ["victim.address": .string("4 Other Street")], reason: "Moved again"),
                                             by: s.coordinator, env: s.h.env))
        #expect(s.h.replayed() == s.h.state)
        let again = try s.h.run(s.h.broker.readRequest(id: police.id, by: s.police, env: s.h.env))
        #expect(again.fields["victim.address"] == .string("12 Acacia Avenue"))
        let housingAgain = try s.h.run(s.h.broker.readRequest(id: housing.id, by: s.housing, env: s.h.env))
        #expect(housingAgain.fields["victim.address"] == .string("3 New Road"), "released at version 1")
    }

    @Test("A scheduled request releases the case as it is at release")
    func scheduledRelease() throws {
        var s = try Scenario()
        let scheduled = try s.h.run(s.dispatch(["police"], releaseAt: date("2027-03-10T09:00:00Z"))).requests[0]
        try s.h.run(s.h.broker.correctFields(caseID: s.caseRecord.id, FieldPatch(set: ["victim.address": .string("3 New Road")], reason: "Moved"),
                                             by: s.coordinator, env: s.h.env))
        s.h.now = date("2027-03-10T09:00:00Z")
        for entry in s.h.broker.releaseDue(env: s.h.env) { s.h.commit(entry) }
        try s.h.run(s.h.broker.correctFields(caseID: s.caseRecord.id, FieldPatch(set: ["victim.address": .string("4 Other Street")], reason: "Moved again"),
                                             by: s.coordinator, env: s.h.env))
        let seen = try s.h.run(s.h.broker.readRequest(id: scheduled.id, by: s.police, env: s.h.env))
        #expect(seen.fields["victim.address"] == .string("3 New Road"))
    }

    @Test("Follow-up research: only after the meeting, with its own returnBy; one unanswered at a time per agency")
    func followUp() throws {
        var s = try Scenario()
        let order = { (returnBy: Date?) in
            DispatchOrder(agencies: ["police"], questions: ["Was the injunction served?"], kind: "follow-up", returnBy: returnBy)
        }
        let early = try s.h.refusal(s.h.broker.dispatch(caseID: s.caseRecord.id, order(date("2027-04-20T12:00:00Z")), by: s.coordinator, env: s.h.env))
        #expect(early.code == .validationFailed && early.message.contains("has not started"))
        s.h.now = date("2027-04-02T09:00:00Z")
        let late = try s.h.refusal(s.dispatch(["police"]))
        #expect(late.code == .conflict && late.message.contains("follow-up"), "\(late.message)")
        #expect(try s.h.refusal(s.h.broker.dispatch(caseID: s.caseRecord.id, order(nil), by: s.coordinator, env: s.h.env)).code == .validationFailed)
        #expect(try s.h.refusal(s.h.broker.dispatch(caseID: s.caseRecord.id, order(date("2027-09-01T12:00:00Z")), by: s.coordinator, env: s.h.env))
            .message.contains("90 days"))
        let request = try s.h.run(s.h.broker.dispatch(caseID: s.caseRecord.id, order(date("2027-04-20T12:00:00Z")), by: s.coordinator, env: s.h.env)).requests[0]
        #expect(request.kind == "follow-up" && request.returnDeadline == date("2027-04-20T12:00:00Z") && request.state == .released)
        let twice = try s.h.refusal(s.h.broker.dispatch(caseID: s.caseRecord.id, order(date("2027-04-21T12:00:00Z")), by: s.coordinator, env: s.h.env))
        #expect(twice.code == .conflict)
        try s.h.run(s.h.broker.submitReturn(requestID: request.id, s.answer("served", count: 1), by: s.police, env: s.h.env))
        #expect(try s.h.run(s.h.broker.dispatch(caseID: s.caseRecord.id, order(date("2027-04-25T12:00:00Z")), by: s.coordinator, env: s.h.env)).requests.count == 1,
                "answered: another follow-up may be asked")
    }
}

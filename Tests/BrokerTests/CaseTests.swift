import Foundation
import Testing
@testable import Broker
import Wire

@Suite("Meetings and cases")
struct CaseTests {
    @Test("Meetings carry both deadlines; startsAt must be in the future; title required")
    func meetings() throws {
        var h = try Harness()
        let coordinator = try h.person("cora", agency: "community-safety", role: .coordinator)
        let meeting = try h.run(h.broker.createMeeting(NewMeeting(title: "MARAC April", startsAt: date("2027-04-01T09:00:00Z")), by: coordinator, env: h.env))
        #expect(meeting.dispatchDeadline == date("2027-03-23T10:00:00Z"))
        #expect(meeting.returnDeadline == date("2027-03-31T09:00:00Z"))
        // The default panel's deadlines too: referrals 14 and acceptance 7 calendar days before at 10:00 local, the agenda 24 hours before.
        #expect(json(meeting) == #"{"acceptanceDeadline":"2027-03-25T10:00:00Z","agendaAt":"2027-03-31T09:00:00Z","dispatchDeadline":"2027-03-23T10:00:00Z","id":"id-1","panel":"default","referralDeadline":"2027-03-18T10:00:00Z","returnDeadline":"2027-03-31T09:00:00Z","startsAt":"2027-04-01T09:00:00Z","title":"MARAC April"}"#)
        let past = try h.refusal(h.broker.createMeeting(NewMeeting(title: "Old", startsAt: h.now), by: coordinator, env: h.env))
        #expect(past.code == .validationFailed && past.message.hasPrefix("startsAt:"))
        let untitled = try h.refusal(h.broker.createMeeting(NewMeeting(title: "  ", startsAt: date("2027-05-01T09:00:00Z")), by: coordinator, env: h.env))
        #expect(untitled.message.hasPrefix("title:"))
        let long = String(repeating: "x", count: Limits.titleLength + 1)
        #expect(try h.refusal(h.broker.createMeeting(NewMeeting(title: long, startsAt: date("2027-05-01T09:00:00Z")), by: coordinator, env: h.env)).message.hasPrefix("title:"))
        #expect(try h.broker.listMeetings(by: coordinator).get().reply.meetings == [meeting])
    }

    @Test("SPOCs see only meetings their agency has a released request in; admin and auditor 403")
    func meetingVisibility() throws {
        var s = try Scenario()
        let other = try s.h.run(s.h.broker.createMeeting(NewMeeting(title: "May", startsAt: date("2027-05-06T09:00:00Z")), by: s.coordinator, env: s.h.env))
        #expect(try s.h.broker.listMeetings(by: s.police).get().reply.meetings.isEmpty)
        #expect(s.h.broker.meeting(id: s.meeting.id, by: s.police).failureCode == .notFound)
        // Scheduled request: still not invited.
        _ = try s.h.run(s.dispatch(["police"], releaseAt: date("2027-03-10T09:00:00Z")))
        #expect(s.h.broker.meeting(id: s.meeting.id, by: s.police).failureCode == .notFound)
        s.h.now = date("2027-03-10T09:00:00Z")
        for entry in s.h.broker.releaseDue(env: s.h.env) { s.h.commit(entry) }
        #expect(try s.h.broker.listMeetings(by: s.police).get().reply.meetings.map(\.id) == [s.meeting.id])
        #expect(try s.h.broker.meeting(id: s.meeting.id, by: s.police).get().reply == s.meeting)
        #expect(s.h.broker.meeting(id: other.id, by: s.police).failureCode == .notFound)
        #expect(s.h.broker.meeting(id: "nonexistent", by: s.police).failureCode == .notFound)
        #expect(try s.h.broker.listMeetings(by: s.housing).get().reply.meetings.isEmpty)
        #expect(try s.h.broker.listMeetings(by: s.coordinator).get().reply.meetings.count == 2)
        for actor in [s.h.admin, s.auditor] {
            #expect(s.h.broker.listMeetings(by: actor).failureCode == .forbidden)
            #expect(s.h.broker.meeting(id: s.meeting.id, by: actor).failureCode == .forbidden)
            #expect(s.h.broker.meetingStatus(id: s.meeting.id, by: actor, env: s.h.env).failureCode == .forbidden)
        }
        #expect(s.h.broker.meetingStatus(id: s.meeting.id, by: s.police, env: s.h.env).failureCode == .forbidden)
        #expect(s.h.broker.createMeeting(NewMeeting(title: "X", startsAt: date("2027-06-01T09:00:00Z")), by: s.police, env: s.h.env).failureCode == .forbidden)
    }

    @Test("Case creation: default deny, consent, limits; nothing stored when refused")
    func caseValidation() throws {
        var s = try Scenario()
        let before = s.h.state
        let create = { (fields: [String: JSONValue], consent: Consent?, reference: String) in
            s.h.broker.createCase(NewCase(meeting: s.meeting.id, reference: reference, fields: fields, consent: consent),
                                  by: s.coordinator, env: s.h.env)
        }
        let unknown = try s.h.refusal(create(["victim.name": .string("A"), "victim.shoeSize": .number(5)], nil, "R-1"))
        #expect(unknown.code == .unknownField)
        #expect(unknown.message.contains("\"victim.shoeSize\""))
        #expect(unknown.code.httpStatus == 422)
        let basis = try s.h.refusal(create(["victim.name": .string("A")], Consent(status: .notObtained), "R-1"))
        #expect(basis.code == .validationFailed && basis.message.hasPrefix("consent.lawfulBasis:"))
        #expect(try s.h.refusal(create(["victim..name": .string("A")], nil, "R-1")).message.hasPrefix("fields["))
        #expect(try s.h.refusal(create([:], nil, "")).message.hasPrefix("reference:"))
        #expect(try s.h.refusal(create([:], nil, "MARAC-2027-0042")).code == .conflict)
        let big = JSONValue.string(String(repeating: "x", count: Limits.fieldValueBytes + 1))
        #expect(try s.h.refusal(create(["victim.name": big], nil, "R-1")).message.hasPrefix("fields[\"victim.name\"]"))
        var deep = JSONValue.null
        for _ in 0...Limits.fieldValueDepth { deep = .array([deep]) }
        #expect(try s.h.refusal(create(["risk.concerns": deep], nil, "R-1")).message.hasPrefix("fields[\"risk.concerns\"]"))
        let missing = try s.h.refusal(s.h.broker.createCase(NewCase(meeting: "nope", reference: "R", fields: [:], consent: nil), by: s.coordinator, env: s.h.env))
        #expect(missing.message.hasPrefix("meeting:"))
        #expect(s.h.state == before, "a refused command changes nothing")

        // Accepted without consent; consent may be recorded later.
        let record = try s.h.run(create(["victim.name": .string("A")], nil, "R-2"))
        #expect(json(record).contains(#""consent":null"#))
        let withConsent = try s.h.run(s.h.broker.recordConsent(caseID: record.id, Consent(status: .obtained), by: s.coordinator, env: s.h.env))
        #expect(withConsent.consent?.status == .obtained)
        #expect(s.h.state.cases[record.id]?.consent == Consent(status: .obtained))
    }

    @Test("Case read: coordinator only, audited with field names; others 403; unknown 404")
    func caseRead() throws {
        var s = try Scenario()
        let read = try s.h.run(s.h.broker.readCase(id: s.caseRecord.id, by: s.coordinator, env: s.h.env))
        #expect(read.fields == Scenario.fields)
        #expect(json(read).contains(#""consent":{"lawfulBasis":"High risk of serious harm","status":"not-obtained"}"#))
        let audit = try #require(s.h.state.audit.last)
        #expect(audit.action == "case.read" && audit.object == s.caseRecord.id && audit.fields == Scenario.fields.keys.sorted())
        for actor in [s.h.admin, s.auditor, s.police] {
            #expect(s.h.broker.readCase(id: s.caseRecord.id, by: actor, env: s.h.env).failureCode == .forbidden)
            #expect(s.h.broker.readCase(id: "nope", by: actor, env: s.h.env).failureCode == .forbidden)
            #expect(s.h.broker.createCase(NewCase(meeting: s.meeting.id, reference: "X", fields: [:], consent: nil), by: actor, env: s.h.env).failureCode == .forbidden)
        }
        #expect(s.h.broker.readCase(id: "nope", by: s.coordinator, env: s.h.env).failureCode == .notFound)
    }

    @Test("Error code table")
    func codes() {
        let table: [(DomainError.Code, String, Int)] = [
            (.forbidden, "forbidden", 403), (.notFound, "not_found", 404), (.invalid, "invalid", 400),
            (.validationFailed, "validation_failed", 422), (.invalidText, "invalid_text", 422), (.unknownField, "unknown_field", 422),
            (.consentMissing, "consent_missing", 422), (.notEntitled, "not_entitled", 403),
            (.dispatchDeadlinePassed, "dispatch_deadline_passed", 409), (.returnDeadlinePassed, "return_deadline_passed", 409),
            (.returnLimitReached, "return_limit_reached", 409),
            (.referralDeadlinePassed, "referral_deadline_passed", 409), (.screeningFailed, "screening_failed", 422),
            (.actionsOpen, "actions_open", 409),
            (.conflict, "conflict", 409), (.credentialRevoked, "credential_revoked", 403),
            (.principalDisabled, "principal_disabled", 403), (.agencyInactive, "agency_inactive", 403),
            (.credentialUnknown, "credential_unknown", 403), (.credentialExpired, "credential_expired", 403),
            (.credentialNotApproved, "credential_not_approved", 403),
            (.invalidCSR, "invalid_csr", 422), (.weakKey, "weak_key", 422), (.subjectMismatch, "subject_mismatch", 422),
        ]
        for (code, raw, status) in table {
            #expect(code.rawValue == raw)
            #expect(code.httpStatus == status)
        }
        #expect(Set(DomainError.Code.httpStatusTable.keys.map(\.rawValue)) == Set(table.map(\.1)), "every code the domain knows is in this table")
        #expect(DomainError.Code(rawValue: "something_new").httpStatus == 400)
    }
}

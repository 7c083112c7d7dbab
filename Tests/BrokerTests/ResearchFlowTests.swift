import Foundation
import Testing
@testable import Broker

@Suite("Research flow")
struct ResearchFlowTests {
    static let dispatchDeadline = date("2027-03-23T10:00:00Z")
    static let returnDeadline = date("2027-03-31T09:00:00Z")

    @Test("Full cycle: dispatch, poll, read, return, amend, status, collate, pack, audit")
    func fullCycle() throws {
        var s = try Scenario()
        let requests = try s.h.run(s.dispatch(["police", "housing", "health"])).requests
        #expect(requests.map(\.agency) == ["police", "housing", "health"])
        #expect(requests.allSatisfy { $0.state == .released && !$0.urgent && $0.dispatchDeadline == Self.dispatchDeadline && $0.returnDeadline == Self.returnDeadline })
        let police = requests[0], housing = requests[1]
        #expect(police.fields.keys.sorted() == ["perpetrator.name", "perpetrator.pncId", "referral.reason", "risk.dashScore", "risk.level",
                                                "victim.address", "victim.dateOfBirth", "victim.name", "victim.phone", "victim.safeAddress"])
        #expect(housing.fields["victim.safeAddress"] == nil)

        // Police polls from the start, then the cursor is quiet.
        let page = try s.h.run(s.h.broker.requests(after: nil, by: s.police, env: s.h.env))
        #expect(page.requests.map(\.id) == [police.id])
        #expect(!s.h.state.hasChanges(for: "police", after: RequestCursor(page.cursor)!))
        #expect(try s.h.run(s.h.broker.requests(after: page.cursor, by: s.police, env: s.h.env)).requests.isEmpty)
        #expect(!json(page).contains("Alice"), "the feed holds no field values")

        // First read acknowledges; the second does not again.
        s.h.now = date("2027-03-02T10:00:00Z")
        let read = try s.h.run(s.h.broker.readRequest(id: police.id, by: s.police, env: s.h.env))
        #expect(read.state == .acknowledged)
        #expect(read.fields == police.fields)
        #expect(read.questions == ["Is the victim known?", "Any recent incidents?"])
        #expect(s.h.state.requests[police.id]?.acknowledgedAt == s.h.now)
        let audit = try #require(s.h.state.audit.last)
        #expect(audit.action == "request.read" && audit.fields == police.fields.keys.sorted() && audit.principal == "pat-police")
        s.h.now = date("2027-03-02T11:00:00Z")
        _ = try s.h.run(s.h.broker.readRequest(id: police.id, by: s.police, env: s.h.env))
        #expect(s.h.state.requests[police.id]?.acknowledgedAt == date("2027-03-02T10:00:00Z"))
        #expect(try s.h.run(s.h.broker.requests(after: page.cursor, by: s.police, env: s.h.env)).requests.isEmpty, "reads do not wake the poll")

        // Return, then amend: both versions kept.
        s.h.now = date("2027-03-20T12:00:00Z")
        let v1 = try s.h.run(s.h.broker.submitReturn(requestID: police.id, s.answer("first"), by: s.police, env: s.h.env))
        #expect(v1.version == 1 && v1.agency == "police" && v1.submittedAt == s.h.now)
        #expect(s.h.state.hasChanges(for: "police", after: RequestCursor(page.cursor)!))
        s.h.now = date("2027-03-21T12:00:00Z")
        let v2 = try s.h.run(s.h.broker.submitReturn(requestID: police.id, s.answer("second"), by: s.police, env: s.h.env))
        #expect(v2.version == 2)
        let history = try s.h.run(s.h.broker.readReturn(requestID: police.id, by: s.police, env: s.h.env))
        #expect(history.latest == v2 && history.versions == [v1, v2])
        #expect(try s.h.run(s.h.broker.readReturn(requestID: police.id, by: s.coordinator, env: s.h.env)) == history)
        #expect(json(history).contains(#""latest":{"#))

        // Housing reads only; health does nothing.
        _ = try s.h.run(s.h.broker.readRequest(id: housing.id, by: s.housing, env: s.h.env))
        let status = try s.h.run(s.h.broker.meetingStatus(id: s.meeting.id, by: s.coordinator, env: s.h.env))
        #expect(status.requests.map(\.agency) == ["health", "housing", "police"])
        #expect(status.requests.map(\.state) == [.released, .acknowledged, .returned])
        #expect(status.requests[2].returnedAt == date("2027-03-21T12:00:00Z"))
        #expect(status.requests[2].acknowledgedAt == date("2027-03-02T10:00:00Z"))
        #expect(status.requests.allSatisfy { $0.releasedAt == date("2027-03-01T09:00:00Z") })

        // After the return deadline the silent ones are overdue.
        s.h.now = Self.returnDeadline.addingTimeInterval(1)
        let later = try s.h.run(s.h.broker.meetingStatus(id: s.meeting.id, by: s.coordinator, env: s.h.env))
        #expect(later.requests.map(\.state) == [.overdue, .overdue, .returned])

        // Collated returns and the research pack, ordered by agency.
        let collated = try s.h.run(s.h.broker.collatedReturns(caseID: s.caseRecord.id, by: s.coordinator, env: s.h.env))
        #expect(collated.returns.map(\.agency) == ["health", "housing", "police"])
        #expect(collated.returns[2].latest == v2 && collated.returns[0].latest == nil)
        let pack = try s.h.run(s.h.broker.researchPack(caseID: s.caseRecord.id, by: s.coordinator, env: s.h.env))
        #expect(pack.contains("Case: MARAC-2027-0042"))
        let healthAt = try #require(pack.range(of: "== Health"))
        let housingAt = try #require(pack.range(of: "== Housing Services (housing) =="))
        let policeAt = try #require(pack.range(of: "== Police (police) =="))
        #expect(healthAt.lowerBound < housingAt.lowerBound && housingAt.lowerBound < policeAt.lowerBound)
        #expect(pack.contains("Return received: 2027-03-21T12:00:00Z (version 2 of 2)"))
        #expect(pack.contains("  - second withheld item — reason: ongoing investigation"))
        #expect(pack.contains("Q2. Any recent incidents?\n  A: second answer 2"))
        #expect(!pack.contains("first answer"))
        #expect(pack.contains("No return received."))
        #expect(pack.contains("Returns in: 1 of 3"))

        // The dispatch is audited per agency: each one's field names, never a union that hides who got what.
        let dispatched = try #require(s.h.state.audit.first { $0.action == "research.dispatch" })
        let releasedTo = try #require(dispatched.releasedTo)
        #expect(releasedTo.keys.sorted() == ["health", "housing", "police"])
        for (agency, names) in releasedTo {
            let request = try #require(s.h.state.requests.values.first { $0.agency == agency })
            #expect(names == request.fieldNames, "\(agency)")
        }
        #expect(releasedTo["health"] != releasedTo["police"], "the default policy sends health and police different fields")
        #expect(dispatched.fields == Set(releasedTo.values.joined()).sorted())

        let actions = s.h.state.audit.map(\.action)
        for action in ["research.dispatch", "request.read", "return.submit", "return.read", "case.returns", "case.pack"] {
            #expect(actions.contains(action))
        }
        for actor in [s.police, s.h.admin, s.auditor] {
            #expect(s.h.broker.collatedReturns(caseID: s.caseRecord.id, by: actor, env: s.h.env).failureCode == .forbidden)
            #expect(s.h.broker.researchPack(caseID: s.caseRecord.id, by: actor, env: s.h.env).failureCode == .forbidden)
        }
    }

    @Test("Dispatch deadline: one second before, at, and one second after; urgent override")
    func dispatchDeadline() throws {
        for (offset, accepted) in [(-1.0, true), (0, true), (1, false)] {
            var s = try Scenario()
            s.h.now = Self.dispatchDeadline.addingTimeInterval(offset)
            let outcome = s.dispatch(["police"])
            if accepted {
                #expect(outcome.failureCode == nil, "offset \(offset)")
            } else {
                let error = try s.h.refusal(outcome)
                #expect(error.code == .dispatchDeadlinePassed)
                #expect(error.code.httpStatus == 409)
                #expect(error.message.contains("2027-03-23T10:00:00Z"))
                #expect(s.h.state.requests.isEmpty)
                // Urgent without a reason is refused; with one it goes, shown and audited as urgent.
                #expect(try s.h.refusal(s.dispatch(["police"], urgent: true)).message.hasPrefix("reason:"))
                #expect(try s.h.refusal(s.dispatch(["police"], reason: "why")).message.hasPrefix("reason:"))
                let urgent = try s.h.run(s.dispatch(["police"], urgent: true, reason: "New incident on 24 March")).requests[0]
                #expect(urgent.urgent && urgent.reason == "New incident on 24 March" && urgent.state == .released)
                #expect(s.h.state.audit.last?.reason == "New incident on 24 March")
                let seen = try s.h.run(s.h.broker.readRequest(id: urgent.id, by: s.police, env: s.h.env))
                #expect(seen.urgent && seen.reason == "New incident on 24 March")
                // Not once the meeting has started.
                s.h.now = Scenario.startsAt
                #expect(s.dispatch(["housing"], urgent: true, reason: "late").failureCode == .conflict)
            }
        }
    }

    @Test("Every question is answered: an empty or blank answer is refused naming it, and nothing is stored")
    func emptyAnswersRefused() throws {
        var s = try Scenario()
        let request = try s.h.run(s.dispatch(["police"])).requests[0]
        for blank in ["", "  \n\t "] {
            let refusal = try s.h.refusal(s.h.broker.submitReturn(requestID: request.id, ReturnSubmission(knownToAgency: false, summary: "Not known",
                                                                                                             answers: ["No", blank], withheld: []),
                                                                 by: s.police, env: s.h.env))
            #expect(refusal.code == .validationFailed && refusal.message.contains("answers[1]"), "\(refusal)")
        }
        #expect(s.h.state.requests[request.id]?.returns.isEmpty == true)
        #expect(try s.h.run(s.h.broker.submitReturn(requestID: request.id, ReturnSubmission(knownToAgency: false, summary: "Not known",
                                                                                           answers: ["No", "None known"], withheld: []),
                                                    by: s.police, env: s.h.env)).version == 1)
    }

    @Test("Return deadline: one second before, at, after; extension; after the extension")
    func returnDeadline() throws {
        var s = try Scenario()
        let request = try s.h.run(s.dispatch(["police"])).requests[0]
        let submit = { (h: Harness) in h.broker.submitReturn(requestID: request.id, s.answer("x"), by: s.police, env: h.env) }
        s.h.now = Self.returnDeadline.addingTimeInterval(-1)
        #expect(try s.h.run(submit(s.h)).version == 1)
        s.h.now = Self.returnDeadline
        #expect(try s.h.run(submit(s.h)).version == 2)
        s.h.now = Self.returnDeadline.addingTimeInterval(1)
        let late = try s.h.refusal(submit(s.h))
        #expect(late.code == .returnDeadlinePassed && late.message.contains("2027-03-31T09:00:00Z"))

        // Extension checks.
        let extend = { (h: Harness, until: Date, reason: String, actor: Actor) in
            h.broker.grantExtension(requestID: request.id, ExtensionGrant(until: until, reason: reason), by: actor, env: h.env)
        }
        let until = date("2027-04-01T08:00:00Z")
        #expect(try s.h.refusal(extend(s.h, Scenario.startsAt.addingTimeInterval(1), "r", s.coordinator)).message.hasPrefix("until:"))
        #expect(try s.h.refusal(extend(s.h, Self.returnDeadline, "r", s.coordinator)).message.hasPrefix("until:"))
        #expect(try s.h.refusal(extend(s.h, until, " ", s.coordinator)).message.hasPrefix("reason:"))
        #expect(extend(s.h, until, "r", s.police).failureCode == .forbidden)
        #expect(s.h.broker.grantExtension(requestID: "nope", ExtensionGrant(until: until, reason: "r"), by: s.coordinator, env: s.h.env).failureCode == .notFound)
        let granted = try s.h.run(extend(s.h, until, "Officer on leave until 31 March", s.coordinator))
        #expect(granted.extendedUntil == until && granted.state == .returned)
        #expect(s.h.state.audit.last?.action == "request.extend" && s.h.state.audit.last?.reason == "Officer on leave until 31 March")
        let read = try s.h.run(s.h.broker.readRequest(id: request.id, by: s.police, env: s.h.env))
        #expect(read.extendedUntil == until)

        #expect(try s.h.run(submit(s.h)).version == 3)
        s.h.now = until
        #expect(try s.h.run(submit(s.h)).version == 4)
        s.h.now = until.addingTimeInterval(1)
        let after = try s.h.refusal(submit(s.h))
        #expect(after.code == .returnDeadlinePassed && after.message.contains("2027-04-01T08:00:00Z"))
        // `until` may be the meeting's start itself (SPEC §4: until ≤ startsAt), not a second later.
        let toTheStart = try s.h.run(extend(s.h, Scenario.startsAt, "Update on the morning of the meeting", s.coordinator))
        #expect(toTheStart.extendedUntil == Scenario.startsAt)
        #expect(try s.h.run(submit(s.h)).version == 5)
    }

    @Test("Extended and overdue states")
    func extendedState() throws {
        var s = try Scenario()
        let request = try s.h.run(s.dispatch(["housing"])).requests[0]
        let until = date("2027-03-31T17:00:00Z")
        _ = try s.h.run(s.h.broker.grantExtension(requestID: request.id, ExtensionGrant(until: until, reason: "r"), by: s.coordinator, env: s.h.env))
        let state = { (h: Harness) in try h.broker.meetingStatus(id: s.meeting.id, by: s.coordinator, env: h.env).get().reply.requests[0].state }
        #expect(try state(s.h) == .extended)
        s.h.now = Self.returnDeadline.addingTimeInterval(3600)
        #expect(try state(s.h) == .extended)
        s.h.now = until.addingTimeInterval(1)
        #expect(try state(s.h) == .overdue)
    }

    @Test("Scheduled release: invisible until releaseAt, then released by releaseDue")
    func scheduledRelease() throws {
        var s = try Scenario()
        let releaseAt = date("2027-03-15T08:00:00Z")
        let request = try s.h.run(s.dispatch(["police", "housing"], releaseAt: releaseAt)).requests[0]
        #expect(request.state == .scheduled && request.releaseAt == releaseAt)
        #expect(s.h.state.nextScheduledRelease == releaseAt)
        #expect(try s.h.run(s.h.broker.requests(after: nil, by: s.police, env: s.h.env)).requests.isEmpty)
        #expect(!s.h.state.hasChanges(for: "police", after: .start))
        let hidden = try s.h.refusal(s.h.broker.readRequest(id: request.id, by: s.police, env: s.h.env))
        let absent = try s.h.refusal(s.h.broker.readRequest(id: "no-such-request", by: s.police, env: s.h.env))
        #expect(hidden == absent)
        #expect(s.h.broker.submitReturn(requestID: request.id, s.answer("x"), by: s.police, env: s.h.env).failureCode == .notFound)
        let status = try s.h.run(s.h.broker.meetingStatus(id: s.meeting.id, by: s.coordinator, env: s.h.env))
        #expect(status.requests.allSatisfy { $0.state == .scheduled && $0.releasedAt == nil })

        s.h.now = releaseAt.addingTimeInterval(-1)
        #expect(s.h.broker.releaseDue(env: s.h.env).isEmpty)
        s.h.now = releaseAt
        let due = s.h.broker.releaseDue(env: s.h.env)
        #expect(due.count == 2)
        #expect(due.allSatisfy { $0.actor == nil && $0.audit?.action == "research.release" })
        for entry in due {
            let released = try #require(s.h.state.requests[entry.audit!.object])
            #expect(entry.audit?.releasedTo == [released.agency: released.fieldNames] && entry.audit?.fields == released.fieldNames)
        }
        let scheduledDispatch = try #require(s.h.state.audit.last { $0.action == "research.dispatch" })
        #expect(scheduledDispatch.releasedTo == [:] && scheduledDispatch.fields == [], "nothing released at dispatch time")
        for entry in due { s.h.commit(entry) }
        #expect(s.h.state.nextScheduledRelease == nil)
        #expect(s.h.broker.releaseDue(env: s.h.env).isEmpty)
        #expect(s.h.state.hasChanges(for: "police", after: .start))
        #expect(try s.h.run(s.h.broker.requests(after: nil, by: s.police, env: s.h.env)).requests.map(\.id) == [request.id])
        #expect(try s.h.run(s.h.broker.readRequest(id: request.id, by: s.police, env: s.h.env)).state == .acknowledged)
        #expect(s.h.state.requests[request.id]?.releasedAt == releaseAt)
    }

    @Test("releaseAt rules: not after the dispatch deadline, urgent or not; a past time means now")
    func releaseAtRules() throws {
        var s = try Scenario()
        let late = try s.h.refusal(s.dispatch(["police"], releaseAt: Self.dispatchDeadline.addingTimeInterval(1)))
        #expect(late.message.hasPrefix("releaseAt:") && late.message.contains("2027-03-23T10:00:00Z"))
        #expect(try s.h.refusal(s.dispatch(["police"], releaseAt: Scenario.startsAt, urgent: true, reason: "r")).message.hasPrefix("releaseAt:"))
        // Urgent does not stretch the schedule: a release after the dispatch deadline is refused too.
        let urgentLate = try s.h.refusal(s.dispatch(["police"], releaseAt: Self.dispatchDeadline.addingTimeInterval(1), urgent: true, reason: "r"))
        #expect(urgentLate.message.hasPrefix("releaseAt:") && urgentLate.message.contains("2027-03-23T10:00:00Z"))
        let atDeadline = try s.h.run(s.dispatch(["police"], releaseAt: Self.dispatchDeadline)).requests[0]
        #expect(atDeadline.state == .scheduled)
        let past = try s.h.run(s.dispatch(["housing"], releaseAt: date("2027-02-01T00:00:00Z"))).requests[0]
        #expect(past.state == .released && past.releaseAt == s.h.now)
    }

    @Test("Dispatch refusals create nothing")
    func dispatchRefusals() throws {
        var s = try Scenario()
        let before = s.h.state
        #expect(try s.h.refusal(s.dispatch([])).message.hasPrefix("agencies:"))
        #expect(try s.h.refusal(s.dispatch(["police", "nowhere"])).message.hasPrefix("agencies[1]:"))
        #expect(try s.h.refusal(s.dispatch(["police", "police"])).message.hasPrefix("agencies[1]:"))
        #expect(try s.h.refusal(s.dispatch(["police"], questions: [])).message.hasPrefix("questions:"))
        #expect(try s.h.refusal(s.dispatch(["police"], questions: ["ok", ""])).message.hasPrefix("questions[1]:"))
        let notEntitled = try s.h.refusal(s.dispatch(["police", "housing"], fields: ["victim.name", "victim.safeAddress"]))
        #expect(notEntitled.code == .notEntitled && notEntitled.code.httpStatus == 403)
        #expect(notEntitled.message.contains("housing") && notEntitled.message.contains("victim.safeAddress"))
        #expect(try s.h.refusal(s.dispatch(["police"], fields: ["victim.sexualOrientation"])).code == .notEntitled)
        #expect(try s.h.refusal(s.dispatch(["police"], fields: ["victim.shoeSize"])).message.hasPrefix("fields[0]:"))
        #expect(s.h.broker.dispatch(caseID: "nope", DispatchOrder(agencies: ["police"], questions: ["q"]), by: s.coordinator, env: s.h.env).failureCode == .notFound)
        for actor in [s.police, s.h.admin, s.auditor] {
            #expect(s.h.broker.dispatch(caseID: s.caseRecord.id, DispatchOrder(agencies: ["police"], questions: ["q"]), by: actor, env: s.h.env).failureCode == .forbidden)
        }
        #expect(s.h.state == before)

        // Inactive agency.
        _ = try s.h.run(s.h.broker.updateAgency(id: "probation", AgencyPatch(active: false), by: s.h.admin, env: s.h.env))
        #expect(try s.h.refusal(s.dispatch(["probation"])).message.contains("inactive"))

        // No consent record.
        let bare = try s.h.run(s.h.broker.createCase(NewCase(meeting: s.meeting.id, reference: "R-9", fields: ["victim.name": .string("Z")], consent: nil),
                                                      by: s.coordinator, env: s.h.env))
        let consent = try s.h.refusal(s.h.broker.dispatch(caseID: bare.id, DispatchOrder(agencies: ["police"], questions: ["q"]), by: s.coordinator, env: s.h.env))
        #expect(consent.code == .consentMissing && consent.code.httpStatus == 422)

        // Second request to the same agency for the same case.
        _ = try s.h.run(s.dispatch(["police"]))
        #expect(try s.h.refusal(s.dispatch(["housing", "police"])).code == .conflict)
    }

    @Test("Narrowing sends only the chosen fields")
    func narrowing() throws {
        var s = try Scenario()
        let requests = try s.h.run(s.dispatch(["police", "housing"], fields: ["victim.name", "risk.level"])).requests
        for request in requests {
            #expect(request.fields.keys.sorted() == ["risk.level", "victim.name"])
            #expect(s.h.state.requests[request.id]?.fieldNames == ["risk.level", "victim.name"])
        }
        #expect(s.h.state.audit.last?.fields == ["risk.level", "victim.name"])
    }

    @Test("Returns: validation, roles, and 404 for other agencies identical to nonexistent")
    func returnsAccess() throws {
        var s = try Scenario()
        let requests = try s.h.run(s.dispatch(["police", "housing"])).requests
        let police = requests[0]
        let bad = ReturnSubmission(knownToAgency: false, summary: "s", answers: ["only one"])
        #expect(try s.h.refusal(s.h.broker.submitReturn(requestID: police.id, bad, by: s.police, env: s.h.env)).message.hasPrefix("answers:"))
        let blank = ReturnSubmission(knownToAgency: false, summary: "", answers: ["a", "b"])
        #expect(try s.h.refusal(s.h.broker.submitReturn(requestID: police.id, blank, by: s.police, env: s.h.env)).message.hasPrefix("summary:"))
        let badWithheld = ReturnSubmission(knownToAgency: true, summary: "s", answers: ["a", "b"], withheld: [WithheldItem(what: "w", reason: "")])
        #expect(try s.h.refusal(s.h.broker.submitReturn(requestID: police.id, badWithheld, by: s.police, env: s.h.env)).message.hasPrefix("withheld[0].reason:"))
        #expect(s.h.broker.submitReturn(requestID: police.id, s.answer("x"), by: s.coordinator, env: s.h.env).failureCode == .forbidden)
        #expect(s.h.broker.submitReturn(requestID: police.id, s.answer("x"), by: s.h.admin, env: s.h.env).failureCode == .forbidden)

        // Nothing returned yet: 404 like anything else.
        let none = try s.h.refusal(s.h.broker.readReturn(requestID: police.id, by: s.police, env: s.h.env))
        _ = try s.h.run(s.h.broker.submitReturn(requestID: police.id, s.answer("police"), by: s.police, env: s.h.env))

        let otherRead = try s.h.refusal(s.h.broker.readRequest(id: police.id, by: s.housing, env: s.h.env))
        let missingRead = try s.h.refusal(s.h.broker.readRequest(id: "missing", by: s.housing, env: s.h.env))
        #expect(otherRead == missingRead && otherRead.code == .notFound)
        let otherReturn = try s.h.refusal(s.h.broker.readReturn(requestID: police.id, by: s.housing, env: s.h.env))
        let missingReturn = try s.h.refusal(s.h.broker.readReturn(requestID: "missing", by: s.housing, env: s.h.env))
        #expect(otherReturn == missingReturn && otherReturn == none)
        let otherSubmit = try s.h.refusal(s.h.broker.submitReturn(requestID: police.id, s.answer("h"), by: s.housing, env: s.h.env))
        let missingSubmit = try s.h.refusal(s.h.broker.submitReturn(requestID: "missing", s.answer("h"), by: s.housing, env: s.h.env))
        #expect(otherSubmit == missingSubmit)
        for actor in [s.h.admin, s.auditor] {
            #expect(s.h.broker.readRequest(id: police.id, by: actor, env: s.h.env).failureCode == .forbidden)
            #expect(s.h.broker.readReturn(requestID: police.id, by: actor, env: s.h.env).failureCode == .forbidden)
            #expect(s.h.broker.requests(after: nil, by: actor, env: s.h.env).failureCode == .forbidden)
        }
        #expect(s.h.broker.requests(after: nil, by: s.coordinator, env: s.h.env).failureCode == .forbidden)
        // The coordinator reads any request (the agency's view) without acknowledging it.
        let asCoordinator = try s.h.run(s.h.broker.readRequest(id: requests[1].id, by: s.coordinator, env: s.h.env))
        #expect(asCoordinator.fields == requests[1].fields && s.h.state.requests[requests[1].id]?.acknowledgedAt == nil)
    }

    @Test("Cursor: opaque, validated, pages")
    func cursor() throws {
        var s = try Scenario()
        #expect(RequestCursor("a1z") == RequestCursor(position: 71))
        #expect(RequestCursor(position: 71).description == "a1z")
        #expect(RequestCursor("c1z") == .start, "a journal-position cursor from before feed positions restarts the feed")
        #expect(RequestCursor("71") == nil && RequestCursor("a") == nil && RequestCursor("a01") == nil && RequestCursor("a-1") == nil)
        #expect(s.h.broker.requests(after: "garbage", by: s.police, env: s.h.env).failureCode == .invalid)
        var ids: [String] = []
        for index in 0..<3 {
            let record = try s.h.run(s.h.broker.createCase(NewCase(meeting: s.meeting.id, reference: "R-\(index)", fields: ["victim.name": .string("V\(index)")],
                                                                   consent: Consent(status: .obtained)), by: s.coordinator, env: s.h.env))
            ids.append(try s.h.run(s.h.broker.dispatch(caseID: record.id, DispatchOrder(agencies: ["police"], questions: ["q"]), by: s.coordinator, env: s.h.env)).requests[0].id)
        }
        let first = try s.h.run(s.h.broker.requests(after: nil, limit: 2, by: s.police, env: s.h.env))
        #expect(first.requests.map(\.id) == Array(ids.prefix(2)))
        let second = try s.h.run(s.h.broker.requests(after: first.cursor, limit: 2, by: s.police, env: s.h.env))
        #expect(second.requests.map(\.id) == [ids[2]])
        let third = try s.h.run(s.h.broker.requests(after: second.cursor, by: s.police, env: s.h.env))
        #expect(third.requests.isEmpty && third.cursor == second.cursor)
        // An extension is a change the SPOC sees.
        _ = try s.h.run(s.h.broker.grantExtension(requestID: ids[0], ExtensionGrant(until: date("2027-03-31T18:00:00Z"), reason: "r"), by: s.coordinator, env: s.h.env))
        #expect(s.h.state.hasChanges(for: "police", after: RequestCursor(third.cursor)!))
        let fourth = try s.h.run(s.h.broker.requests(after: third.cursor, by: s.police, env: s.h.env))
        #expect(fourth.requests.map(\.id) == [ids[0]] && fourth.requests[0].extendedUntil == date("2027-03-31T18:00:00Z"))
        #expect(!s.h.state.hasChanges(for: "housing", after: .start))
        // Per agency: what happens to other agencies' requests, or to cases, never moves police's cursor.
        let before = try s.h.run(s.h.broker.requests(after: fourth.cursor, by: s.police, env: s.h.env)).cursor
        let record = try s.h.run(s.h.broker.createCase(NewCase(meeting: s.meeting.id, reference: "R-other", fields: ["victim.name": .string("W")],
                                                               consent: Consent(status: .obtained)), by: s.coordinator, env: s.h.env))
        _ = try s.h.run(s.h.broker.readCase(id: record.id, by: s.coordinator, env: s.h.env))
        let housing = try s.h.run(s.h.broker.dispatch(caseID: record.id, DispatchOrder(agencies: ["housing"], questions: ["q"]), by: s.coordinator, env: s.h.env))
        _ = try s.h.run(s.h.broker.submitReturn(requestID: housing.requests[0].id, s.answer("h", count: 1), by: s.housing, env: s.h.env))
        #expect(try s.h.run(s.h.broker.requests(after: nil, by: s.police, env: s.h.env)).cursor == before)
        #expect(try s.h.run(s.h.broker.requests(after: nil, by: s.housing, env: s.h.env)).cursor == "a3", "housing's own feed: release, return")
    }
}

@_spi(Testing) import BrokerAPI
@_spi(Testing) import BrokerHost
import Foundation
import MaracClient
import Testing
import TestSupport

/// The research flow over real TLS: a coordinator and three agencies (issue 5).
@Suite(.serialized) struct ResearchFlowAPITests {
    /// A Thursday in February next year, 10:00 GMT (computed from the clock: `FixtureDates`):
    /// dispatch by the Thursday before at 10:00Z, returns by the Wednesday 10:00Z.
    static let meetingStart = FixtureDates.meetingStart()
    static let dispatchDeadline = FixtureDates.dispatchDeadline()
    static let returnDeadline = FixtureDates.returnDeadline()

    static var fields: [String: Any] { [
        "victim.name": "Jane Doe", "perpetrator.name": "John Roe", "risk.dashScore": 18,
        "victim.phone": "07700 900123", "victim.safeAddress": "Flat 3, Refuge House",
        "victim.gp": "Dr Patel, Northtown Surgery", "victim.sexualOrientation": "bisexual",
        "child.1.name": "Sam Doe", "child.1.school": "Northtown Primary",
    ] }

    @Test func fullCycleWithThreeAgenciesKeepsEveryAgencyInItsLane() async throws {
        try await withTestBroker { broker in
            let cast = try await Cast.make(broker, agencies: ["police", "housing", "health", "probation"])
            let coordinator = cast.coordinator.client
            let police = cast.spocs["police"]!.client, housing = cast.spocs["housing"]!.client
            let health = cast.spocs["health"]!.client, probation = cast.spocs["probation"]!.client

            let meeting = try await cast.meeting(at: Self.meetingStart)
            let meetingID = try #require(meeting["id"].string)
            #expect(meeting["dispatchDeadline"].string == rfc3339(Self.dispatchDeadline))
            #expect(meeting["returnDeadline"].string == rfc3339(Self.returnDeadline))
            let theCase = try await cast.case(meeting: meetingID, fields: Self.fields)
            let caseID = try #require(theCase["id"].string)

            // The police SPOC is already long-polling when the research goes out.
            let started = ContinuousClock.now
            async let woken = police.json("GET", "/v1/requests?wait=60")
            #expect(await eventually { broker.app.parkedLongPolls == 1 }, "the long-poll never parked")
            let dispatched = try await coordinator.json("POST", "/v1/cases/\(caseID)/research", [
                "agencies": ["police", "housing", "health"],
                "questions": ["Is the victim known to you?", "Any incidents in the last 12 months?"],
            ])
            #expect(dispatched.status == 201, "\(dispatched.text)")
            let requests = dispatched.json["requests"].array
            #expect(requests.map { $0["agency"].string ?? "" } == ["police", "housing", "health"])
            for request in requests {
                #expect(request["dispatchDeadline"].string == rfc3339(Self.dispatchDeadline) && request["returnDeadline"].string == rfc3339(Self.returnDeadline))
                #expect(request["state"].string == "released" && request["urgent"].bool == false && request["case"].string == caseID)
            }
            let byAgency = Dictionary(uniqueKeysWithValues: requests.map { ($0["agency"].string!, $0["id"].string!) })
            let poll = try await woken
            // Unwoken, it would answer at its 60 s timeout; the bound is loose because shared CI machines are slow.
            #expect(ContinuousClock.now - started < .seconds(30), "the long-poll was answered by the dispatch, not by its 60 s timeout")
            #expect(poll.json["requests"].array.map { $0["id"].string } == [byAgency["police"]])
            let cursor = try #require(poll.json["cursor"].string)
            let nothingNew = try await police.json("GET", "/v1/requests?after=\(cursor)&wait=1")
            #expect(nothingNew.json["requests"].array.isEmpty, "\(nothingNew.text)")

            // Each agency reads only its own fields: withheld ones are absent, names and values alike.
            let policeView = try await police.json("GET", "/v1/requests/\(byAgency["police"]!)")
            #expect(policeView.status == 200)
            #expect(policeView.json["fields"].keys == ["victim.name", "perpetrator.name", "risk.dashScore", "victim.phone", "victim.safeAddress"])
            #expect(policeView.json["questions"].array.count == 2)
            let housingView = try await housing.json("GET", "/v1/requests/\(byAgency["housing"]!)")
            #expect(housingView.json["fields"].keys == ["victim.name", "perpetrator.name", "risk.dashScore", "victim.phone"])
            let healthView = try await health.json("GET", "/v1/requests/\(byAgency["health"]!)")
            #expect(healthView.json["fields"].keys == ["victim.name", "perpetrator.name", "risk.dashScore", "victim.gp", "child.1.name", "child.1.school"])
            for (view, secrets) in [(policeView, ["Dr Patel", "bisexual", "Northtown Primary", "sexualOrientation", "victim.gp"]),
                                    (housingView, ["Refuge House", "safeAddress", "Dr Patel", "bisexual", "Northtown Primary"]),
                                    (healthView, ["Refuge House", "07700", "bisexual", "safeAddress", "victim.phone"])] {
                for secret in secrets { #expect(!view.text.contains(secret), "\(secret) leaked: \(view.text)") }
            }

            // Another agency's request is 404, exactly like one that does not exist.
            let foreign = try await housing.json("GET", "/v1/requests/\(byAgency["police"]!)")
            let missing = try await housing.json("GET", "/v1/requests/doesnotexist")
            #expect(foreign.status == 404 && missing.status == 404)
            #expect(foreign.json["error"]["code"].string == missing.json["error"]["code"].string)
            #expect(try await probation.json("GET", "/v1/requests").json["requests"].array.isEmpty)
            #expect(try await probation.json("GET", "/v1/meetings/\(meetingID)").status == 404, "probation is not invited")
            #expect(try await police.json("GET", "/v1/meetings/\(meetingID)").status == 200, "police is invited")
            #expect(try await police.json("GET", "/v1/cases/\(caseID)").status == 403, "a SPOC cannot read the whole case")

            // Returns: police answers and amends; housing cannot touch it.
            let answer: [String: Any] = ["knownToAgency": true, "summary": "Three call-outs since March.",
                                         "answers": ["Yes", "Three domestic incidents"],
                                         "withheld": [["what": "Ongoing investigation details", "reason": "Would prejudice an investigation"]]]
            let first = try await police.json("PUT", "/v1/requests/\(byAgency["police"]!)/return", answer)
            #expect(first.status == 200 && first.json["version"].int == 1, "\(first.text)")
            var amended = answer
            amended["summary"] = "Four call-outs since March (one added after review)."
            let second = try await police.json("PUT", "/v1/requests/\(byAgency["police"]!)/return", amended)
            #expect(second.json["version"].int == 2, "\(second.text)")
            let history = try await police.json("GET", "/v1/requests/\(byAgency["police"]!)/return")
            #expect(history.json["latest"]["version"].int == 2 && history.json["versions"].array.count == 2)
            #expect(history.json["latest"].keys.isSuperset(of: ["request", "agency", "version", "submittedAt", "knownToAgency", "summary", "answers", "withheld"]))
            #expect(try await housing.json("GET", "/v1/requests/\(byAgency["police"]!)/return").status == 404)
            #expect(try await housing.json("PUT", "/v1/requests/\(byAgency["police"]!)/return", answer).status == 404)
            let wrongCount = try await housing.json("PUT", "/v1/requests/\(byAgency["housing"]!)/return",
                                                    ["knownToAgency": false, "summary": "Not known", "answers": ["No"], "withheld": []])
            #expect(wrongCount.status == 422 && wrongCount.json["error"]["message"].string?.contains("answers") == true, "\(wrongCount.text)")

            // The coordinator's view: status per request, the collated returns, the plain-text pack.
            let status = try await coordinator.json("GET", "/v1/meetings/\(meetingID)/status")
            let states = Dictionary(uniqueKeysWithValues: status.json["requests"].array.map { ($0["agency"].string!, $0) })
            #expect(states["police"]?["state"].string == "returned" && states["police"]?["returnedAt"].exists == true)
            #expect(states["housing"]?["state"].string == "acknowledged" && states["housing"]?["acknowledgedAt"].exists == true)
            #expect(states["health"]?["state"].string == "acknowledged")
            let collated = try await coordinator.json("GET", "/v1/cases/\(caseID)/returns")
            #expect(collated.status == 200 && collated.text.contains("Four call-outs"), "\(collated.text)")
            let pack = try await coordinator.send("GET", "/v1/cases/\(caseID)/returns?format=text")
            #expect(pack.status == 200 && pack.header("Content-Type")?.hasPrefix("text/plain") == true)
            let packText = pack.text
            #expect(packText.contains("MARAC-2027-0042") && packText.contains("Four call-outs") && packText.contains("Ongoing investigation details"))
            let order = ["Health", "Housing", "Police"].compactMap { packText.range(of: $0)?.lowerBound }
            #expect(order.count == 3 && order == order.sorted(), "the pack is ordered by agency")
            #expect(try await police.json("GET", "/v1/cases/\(caseID)/returns").status == 403)
            #expect(try await cast.admin.json("GET", "/v1/cases/\(caseID)/returns").status == 403)
            #expect(try await cast.admin.json("GET", "/v1/requests/\(byAgency["police"]!)/return").status == 403)

            // The audit trail names who did what, with field names, and never a value or return text.
            let audit = try await cast.admin.auditTrail()
            let records = audit.records
            let actions = Set(records.compactMap { $0["action"].string })
            #expect(records.allSatisfy { $0["hash"].exists && $0["prevHash"].exists && $0["seq"].exists })
            #expect(records.contains { $0["principal"].string == "housing-spoc" && $0["object"].string == byAgency["housing"]
                     && $0["fields"].array.compactMap(\.string).sorted() == ["perpetrator.name", "risk.dashScore", "victim.name", "victim.phone"] })
            #expect(actions.count >= 6, "\(actions)")
            for secret in ["Jane Doe", "Refuge House", "Four call-outs", "Three domestic", "bisexual"] {
                #expect(!audit.text.contains(secret), "audit holds a value: \(secret)")
            }
        }
    }

    @Test func deadlinesAreEnforcedToTheSecond() async throws {
        try await withTestBroker { broker in
            let cast = try await Cast.make(broker, agencies: ["police", "housing"])
            let auditor = try await broker.enrol("audrey", agency: "community-safety", role: "auditor", admin: cast.admin)
            let coordinator = cast.coordinator.client, police = cast.spocs["police"]!.client
            let meetingID = try #require(try await cast.meeting(at: Self.meetingStart)["id"].string)
            let caseA = try #require(try await cast.case(meeting: meetingID, reference: "MARAC-2027-0001", fields: ["victim.name": "A"])["id"].string)
            let caseB = try #require(try await cast.case(meeting: meetingID, reference: "MARAC-2027-0002", fields: ["victim.name": "B"])["id"].string)
            let order: [String: Any] = ["agencies": ["police"], "questions": ["Known?"]]

            // releaseAt may not be after the dispatch deadline.
            var late = order
            late["releaseAt"] = rfc3339(Self.dispatchDeadline.addingTimeInterval(1))
            let lateRelease = try await coordinator.json("POST", "/v1/cases/\(caseA)/research", late)
            #expect(lateRelease.status == 422 || lateRelease.status == 409, "\(lateRelease.text)")

            broker.clock.set(Self.dispatchDeadline.addingTimeInterval(-1))
            let inTime = try await coordinator.json("POST", "/v1/cases/\(caseA)/research", order)
            #expect(inTime.status == 201, "\(inTime.text)")
            let requestA = try #require(inTime.json["requests"][0]["id"].string)

            broker.clock.set(Self.dispatchDeadline.addingTimeInterval(1))
            let tooLate = try await coordinator.json("POST", "/v1/cases/\(caseB)/research", order)
            #expect(tooLate.status == 409 && tooLate.errorCode == "dispatch_deadline_passed", "\(tooLate.text)")
            #expect(tooLate.json["error"]["message"].string?.contains(rfc3339(Self.dispatchDeadline)) == true, "the refusal names the deadline")
            var urgentNoReason = order
            urgentNoReason["urgent"] = true
            #expect(try await coordinator.json("POST", "/v1/cases/\(caseB)/research", urgentNoReason).status == 422)
            var urgent = urgentNoReason
            urgent["reason"] = "Perpetrator released on bail yesterday"
            let urgentAnswer = try await coordinator.json("POST", "/v1/cases/\(caseB)/research", urgent)
            #expect(urgentAnswer.status == 201, "\(urgentAnswer.text)")
            let requestB = try #require(urgentAnswer.json["requests"][0]["id"].string)
            let spocSees = try await police.json("GET", "/v1/requests/\(requestB)")
            #expect(spocSees.json["urgent"].bool == true && spocSees.json["reason"].string == "Perpetrator released on bail yesterday")

            let answer: [String: Any] = ["knownToAgency": false, "summary": "Not known to police.", "answers": ["No"], "withheld": []]
            broker.clock.set(Self.returnDeadline.addingTimeInterval(-1))
            #expect(try await police.json("PUT", "/v1/requests/\(requestA)/return", answer).status == 200)
            broker.clock.set(Self.returnDeadline.addingTimeInterval(1))
            let amendLate = try await police.json("PUT", "/v1/requests/\(requestA)/return", answer)
            #expect(amendLate.status == 409 && amendLate.errorCode == "return_deadline_passed", "\(amendLate.text)")
            let returnLate = try await police.json("PUT", "/v1/requests/\(requestB)/return", answer)
            #expect(returnLate.status == 409 && returnLate.errorCode == "return_deadline_passed")
            let overdue = try await coordinator.json("GET", "/v1/meetings/\(meetingID)/status")
            #expect(overdue.json["requests"].array.first { $0["id"].string == requestB }?["state"].string == "overdue", "\(overdue.text)")

            // An extension: not past the meeting, with a reason; then the return goes in.
            let extendedUntil = Self.meetingStart.addingTimeInterval(-3_600)
            let pastMeeting = try await coordinator.json("POST", "/v1/requests/\(requestB)/extension",
                                                         ["until": rfc3339(Self.meetingStart.addingTimeInterval(1)), "reason": "Records system outage"])
            #expect(pastMeeting.status == 422, "\(pastMeeting.text)")
            let noReason = try await coordinator.json("POST", "/v1/requests/\(requestB)/extension", ["until": rfc3339(extendedUntil), "reason": ""])
            #expect(noReason.status == 422)
            #expect(try await police.json("POST", "/v1/requests/\(requestB)/extension",
                                          ["until": rfc3339(extendedUntil), "reason": "self-service"]).status == 403)
            let extended = try await coordinator.json("POST", "/v1/requests/\(requestB)/extension",
                                                      ["until": rfc3339(extendedUntil), "reason": "Records system outage"])
            #expect(extended.status == 200 && extended.json["extendedUntil"].string == rfc3339(extendedUntil), "\(extended.text)")
            #expect(try await police.json("PUT", "/v1/requests/\(requestB)/return", answer).status == 200)
            broker.clock.set(extendedUntil.addingTimeInterval(1))
            #expect(try await police.json("PUT", "/v1/requests/\(requestB)/return", answer).status == 409)
            // The auditor reads the coordinator's reasons; the admin, who never sees case content, does not.
            let audit = try await auditor.client.auditTrail().records
            #expect(audit.contains { $0["reason"].string == "Records system outage" && $0["action"].string == "request.extend" })
            #expect(audit.contains { $0["reason"].string == "Perpetrator released on bail yesterday" && $0["action"].string == "research.dispatch" })
            let adminView = try await cast.admin.auditTrail()
            #expect(!adminView.text.contains("Records system outage") && !adminView.text.contains("Perpetrator released"))
            #expect(adminView.records.contains { $0["action"].string == "request.extend" && $0["reason"].string == "(withheld from administrators: case text)" })
        }
    }

    /// The long-poll page cache answers many pollers of one agency with one encoded page;
    /// polls by two agencies in the same second, at the same journal position, must not share it.
    @Test func agenciesPollingBackToBackEachSeeOnlyTheirOwnRequests() async throws {
        try await withTestBroker { broker in
            let cast = try await Cast.make(broker, agencies: ["police", "housing", "health"])
            let meetingID = try #require(try await cast.meeting(at: Self.meetingStart)["id"].string)
            let caseID = try #require(try await cast.case(meeting: meetingID, fields: ["victim.name": "Jane Doe"])["id"].string)
            let dispatched = try await cast.coordinator.client.json("POST", "/v1/cases/\(caseID)/research", ["agencies": ["police"], "questions": ["Known?"]])
            let policeRequest = try #require(dispatched.json["requests"][0]["id"].string)
            // The test clock stands still, and listing journals nothing: every poll below has the same cache stamp.
            for order in [["police", "housing", "health"], ["health", "housing", "police"], ["housing", "police", "housing"]] {
                for agency in order {
                    let page = try await cast.spocs[agency]!.client.json("GET", "/v1/requests")
                    #expect(page.status == 200, "\(page.text)")
                    let ids = page.json["requests"].array.compactMap { $0["id"].string }
                    #expect(ids == (agency == "police" ? [policeRequest] : []), "\(agency) after \(order): \(page.text)")
                    #expect(page.text.contains("Jane Doe") == false)
                }
            }
            // Two parked waiters of different agencies: the dispatch to police wakes police with its request; housing's poll ends empty.
            let cursor = try #require(try await cast.spocs["housing"]!.client.json("GET", "/v1/requests").json["cursor"].string)
            async let housingWait = cast.spocs["housing"]!.client.json("GET", "/v1/requests?after=\(cursor)&wait=2")
            #expect(await eventually { broker.app.parkedLongPolls == 1 }, "the long-poll never parked")
            let second = try await cast.coordinator.client.json("POST", "/v1/cases/\(caseID)/research", ["agencies": ["health"], "questions": ["Known?"]])
            #expect(second.status == 201)
            let housingPage = try await housingWait
            #expect(housingPage.json["requests"].array.isEmpty, "\(housingPage.text)")
        }
    }

    @Test func aScheduledReleaseIsInvisibleUntilItsTimeAndThenWakesTheWaiter() async throws {
        try await withTestBroker { broker in
            let cast = try await Cast.make(broker, agencies: ["police"])
            let police = cast.spocs["police"]!.client
            let meetingID = try #require(try await cast.meeting(at: Self.meetingStart)["id"].string)
            let caseID = try #require(try await cast.case(meeting: meetingID, fields: ["victim.name": "C"])["id"].string)
            let releaseAt = broker.clock.date.addingTimeInterval(2)
            let scheduled = try await cast.coordinator.client.json("POST", "/v1/cases/\(caseID)/research", [
                "agencies": ["police"], "questions": ["Known?"], "releaseAt": rfc3339(releaseAt.addingTimeInterval(1).rounded),
            ])
            #expect(scheduled.status == 201, "\(scheduled.text)")
            #expect(scheduled.json["requests"][0]["state"].string == "scheduled")
            let requestID = try #require(scheduled.json["requests"][0]["id"].string)
            #expect(try await police.json("GET", "/v1/requests").json["requests"].array.isEmpty)
            #expect(try await police.json("GET", "/v1/requests/\(requestID)").status == 404)

            // The waiter parks; the broker's timer releases the request when the (test) clock reaches releaseAt.
            async let woken = police.json("GET", "/v1/requests?wait=30")
            #expect(await eventually { broker.app.parkedLongPolls == 1 }, "the long-poll never parked")
            broker.clock.advance(by: 10)
            let started = ContinuousClock.now
            let poll = try await woken
            #expect(ContinuousClock.now - started < .seconds(15))
            #expect(poll.json["requests"].array.map { $0["id"].string } == [requestID], "\(poll.text)")
            #expect(try await police.json("GET", "/v1/requests/\(requestID)").status == 200)
        }
    }
}

extension Date {
    /// Whole seconds, as RFC 3339 without fractions carries them.
    var rounded: Date { Date(timeIntervalSince1970: timeIntervalSince1970.rounded(.up)) }
}

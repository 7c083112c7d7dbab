import Foundation
import MaracClient
import Testing
import TestSupport
import Wire

/// SPEC §11.1–11.4 over real mTLS with the shipped `config/panels.json`: each seed's referral
/// rule, the coordinator's decisions, a case listed at two meetings, and the agenda.
@Suite(.serialized) struct ReferralAPITests {
    /// The broker's local date (London; these dates are never near midnight's edge by days).
    static func day(_ offset: Int, months: Int = 0, years: Int = 0, from date: Date = Date()) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "Europe/London")!
        let moved = calendar.date(byAdding: DateComponents(year: years, month: months, day: offset), to: date)!
        let parts = calendar.dateComponents([.year, .month, .day], from: moved)
        return String(format: "%04d-%02d-%02d", parts.year!, parts.month!, parts.day!)
    }

    /// A community (ASB) referral that passes every rule unless a field is overridden.
    static func community(_ overrides: [String: Any] = [:], fields extra: [String: Any] = [:], criteria: [String] = ["potential-escalation"]) -> [String: Any] {
        var fields: [String: Any] = [
            "victim.name": "Vera Neighbour", "victim.dateOfBirth": "1970-05-05",
            "incidents": [["date": day(-10), "what": "noise"], ["date": day(-40), "what": "threats"]],
            "issue.since": day(0, months: -8), "issue.description": "Harassment by a neighbour",
        ]
        for (key, value) in extra { fields[key] = value }
        var body: [String: Any] = ["panel": "community", "caseType": "asb", "fields": fields, "consent": ["status": "obtained"],
                                   "criteria": criteria, "reason": "Escalating harassment, unresolved"]
        for (key, value) in overrides { body[key] = value }
        return body
    }

    @Test func eachSeedsRuleIsScreenedAsItsPanelSays() async throws {
        try await withTestBroker { broker in
            let cast = try await Cast.make(broker, agencies: ["housing", "police"])
            let housing = cast.spocs["housing"]!.client
            let panels = try await housing.json("GET", "/v1/panels")
            #expect(panels.status == 200 && panels.json["panels"].array.map { $0["id"].string } == ["domestic-abuse", "community"], "\(panels.text)")

            // Lewisham: at least 2 records of ASB in the last 3 months (soft: stored, the coordinator decides).
            let one = try await housing.json("POST", "/v1/referrals", Self.community(fields: ["incidents": [["date": Self.day(-10)], ["date": Self.day(-120)]]]))
            #expect(one.status == 201, "\(one.text)")
            let countRule = one.json["screening"].array.first { $0["rule"].string == "countWithin" }
            #expect(countRule?["passed"].bool == false && countRule?["detail"].string?.hasPrefix("1 incident(s)") == true, "\(one.text)")
            let two = try await housing.json("POST", "/v1/referrals", Self.community())
            #expect(two.status == 201 && two.json["screening"].array.allSatisfy { $0["passed"].bool == true }, "\(two.text)")

            // Bexley: adults only (hard). 17 on the meeting's date: refused, every outcome listed.
            let meeting = try await cast.meeting(at: FixtureDates.meetingStart(), title: "Community MARAC")
            let meetingID = try #require(meeting["id"].string)
            // The shipped first panel is the DA one: a community meeting must name its panel.
            let communityMeeting = try await cast.coordinator.client.json("POST", "/v1/meetings",
                                                                         ["title": "CR MARAC", "startsAt": rfc3339(FixtureDates.meetingStart()), "panel": "community"])
            let communityID = try #require(communityMeeting.json["id"].string, "\(communityMeeting.text)")
            #expect(meeting["panel"].string == "domestic-abuse" && communityMeeting.json["panel"].string == "community")
            let start = FixtureDates.meetingStart()
            let seventeen = Self.day(1, years: -18, from: start)   // 18 the day after the meeting
            let minor = try await housing.json("POST", "/v1/referrals", Self.community(["meeting": communityID], fields: ["victim.dateOfBirth": seventeen]))
            #expect(minor.status == 422 && minor.errorCode == "screening_failed", "\(minor.text)")
            let message = minor.json["error"]["message"].string ?? ""
            #expect(message.contains("minimumAge failed (hard): aged 17") && message.contains("countWithin passed"), "\(message)")
            let adult = try await housing.json("POST", "/v1/referrals",
                                               Self.community(["meeting": communityID], fields: ["victim.dateOfBirth": Self.day(0, years: -18, from: start)]))
            #expect(adult.status == 201, "\(adult.text)")

            // Ealing: not solely domestic abuse (hard) and unresolved for 6 months (soft).
            let domestic = try await housing.json("POST", "/v1/referrals", Self.community(["caseType": "domestic-abuse"]))
            #expect(domestic.status == 422 && domestic.errorCode == "screening_failed"
                    && (domestic.json["error"]["message"].string ?? "").contains("excludeCaseTypes failed (hard)"), "\(domestic.text)")
            let recent = try await housing.json("POST", "/v1/referrals", Self.community(fields: ["issue.since": Self.day(0, months: -5)]))
            let unresolved = recent.json["screening"].array.first { $0["rule"].string == "unresolvedFor" }
            #expect(recent.status == 201 && unresolved?["passed"].bool == false, "\(recent.text)")

            // The DA guide: anyone aged 16 or over.
            let da: (String) -> [String: Any] = { birth in
                ["caseType": "domestic-abuse", "fields": ["victim.name": "Dana", "victim.dateOfBirth": birth], "consent": ["status": "obtained"],
                 "criteria": ["visible-high-risk"], "reason": "DASH 15 ticks"]
            }
            let fifteen = try await cast.spocs["police"]!.client.json("POST", "/v1/referrals", da(Self.day(10, years: -16)))
            #expect(fifteen.status == 422 && fifteen.errorCode == "screening_failed", "\(fifteen.text)")
            let sixteen = try await cast.spocs["police"]!.client.json("POST", "/v1/referrals", da(Self.day(0, years: -16)))
            #expect(sixteen.status == 201 && sixteen.json["panel"].string == "domestic-abuse", "\(sixteen.text)")

            // Bad input changes nothing: an unknown criterion (422), a field the policy does not classify, an unknown panel.
            let before = try await cast.coordinator.client.json("GET", "/v1/referrals").json["referrals"].array.count
            let unknownCriterion = try await housing.json("POST", "/v1/referrals", Self.community(criteria: ["gut-feeling"]))
            #expect(unknownCriterion.status == 422 && unknownCriterion.errorCode == "validation_failed"
                    && (unknownCriterion.json["error"]["message"].string ?? "").contains("gut-feeling"), "\(unknownCriterion.text)")
            let unclassified = try await housing.json("POST", "/v1/referrals", Self.community(fields: ["victim.shoeSize": "9"]))
            #expect(unclassified.status == 422 && unclassified.errorCode == "unknown_field", "\(unclassified.text)")
            let noPanel = try await housing.json("POST", "/v1/referrals", Self.community(["panel": "parking"]))
            #expect(noPanel.status == 422 && noPanel.errorCode == "validation_failed", "\(noPanel.text)")
            let wrongPanelMeeting = try await housing.json("POST", "/v1/referrals", Self.community(["meeting": meetingID]))
            #expect(wrongPanelMeeting.status == 422, "a DA meeting for a community referral: \(wrongPanelMeeting.text)")
            #expect(try await cast.coordinator.client.json("GET", "/v1/referrals").json["referrals"].array.count == before)

            // Only SPOCs refer; administrators see no referral.
            #expect(try await cast.coordinator.client.json("POST", "/v1/referrals", Self.community()).status == 403)
            #expect(try await cast.admin.json("GET", "/v1/referrals").status == 403)
        }
    }

    @Test func bexleysReferralDeadlineIsFourteenCalendarDaysBefore() async throws {
        try await withTestBroker { broker in
            let cast = try await Cast.make(broker, agencies: ["housing"])
            let start = FixtureDates.meetingStart()
            let meeting = try await cast.coordinator.client.json("POST", "/v1/meetings", ["title": "CR MARAC", "startsAt": rfc3339(start), "panel": "community"])
            let id = try #require(meeting.json["id"].string)
            // February: no clock change, so 14 calendar days is exactly 14 × 24 hours; acceptance 7 days, agenda 24 hours.
            #expect(meeting.json["referralDeadline"].string == rfc3339(start.addingTimeInterval(-14 * 86_400)), "\(meeting.text)")
            #expect(meeting.json["acceptanceDeadline"].string == rfc3339(start.addingTimeInterval(-7 * 86_400)))
            #expect(meeting.json["agendaAt"].string == rfc3339(start.addingTimeInterval(-86_400)))
            broker.clock.set(start.addingTimeInterval(-14 * 86_400 - 60))
            let inTime = try await cast.spocs["housing"]!.client.json("POST", "/v1/referrals", Self.community(["meeting": id]))
            #expect(inTime.status == 201, "\(inTime.text)")
            broker.clock.set(start.addingTimeInterval(-14 * 86_400 + 60))
            let late = try await cast.spocs["housing"]!.client.json("POST", "/v1/referrals", Self.community(["meeting": id]))
            #expect(late.status == 409 && late.errorCode == "referral_deadline_passed"
                    && (late.json["error"]["message"].string ?? "").contains("next meeting"), "\(late.text)")
            // Without a meeting it is still taken, for the coordinator to place.
            #expect(try await cast.spocs["housing"]!.client.json("POST", "/v1/referrals", Self.community()).status == 201)
        }
    }

    @Test func decisionsCasesAcrossMeetingsAndTheAgenda() async throws {
        try await withTestBroker { broker in
            let cast = try await Cast.make(broker, agencies: ["housing", "police", "probation"])
            let housing = cast.spocs["housing"]!.client, police = cast.spocs["police"]!.client, coordinator = cast.coordinator.client
            let probation = cast.spocs["probation"]!.client
            let first = FixtureDates.meetingStart(), second = FixtureDates.laterMeetingStart()
            let m1 = try #require(try await coordinator.json("POST", "/v1/meetings", ["title": "CR MARAC 1", "startsAt": rfc3339(first), "panel": "community"]).json["id"].string)
            let m2 = try #require(try await coordinator.json("POST", "/v1/meetings", ["title": "CR MARAC 2", "startsAt": rfc3339(second), "panel": "community"]).json["id"].string)

            // Declined: the referring agency sees the advice; another agency sees nothing of it.
            let declinedID = try #require(try await housing.json("POST", "/v1/referrals", Self.community()).json["id"].string)
            let declined = try await coordinator.json("POST", "/v1/referrals/\(declinedID)/decision",
                                                      ["decision": "declined", "reason": "Resolvable locally", "advice": "Hold a multi-professionals meeting first"])
            #expect(declined.status == 200 && declined.json["referral"]["state"].string == "declined", "\(declined.text)")
            let mine = try await housing.json("GET", "/v1/referrals/\(declinedID)")
            #expect(mine.json["decision"]["advice"].string == "Hold a multi-professionals meeting first", "\(mine.text)")
            let theirs = try await police.json("GET", "/v1/referrals/\(declinedID)")
            #expect(theirs.status == 404 && !theirs.text.contains("multi-professionals"), "\(theirs.text)")
            #expect(try await police.json("GET", "/v1/referrals").json["referrals"].array.isEmpty)
            #expect(try await coordinator.json("POST", "/v1/referrals/\(declinedID)/decision", ["decision": "declined", "reason": "x", "advice": "y"]).status == 409)

            // Accepted with a slot: the case and its first listing.
            let referralID = try #require(try await housing.json("POST", "/v1/referrals", Self.community()).json["id"].string)
            let accepted = try await coordinator.json("POST", "/v1/referrals/\(referralID)/decision",
                                                      ["decision": "accepted", "meeting": m1, "slot": "10:30", "reference": "CR-2027-007"])
            #expect(accepted.status == 200, "\(accepted.text)")
            let caseID = try #require(accepted.json["case"]["id"].string)
            #expect(accepted.json["case"]["listings"].array.map { "\($0["meeting"].string ?? "") \($0["kind"].string ?? "") \($0["slot"].string ?? "")" }
                    == ["\(m1) new 10:30"])
            #expect(accepted.json["case"]["state"].string == "open" && accepted.json["case"]["fields"]["victim.name"].string == "Vera Neighbour")
            #expect(try await housing.json("GET", "/v1/referrals/\(referralID)").json["case"].string == caseID)

            // Listed again for review at the second meeting: research defaults to that listing, with its deadlines.
            let relisted = try await coordinator.json("POST", "/v1/cases/\(caseID)/listings", ["meeting": m2, "kind": "review"])
            #expect(relisted.status == 201 && relisted.json["listings"].array.count == 2, "\(relisted.text)")
            #expect(try await coordinator.json("POST", "/v1/cases/\(caseID)/listings", ["meeting": m2]).status == 409)
            let research = try await coordinator.json("POST", "/v1/cases/\(caseID)/research", ["agencies": ["police"], "questions": ["Known?"]])
            #expect(research.status == 201, "\(research.text)")
            let request = research.json["requests"][0]
            #expect(request["meeting"].string == m2 && request["returnDeadline"].string == rfc3339(second.addingTimeInterval(-86_400)), "\(research.text)")
            let forFirst = try await coordinator.json("POST", "/v1/cases/\(caseID)/research", ["agencies": ["police"], "questions": ["Known?"], "meeting": m1])
            #expect(forFirst.status == 201 && forFirst.json["requests"][0]["returnDeadline"].string == rfc3339(first.addingTimeInterval(-86_400)))

            // The agenda: the coordinator any time, with the case; invited SPOCs from agendaAt, references only.
            let coordinatorAgenda = try await coordinator.json("GET", "/v1/meetings/\(m1)/agenda")
            #expect(coordinatorAgenda.json["items"][0]["case"].string == caseID && coordinatorAgenda.json["items"][0]["slot"].string == "10:30",
                    "\(coordinatorAgenda.text)")
            #expect(try await police.json("GET", "/v1/meetings/\(m1)/agenda").status == 404, "before agendaAt")
            broker.clock.set(first.addingTimeInterval(-86_400 + 1))
            let policeAgenda = try await police.json("GET", "/v1/meetings/\(m1)/agenda")
            #expect(policeAgenda.status == 200, "\(policeAgenda.text)")
            let item = policeAgenda.json["items"][0]
            #expect(item["reference"].string == "CR-2027-007" && item["kind"].string == "new" && !item["case"].exists && !item["agencies"].exists)
            #expect(!policeAgenda.text.contains("Vera") && !policeAgenda.text.contains(caseID), "no field and no case id: \(policeAgenda.text)")
            // Housing referred the case, so it is invited to the meeting that hears it (the referrer represents the case).
            #expect(try await housing.json("GET", "/v1/meetings/\(m1)/agenda").status == 200)
            // Probation has no request and no referral here: 404 — until the coordinator invites it.
            #expect(try await probation.json("GET", "/v1/meetings/\(m1)/agenda").status == 404)
            #expect(try await coordinator.json("POST", "/v1/meetings/\(m1)/invitations", ["agencies": ["probation"]]).status == 200)
            #expect(try await probation.json("GET", "/v1/meetings/\(m1)/agenda").status == 200)
            #expect(try await cast.admin.json("GET", "/v1/meetings/\(m1)/agenda").status == 403)

            // Acceptance after the acceptance deadline needs urgent with a reason.
            let lateID = try #require(try await housing.json("POST", "/v1/referrals", Self.community()).json["id"].string)
            let late = try await coordinator.json("POST", "/v1/referrals/\(lateID)/decision", ["decision": "accepted", "meeting": m2])
            #expect(late.status == 200, "m2's acceptance deadline is a week after m1's agenda: \(late.text)")
            let lateForFirst = try #require(try await housing.json("POST", "/v1/referrals", Self.community()).json["id"].string)
            let refused = try await coordinator.json("POST", "/v1/referrals/\(lateForFirst)/decision", ["decision": "accepted", "meeting": m1])
            #expect(refused.status == 409 && (refused.json["error"]["message"].string ?? "").contains("urgent"), "\(refused.text)")
            let urgent = try await coordinator.json("POST", "/v1/referrals/\(lateForFirst)/decision",
                                                    ["decision": "accepted", "meeting": m1, "urgent": true, "reason": "Threats to kill yesterday"])
            #expect(urgent.status == 200 && urgent.json["referral"]["decision"]["urgent"].bool == true, "\(urgent.text)")

            // Redirected: a new referral in the other panel, screened by its rules (a community case cannot go to the DA panel).
            let redirectID = try #require(try await housing.json("POST", "/v1/referrals", Self.community()).json["id"].string)
            let redirect = try await coordinator.json("POST", "/v1/referrals/\(redirectID)/decision",
                                                      ["decision": "redirected", "panel": "domestic-abuse", "reason": "Intimate partner"])
            #expect(redirect.status == 422 && redirect.errorCode == "screening_failed", "asb is not a DA case type: \(redirect.text)")
            #expect(try await housing.json("GET", "/v1/referrals/\(redirectID)").json["state"].string == "submitted", "nothing half-stored")
            // Screening found intimate-partner abuse: redirected with its case type changed, screened again by the DA panel.
            for (body, named) in [(["decision": "redirected", "panel": "domestic-abuse", "reason": "Intimate partner", "caseType": "Domestic Abuse"] as [String: Any], "caseType"),
                                  (["decision": "declined", "reason": "No", "advice": "Local", "caseType": "domestic-abuse"], "caseType")] {
                let wrong = try await coordinator.json("POST", "/v1/referrals/\(redirectID)/decision", body)
                #expect(wrong.status == 422 && (wrong.json["error"]["message"].string ?? "").contains(named), "\(body): \(wrong.text)")
            }
            let retyped = try await coordinator.json("POST", "/v1/referrals/\(redirectID)/decision",
                                                     ["decision": "redirected", "panel": "domestic-abuse", "reason": "Intimate partner", "caseType": "domestic-abuse"])
            let movedID = try #require(retyped.json["referral"]["decision"]["referral"].string, "\(retyped.text)")
            let moved = try await coordinator.json("GET", "/v1/referrals/\(movedID)")
            #expect(moved.json["panel"].string == "domestic-abuse" && moved.json["caseType"].string == "domestic-abuse"
                    && moved.json["redirectedFrom"].string == redirectID && moved.json["state"].string == "submitted", "\(moved.text)")
            #expect(try await housing.json("GET", "/v1/referrals/\(redirectID)").json["caseType"].string == "asb", "the original keeps what was referred")

            // Everything survives a restart (replayed from the journal).
            try await broker.restart()
            let again = try cast.reconnected()
            let replayed = try await again.coordinator.client.json("GET", "/v1/meetings/\(m1)/agenda")
            let items = replayed.json["items"].array
            #expect(items.count == 2 && items.first?["slot"].string == "10:30" && items.last?["slot"].exists == false, "slotted first: \(replayed.text)")
            #expect(try await again.spocs["housing"]!.client.json("GET", "/v1/referrals/\(declinedID)").json["decision"]["advice"].exists)
        }
    }


    /// SPEC §11.6 over mTLS: a repeat within 12 months is named to the coordinator only; after 13 months it is not.
    @Test func aRepeatIsToldToTheCoordinatorOnlyAndOnlyWithinTheWindow() async throws {
        // Certificates that outlive the 13 months the clock moves on.
        let broker = try TestBroker { $0.credentialValidityDays = 800 }
        do {
            let cast = try await Cast.make(broker, agencies: ["police"])
            let police = cast.spocs["police"]!.client, coordinator = cast.coordinator.client
            let start = FixtureDates.meetingStart()
            let meetingID = try #require(try await cast.meeting(at: start)["id"].string)
            let heard = try #require(try await cast.case(meeting: meetingID, fields: ["victim.name": "Dana Example", "victim.dateOfBirth": "1990-01-01"])["id"].string)
            let refer: (String) -> [String: Any] = { name in
                ["caseType": "domestic-abuse", "fields": ["victim.name": name, "victim.dateOfBirth": "1990-01-01"], "consent": ["status": "obtained"],
                 "criteria": ["repeat"], "reason": "Further incident"]
            }
            broker.clock.set(start.addingTimeInterval(30 * 86_400))
            let again = try await police.json("POST", "/v1/referrals", refer("DANA  example"))
            let fresh = try await police.json("POST", "/v1/referrals", refer("Someone Else"))
            #expect(again.status == 201 && fresh.status == 201 && !again.text.contains("repeatOf") && again.json.keys == fresh.json.keys, "\(again.text)")
            let againID = try #require(again.json["id"].string)
            let spocView = try await police.json("GET", "/v1/referrals/\(againID)")
            #expect(!spocView.text.contains("repeatOf") && !spocView.text.contains(heard), "\(spocView.text)")
            let coordinatorView = try await coordinator.json("GET", "/v1/referrals/\(againID)")
            #expect(coordinatorView.json["repeatOf"][0]["case"].string == heard && coordinatorView.json["repeatOf"][0]["listedAt"].string == rfc3339(start),
                    "\(coordinatorView.text)")
            broker.clock.set(start.addingTimeInterval(396 * 86_400))
            let late = try #require(try await police.json("POST", "/v1/referrals", refer("Dana Example")).json["id"].string)
            #expect(try await coordinator.json("GET", "/v1/referrals/\(late)").json["repeatOf"].array.isEmpty, "13 months on: not a repeat")
        } catch {
            await broker.stop()
            throw error
        }
        await broker.stop()
    }
}

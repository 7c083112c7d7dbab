import Foundation
import MaracClient
import Testing
import TestSupport
import Wire

/// SPEC §11.5 and closure over real mTLS: actions agreed at the meeting for two agencies,
/// each SPOC sees and completes only its own, a long-poll wakes on a new action, overdue is
/// shown, the case cannot close while any is open, and a closed case takes nothing more.
@Suite(.serialized) struct ActionAPITests {
    @Test func actionsAreFollowedToCompletionAndTheCaseIsClosed() async throws {
        try await withTestBroker { broker in
            let cast = try await Cast.make(broker, agencies: ["police", "housing"])
            let coordinator = cast.coordinator.client, police = cast.spocs["police"]!.client, housing = cast.spocs["housing"]!.client
            let start = FixtureDates.meetingStart()
            let meetingID = try #require(try await cast.meeting(at: start)["id"].string)
            let next = try #require(try await cast.meeting(at: FixtureDates.laterMeetingStart(), title: "Next")["id"].string)
            let caseID = try #require(try await cast.case(meeting: meetingID, fields: ["victim.name": "Jane Doe"])["id"].string)
            let agree: (String, String, Date) -> [String: Any] = { agency, text, due in ["ownerAgency": agency, "text": text, "dueAt": rfc3339(due)] }

            // Not before the meeting.
            let early = try await coordinator.json("POST", "/v1/cases/\(caseID)/actions", agree("police", "Serve the notice", start.addingTimeInterval(86_400)))
            #expect(early.status == 409 && (early.json["error"]["message"].string ?? "").contains("not been heard"), "\(early.text)")

            broker.clock.set(start.addingTimeInterval(3_600))
            var created = try await coordinator.json("POST", "/v1/cases/\(caseID)/actions",
                                                     agree("police", "Serve the non-molestation order by Friday", start.addingTimeInterval(3 * 86_400)).merging(["rapid": true]) { $1 })
            #expect(created.status == 201 && created.json["state"].string == "open" && created.json["rapid"].bool == true
                    && created.json["meeting"].string == meetingID, "\(created.text)")
            let policeAction = try #require(created.json["id"].string)
            created = try await coordinator.json("POST", "/v1/cases/\(caseID)/actions", agree("housing", "Fit a door alarm", start.addingTimeInterval(86_400)))
            let housingAction = try #require(created.json["id"].string)

            // Each SPOC sees its agency's actions only; others' are 404; administrators and auditors never see action text.
            let page = try await police.json("GET", "/v1/actions")
            #expect(page.json["actions"].array.map { $0["id"].string } == [policeAction], "\(page.text)")
            let cursor = try #require(page.json["cursor"].string)
            #expect(try await police.json("GET", "/v1/actions/\(housingAction)").status == 404)
            #expect(try await housing.json("POST", "/v1/actions/\(policeAction)/complete", ["note": "done"]).status == 404)
            let adminRead = try await cast.admin.json("GET", "/v1/actions/\(policeAction)")
            #expect(adminRead.status == 403 && !adminRead.text.contains("non-molestation"), "\(adminRead.text)")
            #expect(try await cast.admin.json("GET", "/v1/meetings/\(meetingID)/status").status == 403)

            // A parked long-poll wakes when a new action for its agency is durable.
            let poll = Task { try await police.json("GET", "/v1/actions?after=\(cursor)&wait=20") }
            try await Task.sleep(for: .milliseconds(300))
            let third = try #require(try await coordinator.json("POST", "/v1/cases/\(caseID)/actions",
                                                                agree("police", "Check bail conditions", start.addingTimeInterval(10 * 86_400))).json["id"].string)
            let woken = try await poll.value
            #expect(woken.status == 200 && woken.json["actions"].array.map { $0["id"].string } == [third], "\(woken.text)")

            // Completed with a note, once.
            let done = try await police.json("POST", "/v1/actions/\(policeAction)/complete", ["note": "Served in person on Tuesday"])
            #expect(done.status == 200 && done.json["state"].string == "completed" && done.json["note"].string == "Served in person on Tuesday", "\(done.text)")
            #expect(try await police.json("POST", "/v1/actions/\(policeAction)/complete", ["note": "again"]).status == 409)

            // Overdue: housing's was due a day after the meeting.
            broker.clock.set(start.addingTimeInterval(2 * 86_400))
            let status = try await coordinator.json("GET", "/v1/meetings/\(meetingID)/status")
            let states = Dictionary(uniqueKeysWithValues: status.json["actions"].array.map { ($0["id"].string ?? "", $0["state"].string ?? "") })
            #expect(states == [policeAction: "completed", housingAction: "overdue", third: "open"], "\(status.text)")
            // Statistics: counts only, for the coordinator, the auditor and the administrator (never a SPOC).
            let period = "from=\(RFC3339.format(start).prefix(10))&to=\(RFC3339.format(start).prefix(10))"
            let stats = try await cast.admin.json("GET", "/v1/panels/domestic-abuse/statistics?\(period)")
            #expect(stats.status == 200 && stats.json["meetings"].int == 1 && stats.json["casesHeard"]["new"].int == 1, "\(stats.text)")
            let actions = stats.json["actions"]
            #expect(actions["agreed"].int == 3 && actions["completedOnTime"].int == 1 && actions["overdue"].int == 1 && actions["open"].int == 1
                    && actions["overdueByAgency"]["housing"].int == 1, "\(stats.text)")
            #expect(!stats.text.contains("door alarm") && !stats.text.contains(caseID) && !stats.text.contains("Jane"), "counts only: \(stats.text)")
            #expect(try await police.json("GET", "/v1/panels/domestic-abuse/statistics").status == 403)
            #expect(try await cast.admin.json("GET", "/v1/panels/domestic-abuse/statistics?from=2027-13-01").status == 400)

            // The next listing's agenda shows the open actions: all to the coordinator, its own to each invited SPOC.
            #expect(try await coordinator.json("POST", "/v1/cases/\(caseID)/listings", ["meeting": next]).status == 201)
            #expect(try await coordinator.json("POST", "/v1/meetings/\(next)/invitations", ["agencies": ["police", "housing"]]).status == 200)
            #expect(try await coordinator.json("GET", "/v1/meetings/\(next)/agenda").json["items"][0]["openActions"].int == 2)
            broker.clock.set(FixtureDates.laterMeetingStart().addingTimeInterval(-3_600))
            #expect(try await police.json("GET", "/v1/meetings/\(next)/agenda").json["items"][0]["openActions"].int == 1)

            // Closure is refused while actions are open, naming them; nothing changes.
            let refused = try await coordinator.json("POST", "/v1/cases/\(caseID)/close", ["reason": "Risk reduced"])
            #expect(refused.status == 409 && refused.errorCode == "actions_open"
                    && (refused.json["error"]["message"].string ?? "").contains(housingAction), "\(refused.text)")
            #expect(try await coordinator.json("GET", "/v1/cases/\(caseID)").json["state"].string == "open")
            #expect(try await housing.json("POST", "/v1/actions/\(housingAction)/cancel", ["reason": "x"]).status == 403)
            #expect(try await coordinator.json("POST", "/v1/actions/\(housingAction)/cancel", ["reason": "Alarm fitted by the landlord"]).json["state"].string == "cancelled")
            #expect(try await police.json("POST", "/v1/actions/\(third)/complete", ["note": "Bail conditions checked"]).status == 200)
            let closed = try await coordinator.json("POST", "/v1/cases/\(caseID)/close", ["reason": "Risk reduced; agencies agree"])
            #expect(closed.status == 200 && closed.json["state"].string == "closed" && closed.json["closedAt"].exists, "\(closed.text)")

            // A closed case takes no research, actions, listings or corrections; it stays readable.
            #expect(try await coordinator.json("POST", "/v1/cases/\(caseID)/research", ["agencies": ["police"], "questions": ["Known?"], "meeting": next]).status == 409)
            #expect(try await coordinator.json("POST", "/v1/cases/\(caseID)/actions", agree("police", "More", FixtureDates.laterMeetingStart().addingTimeInterval(86_400))).status == 409)
            #expect(try await coordinator.json("PATCH", "/v1/cases/\(caseID)/fields", ["set": ["victim.alias": "J"], "reason": "late"]).status == 409)
            #expect(try await coordinator.json("GET", "/v1/cases/\(caseID)").json["fields"]["victim.name"].string == "Jane Doe")

            let final = try await coordinator.json("GET", "/v1/panels/domestic-abuse/statistics?\(period)").json["actions"]
            #expect(final["completedOnTime"].int == 2 && final["cancelled"].int == 1 && final["overdue"].int == 0 && final["open"].int == 0, "\(final)")

            // All of it survives a restart.
            try await broker.restart()
            let again = try cast.reconnected()
            #expect(try await again.coordinator.client.json("GET", "/v1/panels/domestic-abuse/statistics?\(period)").json["actions"].description == final.description)
            #expect(try await again.spocs["police"]!.client.json("GET", "/v1/actions/\(policeAction)").json["note"].string == "Served in person on Tuesday")
            #expect(try await again.coordinator.client.json("GET", "/v1/cases/\(caseID)").json["state"].string == "closed")
        }
    }
}

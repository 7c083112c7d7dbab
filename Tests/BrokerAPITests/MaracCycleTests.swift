import Engine
import Foundation
import Journal
import MaracClient
import Testing
import TestSupport
import Wire

/// The whole cycle the Ealing page describes (SPEC §11), end to end over real mTLS and real files:
/// a community referral screened and accepted, research returned, the meeting, two SMART actions for
/// two agencies (one completed on time, one overdue), the review listing at the next meeting with its
/// open action on the agenda, closure refused then accepted, a repeat referral told to the coordinator
/// within 12 months and not after, statistics that match, and erasure at the end of retention by the
/// broker's own sweep, after which the case cannot be read from disk while the journal verifies and restarts.
@Suite(.serialized) struct MaracCycleTests {
    static let caseMarkers = ["EalingReasonMk", "EalingQuestionMk", "EalingReturnMk", "EalingActionMk", "EalingNoteMk", "EalingClosureMk"]

    @Test func theEalingCycleFromReferralToErasure() async throws {
        // Certificates that outlive the two years the clock moves on.
        let broker = try TestBroker { $0.credentialValidityDays = 825 }
        do {
            let cast = try await Cast.make(broker, agencies: ["housing", "police"])
            // The auditor reads statistics and the audit trail (the bootstrap admin's certificate expires within the two years).
            let auditorCredential = try await broker.enrol("auditor", agency: "community-safety", role: "auditor", admin: cast.admin)
            let coordinator = cast.coordinator.client, housing = cast.spocs["housing"]!.client, police = cast.spocs["police"]!.client
            let first = FixtureDates.meetingStart(), second = FixtureDates.laterMeetingStart()
            let m1 = try #require(try await coordinator.json("POST", "/v1/meetings", ["title": "CR MARAC", "startsAt": rfc3339(first), "panel": "community"]).json["id"].string)
            let m2 = try #require(try await coordinator.json("POST", "/v1/meetings", ["title": "CR MARAC", "startsAt": rfc3339(second), "panel": "community"]).json["id"].string)

            // Referral: Ealing's "unresolved for 6 months", Lewisham's "2 incidents in 3 months", adults only — all met.
            let referred = try await housing.json("POST", "/v1/referrals", ReferralAPITests.community(["meeting": m1, "reason": "EalingReasonMk"]))
            #expect(referred.status == 201 && referred.json["screening"].array.allSatisfy { $0["passed"].bool == true }, "\(referred.text)")
            let referralID = try #require(referred.json["id"].string)
            let accepted = try await coordinator.json("POST", "/v1/referrals/\(referralID)/decision", ["decision": "accepted", "meeting": m1, "reference": "EAL-CR-01"])
            let caseID = try #require(accepted.json["case"]["id"].string, "\(accepted.text)")

            // Research before the meeting, both returned on time.
            let dispatched = try await coordinator.json("POST", "/v1/cases/\(caseID)/research", ["agencies": ["police", "housing"], "questions": ["EalingQuestionMk?"]])
            #expect(dispatched.status == 201, "\(dispatched.text)")
            for request in dispatched.json["requests"].array {
                let client = request["agency"].string == "police" ? police : housing
                let answer: [String: Any] = ["knownToAgency": true, "summary": "EalingReturnMk", "answers": ["Yes"], "withheld": []]
                #expect(try await client.json("PUT", "/v1/requests/\(request["id"].string ?? "")/return", answer).status == 200)
            }

            // The meeting agrees two actions; police completes on time, housing's passes its due date.
            broker.clock.set(first.addingTimeInterval(3_600))
            let agree: (String, Double) -> [String: Any] = { agency, days in
                ["ownerAgency": agency, "text": "EalingActionMk for \(agency)", "dueAt": rfc3339(first.addingTimeInterval(days * 86_400))]
            }
            let policeAction = try #require(try await coordinator.json("POST", "/v1/cases/\(caseID)/actions", agree("police", 3)).json["id"].string)
            let housingAction = try #require(try await coordinator.json("POST", "/v1/cases/\(caseID)/actions", agree("housing", 1)).json["id"].string)
            broker.clock.set(first.addingTimeInterval(2 * 86_400))
            #expect(try await police.json("POST", "/v1/actions/\(policeAction)/complete", ["note": "EalingNoteMk"]).status == 200)
            let status = try await coordinator.json("GET", "/v1/meetings/\(m1)/status")
            #expect(Set(status.json["actions"].array.map { "\($0["ownerAgency"].string ?? "") \($0["state"].string ?? "")" }) == ["police completed", "housing overdue"], "\(status.text)")

            // Reviewed at the next meeting: the agenda carries the open action; closure is refused while it is open.
            #expect(try await coordinator.json("POST", "/v1/cases/\(caseID)/listings", ["meeting": m2, "kind": "review"]).status == 201)
            let agenda = try await coordinator.json("GET", "/v1/meetings/\(m2)/agenda")
            #expect(agenda.json["items"][0]["kind"].string == "review" && agenda.json["items"][0]["openActions"].int == 1, "\(agenda.text)")
            broker.clock.set(second.addingTimeInterval(3_600))
            let refused = try await coordinator.json("POST", "/v1/cases/\(caseID)/close", ["reason": "EalingClosureMk"])
            #expect(refused.status == 409 && refused.errorCode == "actions_open", "\(refused.text)")
            #expect(try await housing.json("POST", "/v1/actions/\(housingAction)/complete", ["note": "CCTV fitted late"]).status == 200)
            let closed = try await coordinator.json("POST", "/v1/cases/\(caseID)/close", ["reason": "EalingClosureMk"])
            #expect(closed.status == 200 && closed.json["state"].string == "closed", "\(closed.text)")

            // Statistics for the two meetings' month: counts only, matching the above.
            let month = String(rfc3339(first).prefix(7))
            let stats = try await auditorCredential.client.json("GET", "/v1/panels/community/statistics?from=\(month)-01&to=\(month)-28")
            #expect(stats.json["meetings"].int == 2 && stats.json["casesHeard"]["new"].int == 1 && stats.json["casesHeard"]["review"].int == 1, "\(stats.text)")
            #expect(stats.json["returns"]["onTime"].int == 2 && stats.json["actions"]["completedOnTime"].int == 1
                    && stats.json["actions"]["completedLate"].int == 1 && stats.json["actions"]["overdue"].int == 0, "\(stats.text)")
            #expect(!stats.text.contains("EAL-CR-01") && !stats.text.contains(caseID), "counts only: \(stats.text)")

            // A repeat within 12 months is told to the coordinator, not to the referrer; after 12 months it is not one.
            broker.clock.set(second.addingTimeInterval(60 * 86_400))
            let again = try await housing.json("POST", "/v1/referrals", ReferralAPITests.community(["reason": "Incidents again"]))
            let againID = try #require(again.json["id"].string, "\(again.text)")
            let referrerView = try await housing.json("GET", "/v1/referrals/\(againID)")
            #expect(!again.text.contains("repeatOf") && !referrerView.text.contains("repeatOf") && !referrerView.text.contains(caseID), "\(referrerView.text)")
            #expect(try await coordinator.json("GET", "/v1/referrals/\(againID)").json["repeatOf"][0]["case"].string == caseID)
            broker.clock.set(second.addingTimeInterval(400 * 86_400))
            let later = try #require(try await housing.json("POST", "/v1/referrals", ReferralAPITests.community(["reason": "Much later"])).json["id"].string)
            #expect(try await coordinator.json("GET", "/v1/referrals/\(later)").json["repeatOf"].array.isEmpty)

            // 24 months after closure the broker's own sweep (run at every start, and daily) erases the case.
            broker.clock.set(second.addingTimeInterval(3_600 + 24 * 31 * 86_400))
            try await broker.restart()
            let now = try cast.reconnected()
            let stub = try await now.coordinator.client.json("GET", "/v1/cases/\(caseID)")
            #expect(stub.json.keys == ["id", "reference", "state", "erasedAt"] && stub.json["state"].string == "erased", "\(stub.text)")
            let trail = try await auditorCredential.reconnected(to: broker).client.auditTrail()
            #expect(trail.records.contains { $0["action"].string == "case.erase" && $0["principal"].string == "system" && $0["object"].string == caseID })
            await broker.stop()
            let disk = try ErasureAPITests.everythingReadable(broker)
            for marker in Self.caseMarkers { #expect(!disk.contains(marker), "\(marker) is readable after erasure") }
            let report = Journal.verify(directory: broker.directory.path("data"), key: try KeyFile.load(from: broker.pki.dataKeyPath),
                                        anchorPath: broker.pki.journalAnchorPath)
            #expect(report.isValid, "\(report)")
            try broker.start()
            let restarted = try cast.reconnected()
            #expect(try await restarted.coordinator.client.json("GET", "/v1/cases/\(caseID)").text == stub.text)
            let kept = try await auditorCredential.reconnected(to: broker).client.json("GET", "/v1/panels/community/statistics?from=\(month)-01&to=\(month)-28")
            #expect(kept.json["actions"].description == stats.json["actions"].description && kept.json["returns"].description == stats.json["returns"].description,
                    "counts survive erasure: \(kept.text)")
        } catch {
            await broker.stop()
            throw error
        }
        await broker.stop()
    }
}

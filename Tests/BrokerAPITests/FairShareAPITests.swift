@_spi(Testing) import BrokerAPI
import Foundation
import MaracClient
import Testing
import TestSupport

/// SPEC §10 fair share and prompt refusal: one principal cannot hold every long-poll slot,
/// and a parked long-poll of someone just shut out is answered 403 within a second, not at its timeout.
@Suite(.serialized) struct FairShareAPITests {
    @Test func onePrincipalMayParkOnlyItsShareOfLongPolls() async throws {
        try await withTestBroker { broker in
            let cast = try await Cast.make(broker, agencies: ["police"])
            let spoc = cast.spocs["police"]!
            let deputy = try await broker.enrol("police-deputy", agency: "police", role: "spoc", admin: cast.admin)
            let limit = BrokerConfiguration().maxLongPollsPerPrincipal
            #expect(limit == 4)
            let polls = Task {
                try await withThrowingTaskGroup(of: Int.self) { group in
                    for _ in 0..<limit {
                        let client = try spoc.reconnected(to: broker).client
                        group.addTask { try await client.json("GET", "/v1/requests?wait=5").status }
                    }
                    return try await group.reduce(into: [Int]()) { $0.append($1) }
                }
            }
            #expect(await eventually { broker.app.parkedLongPolls == limit }, "\(broker.app.parkedLongPolls) parked")
            let started = ContinuousClock.now
            let fifth = try await spoc.reconnected(to: broker).client.json("GET", "/v1/requests?wait=30")
            #expect(fifth.status == 429 && fifth.errorCode == "too_many_waiters" && fifth.text.contains("maxLongPollsPerPrincipal"), "\(fifth.text)")
            #expect(ContinuousClock.now - started < .seconds(20), "refused at once, not parked for its 30 s")
            // Without wait= the same principal is still answered; a colleague still parks; the coordinator is served.
            #expect(try await spoc.reconnected(to: broker).client.json("GET", "/v1/requests").status == 200)
            async let colleague = deputy.client.json("GET", "/v1/requests?wait=1")
            #expect(try await cast.coordinator.client.json("GET", "/v1/meetings").status == 200)
            #expect(try await colleague.status == 200)
            #expect(try await polls.value == Array(repeating: 200, count: limit))
            // Once they are answered, the share is free again.
            #expect(try await spoc.reconnected(to: broker).client.json("GET", "/v1/requests?wait=1").status == 200)
        }
    }

    /// Each way of shutting a principal out wakes its parked long-poll with the 403 as soon as the change
    /// is durable (SPEC §10: within 1 s), not at the poll's timeout.
    @Test(arguments: ["revoke", "disable principal", "disable agency", "change role"])
    func shuttingAPrincipalOutAnswersItsParkedPollAtOnce(_ how: String) async throws {
        try await withTestBroker { broker in
            let cast = try await Cast.make(broker, agencies: ["police"])
            let spoc = cast.spocs["police"]!
            let parked = Task { try await spoc.client.json("GET", "/v1/requests?wait=30") }
            #expect(await eventually { broker.app.parkedLongPolls == 1 })
            let change: ClientResponse
            switch how {
            case "revoke": change = try await cast.admin.json("POST", "/v1/credentials/\(spoc.serial)/revoke", ["reason": "phone lost"])
            case "disable principal": change = try await cast.admin.json("PATCH", "/v1/principals/police-spoc", ["active": false])
            case "disable agency": change = try await cast.admin.json("PATCH", "/v1/agencies/police", ["active": false])
            default: change = try await cast.admin.json("PATCH", "/v1/principals/police-spoc", ["role": "auditor"])
            }
            #expect(change.status == 200, "\(change.text)")
            // Woken by the change's commit, not by the poll's own 30 s timeout. (The wake-up is immediate
            // by design; the bound here is loose because CI machines are shared and slow, not a latency claim.)
            let started = ContinuousClock.now
            let answer = try await parked.value
            let waited = ContinuousClock.now - started
            let expected = ["revoke": "credential_revoked", "disable principal": "principal_disabled",
                            "disable agency": "agency_inactive", "change role": "credential_not_approved"][how]
            #expect(answer.status == 403 && answer.errorCode == expected, "\(how): \(answer.text)")
            #expect(waited < .seconds(5), "\(how): answered \(waited) after the change was acknowledged")
        }
    }
}

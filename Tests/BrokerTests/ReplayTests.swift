import Foundation
import Testing
@testable import Broker

@Suite("Replay and snapshots")
struct ReplayTests {
    /// A scenario taken through every kind of event.
    func busy() throws -> Scenario {
        var s = try Scenario()
        _ = try s.h.run(s.h.broker.createAgency(NewAgency(id: "fire-rescue", name: "Fire", kind: .nonCore), by: s.h.admin, env: s.h.env))
        _ = try s.h.run(s.h.broker.updateAgency(id: "fire-rescue", AgencyPatch(active: false), by: s.h.admin, env: s.h.env))
        _ = try s.h.run(s.h.broker.updatePrincipal(id: "aud", PrincipalPatch(name: "Audrey"), by: s.h.admin, env: s.h.env))
        _ = try s.h.run(s.h.broker.revokeCredential(serial: s.auditor.serial, reason: "replaced", by: s.h.admin, env: s.h.env))
        let requests = try s.h.run(s.dispatch(["police", "housing"])).requests
        _ = try s.h.run(s.dispatch(["health"], releaseAt: date("2027-03-10T09:00:00Z")))
        _ = try s.h.run(s.h.broker.readRequest(id: requests[0].id, by: s.police, env: s.h.env))
        _ = try s.h.run(s.h.broker.submitReturn(requestID: requests[0].id, s.answer("p"), by: s.police, env: s.h.env))
        _ = try s.h.run(s.h.broker.grantExtension(requestID: requests[1].id, ExtensionGrant(until: date("2027-03-31T20:00:00Z"), reason: "leave"),
                                                  by: s.coordinator, env: s.h.env))
        s.h.now = date("2027-03-10T09:00:00Z")
        for entry in s.h.broker.releaseDue(env: s.h.env) { s.h.commit(entry) }
        _ = try s.h.run(s.h.broker.readCase(id: s.caseRecord.id, by: s.coordinator, env: s.h.env))
        return s
    }

    @Test("Replaying the journal into a fresh state reproduces it exactly")
    func replay() throws {
        let s = try busy()
        let replayed = s.h.replayed()
        #expect(replayed == s.h.state)
        #expect(replayed.lastSeq == UInt64(s.h.journal.count))
        // A broker over the replayed state answers the same.
        let again = Domain(state: replayed, policy: s.h.broker.policy, rules: s.h.broker.rules)
        let env = s.h.env
        #expect(json(try again.meetingStatus(id: s.meeting.id, by: s.coordinator, env: env).get().reply)
                == json(try s.h.broker.meetingStatus(id: s.meeting.id, by: s.coordinator, env: env).get().reply))
    }

    @Test("BrokerState round-trips through JSON exactly")
    func snapshot() throws {
        let s = try busy()
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let data = try encoder.encode(s.h.state)
        let decoded = try JSONDecoder().decode(BrokerState.self, from: data)
        #expect(decoded == s.h.state)
        #expect(try encoder.encode(decoded) == data)
        // And with ISO 8601 dates plus fractional seconds the API might use for snapshots.
        var state = s.h.state
        state.apply(Entry(at: Date(timeIntervalSince1970: 1_806_570_000.123456), actor: nil, audit: AuditDetail(action: "x", object: "y"), events: []),
                    position: ChainPosition(seq: 999, hash: "h", prevHash: "p"))
        #expect(try JSONDecoder().decode(BrokerState.self, from: encoder.encode(state)) == state)
    }

    @Test("Entries decided but not applied change nothing (decide is pure)")
    func decidePure() throws {
        var s = try Scenario()
        let before = s.h.state
        _ = s.dispatch(["police"])
        _ = s.h.broker.readCase(id: s.caseRecord.id, by: s.coordinator, env: s.h.env)
        #expect(s.h.state == before)
    }

    @Test("Apply is total: events about unknown objects are ignored")
    func total() {
        var state = BrokerState()
        state.apply(Entry(at: Date(), actor: nil, audit: nil, events: [
            .requestReleased(request: "x", at: Date()), .requestAcknowledged(request: "x", at: Date(), principal: "p"),
            .extensionGranted(request: "x", until: Date(), reason: "r"), .consentRecorded(case: "c", consent: Consent(status: .obtained)),
            .credentialRevoked(serial: "AA", at: Date(), reason: "r"),
        ]), position: ChainPosition(seq: 1, hash: "h1", prevHash: ""))
        #expect(state.requests.isEmpty && state.cases.isEmpty && state.credentials.isEmpty && state.lastSeq == 1)
    }
}

import Foundation
import Testing
@testable import Broker

/// `limits.maxReturnVersionsPerRequest` and `limits.maxReturnBytesPerRequest`:
/// a return at the limit is stored; one past it is 409 `return_limit_reached`
/// naming the limit, and nothing is journaled.
@Suite("Return limits")
struct ReturnLimitTests {
    func limited(_ s: inout Scenario, _ limits: ReturnLimits) {
        s.h.broker = Domain(state: s.h.state, policy: s.h.broker.policy, rules: s.h.broker.rules, returnLimits: limits)
    }

    @Test("Versions: 20 by default; the 21st is refused and nothing is stored")
    func defaultVersions() throws {
        var s = try Scenario()
        #expect(ReturnLimits.default == ReturnLimits(maxVersions: 20, maxBytes: 1_048_576))
        #expect(s.h.broker.returnLimits == .default)
        let request = try s.h.run(s.dispatch(["police"])).requests[0]
        for index in 1...20 {
            let stored = try s.h.run(s.h.broker.submitReturn(requestID: request.id, s.answer("v\(index)"), by: s.police, env: s.h.env))
            #expect(stored.version == index)
        }
        let before = s.h.journal.count
        let refused = try s.h.refusal(s.h.broker.submitReturn(requestID: request.id, s.answer("v21"), by: s.police, env: s.h.env))
        #expect(refused.code == .returnLimitReached && refused.code.httpStatus == 409)
        #expect(refused.message.hasPrefix("limits.maxReturnVersionsPerRequest: ") && refused.message.contains("20"), "\(refused.message)")
        #expect(s.h.journal.count == before && s.h.state.requests[request.id]?.returns.count == 20)
    }

    @Test("Versions: a configured limit of 3")
    func configuredVersions() throws {
        var s = try Scenario()
        limited(&s, ReturnLimits(maxVersions: 3, maxBytes: 1 << 20))
        let request = try s.h.run(s.dispatch(["police"])).requests[0]
        for index in 1...3 { try s.h.run(s.h.broker.submitReturn(requestID: request.id, s.answer("v\(index)"), by: s.police, env: s.h.env)) }
        let refused = try s.h.refusal(s.h.broker.submitReturn(requestID: request.id, s.answer("v4"), by: s.police, env: s.h.env))
        #expect(refused.code == .returnLimitReached && refused.message.contains("the most allowed is 3"), "\(refused.message)")
        // The limit is per request: another request of the same agency still takes returns.
        let other = try s.h.run(s.h.broker.createCase(NewCase(meeting: s.meeting.id, reference: "R-2", fields: ["victim.name": .string("V")],
                                                              consent: Consent(status: .obtained)), by: s.coordinator, env: s.h.env))
        let second = try s.h.run(s.h.broker.dispatch(caseID: other.id, DispatchOrder(agencies: ["police"], questions: ["q", "r"]),
                                                     by: s.coordinator, env: s.h.env)).requests[0]
        try s.h.run(s.h.broker.submitReturn(requestID: second.id, s.answer("other"), by: s.police, env: s.h.env))
    }

    @Test("Bytes: the total encoded size of every version, exactly at the limit and one byte past it")
    func bytes() throws {
        for slack in [0, -1] {
            var s = try Scenario()
            let request = try s.h.run(s.dispatch(["police"])).requests[0]
            // Sizes of the versions as they will be stored (same clock, same request).
            let first = ResearchReturn(request: request.id, agency: "police", version: 1, submittedAt: s.h.now, knownToAgency: true,
                                       summary: s.answer("one").summary, answers: s.answer("one").answers, withheld: s.answer("one").withheld ?? [])
            var second = first
            second.version = 2
            second.summary = s.answer("two").summary; second.answers = s.answer("two").answers; second.withheld = s.answer("two").withheld ?? []
            let limit = ReturnLimits.encodedSize(of: first) + ReturnLimits.encodedSize(of: second) + slack
            limited(&s, ReturnLimits(maxVersions: 20, maxBytes: limit))
            #expect(try s.h.run(s.h.broker.submitReturn(requestID: request.id, s.answer("one"), by: s.police, env: s.h.env)) == first)
            let outcome = s.h.broker.submitReturn(requestID: request.id, s.answer("two"), by: s.police, env: s.h.env)
            if slack == 0 {
                #expect(try s.h.run(outcome) == second, "exactly at the limit is allowed")
            } else {
                let before = s.h.journal.count
                let refused = try s.h.refusal(outcome)
                #expect(refused.code == .returnLimitReached)
                #expect(refused.message.hasPrefix("limits.maxReturnBytesPerRequest: ") && refused.message.contains("\(limit)"), "\(refused.message)")
                #expect(s.h.journal.count == before && s.h.state.requests[request.id]?.returns.count == 1)
            }
        }
    }

    @Test("Bytes: the kept total equals every version counted, and a state from an older snapshot (no total kept) counts them")
    func keptTotal() throws {
        var s = try Scenario()
        let request = try s.h.run(s.dispatch(["police"])).requests[0]
        for index in 1...3 { try s.h.run(s.h.broker.submitReturn(requestID: request.id, s.answer("v\(index)"), by: s.police, env: s.h.env)) }
        let stored = try #require(s.h.state.requests[request.id])
        let counted = stored.returns.reduce(0) { $0 + ReturnLimits.encodedSize(of: $1) }
        #expect(stored.returnBytes == counted && stored.totalReturnBytes == counted)

        // As decoded from a snapshot written before the total was kept.
        var old = s.h.state
        old.requests[request.id]?.returnBytes = nil
        s.h.broker = Domain(state: old, policy: s.h.broker.policy, rules: s.h.broker.rules,
                            returnLimits: ReturnLimits(maxVersions: 20, maxBytes: counted + 10))
        let before = s.h.journal.count
        let refused = try s.h.refusal(s.h.broker.submitReturn(requestID: request.id, s.answer("v4"), by: s.police, env: s.h.env))
        #expect(refused.code == .returnLimitReached && refused.message.hasPrefix("limits.maxReturnBytesPerRequest: "), "\(refused.message)")
        #expect(s.h.journal.count == before)
        s.h.broker = Domain(state: old, policy: s.h.broker.policy, rules: s.h.broker.rules, returnLimits: .default)
        let fourth = try s.h.run(s.h.broker.submitReturn(requestID: request.id, s.answer("v4"), by: s.police, env: s.h.env))
        #expect(s.h.state.requests[request.id]?.returnBytes == counted + ReturnLimits.encodedSize(of: fourth))
    }
}

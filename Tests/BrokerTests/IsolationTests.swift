import Foundation
import Testing
import TestSupport
@testable import Broker
import Wire

/// Everything one agency's SPOC receives: reply bodies and error messages, as JSON.
struct Transcript {
    var bodies: [String] = []

    mutating func record<R: Encodable>(_ outcome: Outcome<R>, into h: inout Harness) {
        switch outcome {
        case .success(let decision):
            if let entry = decision.entry { h.commit(entry) }
            bodies.append(json(decision.reply))
        case .failure(let error):
            bodies.append(json(["error": ["code": error.code.rawValue, "message": error.message]]))
        }
    }

    func contains(_ needle: String) -> Bool { bodies.contains { $0.contains(needle) } }
}

/// Drives a SPOC through every call it can make, including attempts on other agencies' requests.
func exercise(_ spoc: Actor, requests: [RequestView], meeting: String, h: inout Harness, returnText: (String) -> ReturnSubmission) -> Transcript {
    var transcript = Transcript()
    transcript.record(h.broker.requests(after: nil, by: spoc, env: h.env), into: &h)
    transcript.record(h.broker.listMeetings(by: spoc), into: &h)
    transcript.record(h.broker.meeting(id: meeting, by: spoc), into: &h)
    transcript.record(h.broker.whoami(by: spoc), into: &h)
    transcript.record(h.broker.meetingStatus(id: meeting, by: spoc, env: h.env), into: &h)
    transcript.record(h.broker.listAgencies(by: spoc), into: &h)
    transcript.record(h.broker.auditRecords(by: spoc), into: &h)
    for request in requests {
        transcript.record(h.broker.readRequest(id: request.id, by: spoc, env: h.env), into: &h)
        if request.agency == spoc.agency {
            transcript.record(h.broker.submitReturn(requestID: request.id, returnText(spoc.agency), by: spoc, env: h.env), into: &h)
        }
        transcript.record(h.broker.readReturn(requestID: request.id, by: spoc, env: h.env), into: &h)
        transcript.record(h.broker.readCase(id: request.case, by: spoc, env: h.env), into: &h)
        transcript.record(h.broker.collatedReturns(caseID: request.case, by: spoc, env: h.env), into: &h)
        transcript.record(h.broker.researchPack(caseID: request.case, by: spoc, env: h.env), into: &h)
    }
    transcript.record(h.broker.requests(after: nil, by: spoc, env: h.env), into: &h)
    return transcript
}

@Suite("Isolation between agencies")
struct IsolationTests {
    @Test("No reply to an agency holds a field it may not see or another agency's return")
    func threeAgencies() throws {
        var s = try Scenario()
        let requests = try s.h.run(s.dispatch(["police", "housing", "health"])).requests
        let returnText = { (agency: String) in
            ReturnSubmission(knownToAgency: true, summary: "SUMMARY-\(agency)-MARKER", answers: ["ANSWER1-\(agency)", "ANSWER2-\(agency)"],
                             withheld: [WithheldItem(what: "WITHHELD-\(agency)", reason: "REASON-\(agency)")])
        }
        // Returns first, so every agency's return text exists while the others look.
        var transcripts: [String: Transcript] = [:]
        for spoc in [s.police, s.housing, s.health] {
            transcripts[spoc.agency] = exercise(spoc, requests: requests, meeting: s.meeting.id, h: &s.h, returnText: returnText)
        }
        for spoc in [s.police, s.housing, s.health] {
            transcripts[spoc.agency] = exercise(spoc, requests: requests, meeting: s.meeting.id, h: &s.h, returnText: returnText)
        }
        let policy = s.h.broker.policy
        let invited: Set<String> = ["police", "housing", "health"]
        for (agency, transcript) in transcripts {
            for (path, value) in Scenario.fields where !policy.isVisible(path, to: agency, invited: invited) {
                #expect(!transcript.contains("\"\(path)\""), "\(agency) received the name \(path)")
                for text in value.allStrings {
                    #expect(!transcript.contains(text), "\(agency) received the value of \(path)")
                }
            }
            for (path, value) in Scenario.fields where policy.isVisible(path, to: agency, invited: invited) {
                #expect(transcript.contains("\"\(path)\""), "\(agency) should see \(path)")
                _ = value
            }
            for other in invited where other != agency {
                for marker in ["SUMMARY-\(other)", "ANSWER1-\(other)", "ANSWER2-\(other)", "WITHHELD-\(other)", "REASON-\(other)"] {
                    #expect(!transcript.contains(marker), "\(agency) received \(marker)")
                }
            }
            #expect(transcript.contains("SUMMARY-\(agency)-MARKER"))
        }
        // Special-category data goes to nobody.
        for transcript in transcripts.values {
            #expect(!transcript.contains("bisexual-marker") && !transcript.contains("status-marker"))
        }
    }

    /// Fail closed: a request keeps the field names chosen at dispatch, but what an agency is
    /// shown is checked against the policy in force when it reads. A policy narrowed after the
    /// dispatch (a restart with a stricter config/policy.json) withholds the field at once.
    @Test("A policy narrowed after dispatch withholds the field from the next read")
    func narrowedPolicyAppliesToRequestsAlreadySent() throws {
        var s = try Scenario()
        let request = try s.h.run(s.dispatch(["police"])).requests[0]
        let before = try s.h.run(s.h.broker.readRequest(id: request.id, by: s.police, env: s.h.env))
        #expect(before.fields["victim.phone"] != nil && before.fields["victim.safeAddress"] != nil)
        var text = String(decoding: try configData("policy.json"), as: UTF8.self)
        text = text.replacingOccurrences(of: #""victim-contact": ["police", "housing", "victim-support"]"#, with: #""victim-contact": ["housing", "victim-support"]"#)
        text = text.replacingOccurrences(of: #""safe-address": ["police"]"#, with: #""safe-address": []"#)
        let narrowed = try SharingPolicy.load(Data(text.utf8), file: "policy.json", agencies: Set(shippedSeeds().map(\.id)))
        s.h.broker = Domain(state: s.h.state, policy: narrowed, rules: DeadlineRules(calendar: try shippedCalendar()))
        let after = try s.h.run(s.h.broker.readRequest(id: request.id, by: s.police, env: s.h.env))
        #expect(after.fields["victim.phone"] == nil && after.fields["victim.safeAddress"] == nil, "\(after.fields.keys.sorted())")
        #expect(after.fields["victim.name"] != nil)
    }

    @Test("Property: random policies, cases and agency sets never leak", arguments: 0..<40)
    func randomised(seed: UInt64) throws {
        var rng = SplitMix64(seed: seed &+ 0x5EED)
        let agencies = ["police", "housing", "health", "probation", "education", "victim-support"]
        // Random categories and patterns.
        var categories: [String: SharingPolicy.Audience] = [:]
        for index in 0..<4 {
            switch rng.next() % 3 {
            case 0: categories["c\(index)"] = .everyInvited
            case 1: categories["c\(index)"] = .coordinatorOnly
            default: categories["c\(index)"] = .agencies(Set(agencies.filter { _ in rng.next() % 2 == 0 }))
            }
        }
        var patterns: [SharingPolicy.Pattern: String] = [:]
        var fields: [String: JSONValue] = [:]
        for index in 0..<10 {
            let category = "c\(rng.next() % 4)"
            if rng.next() % 3 == 0 {
                patterns[SharingPolicy.Pattern("kid.*.f\(index)")!] = category
                fields["kid.\(rng.next() % 3).f\(index)"] = .string("VALUE\(index)X\(seed)")
            } else {
                patterns[SharingPolicy.Pattern("p.f\(index)")!] = category
                fields["p.f\(index)"] = .array([.string("VALUE\(index)X\(seed)"), .object(["k": .string("DEEP\(index)X\(seed)")])])
            }
        }
        let policy = SharingPolicy(categories: categories, fields: patterns)
        var h = try Harness(policy: policy)
        let coordinator = try h.person("cora", agency: "community-safety", role: .coordinator)
        var spocs: [Actor] = []
        for agency in agencies { spocs.append(try h.person("spoc-\(agency)", agency: agency, role: .spoc)) }
        let meeting = try h.run(h.broker.createMeeting(NewMeeting(title: "M", startsAt: Scenario.startsAt), by: coordinator, env: h.env))
        let record = try h.run(h.broker.createCase(NewCase(meeting: meeting.id, reference: "R", fields: fields, consent: Consent(status: .obtained)),
                                                   by: coordinator, env: h.env))
        var invited = agencies.filter { _ in rng.next() % 2 == 0 }
        if invited.isEmpty { invited = [agencies[Int(rng.next() % 6)]] }
        let requests = try h.run(h.broker.dispatch(caseID: record.id, DispatchOrder(agencies: invited, questions: ["q"]), by: coordinator, env: h.env)).requests
        let returnText = { (agency: String) in
            ReturnSubmission(knownToAgency: true, summary: "RET-\(agency)", answers: ["ANS-\(agency)"], withheld: [WithheldItem(what: "WH-\(agency)", reason: "because")])
        }
        var transcripts: [String: Transcript] = [:]
        for _ in 0..<2 {
            for spoc in spocs {
                transcripts[spoc.agency] = exercise(spoc, requests: requests, meeting: meeting.id, h: &h, returnText: returnText)
            }
        }
        for spoc in spocs {
            let transcript = transcripts[spoc.agency]!
            for (path, value) in fields {
                let visible = policy.isVisible(path, to: spoc.agency, invited: Set(invited))
                if !visible {
                    #expect(!transcript.contains("\"\(path)\""), "seed \(seed): \(spoc.agency) received the name \(path)")
                    for text in value.allStrings where text != "k" {
                        #expect(!transcript.contains(text), "seed \(seed): \(spoc.agency) received a value of \(path)")
                    }
                } else {
                    #expect(transcript.contains("\"\(path)\""), "seed \(seed): \(spoc.agency) should see \(path)")
                }
            }
            for other in agencies where other != spoc.agency {
                #expect(!transcript.contains("RET-\(other)") && !transcript.contains("ANS-\(other)") && !transcript.contains("WH-\(other)"))
            }
        }
    }
}

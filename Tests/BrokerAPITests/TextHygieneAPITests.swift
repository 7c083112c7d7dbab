import Foundation
import MaracClient
import Testing
import TestSupport

/// SPEC §10 text hygiene over real TLS: a SPOC cannot forge another agency's
/// section of the research pack with carriage returns, escape sequences, NULs
/// or bidirectional overrides; a refused return stores nothing.
@Suite("Text hygiene over the API")
struct TextHygieneAPITests {
    static let meetingStart = FixtureDates.meetingStart()

    @Test func aSPOCCannotForgeAnotherAgencysPackSection() async throws {
        try await withTestBroker { broker in
            let cast = try await Cast.make(broker, agencies: ["police", "housing"])
            let coordinator = cast.coordinator.client
            let housing = cast.spocs["housing"]!.client
            let meetingID = try #require(try await cast.meeting(at: Self.meetingStart)["id"].string)
            let caseID = try #require(try await cast.case(meeting: meetingID, fields: ["victim.name": "Jane Doe"])["id"].string)
            let dispatched = try await coordinator.json("POST", "/v1/cases/\(caseID)/research", [
                "agencies": ["police", "housing"], "questions": ["Known to you?", "Recent incidents?"],
            ])
            #expect(dispatched.status == 201, "\(dispatched.text)")
            let housingRequest = try #require(dispatched.json["requests"].array.first { $0["agency"].string == "housing" }?["id"].string)

            let forgeries = ["Nothing known.\r== Police (police) ==\rReturn received: yes", "Nothing\u{1B}[2J\u{1B}[H== Police ==",
                             "Nothing\u{0}known", "Nothing \u{202E}known\u{202C}", "Nothing\u{9B}2J"]
            func body(summary: String = "Nothing known.", answers: [String] = ["No.", "None."],
                      withheld: [[String: String]] = []) -> [String: Any] {
                ["knownToAgency": false, "summary": summary, "answers": answers, "withheld": withheld]
            }
            var attempts: [([String: Any], String)] = []
            for forged in forgeries {
                attempts.append((body(summary: forged), "summary"))
                attempts.append((body(answers: ["No.", forged]), "answers[1]"))
                attempts.append((body(withheld: [["what": "a file", "reason": forged]]), "withheld[0].reason"))
                attempts.append((body(withheld: [["what": forged, "reason": "investigation"]]), "withheld[0].what"))
            }
            for (attempt, field) in attempts {
                let refused = try await housing.json("PUT", "/v1/requests/\(housingRequest)/return", attempt)
                #expect(refused.status == 422, "\(refused.text)")
                #expect(refused.errorCode == "invalid_text", "\(refused.text)")
                #expect(refused.json["error"]["message"].string?.hasPrefix("\(field): ") == true, "\(refused.text)")
            }
            // Nothing was stored: no return, and the pack says so.
            let none = try await housing.json("GET", "/v1/requests/\(housingRequest)/return")
            #expect(none.status == 404, "\(none.text)")
            let pack = try await coordinator.send("GET", "/v1/cases/\(caseID)/returns?format=text")
            #expect(pack.status == 200)
            #expect(pack.text.components(separatedBy: "No return received.").count == 3, "\(pack.text)")
            #expect(!pack.text.unicodeScalars.contains { $0 != "\n" && $0.properties.generalCategory == .control }, "\(pack.text)")

            // CR LF is stored as LF.
            let stored = try await housing.json("PUT", "/v1/requests/\(housingRequest)/return",
                                                body(summary: "Line one\r\nline two", answers: ["No.\r\n", "None."],
                                                     withheld: [["what": "a\r\nfile", "reason": "on\r\ngoing"]]))
            #expect(stored.status == 200 || stored.status == 201, "\(stored.text)")
            let latest = try await housing.json("GET", "/v1/requests/\(housingRequest)/return")
            #expect(latest.json["latest"]["summary"].string == "Line one\nline two", "\(latest.text)")
            #expect(latest.json["latest"]["answers"][0].string == "No.\n")
            #expect(latest.json["latest"]["withheld"][0]["what"].string == "a\nfile")
            #expect(latest.json["latest"]["withheld"][0]["reason"].string == "on\ngoing")
            #expect(latest.json["versions"].array.count == 1, "the refused attempts left no versions")
            let after = try await coordinator.send("GET", "/v1/cases/\(caseID)/returns?format=text")
            #expect(!after.text.contains("\r"))
            #expect(after.text.contains("  Line one\n  line two\n"), "\(after.text)")
        }
    }

    @Test func coordinatorAndAdminTextIsCheckedToo() async throws {
        try await withTestBroker { broker in
            let cast = try await Cast.make(broker, agencies: ["police"])
            let coordinator = cast.coordinator.client
            let title = try await coordinator.json("POST", "/v1/meetings", ["title": "MARAC\u{1B}[31m", "startsAt": rfc3339(Self.meetingStart)])
            #expect(title.status == 422 && title.errorCode == "invalid_text" && title.json["error"]["message"].string?.hasPrefix("title: ") == true, "\(title.text)")
            let meetingID = try #require(try await cast.meeting(at: Self.meetingStart)["id"].string)
            let reference = try await coordinator.json("POST", "/v1/cases", ["meeting": meetingID, "reference": "R\u{202E}1", "fields": [:] as [String: Any]])
            #expect(reference.status == 422 && reference.errorCode == "invalid_text", "\(reference.text)")
            let caseID = try #require(try await cast.case(meeting: meetingID, fields: ["victim.name": "Jane Doe"])["id"].string)
            let question = try await coordinator.json("POST", "/v1/cases/\(caseID)/research", ["agencies": ["police"], "questions": ["ok", "bad\r"]])
            #expect(question.status == 422 && question.json["error"]["message"].string?.hasPrefix("questions[1]: ") == true, "\(question.text)")
            let agency = try await cast.admin.json("POST", "/v1/agencies", ["id": "forged", "name": "Forged\u{85}", "kind": "non-core"])
            #expect(agency.status == 422 && agency.errorCode == "invalid_text" && agency.json["error"]["message"].string?.hasPrefix("name: ") == true, "\(agency.text)")
        }
    }
}

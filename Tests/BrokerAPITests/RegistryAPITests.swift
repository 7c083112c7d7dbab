import Foundation
import MaracClient
import Testing
import TestSupport
import TLS
import Wire

/// Registry, meetings, cases, roles and restart over real TLS (issue 4).
@Suite(.serialized) struct RegistryAPITests {
    /// One row of the role matrix: a call and the status each role gets.
    struct Call {
        let method: String
        let path: String
        let body: (@Sendable () throws -> [String: Any])?
        let expected: [String: Int]

        init(_ method: String, _ path: String, body: (@Sendable () throws -> [String: Any])? = nil,
             coordinator: Int = 403, spoc: Int = 403, admin: Int = 403, auditor: Int = 403, monitor: Int = 403) {
            self.method = method
            self.path = path
            self.body = body
            expected = ["coordinator": coordinator, "spoc": spoc, "admin": admin, "auditor": auditor, "monitor": monitor]
        }
    }

    @Test func everyEndpointAnswersEveryRoleAsTheSpecSays() async throws {
        try await withTestBroker { broker in
            let cast = try await Cast.make(broker, agencies: ["police"])
            let auditor = try await broker.enrol("audrey", agency: "community-safety", role: "auditor", admin: cast.admin)
            let monitor = try await broker.enrol("prometheus", agency: "community-safety", role: "monitor", admin: cast.admin)
            let clients = ["coordinator": cast.coordinator.client, "spoc": cast.spocs["police"]!.client, "admin": cast.admin, "auditor": auditor.client,
                           "monitor": monitor.client]

            let meetingID = try #require(try await cast.meeting(at: ResearchFlowAPITests.meetingStart)["id"].string)
            let caseID = try #require(try await cast.case(meeting: meetingID, fields: ["victim.name": "Jane Doe"])["id"].string)
            let dispatched = try await cast.coordinator.client.json("POST", "/v1/cases/\(caseID)/research", ["agencies": ["police"], "questions": ["Known?"]])
            let requestID = try #require(dispatched.json["requests"][0]["id"].string)
            // Throwaway principals and certificates for the admin's mutations.
            let counter = Counter()
            let csr: @Sendable () throws -> String = {
                String(decoding: try CertificateSigningRequest.create(key: try PrivateKey.generateECDSA(), commonName: "temp", organization: nil).pemBytes, as: UTF8.self)
            }
            #expect(try await cast.admin.json("POST", "/v1/principals", ["id": "temp", "name": "Temp", "agency": "police", "role": "spoc"]).status == 201)
            let spare = try await cast.admin.json("POST", "/v1/credentials", ["principal": "temp", "csr": try csr()])
            let spareSerial = try #require(spare.json["serial"].string)
            #expect(try await cast.admin.json("POST", "/v1/principals", ["id": "pending", "name": "Pending", "agency": "police", "role": "spoc"]).status == 201)
            let pendingCSR = String(decoding: try CertificateSigningRequest.create(key: try PrivateKey.generateECDSA(), commonName: "pending", organization: nil).pemBytes,
                                    as: UTF8.self)
            let pendingSerial = try #require(try await cast.admin.json("POST", "/v1/credentials", ["principal": "pending", "csr": pendingCSR]).json["serial"].string)
            // A referral by the police SPOC (the first panel, domestic abuse) and a later meeting to list the case at again.
            let referralBody: @Sendable () -> [String: Any] = {
                ["caseType": "domestic-abuse", "fields": ["victim.name": "Jane Doe", "victim.dateOfBirth": "1990-01-01"],
                 "consent": ["status": "obtained"], "criteria": ["visible-high-risk"], "reason": "DASH 16 ticks"]
            }
            let referral = try await cast.spocs["police"]!.client.json("POST", "/v1/referrals", referralBody())
            let referralID = try #require(referral.json["id"].string, "\(referral.text)")
            let closingCaseID = try #require(try await cast.case(meeting: meetingID, reference: "MARAC-2027-0100", fields: ["victim.name": "Ann"])["id"].string)
            let laterMeetingID = try #require(try await cast.coordinator.client.json(
                "POST", "/v1/meetings", ["title": "Later", "startsAt": rfc3339(FixtureDates.laterMeetingStart())]).json["id"].string)

            let calls: [Call] = [
                Call("GET", "/v1/whoami", coordinator: 200, spoc: 200, admin: 200, auditor: 200, monitor: 200),
                Call("GET", "/v1/health", coordinator: 200, spoc: 200, admin: 200, auditor: 200, monitor: 200),
                Call("GET", "/v1/crl", coordinator: 200, spoc: 200, admin: 200, auditor: 200, monitor: 200),
                Call("GET", "/metrics", admin: 200, monitor: 200),
                Call("GET", "/v1/agencies", coordinator: 200, admin: 200),
                Call("POST", "/v1/agencies", body: { ["id": "agency-\(counter.next())", "name": "Education", "kind": "non-core"] }, admin: 201),
                Call("PATCH", "/v1/agencies/probation", body: { ["name": "Probation Service (North)"] }, admin: 200),
                Call("GET", "/v1/principals", coordinator: 200, admin: 200),
                Call("POST", "/v1/principals", body: { ["id": "person-\(counter.next())", "name": "P", "agency": "police", "role": "spoc"] }, admin: 201),
                Call("PATCH", "/v1/principals/temp", body: { ["name": "Temporary"] }, admin: 200),
                Call("POST", "/v1/credentials", body: { ["principal": "temp", "csr": try csr()] }, admin: 201),
                Call("GET", "/v1/credentials", coordinator: 200, admin: 200),
                Call("POST", "/v1/credentials/\(pendingSerial)/approve", coordinator: 200),
                // Everyone's certificate is a year from expiry: renewal opens 60 days before it.
                Call("POST", "/v1/credentials/renew", body: { ["csr": try csr()] }, coordinator: 409, spoc: 409, admin: 409, auditor: 409, monitor: 409),
                Call("POST", "/v1/credentials/\(spareSerial)/revoke", body: { ["reason": "rotation"] }, admin: 200),
                Call("GET", "/v1/meetings", coordinator: 200, spoc: 200),
                Call("POST", "/v1/meetings", body: { ["title": "Extra", "startsAt": rfc3339(FixtureDates.laterMeetingStart())] }, coordinator: 201),
                Call("GET", "/v1/meetings/\(meetingID)", coordinator: 200, spoc: 200),
                Call("GET", "/v1/meetings/\(meetingID)/status", coordinator: 200),
                Call("POST", "/v1/cases", body: { ["meeting": meetingID, "reference": "MARAC-2027-0099", "fields": ["victim.name": "X"],
                                                  "consent": ["status": "obtained"]] }, coordinator: 201),
                Call("GET", "/v1/cases?state=open", coordinator: 200),
                Call("GET", "/v1/cases/\(caseID)", coordinator: 200),
                Call("PUT", "/v1/cases/\(caseID)/consent", body: { ["status": "obtained"] }, coordinator: 200),
                Call("POST", "/v1/cases/\(caseID)/research", body: { ["agencies": ["housing"], "questions": ["Known?"]] }, coordinator: 201),
                Call("GET", "/v1/cases/\(caseID)/returns", coordinator: 200),
                Call("PATCH", "/v1/cases/\(caseID)/fields", body: { ["set": ["victim.alias": "JD"], "reason": "Alias confirmed by police"] }, coordinator: 200),
                Call("POST", "/v1/cases/\(caseID)/listings", body: { ["meeting": laterMeetingID, "kind": "review"] }, coordinator: 201),
                // The police SPOC is invited (it has a request), but the agenda opens 24 hours before the meeting.
                Call("GET", "/v1/meetings/\(meetingID)/agenda", coordinator: 200, spoc: 404),
                Call("POST", "/v1/meetings/\(meetingID)/invitations", body: { ["agencies": ["education"]] }, coordinator: 200),
                Call("GET", "/v1/panels", coordinator: 200, spoc: 200, admin: 200, auditor: 200, monitor: 200),
                Call("GET", "/v1/panels/domestic-abuse/statistics", coordinator: 200, admin: 200, auditor: 200),
                Call("POST", "/v1/referrals", body: referralBody, spoc: 201),
                Call("GET", "/v1/referrals", coordinator: 200, spoc: 200),
                Call("GET", "/v1/referrals/\(referralID)", coordinator: 200, spoc: 200),
                Call("POST", "/v1/referrals/\(referralID)/decision",
                     body: { ["decision": "declined", "reason": "Below threshold", "advice": "Refer to the IDVA service"] }, coordinator: 200),
                Call("GET", "/v1/requests", spoc: 200),
                Call("GET", "/v1/requests/\(requestID)", coordinator: 200, spoc: 200),
                Call("PUT", "/v1/requests/\(requestID)/return", body: { ["knownToAgency": false, "summary": "No trace", "answers": ["No"], "withheld": []] }, spoc: 200),
                Call("GET", "/v1/requests/\(requestID)/return", coordinator: 200, spoc: 200),
                Call("POST", "/v1/requests/\(requestID)/extension", body: { ["until": rfc3339(ResearchFlowAPITests.meetingStart.addingTimeInterval(-3_600)), "reason": "Outage"] }, coordinator: 200),
                // Actions are agreed at or after the meeting, which is weeks away: 409; no action exists to read, complete or cancel.
                Call("POST", "/v1/cases/\(caseID)/actions", body: { ["ownerAgency": "police", "text": "Serve the notice", "dueAt": rfc3339(FixtureDates.laterMeetingStart())] },
                     coordinator: 409),
                Call("GET", "/v1/actions", spoc: 200),
                Call("GET", "/v1/actions/none", coordinator: 404, spoc: 404),
                Call("POST", "/v1/actions/none/complete", body: { ["note": "Done"] }, spoc: 404),
                Call("POST", "/v1/actions/none/cancel", body: { ["reason": "Not needed"] }, coordinator: 404),
                Call("POST", "/v1/cases/\(closingCaseID)/close", body: { ["reason": "Risk reduced"] }, coordinator: 200),
                Call("POST", "/v1/cases/\(closingCaseID)/erase", body: { ["reason": "Retention review"] }, coordinator: 200),
                Call("GET", "/v1/audit", admin: 200, auditor: 200),
                Call("GET", "/v1/audit/checkpoint", admin: 200, auditor: 200),
            ]
            // Every answer, success or refusal, has the shape docs/openapi.json gives it.
            let document = try OpenAPIDocument.load()
            let ids = [meetingID, caseID, requestID, spareSerial, pendingSerial, "probation", "temp", "pending", referralID, laterMeetingID, closingCaseID, "none", "domestic-abuse"]
            func pattern(of path: String) -> String {
                var pattern = path.split(separator: "?").first.map(String.init) ?? path
                for id in ids { pattern = pattern.replacingOccurrences(of: "/\(id)", with: [spareSerial, pendingSerial].contains(id) ? "/{serial}" : "/{id}") }
                return pattern
            }
            var exercised: Set<String> = []
            for call in calls {
                let operation = pattern(of: call.path)
                exercised.insert("\(call.method) \(operation)")
                for role in ["coordinator", "spoc", "admin", "auditor", "monitor"] {
                    let response = try await clients[role]!.json(call.method, call.path, try call.body?())
                    let expected = call.expected[role]!
                    #expect(response.status == expected, "\(role) \(call.method) \(call.path): \(response.status) \(response.text)")
                    if expected == 403 { #expect(response.errorCode == "forbidden", "\(role) \(call.method) \(call.path): \(response.text)") }
                    if expected < 300 { #expect(document.documents(method: call.method, pattern: operation, status: response.status), "\(call.method) \(operation) \(response.status) undocumented") }
                    guard call.path != "/v1/crl" && !(call.path == "/metrics" && expected == 200) else { continue }
                    let schema = try #require(document.responseSchema(method: call.method, pattern: operation, status: response.status),
                                              "\(call.method) \(operation) has no documented answer")
                    let problems = document.violations(of: response.json.value, against: schema)
                    #expect(problems.isEmpty, "\(role) \(call.method) \(operation): \(problems)")
                }
            }
            #expect(exercised == Set(broker.app.routeTable), "the matrix calls every route: missing \(Set(broker.app.routeTable).subtracting(exercised))")
            // Refusals name the role; an admin never receives case content.
            let adminCase = try await cast.admin.json("GET", "/v1/cases/\(caseID)")
            #expect(!adminCase.text.contains("Jane Doe") && adminCase.json["error"]["message"].string == "role admin may not read cases (coordinator only)", "\(adminCase.text)")
        }
    }

    @Test func meetingDeadlinesOverHTTPSMatchTheCalendar() async throws {
        try await withTestBroker { broker in
            let cast = try await Cast.make(broker, agencies: [])
            // The calendar's hard cases are fixed dates, so the broker's clock is pinned before them
            // (certificates were issued above at the real time, which the TLS handshake checks).
            broker.clock.set(RFC3339.parse("2026-11-01T00:00:00Z")!)  // clock pinned
            let cases: [(startsAt: String, utc: String, dispatch: String, returns: String)] = [
                // SPEC §4: Easter 2027 and the spring clock change.
                ("2027-04-01T10:00:00+01:00", "2027-04-01T09:00:00Z", "2027-03-23T10:00:00Z", "2027-03-31T09:00:00Z"),  // clock pinned
                // Christmas 2026: Christmas Day (Fri) and Boxing Day's substitute (Mon 28) are skipped.
                ("2026-12-29T10:00:00Z", "2026-12-29T10:00:00Z", "2026-12-18T10:00:00Z", "2026-12-28T10:00:00Z"),  // clock pinned
                // Autumn 2027 clock change (31 October): 10:00 GMT on 3 Nov; 10:00 BST on 27 Oct is 09:00Z.
                ("2027-11-03T10:00:00Z", "2027-11-03T10:00:00Z", "2027-10-27T09:00:00Z", "2027-11-02T10:00:00Z"),  // clock pinned
            ]
            for item in cases {
                let response = try await cast.coordinator.client.json("POST", "/v1/meetings", ["title": "MARAC", "startsAt": item.startsAt])
                #expect(response.status == 201, "\(response.text)")
                let meeting = response.json
                #expect(meeting.keys.isSuperset(of: ["id", "title", "startsAt", "dispatchDeadline", "returnDeadline"]))
                #expect(meeting["startsAt"].string == item.utc)
                #expect(meeting["dispatchDeadline"].string == item.dispatch, "\(item.startsAt): \(meeting)")
                #expect(meeting["returnDeadline"].string == item.returns)
                let again = try await cast.coordinator.client.json("GET", "/v1/meetings/\(meeting["id"].string ?? "")")
                #expect(again.json["dispatchDeadline"].string == item.dispatch)
            }
            let bad = try await cast.coordinator.client.json("POST", "/v1/meetings", ["title": "MARAC", "startsAt": "next Tuesday"])
            #expect(bad.status == 400 || bad.status == 422)
            #expect(bad.json["error"]["message"].string?.contains("startsAt") == true, "\(bad.text)")
        }
    }

    @Test func caseFieldsAreDefaultDenyAndConsentIsChecked() async throws {
        try await withTestBroker { broker in
            let cast = try await Cast.make(broker, agencies: ["police"])
            let coordinator = cast.coordinator.client
            let meetingID = try #require(try await cast.meeting(at: ResearchFlowAPITests.meetingStart)["id"].string)
            let unknown = try await coordinator.json("POST", "/v1/cases", [
                "meeting": meetingID, "reference": "MARAC-2027-0100",
                "fields": ["victim.name": "Jane", "victim.shoeSize": "5"], "consent": ["status": "obtained"],
            ])
            #expect(unknown.status == 422 && unknown.errorCode == "unknown_field", "\(unknown.text)")
            #expect(unknown.json["error"]["message"].string?.contains("victim.shoeSize") == true)
            let noBasis = try await coordinator.json("POST", "/v1/cases", [
                "meeting": meetingID, "reference": "MARAC-2027-0101", "fields": ["victim.name": "Jane"], "consent": ["status": "not-obtained"],
            ])
            #expect(noBasis.status == 422 && noBasis.json["error"]["message"].string?.contains("lawfulBasis") == true, "\(noBasis.text)")
            let noConsent = try await coordinator.json("POST", "/v1/cases", [
                "meeting": meetingID, "reference": "MARAC-2027-0102", "fields": ["victim.name": "Jane"],
            ])
            #expect(noConsent.status == 201, "a case may be recorded before consent is: \(noConsent.text)")
            let caseID = try #require(noConsent.json["id"].string)
            let refused = try await coordinator.json("POST", "/v1/cases/\(caseID)/research", ["agencies": ["police"], "questions": ["Known?"]])
            #expect(refused.status == 422 && refused.errorCode == "consent_missing", "\(refused.text)")
            // Narrowing is allowed, widening is not_entitled, and neither refusal creates anything.
            let full = try await cast.case(meeting: meetingID, reference: "MARAC-2027-0103",
                                           fields: ["victim.name": "Jane", "victim.gp": "Dr Who", "victim.phone": "0770"])
            let fullID = try #require(full["id"].string)
            let widen = try await coordinator.json("POST", "/v1/cases/\(fullID)/research",
                                                   ["agencies": ["police"], "questions": ["Known?"], "fields": ["victim.name", "victim.gp"]])
            #expect(widen.status == 403 && widen.errorCode == "not_entitled" && widen.text.contains("victim.gp"), "\(widen.text)")
            #expect(try await coordinator.json("GET", "/v1/meetings/\(meetingID)/status").json["requests"].array.isEmpty)
            let narrow = try await coordinator.json("POST", "/v1/cases/\(fullID)/research",
                                                    ["agencies": ["police"], "questions": ["Known?"], "fields": ["victim.name"]])
            #expect(narrow.status == 201)
            let seen = try await cast.spocs["police"]!.client.json("GET", "/v1/requests/\(narrow.json["requests"][0]["id"].string ?? "")")
            #expect(seen.json["fields"].keys == ["victim.name"])
            // The coordinator reads the whole case back, consent included.
            let read = try await coordinator.json("GET", "/v1/cases/\(fullID)")
            #expect(read.json.keys.isSuperset(of: ["id", "meeting", "reference", "fields", "consent"]))
            #expect(read.json["fields"].keys == ["victim.name", "victim.gp", "victim.phone"])
            #expect(read.json["consent"]["lawfulBasis"].string == "high risk of serious harm")
            let badJSON = try await coordinator.send("POST", "/v1/cases", body: Array("{\"meeting\": ".utf8), headers: [("Content-Type", "application/json")])
            #expect(badJSON.status == 400, "\(badJSON.text)")
        }
    }

    @Test func registryChangesAndAuditSurviveARestartAndVerifyOffline() async throws {
        let broker = try TestBroker()
        let cast = try await Cast.make(broker, agencies: ["police"])
        let admin = cast.admin
        let created = try await admin.json("POST", "/v1/agencies", ["id": "fire-rescue", "name": "Fire and Rescue Service", "kind": "non-core"])
        #expect(created.status == 201 && created.json["id"].string == "fire-rescue", "\(created.text)")
        #expect(try await admin.json("POST", "/v1/agencies", ["id": "fire-rescue", "name": "Again", "kind": "core"]).status == 409)
        #expect(try await admin.json("POST", "/v1/agencies", ["id": "Not A Slug", "name": "X", "kind": "core"]).status == 422)
        #expect(try await admin.json("PATCH", "/v1/agencies/housing", ["active": false]).status == 200)
        let meetingID = try #require(try await cast.meeting(at: ResearchFlowAPITests.meetingStart)["id"].string)
        let caseID = try #require(try await cast.case(meeting: meetingID, fields: ["victim.name": "Jane Marker-7731"])["id"].string)
        #expect(try await cast.coordinator.client.json("GET", "/v1/cases/\(caseID)").status == 200)
        let auditBefore = try await admin.auditTrail().records
        #expect(auditBefore.contains { $0["action"].string != nil && $0["object"].string == caseID && $0["principal"].string == "coord" })
        let whoami = try await cast.spocs["police"]!.client.json("GET", "/v1/whoami").json
        #expect(whoami.keys == ["principal", "name", "agency", "role", "certificate"])
        #expect(whoami["certificate"]["serial"].string == cast.spocs["police"]!.serial)

        try await broker.restart()
        let admin2 = try broker.adminClient()
        let agencies = try await admin2.json("GET", "/v1/agencies").json["agencies"].array
        #expect(agencies.contains { $0["id"].string == "fire-rescue" })
        #expect(agencies.first { $0["id"].string == "housing" }?["active"].bool == false)
        #expect(try await admin2.json("GET", "/v1/principals").json["principals"].array.contains { $0["id"].string == "police-spoc" })
        let coordinator2 = try BrokerClient(host: "127.0.0.1", port: broker.port, identity: ClientIdentity(
            certificate: cast.coordinator.certificate, privateKey: cast.coordinator.key, trustRoots: [try Certificate(pemFile: broker.pki.caCertificatePath)]))
        #expect(try await coordinator2.json("GET", "/v1/cases/\(caseID)").json["fields"]["victim.name"].string == "Jane Marker-7731")
        #expect(try await coordinator2.json("GET", "/v1/meetings/\(meetingID)").status == 200)
        let auditAfter = try await admin2.auditTrail().records
        #expect(auditAfter.prefix(auditBefore.count).map(\.description) == auditBefore.map(\.description), "the audit trail is unchanged by a restart")
        await broker.stop()

        // Offline: the chain verifies, and no case value or field name is on disk in plaintext.
        let verify = try await Tool.runAsync(BuiltProducts.path("maracd"), ["audit", "verify", "--data", broker.directory.path("data"),
                                                                            "--certs", broker.directory.path("certs")])
        #expect(verify.status == 0 && verify.stdout.contains("OK"), "\(verify.stdout) \(verify.stderr)")
        let dataDirectory = broker.directory.path("data")
        for file in try FileManager.default.contentsOfDirectory(atPath: dataDirectory) {
            let bytes = try Data(contentsOf: URL(fileURLWithPath: "\(dataDirectory)/\(file)"))
            for marker in ["Marker-7731", "victim.name", "MARAC-2027", "police-spoc"] {
                #expect(bytes.range(of: Data(marker.utf8)) == nil, "\(marker) in plaintext in \(file)")
            }
        }
    }
}

/// A thread-safe counter for unique ids inside `@Sendable` closures.
final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0
    func next() -> Int { lock.withLock { value += 1; return value } }
}

/// A misspelt key must never be ignored: a dispatch with `releaseAT` or
/// `field` would otherwise go out at once, or with every entitled field.
@Suite struct StrictBodyAPITests {
    @Test func misspeltDispatchKeysAreRefusedAndNothingIsCreated() async throws {
        try await withTestBroker { broker in
            let cast = try await Cast.make(broker, agencies: ["police"])
            let meetingID = try #require(try await cast.meeting(at: ResearchFlowAPITests.meetingStart)["id"].string)
            let caseID = try #require(try await cast.case(meeting: meetingID, fields: ["victim.name": "Jane", "victim.phone": "0770"])["id"].string)
            for (body, key) in [(["agencies": ["police"], "questions": ["Known?"], "releaseAT": rfc3339(ResearchFlowAPITests.dispatchDeadline)], "releaseAT"),
                                (["agencies": ["police"], "questions": ["Known?"], "field": ["victim.name"]], "field")] as [([String: Any], String)] {
                let response = try await cast.coordinator.client.json("POST", "/v1/cases/\(caseID)/research", body)
                #expect(response.status == 400 && response.errorCode == "invalid_json", "\(response.text)")
                #expect(response.json["error"]["message"].string?.contains("unknown key \"\(key)\"") == true, "\(response.text)")
            }
            let duplicate = try await cast.coordinator.client.send("POST", "/v1/meetings",
                                                                  body: Array(#"{"title":"A","title":"B","startsAt":"\#(rfc3339(FixtureDates.laterMeetingStart()))"}"#.utf8))
            #expect(duplicate.status == 400 && duplicate.text.contains("more than once"), "\(duplicate.text)")
            #expect(try await cast.coordinator.client.json("GET", "/v1/meetings/\(meetingID)/status").json["requests"].array.isEmpty)
            #expect(try await cast.spocs["police"]!.client.json("GET", "/v1/requests").json["requests"].array.isEmpty)
        }
    }
}

/// `docs/openapi.json` describes exactly the routes the server has.
@Suite struct OpenAPITests {
    @Test func theDocumentDescribesEveryRouteAndNoOther() async throws {
        try await withTestBroker { broker in
            let document = try OpenAPIDocument.load()
            #expect(document.root["openapi"] as? String == "3.1.0")
            #expect(document.operations == Set(broker.app.routeTable),
                    "undocumented: \(Set(broker.app.routeTable).subtracting(document.operations)); documented but absent: \(document.operations.subtracting(broker.app.routeTable))")
        }
    }
}

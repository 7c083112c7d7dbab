@testable import BrokerAPI
import Foundation
import MaracClient
import Testing
import TestSupport
import TLS
import Wire

/// Adversarial review of the issue-18 pages (dispatch form, registry and signing forms,
/// credential approval, last use, redirection's case type): each test is an attacker's
/// transcript that must fail, over real mutual TLS.
@Suite(.serialized) struct Review18AttackTests {
    static let form = ("Content-Type", "application/x-www-form-urlencoded")
    /// This broker's origin as the client names it (`Host: 127.0.0.1:PORT`).
    static func origin(_ client: BrokerClient) -> (String, String) { ("Origin", "https://127.0.0.1:\(client.port)") }

    static func token(_ client: BrokerClient, _ path: String) async throws -> String {
        try await AdministrationPageTests.token(client, path)
    }

    static func post(_ client: BrokerClient, _ path: String, _ body: String, headers: [(String, String)]? = nil) async throws -> ClientResponse {
        try await client.send("POST", path, body: Array(body.utf8), headers: [form] + (headers ?? [origin(client)]))
    }

    static func encoded(_ text: String) -> String { text.addingPercentEncoding(withAllowedCharacters: .alphanumerics)! }

    /// Issues a certificate for `principal` through the API and leaves it pending (no operator approval).
    static func issuePending(_ broker: TestBroker, admin: BrokerClient, principal: String, agency: String) async throws -> (serial: String, client: BrokerClient) {
        let key = try PrivateKey.generateECDSA()
        let csr = try CertificateSigningRequest.create(key: key, commonName: principal, organization: agency)
        let issued = try await admin.json("POST", "/v1/credentials", ["principal": principal, "csr": String(decoding: csr.pemBytes, as: UTF8.self)])
        #expect(issued.status == 201, "\(issued.text)")
        let certificate = try Certificate(pem: Array(try #require(issued.json["certificate"].string).utf8))
        let client = try BrokerClient(host: "127.0.0.1", port: broker.port, identity: ClientIdentity(
            certificate: certificate, privateKey: key, trustRoots: [try Certificate(pemFile: broker.pki.caCertificatePath)]))
        return (certificate.serial, client)
    }

    /// Every page a caller could be shown must carry no markup that was typed as data.
    static func expectNoRawMarkup(_ page: ClientResponse, _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
        for raw in ["<script", "<img", "\u{202E}"] {
            #expect(!page.text.contains(raw), "\(what): raw \(raw) in \(page.text.prefix(4_000))", sourceLocation: sourceLocation)
        }
    }

    // MARK: Cross-site and token-less posts

    @Test func crossSiteOrTokenlessPostsToEveryNewFormAreRefusedAndChangeNothing() async throws {
        try await withTestBroker { broker in
            let cast = try await Cast.make(broker, agencies: ["police", "housing"])
            let admin = cast.admin, coordinator = cast.coordinator.client
            #expect(try await admin.json("POST", "/v1/principals", ["id": "rita", "name": "Rita", "agency": "police", "role": "spoc"]).status == 201)
            let pending = try await Self.issuePending(broker, admin: admin, principal: "rita", agency: "police")
            let meetingID = try #require(try await cast.meeting(at: ResearchFlowAPITests.meetingStart)["id"].string)
            let caseID = try #require(try await cast.case(meeting: meetingID, fields: ResearchFlowAPITests.fields)["id"].string)
            let adminToken = try await Self.token(admin, "/ui/agencies")
            let coordinatorToken = try await Self.token(coordinator, "/ui/credentials")
            let csr = try CertificateSigningRequest.create(key: try PrivateKey.generateECDSA(), commonName: "rita", organization: "police")
            let csrForm = Self.encoded(String(decoding: csr.pemBytes, as: UTF8.self))
            // (who posts, its own valid token, the other's token, the route, the form)
            let routes: [(BrokerClient, String, String, String, String)] = [
                (admin, adminToken, coordinatorToken, "/ui/agencies", "id=rogue&name=Rogue&kind=core"),
                (admin, adminToken, coordinatorToken, "/ui/principals", "id=rogue&name=Rogue&agency=police&role=coordinator"),
                (admin, adminToken, coordinatorToken, "/ui/credentials", "principal=rita&csr=\(csrForm)"),
                (coordinator, coordinatorToken, adminToken, "/ui/credentials/\(pending.serial)/approve", ""),
                (coordinator, coordinatorToken, adminToken, "/ui/cases/\(caseID)/dispatch", "agency.police=on&questions=Known%3F"),
            ]
            for (client, own, other, path, body) in routes {
                let attempts: [(String, String, [(String, String)])] = [
                    ("no token", body, [Self.origin(client)]),
                    ("empty token", "csrf=&" + body, [Self.origin(client)]),
                    ("another credential's token", "csrf=\(other)&" + body, [Self.origin(client)]),
                    ("the token upper-cased", "csrf=\(own.uppercased())&" + body, [Self.origin(client)]),
                    ("the token twice, a wrong one last", "csrf=\(own)&" + body + "&csrf=\(other)", [Self.origin(client)]),
                    ("a foreign origin", "csrf=\(own)&" + body, [("Origin", "https://evil.example")]),
                    ("a look-alike origin", "csrf=\(own)&" + body, [("Origin", "https://127.0.0.1:\(client.port).evil.example")]),
                    ("an http origin", "csrf=\(own)&" + body, [("Origin", "http://127.0.0.1:\(client.port)")]),
                    ("the origin without its port", "csrf=\(own)&" + body, [("Origin", "https://127.0.0.1")]),
                    ("no origin, cross-site fetch", "csrf=\(own)&" + body, [("Sec-Fetch-Site", "cross-site")]),
                    ("null origin, same-site fetch", "csrf=\(own)&" + body, [("Origin", "null"), ("Sec-Fetch-Site", "same-site")]),
                    ("no origin and no fetch metadata", "csrf=\(own)&" + body, []),
                ]
                for (what, sent, headers) in attempts {
                    let refused = try await Self.post(client, path, sent, headers: headers)
                    #expect(refused.status == 403 && refused.text.contains("cross-site request refused"), "\(path) \(what): \(refused.status) \(refused.text.prefix(600))")
                }
                // GET never changes anything: the form's address answers 405 or a page, never a change.
                let get = try await client.send("GET", path)
                #expect([200, 405].contains(get.status), "\(path) GET: \(get.status)")
            }
            // Nothing changed.
            #expect(try await admin.json("GET", "/v1/agencies").json["agencies"].array.allSatisfy { $0["id"].string != "rogue" })
            #expect(try await admin.json("GET", "/v1/principals").json["principals"].array.allSatisfy { $0["id"].string != "rogue" })
            let ritas = try await admin.json("GET", "/v1/credentials?principal=rita").json["credentials"].array
            #expect(ritas.count == 1 && ritas.first?["approval"].string == "pending", "\(ritas)")
            #expect(try await pending.client.json("GET", "/v1/requests").errorCode == "credential_not_approved")
            #expect(try await coordinator.json("GET", "/v1/meetings/\(meetingID)/status").json["requests"].array.isEmpty, "nothing dispatched")
        }
    }

    // MARK: Each role with its own valid token

    @Test func everyOtherRolePostingWithItsOwnValidTokenGetsTheDomains403() async throws {
        try await withTestBroker { broker in
            let cast = try await Cast.make(broker, agencies: ["police", "housing"])
            let admin = cast.admin, coordinator = cast.coordinator.client, spoc = cast.spocs["police"]!.client
            #expect(try await admin.json("POST", "/v1/principals", ["id": "rita", "name": "Rita", "agency": "police", "role": "spoc"]).status == 201)
            let pending = try await Self.issuePending(broker, admin: admin, principal: "rita", agency: "police")
            let meetingID = try #require(try await cast.meeting(at: ResearchFlowAPITests.meetingStart)["id"].string)
            let first = try #require(try await cast.case(meeting: meetingID, reference: "CASE-1", fields: ResearchFlowAPITests.fields)["id"].string)
            let second = try #require(try await cast.case(meeting: meetingID, reference: "CASE-2", fields: ResearchFlowAPITests.fields)["id"].string)
            // The SPOC's token, from its request page.
            let requestID = try #require(try await coordinator.json("POST", "/v1/cases/\(first)/research",
                                                                    ["agencies": ["police"], "questions": ["Known?"]]).json["requests"][0]["id"].string)
            let spocToken = try await Self.token(spoc, "/ui/requests/\(requestID)")
            let adminToken = try await Self.token(admin, "/ui/agencies")
            let coordinatorToken = try await Self.token(coordinator, "/ui/credentials")
            let csrForm = Self.encoded(String(decoding: try CertificateSigningRequest.create(
                key: try PrivateKey.generateECDSA(), commonName: "rita", organization: "police").pemBytes, as: UTF8.self))
            let attempts: [(String, BrokerClient, String, String, String)] = [
                ("spoc", spoc, spocToken, "/ui/agencies", "id=rogue&name=Rogue&kind=core"),
                ("spoc", spoc, spocToken, "/ui/principals", "id=rogue&name=Rogue&agency=police&role=coordinator"),
                ("spoc", spoc, spocToken, "/ui/credentials", "principal=rita&csr=\(csrForm)"),
                ("spoc", spoc, spocToken, "/ui/credentials/\(pending.serial)/approve", ""),
                ("spoc", spoc, spocToken, "/ui/cases/\(second)/dispatch", "agency.police=on&questions=Known%3F"),
                ("admin", admin, adminToken, "/ui/credentials/\(pending.serial)/approve", ""),
                ("admin", admin, adminToken, "/ui/cases/\(second)/dispatch", "agency.police=on&questions=Known%3F"),
                ("coordinator", coordinator, coordinatorToken, "/ui/agencies", "id=rogue&name=Rogue&kind=core"),
                ("coordinator", coordinator, coordinatorToken, "/ui/principals", "id=rogue&name=Rogue&agency=police&role=coordinator"),
                ("coordinator", coordinator, coordinatorToken, "/ui/credentials", "principal=rita&csr=\(csrForm)"),
                ("coordinator", coordinator, coordinatorToken, "/ui/agencies/police/active", "active=false"),
            ]
            for (who, client, token, path, body) in attempts {
                let refused = try await Self.post(client, path, "csrf=\(token)&\(body)")
                #expect(refused.status == 403 && refused.text.contains("forbidden"), "\(who) \(path): \(refused.status) \(refused.text.prefix(600))")
            }
            // An auditor and a monitor have no page with a form, hence no token: their posts are cross-site refusals.
            let auditor = try await broker.enrol("audrey", agency: "community-safety", role: "auditor", admin: admin)
            let monitor = try await broker.enrol("mo", agency: "community-safety", role: "monitor", admin: admin)
            for (who, client) in [("auditor", auditor.client), ("monitor", monitor.client)] {
                for page in ["/", "/ui/audit", "/ui/credentials", "/ui/agencies"] {
                    #expect(!(try await client.send("GET", page).text.contains(#"name="csrf""#)), "\(who) \(page) shows a token")
                }
                for (path, body) in [("/ui/credentials/\(pending.serial)/approve", ""), ("/ui/agencies", "id=rogue&name=Rogue&kind=core")] {
                    let refused = try await Self.post(client, path, "csrf=\(adminToken)&\(body)")
                    #expect(refused.status == 403, "\(who) \(path): \(refused.status) \(refused.text.prefix(600))")
                }
            }
            #expect(try await admin.json("GET", "/v1/agencies").json["agencies"].array.allSatisfy { $0["id"].string != "rogue" })
            #expect(try await admin.json("GET", "/v1/agencies").json["agencies"].array.first { $0["id"].string == "police" }?["active"].bool == true)
            #expect(try await admin.json("GET", "/v1/principals").json["principals"].array.allSatisfy { $0["id"].string != "rogue" })
            #expect(try await admin.json("GET", "/v1/credentials?principal=rita").json["credentials"].array.count == 1)
            #expect(try await pending.client.json("GET", "/v1/requests").errorCode == "credential_not_approved")
            let status = try await coordinator.json("GET", "/v1/meetings/\(meetingID)/status").json["requests"].array
            #expect(status.allSatisfy { $0["reference"].string != "CASE-2" }, "nothing dispatched for the second case: \(status)")
        }
    }

    @Test func aCoordinatorCannotApproveItsOwnNewCredentialThroughThePage() async throws {
        try await withTestBroker { broker in
            let cast = try await Cast.make(broker, agencies: ["police"])
            let admin = cast.admin, coordinator = cast.coordinator.client
            // The administrator signs a second certificate for the coordinator (a key the administrator holds, say).
            let second = try await Self.issuePending(broker, admin: admin, principal: "coord", agency: "community-safety")
            #expect(try await second.client.json("GET", "/v1/meetings").errorCode == "credential_not_approved")
            let page = try await coordinator.send("GET", "/ui/credentials")
            #expect(!page.text.contains("/ui/credentials/\(second.serial)/approve"), "no approval button for one's own credential")
            // Its token from a page with a form (the credentials page offers it none).
            let meetingID = try #require(try await cast.meeting(at: ResearchFlowAPITests.meetingStart)["id"].string)
            let token = try await Self.token(coordinator, "/ui/meetings/\(meetingID)")
            let refused = try await Self.post(coordinator, "/ui/credentials/\(second.serial)/approve", "csrf=\(token)")
            #expect(refused.status == 409 && refused.text.contains("your own"), "\(refused.status) \(refused.text.prefix(2_000))")
            // Lower-case serial, a serial with a suffix: still its own, or unknown.
            let lower = try await Self.post(coordinator, "/ui/credentials/\(second.serial.lowercased())/approve", "csrf=\(token)")
            #expect(lower.status == 409, "\(lower.status)")
            let unknown = try await Self.post(coordinator, "/ui/credentials/\(second.serial)00/approve", "csrf=\(token)")
            #expect(unknown.status == 404, "\(unknown.status)")
            // The pending credential cannot approve itself either (it is refused before the domain runs).
            let itself = try await second.client.send("GET", "/ui/credentials")
            #expect(itself.status == 403 && !itself.text.contains(#"name="csrf""#), "\(itself.status)")
            #expect(try await second.client.json("GET", "/v1/meetings").errorCode == "credential_not_approved", "still pending")
        }
    }

    /// The coordinator's approval is the second pair of eyes of SPEC §10: the page must say
    /// what the credential would open (the holder's role) and who issued it when, or an
    /// administrator's look-alike principal ("Jo Smith", role coordinator) is one click away.
    @Test func theApprovalPageShowsTheHoldersRoleAndWhenItWasIssued() async throws {
        try await withTestBroker { broker in
            let cast = try await Cast.make(broker, agencies: ["police"])
            let admin = cast.admin, coordinator = cast.coordinator.client
            #expect(try await admin.json("POST", "/v1/principals", ["id": "jo-smith-2", "name": "Jo Smith", "agency": "police", "role": "coordinator"]).status == 201)
            let pending = try await Self.issuePending(broker, admin: admin, principal: "jo-smith-2", agency: "police")
            let page = try await coordinator.send("GET", "/ui/credentials")
            let row = try #require(page.text.components(separatedBy: "<tr").first { $0.contains("/ui/credentials/\(pending.serial)/approve") }, "\(page.text)")
            #expect(row.contains("<td>coordinator</td>"), "the role the approval opens: \(row)")
            #expect(row.contains("Jo Smith"), "the holder's name: \(row)")
            #expect(row.contains(PageLayout.time(broker.clock.date)), "when it was issued: \(row)")
        }
    }

    // MARK: Hostile text

    @Test func hostileTextInNamesCSRsCaseTypesAndDispatchKeysIsEscapedEverywhere() async throws {
        try await withTestBroker { broker in
            let cast = try await Cast.make(broker, agencies: ["police", "housing"])
            let admin = cast.admin, coordinator = cast.coordinator.client
            let adminToken = try await Self.token(admin, "/ui/agencies")
            let hostile = #"<script>alert(1)</script> "O'Brien" & <img src=x onerror=alert(2)>"#
            // Bidi controls are refused in names; markup and quotes are text, escaped wherever shown.
            let bidi = try await Self.post(admin, "/ui/agencies", "csrf=\(adminToken)&id=bidi&name=\(Self.encoded("Evil\u{202E}gnp.exe"))&kind=core")
            #expect(bidi.status == 422 && bidi.text.contains("invalid_text"), "\(bidi.text.prefix(600))")
            Self.expectNoRawMarkup(bidi, "bidi refusal")
            let badID = try await Self.post(admin, "/ui/agencies", "csrf=\(adminToken)&id=\(Self.encoded(hostile))&name=\(Self.encoded(hostile))&kind=\(Self.encoded(hostile))")
            #expect(badID.status == 422, "\(badID.status)")
            Self.expectNoRawMarkup(badID, "agency refusal")
            #expect(try await Self.post(admin, "/ui/agencies", "csrf=\(adminToken)&id=refuge&name=\(Self.encoded(hostile))&kind=non-core").status == 303)
            let badRole = try await Self.post(admin, "/ui/principals", "csrf=\(adminToken)&id=\(Self.encoded(hostile))&name=\(Self.encoded(hostile))&agency=\(Self.encoded(hostile))&role=\(Self.encoded(hostile))")
            #expect(badRole.status == 422, "\(badRole.status)")
            Self.expectNoRawMarkup(badRole, "principal refusal")
            #expect(try await Self.post(admin, "/ui/principals", "csrf=\(adminToken)&id=rita&name=\(Self.encoded(hostile))&agency=refuge&role=spoc").status == 303)
            // A pasted "CSR" that is markup, and one with a hostile subject.
            let markupCSR = try await Self.post(admin, "/ui/credentials", "csrf=\(adminToken)&principal=rita&csr=\(Self.encoded(hostile + "\n-----BEGIN CERTIFICATE REQUEST-----\n" + hostile))&validityDays=\(Self.encoded(hostile))")
            #expect(markupCSR.status == 422, "\(markupCSR.status) \(markupCSR.text.prefix(800))")
            Self.expectNoRawMarkup(markupCSR, "CSR refusal")
            let shortHostile = #"<script>x</script>"'&"#
            let hostileSubject = try CertificateSigningRequest.create(key: try PrivateKey.generateECDSA(), commonName: shortHostile, organization: shortHostile)
            let subjectRefused = try await Self.post(admin, "/ui/credentials", "csrf=\(adminToken)&principal=rita&csr=\(Self.encoded(String(decoding: hostileSubject.pemBytes, as: UTF8.self)))")
            #expect(subjectRefused.status == 422 && subjectRefused.text.contains("subject_mismatch"), "\(subjectRefused.text.prefix(800))")
            Self.expectNoRawMarkup(subjectRefused, "subject refusal")
            let unknownPrincipal = try await Self.post(admin, "/ui/credentials", "csrf=\(adminToken)&principal=\(Self.encoded(hostile))&csr=x")
            Self.expectNoRawMarkup(unknownPrincipal, "unknown principal")
            // Every page that shows the names.
            for (client, path) in [(admin, "/ui/agencies"), (admin, "/ui/principals"), (admin, "/ui/credentials"), (coordinator, "/ui/agencies"),
                                   (coordinator, "/ui/principals"), (coordinator, "/ui/credentials")] {
                let page = try await client.send("GET", path)
                #expect(page.status == 200, "\(path) \(page.status)")
                Self.expectNoRawMarkup(page, path)
            }
            #expect(try await admin.send("GET", "/ui/agencies").text.contains("&lt;script&gt;alert(1)&lt;/script&gt; &quot;O&#39;Brien&quot;"))
            // The dispatch page lists the agency by its hostile name; hostile form keys are refused and escaped.
            let meetingID = try #require(try await cast.meeting(at: ResearchFlowAPITests.meetingStart)["id"].string)
            let caseID = try #require(try await cast.case(meeting: meetingID, reference: shortHostile, fields: ResearchFlowAPITests.fields)["id"].string)
            let path = "/ui/cases/\(caseID)/dispatch"
            let dispatchPage = try await coordinator.send("GET", path)
            #expect(dispatchPage.status == 200, "\(dispatchPage.status)")
            Self.expectNoRawMarkup(dispatchPage, "dispatch page")
            let token = try await Self.token(coordinator, path)
            for body in ["agency.\(Self.encoded(hostile))=on&questions=Known%3F",
                         "agency.police=on&field.\(Self.encoded(hostile))=on&questions=Known%3F",
                         "agency.police=on&questions=\(Self.encoded(hostile + "\u{202E}"))",
                         "agency.police=on&questions=Known%3F&releaseAt=\(Self.encoded(hostile))",
                         "agency.police=on&questions=Known%3F&urgent=on&reason=\(Self.encoded("\u{202E}" + hostile))"] {
                let refused = try await Self.post(coordinator, path, "csrf=\(token)&\(body)")
                #expect(refused.status >= 400 && refused.text.contains("Not dispatched"), "\(body): \(refused.status) \(refused.text.prefix(800))")
                Self.expectNoRawMarkup(refused, body)
            }
            #expect(try await coordinator.json("GET", "/v1/meetings/\(meetingID)/status").json["requests"].array.isEmpty, "nothing dispatched")
        }
    }

    // MARK: The dispatch form never widens

    @Test func theDispatchFormCannotWidenWhatAnAgencySeesOrReachAnInactiveAgency() async throws {
        try await withTestBroker { broker in
            let cast = try await Cast.make(broker, agencies: ["police", "housing"])
            let admin = cast.admin, coordinator = cast.coordinator.client
            #expect(try await admin.json("POST", "/v1/agencies", ["id": "dormant", "name": "Dormant", "kind": "non-core"]).status == 201)
            #expect(try await admin.json("PATCH", "/v1/agencies/dormant", ["active": false]).status == 200)
            let meetingID = try #require(try await cast.meeting(at: ResearchFlowAPITests.meetingStart)["id"].string)
            let caseID = try #require(try await cast.case(meeting: meetingID, fields: ResearchFlowAPITests.fields)["id"].string)
            let path = "/ui/cases/\(caseID)/dispatch"
            let page = try await coordinator.send("GET", path)
            #expect(!page.text.contains(#"name="agency.dormant""#), "an inactive agency is not offered")
            let token = try await Self.token(coordinator, path)
            let refusals: [(String, String)] = [
                ("agency.dormant=on&questions=Known%3F", "inactive"),
                ("agency.nowhere=on&questions=Known%3F", "no agency"),
                ("agency.POLICE=on&questions=Known%3F", "no agency"),
                ("agency.=on&questions=Known%3F", "no agency"),
                ("agency.housing=on&field.=on&questions=Known%3F", "the case has no field"),
                ("agency.housing=on&field.victim=on&questions=Known%3F", "the case has no field"),
                ("agency.housing=on&field.victim.*=on&questions=Known%3F", "the case has no field"),
                ("agency.housing=on&field%2Evictim%2EsafeAddress=on&questions=Known%3F", "not_entitled"),
                ("agency.housing=on&field.victim.safeAddress=on&field.victim.name=on&questions=Known%3F", "not_entitled"),
                ("agency.housing=on&agency.police=on&field.victim.safeAddress=on&questions=Known%3F", "not_entitled"),
                ("agency.housing=on&field.victim.safeAddress%00=on&questions=Known%3F", "the case has no field"),
                ("questions=Known%3F", "agencies"),
            ]
            for (body, named) in refusals {
                let refused = try await Self.post(coordinator, path, "csrf=\(token)&\(body)")
                #expect(refused.status >= 400 && refused.text.contains(named), "\(body): \(refused.status) \(refused.text.prefix(1_500))")
            }
            #expect(try await coordinator.json("GET", "/v1/meetings/\(meetingID)/status").json["requests"].array.isEmpty, "nothing dispatched")
            // The same refusals as the API.
            let api = try await coordinator.json("POST", "/v1/cases/\(caseID)/research",
                                                 ["agencies": ["housing"], "questions": ["Known?"], "fields": ["victim.safeAddress"]])
            #expect(api.status == 403 && api.errorCode == "not_entitled", "\(api.text)")
            // Duplicate keys collapse; a narrowing the agency may see is honoured; what it may not see never reaches it.
            let sent = try await Self.post(coordinator, path, "csrf=\(token)&agency.housing=on&agency.housing=on&field.victim.name=on&field.victim.name=on&questions=Known%3F")
            #expect(sent.status == 303, "\(sent.status) \(sent.text.prefix(1_500))")
            let requestID = try #require(try await coordinator.json("GET", "/v1/meetings/\(meetingID)/status").json["requests"].array.first?["id"].string)
            let seen = try await cast.spocs["housing"]!.client.json("GET", "/v1/requests/\(requestID)")
            #expect(seen.json["fields"].keys == ["victim.name"], "\(seen.text)")
            // A second dispatch to the same agency is the API's 409, on the form too.
            let again = try await Self.post(coordinator, path, "csrf=\(token)&agency.housing=on&questions=Known%3F")
            #expect(again.status == 409 && again.text.contains("Not dispatched"), "\(again.status)")
        }
    }

    /// A browser sends a textarea's line breaks as CR LF (HTML's form encoding): "one per line"
    /// must then be one question per line, as with a bare LF, not one question with a break inside.
    @Test func aBrowsersCRLFLinesAreSeparateQuestions() async throws {
        try await withTestBroker { broker in
            let cast = try await Cast.make(broker, agencies: ["police"])
            let coordinator = cast.coordinator.client
            let meetingID = try #require(try await cast.meeting(at: ResearchFlowAPITests.meetingStart)["id"].string)
            let caseID = try #require(try await cast.case(meeting: meetingID, fields: ResearchFlowAPITests.fields)["id"].string)
            let path = "/ui/cases/\(caseID)/dispatch"
            let token = try await Self.token(coordinator, path)
            let sent = try await Self.post(coordinator, path, "csrf=\(token)&agency.police=on&questions=Known%3F%0D%0AAny+weapons%3F%0D%0A%0D%0A")
            #expect(sent.status == 303, "\(sent.status) \(sent.text.prefix(1_000))")
            let requestID = try #require(try await coordinator.json("GET", "/v1/meetings/\(meetingID)/status").json["requests"].array.first?["id"].string)
            let request = try await coordinator.json("GET", "/v1/requests/\(requestID)")
            #expect(request.json["questions"].array.compactMap(\.string) == ["Known?", "Any weapons?"], "\(request.text)")
        }
    }

    // MARK: Last use

    /// A request refused because of the credential itself (pending, revoked, disabled principal)
    /// is never a use. One the credential authenticated but the domain or the form guard refused
    /// (another role's page, a cross-site post) is: the key was presented and is alive, which is
    /// what an administrator looking for stale credentials needs to know.
    @Test func requestsRefusedForTheCredentialItselfAreNeverUses() async throws {
        try await withTestBroker { broker in
            let cast = try await Cast.make(broker, agencies: ["police"])
            let admin = cast.admin
            func lastUse(_ serial: String) async throws -> String? {
                try await admin.json("GET", "/v1/credentials").json["credentials"].array.first { $0["serial"].string == serial }?["lastUsedAt"].string
            }
            // Pending: every request but whoami is refused, and none of them is a use.
            #expect(try await admin.json("POST", "/v1/principals", ["id": "rita", "name": "Rita", "agency": "police", "role": "spoc"]).status == 201)
            let pending = try await Self.issuePending(broker, admin: admin, principal: "rita", agency: "police")
            for path in ["/v1/requests", "/v1/meetings", "/ui/inbox", "/ui/credentials", "/nowhere", "/ui/style.css"] {
                let refused = try await pending.client.send("GET", path)
                #expect(refused.status == 403, "\(path) \(refused.status)")
            }
            let refusedPost = try await Self.post(pending.client, "/ui/credentials/\(pending.serial)/approve", "csrf=x")
            #expect(refusedPost.status == 403, "\(refusedPost.status)")
            #expect(try await lastUse(pending.serial) == nil, "a pending credential's refused requests are not uses")
            // Revoked and disabled, on an open connection: refused, the last use stays the one before.
            let revoked = try await broker.enrol("rev", agency: "police", role: "spoc", admin: admin)
            let disabled = try await broker.enrol("dis", agency: "police", role: "spoc", admin: admin)
            let start = broker.clock.date
            #expect(try await revoked.client.json("GET", "/v1/requests").status == 200)
            #expect(try await disabled.client.json("GET", "/v1/requests").status == 200)
            let usedRevoked = try await lastUse(revoked.serial), usedDisabled = try await lastUse(disabled.serial)
            #expect(usedRevoked != nil && usedDisabled != nil)
            #expect(try await admin.json("POST", "/v1/credentials/\(revoked.serial)/revoke", ["reason": "lost laptop"]).status == 200)
            #expect(try await admin.json("PATCH", "/v1/principals/dis", ["active": false]).status == 200)
            broker.clock.set(start.addingTimeInterval(600))
            for client in [revoked.client, disabled.client] {
                let refused = try? await client.json("GET", "/v1/requests")
                #expect(refused == nil || refused?.status == 403, "\(refused?.status ?? 0)")
            }
            #expect(try await lastUse(revoked.serial) == usedRevoked, "a revoked credential's refused request is not a use")
            #expect(try await lastUse(disabled.serial) == usedDisabled, "a disabled principal's refused request is not a use")
        }
    }

    @Test func aLastUseFileThatIsNotARegularFileNeverHoldsUpTheStart() async throws {
        let directory = try TemporaryDirectory()
        let fifo = directory.path("credential-use.json")
        #expect(mkfifo(fifo, 0o600) == 0)
        let lines = LogCapture()
        let started = LogCapture()
        let thread = Thread(block: {
            let use = CredentialUse(path: fifo, logger: Logger(sink: { lines.append($0) }))
            started.append(use.lastUse(of: "ABC") == nil ? "started" : "started with a use")
        })
        thread.start()
        let deadline = Date().addingTimeInterval(10)
        while started.all.isEmpty && Date() < deadline { try await Task.sleep(for: .milliseconds(50)) }
        if started.all.isEmpty {
            // Unblock the reader so the test process can finish.
            let writer = open(fifo, O_WRONLY | O_NONBLOCK)
            if writer >= 0 { close(writer) }
        }
        #expect(started.all == ["started"], "reading a FIFO named credential-use.json blocked the broker's start")
        #expect(lines.all.contains { $0.contains("credential_use_unreadable") }, "\(lines.all)")

        // A file larger than the limit is refused without being read into memory first (sparse: no disk used).
        let big = directory.path("big.json")
        #expect(FileManager.default.createFile(atPath: big, contents: nil))
        #expect(truncate(big, off_t(CredentialUse.maxFileBytes) * 64) == 0)
        let bigLines = LogCapture()
        let bigUse = CredentialUse(path: big, logger: Logger(sink: { bigLines.append($0) }))
        #expect(bigUse.lastUse(of: "ABC") == nil)
        #expect(bigLines.all.contains { $0.contains("credential_use_unreadable") && $0.contains("larger than") }, "\(bigLines.all)")

        // A symbolic link is not followed (the next save would replace the link, not write through it).
        let elsewhere = directory.path("elsewhere.json")
        let when = RFC3339.format(Date(timeIntervalSince1970: 1_800_000_000), fraction: .milliseconds)
        try Data(#"{"ABC": ""#.utf8 + Data(when.utf8) + Data(#""}"#.utf8)).write(to: URL(fileURLWithPath: elsewhere))
        let link = directory.path("linked.json")
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: elsewhere)
        let linkLines = LogCapture()
        let linked = CredentialUse(path: link, logger: Logger(sink: { linkLines.append($0) }))
        #expect(linked.lastUse(of: "ABC") == nil, "followed a symbolic link")
        #expect(linkLines.all.contains { $0.contains("credential_use_unreadable") }, "\(linkLines.all)")
        // A link to an endless device would otherwise be read until memory runs out, at every start.
        let endless = directory.path("endless.json")
        try FileManager.default.createSymbolicLink(atPath: endless, withDestinationPath: "/dev/zero")
        let endlessLines = LogCapture()
        #expect(CredentialUse(path: endless, logger: Logger(sink: { endlessLines.append($0) })).lastUse(of: "ABC") == nil)
        #expect(endlessLines.all.contains { $0.contains("credential_use_unreadable") }, "\(endlessLines.all)")
    }

    /// Entries are never pruned (revoked and expired credentials stay, and a holder in its renewal
    /// window may renew again and again, each new credential one more entry): past `maxFileBytes`
    /// the next start would refuse the file and forget every credential's last use at once.
    @Test func aLastUseFileNeverOutgrowsWhatTheNextStartReads() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.path("credential-use.json")
        let use = CredentialUse(path: path, logger: Logger(sink: { _ in }))
        let start = Date(timeIntervalSince1970: 1_800_000_000)
        let count = CredentialUse.maxEntries * 2
        for index in 0..<count {
            use.record(serial: String(format: "%032X", index), at: start.addingTimeInterval(Double(index)))
        }
        use.flush()
        let size = try #require(try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int)
        #expect(size <= CredentialUse.maxFileBytes, "\(size) bytes")
        let lines = LogCapture()
        let reread = CredentialUse(path: path, logger: Logger(sink: { lines.append($0) }))
        #expect(!lines.all.contains { $0.contains("credential_use_unreadable") }, "\(lines.all)")
        let newest = String(format: "%032X", count - 1)
        #expect(reread.lastUse(of: newest) == start.addingTimeInterval(Double(count - 1)), "the most recent uses are kept")
        #expect(reread.lastUse(of: String(format: "%032X", 0)) == nil, "the oldest give way")
    }

    // MARK: Redirection's case type

    @Test func aRedirectsCaseTypeIsScreenedByTheTargetPanelAndOnlyForRedirections() async throws {
        try await withTestBroker { broker in
            let cast = try await Cast.make(broker, agencies: ["housing"])
            let coordinator = cast.coordinator.client, housing = cast.spocs["housing"]!.client
            let submitted = try await housing.json("POST", "/v1/referrals", ReferralAPITests.community())
            let id = try #require(submitted.json["id"].string, "\(submitted.text)")
            let path = "/ui/referrals/\(id)/decision"
            let token = try await Self.token(coordinator, "/ui/referrals/\(id)")
            let hostile = #"<script>alert(1)</script>"#
            let attempts: [(String, String)] = [
                ("decision=redirected&panel=domestic-abuse&reason=DA&caseType=\(Self.encoded(hostile))", "caseType"),
                ("decision=redirected&panel=domestic-abuse&reason=DA&caseType=asb", "screening_failed"),
                ("decision=redirected&panel=domestic-abuse&reason=DA&caseType=burglary", "screening_failed"),
                ("decision=redirected&panel=community&reason=Same&caseType=hate-crime", "panel"),
                ("decision=declined&reason=No&advice=Local&caseType=asb", "caseType"),
                ("decision=accepted&meeting=none&caseType=domestic-abuse", "caseType"),
            ]
            for (body, named) in attempts {
                let refused = try await Self.post(coordinator, path, "csrf=\(token)&\(body)")
                #expect(refused.status == 422 && refused.text.contains(named), "\(body): \(refused.status) \(refused.text.prefix(1_500))")
                Self.expectNoRawMarkup(refused, body)
            }
            #expect(try await housing.json("GET", "/v1/referrals/\(id)").json["state"].string == "submitted", "nothing decided")
            // The SPOC cannot decide (its page has no form, and a forged post is the domain's 403).
            #expect(try await housing.send("GET", "/ui/referrals/\(id)").text.contains(#"name="caseType""#) == false)
        }
    }
}

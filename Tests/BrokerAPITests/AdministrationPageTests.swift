@testable import BrokerAPI
import Foundation
import MaracClient
import Testing
import TestSupport
import TLS
import Wire

/// The administration and dispatch pages without a browser (the browser walk is
/// `BrowserPageTests`): registering agencies and principals, signing and approving
/// credentials, each credential's last use, and the dispatch form's extensions.
@Suite(.serialized) struct AdministrationPageTests {
    static let form = ("Content-Type", "application/x-www-form-urlencoded")
    /// This broker's origin as the client names it (`Host: 127.0.0.1:PORT`).
    static func origin(_ client: BrokerClient) -> (String, String) { ("Origin", "https://127.0.0.1:\(client.port)") }

    /// The page's per-credential form token.
    static func token(_ client: BrokerClient, _ path: String) async throws -> String {
        let page = try await client.send("GET", path)
        return try #require(page.text.components(separatedBy: #"name="csrf" value=""#).dropFirst().first?.prefix(64).description, "\(page.status) \(page.text)")
    }

    static func post(_ client: BrokerClient, _ path: String, _ body: String) async throws -> ClientResponse {
        try await client.send("POST", path, body: Array(body.utf8), headers: [form, origin(client)])
    }

    @Test func anAdministratorRegistersAgenciesAndPrincipalsOthersCannot() async throws {
        try await withTestBroker { broker in
            let cast = try await Cast.make(broker, agencies: ["police"])
            let admin = cast.admin, coordinator = cast.coordinator.client
            let adminToken = try await Self.token(admin, "/ui/agencies")
            #expect(try await admin.send("GET", "/ui/agencies").text.contains("action=\"/ui/agencies\""))
            let coordinatorPage = try await coordinator.send("GET", "/ui/agencies")
            #expect(coordinatorPage.status == 200 && !coordinatorPage.text.contains("action=\"/ui/agencies\""), "coordinators look, without the form")
            // Another role's post, with its own valid token, is the domain's 403 and changes nothing.
            let meetingID = try #require(try await cast.meeting(at: ResearchFlowAPITests.meetingStart)["id"].string)
            for (client, tokenPage) in [(coordinator, "/ui/meetings/\(meetingID)")] {
                let token = try await Self.token(client, tokenPage)
                for (path, body) in [("/ui/agencies", "id=rogue&name=Rogue&kind=core"), ("/ui/principals", "id=rogue&name=Rogue&agency=police&role=admin")] {
                    let refused = try await Self.post(client, path, "csrf=\(token)&\(body)")
                    #expect(refused.status == 403 && refused.text.contains("forbidden"), "\(path): \(refused.status) \(refused.text)")
                }
            }
            #expect(try await admin.json("GET", "/v1/principals").json["principals"].array.allSatisfy { $0["id"].string != "rogue" }, "nothing stored")
            // Refusals name the field and keep what was typed; an unknown kind is refused, never guessed.
            let badID = try await Self.post(admin, "/ui/agencies", "csrf=\(adminToken)&id=Refuge+North&name=Refuge+%3Cb%3ENorth%3C%2Fb%3E&kind=non-core")
            #expect(badID.status == 422 && badID.text.contains("Not changed — validation_failed") && badID.text.contains("id:")
                    && badID.text.contains(#"value="Refuge &lt;b&gt;North&lt;/b&gt;""#) && badID.text.contains(#"<option value="non-core" selected>"#), "\(badID.text)")
            let badKind = try await Self.post(admin, "/ui/agencies", "csrf=\(adminToken)&id=refuge-north&name=Refuge&kind=partner")
            #expect(badKind.status == 422 && badKind.text.contains("kind: must be core or non-core"), "\(badKind.text)")
            let control = try await Self.post(admin, "/ui/agencies", "csrf=\(adminToken)&id=refuge-north&name=Refuge%E2%80%AE&kind=core")
            #expect(control.status == 422 && control.text.contains("invalid_text"), "\(control.text)")
            #expect(try await admin.json("GET", "/v1/agencies").json["agencies"].array.allSatisfy { $0["id"].string != "refuge-north" }, "nothing stored")
            let created = try await Self.post(admin, "/ui/agencies", "csrf=\(adminToken)&id=refuge-north&name=Refuge+North&kind=non-core")
            #expect(created.status == 303, "\(created.text)")
            let agency = try await admin.json("GET", "/v1/agencies").json["agencies"].array.first { $0["id"].string == "refuge-north" }
            #expect(agency?["name"].string == "Refuge North" && agency?["kind"].string == "non-core")
            // A principal for it; an unknown role and an unknown agency are refused naming them.
            let badRole = try await Self.post(admin, "/ui/principals", "csrf=\(adminToken)&id=rita&name=Rita&agency=refuge-north&role=superuser")
            #expect(badRole.status == 422 && badRole.text.contains("role: must be one of"), "\(badRole.text)")
            let badAgency = try await Self.post(admin, "/ui/principals", "csrf=\(adminToken)&id=rita&name=Rita&agency=nowhere&role=spoc")
            #expect(badAgency.status >= 400 && badAgency.text.contains("nowhere"), "\(badAgency.status) \(badAgency.text)")
            let principal = try await Self.post(admin, "/ui/principals", "csrf=\(adminToken)&id=rita&name=Rita+Refuge&agency=refuge-north&role=spoc")
            #expect(principal.status == 303, "\(principal.text)")
            let stored = try await admin.json("GET", "/v1/principals").json["principals"].array.first { $0["id"].string == "rita" }
            #expect(stored?["agency"].string == "refuge-north" && stored?["role"].string == "spoc" && stored?["name"].string == "Rita Refuge")
        }
    }

    @Test func theAdministratorSignsACoordinatorApprovesAndEveryCredentialShowsItsLastUse() async throws {
        try await withTestBroker { broker in
            let cast = try await Cast.make(broker, agencies: ["police"])
            let admin = cast.admin, coordinator = cast.coordinator.client, spoc = cast.spocs["police"]!.client
            let start = Date(timeIntervalSince1970: broker.clock.date.timeIntervalSince1970.rounded(.down))
            #expect(try await admin.json("POST", "/v1/principals", ["id": "rita", "name": "Rita", "agency": "police", "role": "spoc"]).status == 201)
            let key = try PrivateKey.generateECDSA()
            let csr = try CertificateSigningRequest.create(key: key, commonName: "rita", organization: "police")
            let csrForm = String(decoding: csr.pemBytes, as: UTF8.self).addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
            let adminToken = try await Self.token(admin, "/ui/credentials")
            let badDays = try await Self.post(admin, "/ui/credentials", "csrf=\(adminToken)&principal=rita&csr=\(csrForm)&validityDays=a+year")
            #expect(badDays.status == 422 && badDays.text.contains("validityDays") && badDays.text.contains("-----BEGIN CERTIFICATE REQUEST-----"), "\(badDays.text)")
            let wrongSubject = try CertificateSigningRequest.create(key: key, commonName: "mallory", organization: "police")
            let mismatch = try await Self.post(admin, "/ui/credentials", "csrf=\(adminToken)&principal=rita&csr="
                + String(decoding: wrongSubject.pemBytes, as: UTF8.self).addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)
            #expect(mismatch.status == 422 && mismatch.text.contains("subject_mismatch"), "\(mismatch.text)")
            let signed = try await Self.post(admin, "/ui/credentials", "csrf=\(adminToken)&principal=rita&csr=\(csrForm)&validityDays=30")
            #expect(signed.status == 201 && signed.text.contains("-----BEGIN CERTIFICATE-----") && !signed.text.contains("PRIVATE KEY"), "\(signed.text)")
            let pem = try #require(signed.text.components(separatedBy: #"<pre class="pem" id="certificate">"#).dropFirst().first?
                .components(separatedBy: "</pre>").first)
            let certificate = try Certificate(pem: Array(pem.utf8))
            // Only the administrator signs: a coordinator's post, with its own token, is the domain's 403.
            let coordinatorToken = try await Self.token(coordinator, "/ui/credentials")
            #expect(try await Self.post(coordinator, "/ui/credentials", "csrf=\(coordinatorToken)&principal=rita&csr=\(csrForm)").status == 403)
            #expect(try await admin.json("GET", "/v1/credentials?principal=rita").json["credentials"].array.count == 1, "nothing more signed")
            // The signing form posted again (a reload that re-sends it): the key is certified once.
            let reloaded = try await Self.post(admin, "/ui/credentials", "csrf=\(adminToken)&principal=rita&csr=\(csrForm)&validityDays=30")
            #expect(reloaded.status == 409 && reloaded.text.contains("certified once") && !reloaded.text.contains("-----BEGIN CERTIFICATE-----"),
                    "\(reloaded.status) \(reloaded.text)")
            #expect(try await admin.json("GET", "/v1/credentials?principal=rita").json["credentials"].array.count == 1, "a reload signs nothing")
            let rita = try BrokerClient(host: "127.0.0.1", port: broker.port, identity: ClientIdentity(
                certificate: certificate, privateKey: key, trustRoots: [try Certificate(pemFile: broker.pki.caCertificatePath)]))
            #expect(try await rita.json("GET", "/v1/requests").json["error"]["code"].string == "credential_not_approved", "pending until approved")
            // The coordinator's page offers approval for pending credentials that are not its own, and no revocation.
            let list = try await coordinator.send("GET", "/ui/credentials")
            #expect(list.text.contains("action=\"/ui/credentials/\(certificate.serial)/approve\"") && !list.text.contains("/revoke\""), "\(list.text)")
            let adminList = try await admin.send("GET", "/ui/credentials")
            #expect(!adminList.text.contains("/approve\""), "an administrator is offered no approval")
            // An administrator's approval post is the domain's 403; the coordinator's approves.
            #expect(try await Self.post(admin, "/ui/credentials/\(certificate.serial)/approve", "csrf=\(adminToken)").status == 403)
            #expect(try await rita.json("GET", "/v1/requests").status == 403)
            #expect(try await Self.post(coordinator, "/ui/credentials/\(certificate.serial)/approve", "csrf=\(coordinatorToken)").status == 303)
            #expect(try await rita.json("GET", "/v1/requests").status == 200)

            // Last use: to the minute, in GET /v1/credentials and on the page; never-used says so.
            let police = cast.spocs["police"]!.serial
            broker.clock.set(start.addingTimeInterval(600))
            _ = try await spoc.json("GET", "/v1/whoami")
            func lastUse(_ serial: String) async throws -> String? {
                try await admin.json("GET", "/v1/credentials").json["credentials"].array.first { $0["serial"].string == serial }?["lastUsedAt"].string
            }
            #expect(try await lastUse(police).flatMap(RFC3339.parse) == start.addingTimeInterval(600))
            broker.clock.set(start.addingTimeInterval(630))
            _ = try await spoc.json("GET", "/v1/whoami")
            #expect(try await lastUse(police).flatMap(RFC3339.parse) == start.addingTimeInterval(600), "within the minute: not recorded again")
            broker.clock.set(start.addingTimeInterval(700))
            _ = try await spoc.json("GET", "/v1/whoami")
            #expect(try await lastUse(police).flatMap(RFC3339.parse) == start.addingTimeInterval(700))
            let unused = try await broker.enrol("idle", agency: "police", role: "spoc", admin: admin)
            #expect(try await lastUse(unused.serial) == nil, "a credential never used has no lastUsedAt")
            let page = try await admin.send("GET", "/ui/credentials")
            let idleRow = try #require(page.text.components(separatedBy: "<tr").first { $0.contains(unused.serial) })
            #expect(idleRow.contains("<td>never</td>"), "\(idleRow)")
            // Kept across a restart: written at shutdown, mode 0600, serials and times only. The
            // administrator's own use at +700 s came after the SPOC's use at +700 s was saved (at most one
            // save a minute), so only the shutdown's write keeps it.
            let adminSerial = try Certificate(pemFile: broker.pki.adminCertificatePath).serial
            #expect(try await lastUse(adminSerial).flatMap(RFC3339.parse) == start.addingTimeInterval(700))
            try await broker.restart()
            let file = broker.directory.path("data/credential-use.json")
            let mode = try FileManager.default.attributesOfItem(atPath: file)[.posixPermissions] as? Int
            #expect(mode == 0o600, "credential-use.json mode \(String(mode ?? 0, radix: 8))")
            let saved = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: file))) as? [String: String]
            #expect(saved?[police] != nil && saved?.keys.allSatisfy { $0.allSatisfy(\.isHexDigit) } == true, "\(saved ?? [:])")
            let again = try broker.adminClient()
            // One request: the answer shows what was read back, before this request's own use is recorded.
            let restarted = try await again.json("GET", "/v1/credentials").json["credentials"].array
            let after = restarted.first { $0["serial"].string == police }?["lastUsedAt"].string
            #expect(after.flatMap(RFC3339.parse) == start.addingTimeInterval(700), "\(after ?? "none")")
            let adminAfter = restarted.first { $0["serial"].string == adminSerial }?["lastUsedAt"].string
            #expect(adminAfter.flatMap(RFC3339.parse) == start.addingTimeInterval(700), "saved at shutdown: \(adminAfter ?? "none")")
        }
    }

    @Test func aBrokenLastUseFileIsReplacedNeverFatal() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.path("credential-use.json")
        try Data("{\"ABC\": 12}".utf8).write(to: URL(fileURLWithPath: path))
        let lines = LogCapture()
        let use = CredentialUse(path: path, logger: Logger(sink: { lines.append($0) }))
        #expect(use.lastUse(of: "ABC") == nil)
        #expect(lines.all.contains { $0.contains("credential_use_unreadable") }, "\(lines.all)")
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        use.record(serial: "ABC", at: now)
        use.flush()
        let reread = CredentialUse(path: path, logger: Logger(sink: { _ in }))
        #expect(reread.lastUse(of: "ABC") == now)
    }

    @Test func theDispatchFormNarrowsSchedulesAndRefusesWhatTheAPIRefuses() async throws {
        try await withTestBroker { broker in
            let cast = try await Cast.make(broker, agencies: ["police", "housing"])
            let coordinator = cast.coordinator.client
            let meetingID = try #require(try await cast.meeting(at: ResearchFlowAPITests.meetingStart)["id"].string)
            let caseID = try #require(try await cast.case(meeting: meetingID, reference: "MARAC <i>7</i>", fields: ResearchFlowAPITests.fields)["id"].string)
            let path = "/ui/cases/\(caseID)/dispatch"
            // Only the coordinator: a SPOC and an administrator get the domain's 403.
            #expect(try await cast.spocs["police"]!.client.send("GET", path).status == 403)
            #expect(try await cast.admin.send("GET", path).status == 403)
            let page = try await coordinator.send("GET", path)
            #expect(page.status == 200 && page.text.contains("Dispatch research for MARAC &lt;i&gt;7&lt;/i&gt;"), "\(page.text)")
            // Each agency with what its entitlement lets it see: the police its safe address, housing not.
            let policeRow = try #require(page.text.components(separatedBy: "<label").first { $0.contains(#"name="agency.police""#) })
            let housingRow = try #require(page.text.components(separatedBy: "<label").first { $0.contains(#"name="agency.housing""#) })
            #expect(policeRow.contains("victim.safeAddress") && !housingRow.contains("victim.safeAddress") && !policeRow.contains("victim.gp"), "\(policeRow) \(housingRow)")
            // Opening the form reads the case: audited, field names only.
            let audit = try await broker.adminClient().json("GET", "/v1/audit?object=\(caseID)")
            #expect(audit.json["records"].array.contains { $0["action"].string == "case.read" }, "\(audit.text.prefix(1_000))")
            let token = try await Self.token(coordinator, path)
            func dispatch(_ body: String) async throws -> ClientResponse { try await Self.post(coordinator, path, "csrf=\(token)&\(body)") }
            let refusals: [(String, String)] = [
                ("agency.police=on&questions=Known%3F&urgent=on", "reason"),
                ("agency.police=on&questions=Known%3F&releaseAt=next+Tuesday", "releaseAt: must be a UTC time"),
                ("agency.police=on&questions=Known%3F&field.victim.nickname=on", "the case has no field"),
                ("agency.housing=on&questions=Known%3F&field.victim.safeAddress=on", "not_entitled"),
                ("agency.police=on&questions=Known%3F&followUp=on&returnBy=2030-01-01T10:00", "follow-up research is asked after the meeting"),
                ("agency.police=on&questions=", "questions"),
                // A narrowing not sent as a tick box is refused, never dropped (which would send everything entitled).
                ("agency.police=on&questions=Known%3F&field.victim.name=yes", "field.victim.name: a tick box is on or absent"),
            ]
            for (body, named) in refusals {
                let refused = try await dispatch(body)
                #expect(refused.status >= 400 && refused.text.contains("Not dispatched") && refused.text.contains(named)
                        && refused.text.contains(#"name="agency."#), "\(body): \(refused.status) \(refused.text.prefix(3_000))")
            }
            #expect(try await coordinator.json("GET", "/v1/meetings/\(meetingID)/status").json["requests"].array.isEmpty, "nothing dispatched")
            // Narrowed to two fields, released tomorrow at 09:00 UTC (a browser's datetime-local, no seconds).
            let tomorrow = broker.clock.date.addingTimeInterval(86_400)
            let releaseText = String(RFC3339.format(tomorrow).prefix(11)) + "09:00"
            let sent = try await dispatch("agency.police=on&questions=Known%3F%0AAny+weapons%3F&field.victim.name=on&field.victim.safeAddress=on&releaseAt=\(releaseText)")
            #expect(sent.status == 303 && sent.headers.contains { $0.0 == "Location" && $0.1 == "/ui/meetings/\(meetingID)#status" }, "\(sent.status) \(sent.text)")
            let status = try await coordinator.json("GET", "/v1/meetings/\(meetingID)/status").json["requests"].array
            let requestID = try #require(status.first?["id"].string)
            let request = try await coordinator.json("GET", "/v1/requests/\(requestID)")
            #expect(request.json["state"].string == "scheduled" && request.json["releaseAt"].string.flatMap(RFC3339.parse) == RFC3339.parse(releaseText + ":00Z"),
                    "\(request.text)")
            #expect(request.json["questions"].array.count == 2, "\(request.text)")
            #expect(try await cast.spocs["police"]!.client.json("GET", "/v1/requests/\(requestID)").status == 404, "not before its release")
            // The release timer runs on real time; a restart after the (test) clock passed releaseAt releases at once.
            broker.clock.set(RFC3339.parse(releaseText + ":00Z")!.addingTimeInterval(60))
            try await broker.restart()
            let police = try cast.spocs["police"]!.reconnected(to: broker).client
            #expect(try await eventually(timeout: .seconds(60)) { try await police.json("GET", "/v1/requests/\(requestID)").status == 200 }, "released by the broker's timer")
            let released = try await police.json("GET", "/v1/requests/\(requestID)")
            #expect(released.json["fields"].keys == ["victim.name", "victim.safeAddress"], "\(released.text)")
        }
    }
}

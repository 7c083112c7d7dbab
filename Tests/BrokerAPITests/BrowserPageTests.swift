@_spi(Testing) import BrokerHost
import Foundation
import MaracClient
import Testing
import TestSupport
import TLS

extension ExternalTools {
    /// The web pages (SPEC §12) in a real Chromium (Debian's, driven by Playwright from the tests'
    /// venv) with real client certificates against a real broker: `Tests/python/browser_pages.py`
    /// walks the SPOC, coordinator and administrator flows, tries the attacks, and runs axe-core on
    /// every page. Screenshots go to `MARAC_SCREENSHOTS` (the README's come from there).
    @Suite(.serialized) struct BrowserPageTests {
        static let chromium = "/usr/bin/chromium"
        /// Shown as text on every page, never run: tags, quotes, an apostrophe.
        static let hostile = #"<script>alert("x")</script> O'Brien "quoted" <b>"#

        @Test(.enabled(if: TestVenv.isEnabled, "MARAC_SKIP_VENV=1"))
        func spocCoordinatorAndAdministratorPagesInARealChromium() async throws {
            let python = try await TestVenv.python()
            try #require(FileManager.default.isExecutableFile(atPath: Self.chromium),
                         "\(Self.chromium) is missing: .ci/run installs it (apt-get install --no-install-recommends chromium)")
            try await withTestBroker { broker in
                let cast = try await Cast.make(broker, agencies: ["police", "housing"])
                // The walked request: at the later meeting, dispatched in time, with hostile text in
                // its reference, a field and a question.
                let later = try await cast.coordinator.client.json("POST", "/v1/meetings", ["title": "Northtown <b>March</b>", "startsAt": rfc3339(FixtureDates.laterMeetingStart())])
                let laterID = try #require(later.json["id"].string, "\(later.text)")
                let reference = "MARAC-2027-0042 " + Self.hostile
                var fields = ResearchFlowAPITests.fields
                fields["victim.alias"] = Self.hostile
                let caseID = try #require(try await cast.case(meeting: laterID, reference: reference, fields: fields)["id"].string)
                let dispatched = try await cast.coordinator.client.json("POST", "/v1/cases/\(caseID)/research",
                                                                       ["agencies": ["police"], "questions": [#"Known to you? "quoted" <i>"#]])
                let requestID = try #require(dispatched.json["requests"][0]["id"].string, "\(dispatched.text)")
                // Four referrals to the DA panel from the police, with hostile text: one to decline, one to
                // accept into the later meeting, one to redirect to the community panel as anti-social
                // behaviour, one left to screen (its refused decline goes through axe).
                var referrals: [String] = []
                for name in ["Dee Clined", "Ace Cepted", "Wai Ting", "Rhea Main"] {
                    let made = try await cast.spocs["police"]!.client.json("POST", "/v1/referrals", [
                        "caseType": "domestic-abuse", "fields": ["victim.name": name, "victim.dateOfBirth": "1985-04-01", "victim.alias": Self.hostile],
                        "consent": ["status": "obtained"], "criteria": ["visible-high-risk"], "reason": "DASH 15 ticks " + Self.hostile])
                    referrals.append(try #require(made.json["id"].string, "\(made.text)"))
                }
                // An urgent one: the earlier meeting's research, sent after its dispatch deadline.
                let earlierID = try #require(try await cast.meeting(at: ResearchFlowAPITests.meetingStart)["id"].string)
                let urgentCase = try #require(try await cast.case(meeting: earlierID, reference: "MARAC-2027-0043", fields: ["victim.name": "Ann"])["id"].string)
                broker.clock.set(ResearchFlowAPITests.dispatchDeadline.addingTimeInterval(3_600))
                let urgent = try await cast.coordinator.client.json("POST", "/v1/cases/\(urgentCase)/research",
                                                                   ["agencies": ["police"], "questions": ["Known?"], "urgent": true, "reason": "Escalating threats"])
                #expect(urgent.status == 201, "\(urgent.text)")
                // Twelve hours before the earlier meeting: its agenda is published to the invited police SPOC,
                // and the later meeting still takes acceptances and research.
                broker.clock.set(ResearchFlowAPITests.meetingStart.addingTimeInterval(-12 * 3_600))
                // A certificate request made on the new principal's own machine, for the administrator's signing form.
                let newcomerKey = try PrivateKey.generateECDSA()
                let newcomerCSR = try CertificateSigningRequest.create(key: newcomerKey, commonName: "rita-refuge", organization: "refuge-north")
                let issuedOut = broker.directory.path("issued-rita-refuge.pem")

                let screenshots = ProcessInfo.processInfo.environment["MARAC_SCREENSHOTS"] ?? broker.directory.path(".")
                let person = { (enrolled: Enrolled) in ["cert": enrolled.certificatePath, "key": enrolled.keyPath] }
                let scenario: [String: Any] = [
                    "origin": "https://localhost:\(broker.port)", "ca": broker.pki.caCertificatePath, "chromium": Self.chromium,
                    "people": ["spoc": person(cast.spocs["police"]!), "housing": person(cast.spocs["housing"]!), "coordinator": person(cast.coordinator),
                               "admin": ["cert": broker.pki.adminCertificatePath, "key": broker.pki.adminKeyPath]],
                    "hostile": Self.hostile, "reference": reference, "request": requestID, "case": caseID, "meetingTitle": "Northtown <b>March</b>",
                    "entitled": ["victim.name", "Jane Doe", "victim.safeAddress", "Flat 3, Refuge House", "victim.alias"],
                    "withheld": ["victim.gp", "Dr Patel", "child.1.school", "Northtown Primary", "victim.sexualOrientation", "bisexual"],
                    "housingSerial": cast.spocs["housing"]!.serial, "referrals": referrals, "laterMeeting": laterID, "screenshots": screenshots,
                    "earlierMeeting": earlierID, "spocSerial": cast.spocs["police"]!.serial,
                    "newcomerCSR": String(decoding: newcomerCSR.pemBytes, as: UTF8.self), "issuedOut": issuedOut,
                ]
                let file = try broker.directory.write("scenario.json", Array(try JSONSerialization.data(withJSONObject: scenario)))
                let run = try await Tool.runAsync(python, [TestVenv.script("browser_pages.py"), file])
                print(run.stdout)
                #expect(run.status == 0, "the browser walk failed:\n\(run.stdout)\n\(run.stderr.suffix(4_000))")
                #expect(run.stdout.contains("0 failed"), "\(run.stdout)")
                // The certificate the administrator signed in the browser is for the key that never left this
                // side, and the registry holds it approved by the coordinator. (Its holder's handshake is not
                // tried here: the test clock is months ahead, so real time is before its notBefore; the signing
                // and approval pages are walked over real TLS in AdministrationPageTests.)
                let issued = try Certificate(pem: Array(try String(contentsOfFile: issuedOut, encoding: .utf8).utf8))
                #expect(issued.matches(newcomerKey) && issued.commonName == "rita-refuge" && issued.organization == "refuge-north" && issued.allowsClientAuth)
                let credentials = try await cast.coordinator.client.json("GET", "/v1/credentials?principal=rita-refuge")
                #expect(credentials.json["credentials"][0]["serial"].string == issued.serial
                        && credentials.json["credentials"][0]["approval"].string == "approved"
                        && credentials.json["credentials"][0]["approvedBy"].string == cast.coordinator.id, "\(credentials.text)")
                // The redirected referral is screened again by the community panel, as anti-social behaviour.
                let all = try await cast.coordinator.client.json("GET", "/v1/referrals")
                let moved = all.json["referrals"].array.first { $0["redirectedFrom"].string == referrals[2] }
                #expect(moved?["panel"].string == "community" && moved?["caseType"].string == "asb", "\(all.text.prefix(2_000))")
            }
        }
    }
}

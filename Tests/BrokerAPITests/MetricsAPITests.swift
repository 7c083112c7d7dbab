@_spi(Testing) import BrokerHost
import Foundation
import MaracClient
import Testing
import TestSupport
import TLS

extension ExternalTools {
    /// `GET /metrics` over real mutual TLS, read by an independent parser (prometheus_client in
    /// the tests' venv): the families an operator needs, counts only, for admin and monitor alone.
    @Suite(.serialized) struct MetricsAPITests {
        /// One scrape: the answer and the families prometheus_client parsed from it.
        struct Scrape {
            let status: Int
            let contentType: String
            let text: String
            let families: [String: (type: String, samples: [(name: String, labels: [String: String], value: Double)])]

            func samples(_ family: String, _ name: String? = nil) -> [(name: String, labels: [String: String], value: Double)] {
                (families[family]?.samples ?? []).filter { name == nil || $0.name == name }
            }
            func value(_ family: String, _ name: String? = nil, _ labels: [String: String] = [:]) -> Double? {
                samples(family, name).first { sample in labels.allSatisfy { sample.labels[$0.key] == $0.value } }?.value
            }
        }

        static func scrape(_ broker: TestBroker, cert: String, key: String) async throws -> Scrape {
            let python = try await TestVenv.python()
            let run = try await Tool.runAsync(python, [TestVenv.script("scrape_metrics.py"), "https://localhost:\(broker.port)/metrics",
                                                       broker.pki.caCertificatePath, cert, key])
            #expect(run.status == 0, "prometheus_client could not parse the scrape: \(run.stderr)")
            let object = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any], "\(run.stdout) \(run.stderr)")
            var families: [String: (type: String, samples: [(name: String, labels: [String: String], value: Double)])] = [:]
            for (name, family) in object["families"] as? [String: [String: Any]] ?? [:] {
                let samples = (family["samples"] as? [[Any]] ?? []).map { sample in
                    (name: sample[0] as? String ?? "", labels: sample[1] as? [String: String] ?? [:], value: (sample[2] as? NSNumber)?.doubleValue ?? .nan)
                }
                families[name] = (family["type"] as? String ?? "", samples)
            }
            return Scrape(status: object["status"] as? Int ?? 0, contentType: object["contentType"] as? String ?? "",
                          text: object["text"] as? String ?? "", families: families)
        }

        @Test(.enabled(if: TestVenv.isEnabled, "MARAC_SKIP_VENV=1"))
        func aMonitorScrapesCountsThatPrometheusParsesAndNoNames() async throws {
            try await withTestBroker { broker in
                let cast = try await Cast.make(broker, agencies: ["police"])
                let monitor = try await broker.enrol("grafana-agent", agency: "community-safety", role: "monitor", admin: cast.admin)
                #expect(try await monitor.client.json("GET", "/v1/whoami").json["certificate"]["approval"].string == "not-needed")

                // Traffic worth counting: research read by a SPOC, a revoked and a soon-expiring certificate.
                let meetingID = try #require(try await cast.meeting(at: ResearchFlowAPITests.meetingStart)["id"].string)
                let caseID = try #require(try await cast.case(meeting: meetingID, reference: "MARAC-2027-0777", fields: ["victim.name": "Wilhelmina Secretname"])["id"].string)
                let dispatched = try await cast.coordinator.client.json("POST", "/v1/cases/\(caseID)/research", ["agencies": ["police"], "questions": ["Known?"]])
                let requestID = try #require(dispatched.json["requests"][0]["id"].string)
                #expect(try await cast.spocs["police"]!.client.json("GET", "/v1/requests/\(requestID)").status == 200)
                #expect(try await cast.admin.json("POST", "/v1/principals", ["id": "temp-person", "name": "Temp", "agency": "police", "role": "spoc"]).status == 201)
                let csr = { String(decoding: try CertificateSigningRequest.create(key: try PrivateKey.generateECDSA(), commonName: "temp-person", organization: "police").pemBytes, as: UTF8.self) }
                let shortLived = try await cast.admin.json("POST", "/v1/credentials", ["principal": "temp-person", "csr": try csr(), "validityDays": 10])
                #expect(shortLived.status == 201, "\(shortLived.text)")
                let revokedKey = try PrivateKey.generateECDSA()
                let revokedCSR = String(decoding: try CertificateSigningRequest.create(key: revokedKey, commonName: "temp-person", organization: "police").pemBytes, as: UTF8.self)
                let issued = try await cast.admin.json("POST", "/v1/credentials", ["principal": "temp-person", "csr": revokedCSR])
                let revoked = try #require(issued.json["serial"].string)
                #expect(try await cast.admin.json("POST", "/v1/credentials/\(revoked)/revoke", ["reason": "lost laptop"]).status == 200)
                // Refused handshakes, counted by reason: no certificate, a revoked one, one from another CA.
                let revokedCert = try broker.directory.write("revoked.pem", Array((issued.json["certificate"].string ?? "").utf8))
                let revokedKeyPath = try broker.directory.write("revoked-key.pem", try revokedKey.pemBytes())
                let otherCA = try TestPKI()
                let foreign = try otherCA.client("police-spoc")
                for extra in [[], ["--cert", revokedCert, "--key", revokedKeyPath], ["--cert", foreign.certificatePath, "--key", foreign.keyPath]] {
                    let refused = try await Tool.runAsync("curl", ["-sS", "--cacert", broker.pki.caCertificatePath] + extra + ["\(broker.url)/v1/whoami"])
                    #expect(refused.status != 0, "\(extra): \(refused.stdout)")
                }
                // A SPOC's long-poll parks while the monitor scrapes.
                let police = cast.spocs["police"]!.client
                let cursor = try #require(try await police.json("GET", "/v1/requests").json["cursor"].string)
                async let parked = police.json("GET", "/v1/requests?after=\(cursor)&wait=30")
                #expect(await eventually { broker.app.parkedLongPolls == 1 }, "the long-poll never parked")

                let scrape = try await Self.scrape(broker, cert: monitor.certificatePath, key: monitor.keyPath)
                #expect(scrape.status == 200, "\(scrape.text)")
                #expect(scrape.contentType.hasPrefix("text/plain; version=0.0.4"), "\(scrape.contentType)")
                #expect(scrape.families["marac_http_requests"]?.type == "counter")
                #expect((scrape.value("marac_http_requests", nil, ["method": "GET", "route": "/v1/requests/{id}", "status": "200"]) ?? 0) >= 1, "\(scrape.text)")
                #expect((scrape.value("marac_http_requests", nil, ["method": "POST", "route": "/v1/cases/{id}/research", "status": "201"]) ?? 0) == 1)
                let routes = Set(broker.app.routeTable.map { String($0.split(separator: " ")[1]) } + ["unmatched"])
                for sample in scrape.samples("marac_http_requests") {
                    #expect(routes.contains(sample.labels["route"] ?? ""), "a route label that is not a template: \(sample.labels)")
                }
                for reason in ["no_certificate", "certificate_revoked", "unknown_ca"] {
                    #expect((scrape.value("marac_tls_handshake_failures", nil, ["reason": reason]) ?? 0) >= 1, "\(reason): \(scrape.text)")
                }
                #expect((scrape.value("marac_open_connections") ?? 0) >= 1)
                #expect(scrape.value("marac_parked_long_polls") == 1)
                #expect((scrape.value("marac_journal_head_seq") ?? 0) > 10)
                #expect(scrape.value("marac_storage_healthy") == 1)
                #expect(scrape.families["marac_journal_fsync_seconds"]?.type == "histogram")
                #expect((scrape.value("marac_journal_fsync_seconds", "marac_journal_fsync_seconds_count") ?? 0) >= 1)
                #expect((scrape.value("marac_journal_group_commit_records", "marac_journal_group_commit_records_count") ?? 0) >= 1)
                #expect(scrape.value("marac_journal_group_commit_records", "marac_journal_group_commit_records_bucket", ["le": "+Inf"])
                        == scrape.value("marac_journal_group_commit_records", "marac_journal_group_commit_records_count"))
                #expect(scrape.value("marac_credentials_expiring_soon") == 1, "\(scrape.text)")
                #expect(scrape.value("marac_credentials", nil, ["status": "revoked"]) == 1)
                // Counts only: no principal, agency, serial, case reference, identifier or field value.
                for secret in ["grafana-agent", "police-spoc", "coord", "temp-person", "community-safety", "police\"", revoked, monitor.serial,
                               "MARAC-2027-0777", "Wilhelmina", caseID, requestID, meetingID, "lost laptop"] {
                    #expect(!scrape.text.contains(secret), "the scrape names \(secret)")
                }
                let second = try #require(try await cast.case(meeting: meetingID, reference: "MARAC-2027-0778", fields: ["victim.name": "B"])["id"].string)
                #expect(try await cast.coordinator.client.json("POST", "/v1/cases/\(second)/research", ["agencies": ["police"], "questions": ["Known?"]]).status == 201)
                #expect(try await parked.json["requests"].array.count == 1)
                withExtendedLifetime(otherCA) {}
            }
        }

        /// A monitor's certificate needs no approval; made a coordinator, the same certificate waits
        /// for a coordinator's approval like any other, so an administrator cannot use the role to
        /// open case content.
        @Test func aMonitorMadeCoordinatorIsPendingUntilApproved() async throws {
            try await withTestBroker { broker in
                let cast = try await Cast.make(broker, agencies: ["police"])
                let monitor = try await broker.enrol("scraper", agency: "community-safety", role: "monitor", admin: cast.admin)
                #expect(try await monitor.client.json("GET", "/v1/meetings").status == 403)
                #expect(try await cast.admin.json("PATCH", "/v1/principals/scraper", ["role": "coordinator"]).status == 200)
                let refused = try await monitor.client.json("GET", "/v1/meetings")
                #expect(refused.status == 403 && refused.errorCode == "credential_not_approved", "\(refused.text)")
                let promoted = try monitor.reconnected(to: broker)
                #expect(try await promoted.client.json("GET", "/v1/whoami").json["certificate"]["approval"].string == "pending")
                #expect(try await cast.coordinator.client.json("POST", "/v1/credentials/\(monitor.serial)/approve").status == 200)
                #expect(try await monitor.reconnected(to: broker).client.json("GET", "/v1/meetings").status == 200)
            }
        }

        @Test(.enabled(if: TestVenv.isEnabled, "MARAC_SKIP_VENV=1"))
        func onlyAdministratorsAndMonitorsMayScrape() async throws {
            try await withTestBroker { broker in
                let cast = try await Cast.make(broker, agencies: ["police"])
                let auditor = try await broker.enrol("audrey", agency: "community-safety", role: "auditor", admin: cast.admin)
                let admin = try await Self.scrape(broker, cert: broker.pki.adminCertificatePath, key: broker.pki.adminKeyPath)
                #expect(admin.status == 200 && admin.families["marac_journal_head_seq"] != nil)
                for enrolled in [cast.coordinator, cast.spocs["police"]!, auditor] {
                    let refused = try await Self.scrape(broker, cert: enrolled.certificatePath, key: enrolled.keyPath)
                    #expect(refused.status == 403 && refused.text.contains("\"forbidden\""), "\(enrolled.id): \(refused.status) \(refused.text)")
                    #expect(!refused.text.contains("marac_"))
                }
            }
        }
    }
}

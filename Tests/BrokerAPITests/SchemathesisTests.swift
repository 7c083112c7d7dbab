import Foundation
import MaracClient
import Testing
import TestSupport
import TLS

extension ExternalTools {
    /// `docs/openapi.json` checked against the live broker by an independent tool: schemathesis
    /// (PyPI, pinned in the tests' venv) generates valid and invalid requests for every operation
    /// from the document, sends them over mutual TLS with a real client certificate, and checks
    /// every answer against the document (status codes, content types, response schemas, invalid
    /// data refused, valid data accepted, no 5xx). Run once as each of three roles, since most
    /// operations answer other roles only with 403. Settings: `Tests/python/schemathesis.toml`.
    @Suite(.serialized) struct SchemathesisTests {
        /// Examples per operation and phase: enough to reach the refusals, small enough for CI.
        static let examplesPerOperation = 10
        /// Fixed so a CI run can be replayed; `MARAC_SCHEMATHESIS_SEED` picks another.
        static let seed = ProcessInfo.processInfo.environment["MARAC_SCHEMATHESIS_SEED"] ?? "1800"

        @Test(.enabled(if: TestVenv.isEnabled, "MARAC_SKIP_VENV=1"), arguments: ["admin", "coordinator", "spoc"])
        func schemathesisFindsNoFailureAgainstTheLiveBroker(role: String) async throws {
            let python = try await TestVenv.python()
            try await withTestBroker { broker in
                // Something to find: a meeting, a case with research for the police, a SPOC's request.
                let cast = try await Cast.make(broker, agencies: ["police"])
                let meetingID = try #require(try await cast.meeting(at: ResearchFlowAPITests.meetingStart)["id"].string)
                let caseID = try #require(try await cast.case(meeting: meetingID, fields: ["victim.name": "Jane Doe"])["id"].string)
                #expect(try await cast.coordinator.client.json("POST", "/v1/cases/\(caseID)/research", ["agencies": ["police"], "questions": ["Known?"]]).status == 201)
                // Throwaway objects for the operations that would otherwise lock the run out (see the toml).
                #expect(try await cast.admin.json("POST", "/v1/agencies", ["id": "spare-agency", "name": "Spare", "kind": "non-core"]).status == 201)
                #expect(try await cast.admin.json("POST", "/v1/principals", ["id": "spare-person", "name": "Spare", "agency": "spare-agency", "role": "spoc"]).status == 201)
                let csr = String(decoding: try CertificateSigningRequest.create(key: try PrivateKey.generateECDSA(), commonName: "spare-person", organization: "spare-agency").pemBytes,
                                 as: UTF8.self)
                let spareSerial = try #require(try await cast.admin.json("POST", "/v1/credentials", ["principal": "spare-person", "csr": csr]).json["serial"].string)

                let (certificate, key): (String, String)
                switch role {
                case "admin": (certificate, key) = (broker.pki.adminCertificatePath, broker.pki.adminKeyPath)
                case "coordinator": (certificate, key) = (cast.coordinator.certificatePath, cast.coordinator.keyPath)
                default: (certificate, key) = (cast.spocs["police"]!.certificatePath, cast.spocs["police"]!.keyPath)
                }
                let schemathesis = URL(fileURLWithPath: python).deletingLastPathComponent().appendingPathComponent("schemathesis").path
                let arguments = ["--config-file", TestVenv.script("schemathesis.toml"), "run", TestVenv.repository + "/docs/openapi.json",
                                 "--url", "https://localhost:\(broker.port)", "--request-cert", certificate, "--request-cert-key", key,
                                 "--tls-verify", broker.pki.caCertificatePath, "--checks", "all", "--max-examples", String(Self.examplesPerOperation),
                                 "--workers", "1", "--seed", Self.seed, "--no-color"]
                // In the broker's temporary directory, where schemathesis keeps its .hypothesis and .schemathesis caches.
                let run = try await Tool.runAsync("bash", ["-c", "cd \"$0\" && exec \"$@\"", broker.directory.path("."), schemathesis] + arguments,
                                                  environment: ["MARAC_SPARE_SERIAL": spareSerial, "MARAC_SPARE_PRINCIPAL": "spare-person",
                                                                "MARAC_SPARE_AGENCY": "spare-agency", "NO_COLOR": "1"])
                let report = run.stdout + run.stderr
                let failures = report.range(of: "FAILURES").map { String(report[$0.lowerBound...].prefix(12_000)) } ?? String(report.suffix(6_000))
                #expect(run.status == 0, "schemathesis as \(role) (seed \(Self.seed)) found failures:\n\(failures)")
                let operations = broker.app.routeTable.count
                #expect(report.contains("Selected: \(operations)/\(operations)") && report.contains("Tested: \(operations)"),
                        "schemathesis did not test every one of the \(operations) operations:\n\(report.suffix(3_000))")
            }
        }
    }
}

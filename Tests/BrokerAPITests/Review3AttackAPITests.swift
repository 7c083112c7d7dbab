import BrokerHost
import Foundation
import MaracClient
import Testing
import TestSupport
import Wire

/// The third review's attacks over real mTLS: after an erasure, no GET of any role shows any of the case's content.
@Suite(.serialized) struct Review3AttackAPITests {
    @Test func noGetOfAnyRoleShowsAnErasedCasesContent() async throws {
        let broker = try TestBroker()
        do {
            let auditor = try await broker.enrol("auditor", agency: "community-safety", role: "auditor", admin: try broker.adminClient())
            let s = try await ErasureAPITests.hearTwoCases(broker)
            let coordinator = s.cast.coordinator.client, police = s.cast.spocs["police"]!.client, housing = s.cast.spocs["housing"]!.client
            let erased = try await coordinator.json("POST", "/v1/cases/\(s.erased)/erase", ["reason": "Retention review"])
            #expect(erased.status == 200, "\(erased.text)")
            let common = ["/v1/meetings", "/v1/meetings/\(s.meeting)", "/v1/meetings/\(s.meeting)/agenda", "/v1/referrals",
                          "/v1/panels/domestic-abuse/statistics"]
            let coordinatorPaths = common + ["/v1/cases", "/v1/cases?state=erased", "/v1/cases/\(s.erased)", "/v1/meetings/\(s.meeting)/status",
                                             "/v1/cases/\(s.erased)/returns", "/v1/requests/\(s.policeRequest)", "/v1/requests/\(s.policeRequest)/return",
                                             "/v1/actions/\(s.action)", "/v1/cases/\(s.kept)"]
            let spocPaths = common + ["/v1/requests", "/v1/actions", "/v1/requests/\(s.policeRequest)", "/v1/requests/\(s.policeRequest)/return",
                                      "/v1/actions/\(s.action)"]
            let auditPaths = ["/v1/audit?limit=500", "/v1/audit?object=\(s.erased)", "/v1/panels/domestic-abuse/statistics", "/v1/meetings"]
            let auditorClient = try auditor.reconnected(to: broker).client
            var seen: [(String, String, Int, String)] = []
            for (who, client, paths) in [("coordinator", coordinator, coordinatorPaths), ("police", police, spocPaths), ("housing", housing, spocPaths),
                                         ("admin", s.cast.admin, auditPaths), ("auditor", auditorClient, auditPaths)] {
                for path in paths {
                    let reply = try await client.json("GET", path)
                    seen.append((who, path, reply.status, reply.text))
                }
            }
            // The control: the other case's content is found where it should be.
            #expect(seen.contains { $0.0 == "coordinator" && $0.3.contains("Bravo5120Name") })
            print("review3 GETs:", seen.map { "\($0.0) \($0.1) \($0.2)" }.joined(separator: "; "))
            for (who, path, status, text) in seen {
                for marker in ErasureAPITests.erasedMarkers {
                    #expect(!text.contains(marker), "\(who) GET \(path) (\(status)) shows \(marker): \(text.prefix(600))")
                }
            }
        } catch {
            await broker.stop()
            throw error
        }
        await broker.stop()
    }
}

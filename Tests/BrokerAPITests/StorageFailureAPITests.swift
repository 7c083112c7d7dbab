import Foundation
import MaracClient
import Testing
import TestSupport
import TLS
#if canImport(Glibc)
import Glibc
#endif

/// A full disk under the running broker: 503, nothing acknowledged is lost.
@Suite(.serialized) struct StorageFailureAPITests {
    @Test func aFullDiskAnswers503AndEveryAcknowledgedCaseSurvivesTheRestart() async throws {
        let dir = try TemporaryDirectory()
        let data = dir.path("data")
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        guard mount("tmpfs", data, "tmpfs", 0, "size=3m") == 0 else {
            print("NOTE: aFullDiskAnswers503… skipped: cannot mount a tmpfs here (errno \(errno)); JournalFaultTests inject the same failure")
            return
        }
        defer { umount2(data, Int32(MNT_DETACH)) }
        let broker = try TestBroker(directory: dir) { $0.dataDirectory = data }
        let cast = try await Cast.make(broker, agencies: ["police"])
        let meetingID = try #require(try await cast.meeting(at: ResearchFlowAPITests.meetingStart)["id"].string)
        let bulky = String(repeating: "x", count: 15_000)
        let fields: [String: Any] = Dictionary(uniqueKeysWithValues: (1...7).flatMap { child in
            [("child.\(child).name", bulky as Any), ("child.\(child).school", bulky as Any)]
        })
        var acknowledged: [String] = []
        var refusal: ClientResponse?
        for index in 0..<60 {
            let response = try await cast.coordinator.client.json("POST", "/v1/cases", [
                "meeting": meetingID, "reference": "MARAC-2027-\(1000 + index)", "fields": fields, "consent": ["status": "obtained"],
            ])
            if response.status == 201 {
                acknowledged.append(try #require(response.json["id"].string))
            } else {
                refusal = response
                break
            }
        }
        let full = try #require(refusal, "3 MiB never filled up")
        #expect(full.status == 503 && full.errorCode == "storage_unavailable", "\(full.text)")
        #expect(full.json["error"]["message"].string?.contains("nothing was acknowledged") == true)
        #expect(acknowledged.count >= 3)
        let health = try await cast.admin.json("GET", "/v1/health")
        #expect(health.status == 503 && health.json["storage"].string == "failed", "\(health.text)")
        #expect(health.json["storageError"].exists && health.json["journalHead"].exists, "the admin sees why: \(health.text)")
        let coordinatorHealth = try await cast.coordinator.client.json("GET", "/v1/health")
        #expect(coordinatorHealth.status == 503 && !coordinatorHealth.json["journalHead"].exists && !coordinatorHealth.json["storageError"].exists,
                "others see only that it is degraded: \(coordinatorHealth.text)")
        #expect(try await cast.coordinator.client.json("POST", "/v1/meetings", ["title": "Later", "startsAt": "2027-02-11T10:00:00Z"]).status == 503)

        // An administrator makes room and restarts: every acknowledged case is there.
        await broker.stop()
        #expect(mount("tmpfs", data, "tmpfs", UInt(MS_REMOUNT), "size=64m") == 0)
        try await broker.restart()
        let coordinator = try BrokerClient(host: "127.0.0.1", port: broker.port, identity: ClientIdentity(
            certificate: cast.coordinator.certificate, privateKey: cast.coordinator.key, trustRoots: [try cast.coordinator.certificate.issuerRoot(broker)]))
        for (index, id) in acknowledged.enumerated() {
            let read = try await coordinator.json("GET", "/v1/cases/\(id)")
            #expect(read.status == 200 && read.json["reference"].string == "MARAC-2027-\(1000 + index)", "\(read.status)")
        }
        #expect(try await coordinator.json("GET", "/v1/health").status == 200)
        #expect(try await coordinator.json("POST", "/v1/meetings", ["title": "Later", "startsAt": "2027-02-11T10:00:00Z"]).status == 201)
        await broker.stop()
    }
}

extension TLS.Certificate {
    /// The broker's CA certificate, for a client built by hand.
    func issuerRoot(_ broker: TestBroker) throws -> TLS.Certificate { try TLS.Certificate(pemFile: broker.pki.caCertificatePath) }
}

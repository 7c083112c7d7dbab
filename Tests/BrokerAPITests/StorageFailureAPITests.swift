import Foundation
@_spi(Testing) import Journal
@_spi(Testing) import BrokerAPI
@_spi(Testing) import BrokerHost
import MaracClient
import Testing
import TestSupport
import TLS
#if canImport(Glibc)
import Glibc
#endif

/// A full disk under the running broker: 503, nothing acknowledged is lost. Once on a
/// real 3 MiB tmpfs (where this machine may mount one), once with the journal's writes
/// failing by fault injection (everywhere).
@Suite(.serialized) struct StorageFailureAPITests {
    static let bulky = String(repeating: "x", count: 15_000)
    static var bulkyFields: [String: Any] {
        Dictionary(uniqueKeysWithValues: (1...7).flatMap { child in [("child.\(child).name", bulky as Any), ("child.\(child).school", bulky as Any)] })
    }

    /// Creates cases until one is refused; answers the acknowledged ids and the refusal.
    static func createUntilRefused(_ cast: Cast, meetingID: String, limit: Int) async throws -> (acknowledged: [String], refusal: ClientResponse?) {
        var acknowledged: [String] = []
        for index in 0..<limit {
            let response = try await cast.coordinator.client.json("POST", "/v1/cases", [
                "meeting": meetingID, "reference": "MARAC-FULL-\(1000 + index)", "fields": bulkyFields, "consent": ["status": "obtained"],
            ])
            guard response.status == 201 else { return (acknowledged, response) }
            acknowledged.append(try #require(response.json["id"].string))
        }
        return (acknowledged, nil)
    }

    /// The refusal, and what administrators and others see while storage has failed.
    static func expectStorageFailed(_ refusal: ClientResponse?, _ cast: Cast) async throws {
        let full = try #require(refusal, "storage never failed")
        #expect(full.status == 503 && full.errorCode == "storage_unavailable", "\(full.text)")
        #expect(full.json["error"]["message"].string?.contains("nothing was acknowledged") == true)
        let health = try await cast.admin.json("GET", "/v1/health")
        #expect(health.status == 503 && health.json["storage"].string == "failed", "\(health.text)")
        #expect(health.json["storageError"].exists && health.json["journalHead"].exists, "the admin sees why: \(health.text)")
        let coordinatorHealth = try await cast.coordinator.client.json("GET", "/v1/health")
        #expect(coordinatorHealth.status == 503 && !coordinatorHealth.json["journalHead"].exists && !coordinatorHealth.json["storageError"].exists,
                "others see only that it is degraded: \(coordinatorHealth.text)")
        let spocHealth = try await cast.spocs["police"]!.client.json("GET", "/v1/health")
        #expect(!spocHealth.json["journalHead"].exists && !spocHealth.json["storageError"].exists, "\(spocHealth.text)")
        #expect(try await cast.coordinator.client.json("POST", "/v1/meetings", ["title": "Later", "startsAt": rfc3339(FixtureDates.laterMeetingStart())]).status == 503)
    }

    /// After the restart every acknowledged case is there, and writes work again.
    static func expectEverythingAcknowledgedSurvives(_ broker: TestBroker, _ cast: Cast, _ acknowledged: [String]) async throws {
        let coordinator = try BrokerClient(host: "127.0.0.1", port: broker.port, identity: ClientIdentity(
            certificate: cast.coordinator.certificate, privateKey: cast.coordinator.key, trustRoots: [try cast.coordinator.certificate.issuerRoot(broker)]))
        for (index, id) in acknowledged.enumerated() {
            let read = try await coordinator.json("GET", "/v1/cases/\(id)")
            #expect(read.status == 200 && read.json["reference"].string == "MARAC-FULL-\(1000 + index)", "\(read.status)")
        }
        #expect(try await coordinator.json("GET", "/v1/health").status == 200)
        #expect(try await coordinator.json("POST", "/v1/meetings", ["title": "Later", "startsAt": rfc3339(FixtureDates.laterMeetingStart())]).status == 201)
    }

    @Test(.enabled(if: Tmpfs.isAvailable, "needs permission to mount a tmpfs (root)"))
    func aFullDiskAnswers503AndEveryAcknowledgedCaseSurvivesTheRestart() async throws {
        let dir = try TemporaryDirectory()
        let data = dir.path("data")
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        try #require(mount("tmpfs", data, "tmpfs", 0, "size=3m") == 0, "mount failed: errno \(errno)")
        defer { umount2(data, Int32(MNT_DETACH)) }
        let broker = try TestBroker(directory: dir) { $0.dataDirectory = data }
        let cast = try await Cast.make(broker, agencies: ["police"])
        let meetingID = try #require(try await cast.meeting(at: ResearchFlowAPITests.meetingStart)["id"].string)
        let (acknowledged, refusal) = try await Self.createUntilRefused(cast, meetingID: meetingID, limit: 60)
        #expect(acknowledged.count >= 3)
        try await Self.expectStorageFailed(refusal, cast)

        // An administrator makes room and restarts: every acknowledged case is there.
        await broker.stop()
        #expect(mount("tmpfs", data, "tmpfs", UInt(MS_REMOUNT), "size=64m") == 0)
        try await broker.restart()
        try await Self.expectEverythingAcknowledgedSurvives(broker, cast, acknowledged)
        await broker.stop()
    }

    @Test(arguments: [ENOSPC, EIO])
    func aFailingWriteAnswers503AndEveryAcknowledgedCaseSurvivesTheRestart(errno code: Int32) async throws {
        let faults = FaultInjection()
        let broker = try TestBroker { $0.journalFaults = faults }
        let cast = try await Cast.make(broker, agencies: ["police"])
        let meetingID = try #require(try await cast.meeting(at: ResearchFlowAPITests.meetingStart)["id"].string)
        // About 200 KiB per case: the fourth or fifth write runs out of room part-way through.
        faults.failWrites(errno: code, afterBytes: 900_000)
        let (acknowledged, refusal) = try await Self.createUntilRefused(cast, meetingID: meetingID, limit: 20)
        #expect(acknowledged.count >= 3, "\(acknowledged.count)")
        try await Self.expectStorageFailed(refusal, cast)
        #expect(broker.logLines.all.contains { $0.contains("storage") }, "the failure is logged")

        await broker.stop()
        faults.clear()
        try await broker.restart()
        try await Self.expectEverythingAcknowledgedSurvives(broker, cast, acknowledged)
        await broker.stop()
    }

    @Test func aFailingSyncAnswers503AndAcknowledgesNothing() async throws {
        let faults = FaultInjection()
        let broker = try TestBroker { $0.journalFaults = faults }
        let cast = try await Cast.make(broker, agencies: ["police"])
        let meetingID = try #require(try await cast.meeting(at: ResearchFlowAPITests.meetingStart)["id"].string)
        let (acknowledged, _) = try await Self.createUntilRefused(cast, meetingID: meetingID, limit: 2)
        faults.failSyncs(errno: EIO)
        let refused = try await cast.coordinator.client.json("POST", "/v1/cases", [
            "meeting": meetingID, "reference": "MARAC-FULL-NOSYNC", "fields": ["victim.name": "Never Acknowledged"], "consent": ["status": "obtained"],
        ])
        try await Self.expectStorageFailed(refused, cast)
        await broker.stop()
        faults.clear()
        try await broker.restart()
        try await Self.expectEverythingAcknowledgedSurvives(broker, cast, acknowledged)
        await broker.stop()
    }

    /// Attack: a revocation whose write failed is in memory only. `GET /v1/crl` must not hand out a
    /// CA-signed CRL built from that state (it would list a revocation the restarted broker never
    /// made): like every other read after a failed write, it answers 503 storage_unavailable.
    @Test func theCRLIsRefusedAfterAFailedWrite() async throws {
        let faults = FaultInjection()
        let broker = try TestBroker { $0.journalFaults = faults }
        let cast = try await Cast.make(broker, agencies: ["police"])
        let spoc = cast.spocs["police"]!
        #expect(try await cast.admin.send("GET", "/v1/crl").status == 200)
        faults.failSyncs(errno: EIO)
        let revoke = try await cast.admin.json("POST", "/v1/credentials/\(spoc.serial)/revoke", ["reason": "laptop stolen"])
        #expect(revoke.status == 503 && revoke.errorCode == "storage_unavailable", "\(revoke.text)")
        for client in [cast.admin, cast.coordinator.client] {
            let crl = try await client.send("GET", "/v1/crl")
            #expect(crl.status == 503 && crl.errorCode == "storage_unavailable", "\(crl.status) \(crl.text)")
        }
        await broker.stop()
        faults.clear()
        try await broker.restart()
        let admin = try broker.adminClient()
        let crl = try await admin.send("GET", "/v1/crl")
        let path = try broker.directory.write("crl-after-restart.pem", crl.body, mode: 0o644)
        let text = try await Tool.runAsync("openssl", ["crl", "-in", path, "-noout", "-text"])
        #expect(crl.status == 200 && text.status == 0 && !text.stdout.contains(spoc.serial), "the unacknowledged revocation is not durable: \(text.stdout)")
        await broker.stop()
    }
}

extension TLS.Certificate {
    /// The broker's CA certificate, for a client built by hand.
    func issuerRoot(_ broker: TestBroker) throws -> TLS.Certificate { try TLS.Certificate(pemFile: broker.pki.caCertificatePath) }
}

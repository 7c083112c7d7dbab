import BrokerAPI
import BrokerHost
import Engine
import Foundation
import MaracClient
import Testing
import TestSupport
import TLS

/// Snapshots under `swift test`: a small `SnapshotPolicy` makes the broker write them,
/// and a start from a snapshot gives the same state and audit trail as a full replay.
@Suite(.serialized) struct SnapshotAPITests {
    /// Everything a restart must reproduce: case, returns, meeting status, registry and the audit trail.
    struct Visible: Equatable {
        var answers: [String] = []
        var audit: [String] = []

        /// Equal answers, and `earlier`'s audit trail is the start of this one (reading is audited too).
        func reproduces(_ earlier: Visible) -> Bool {
            answers == earlier.answers && audit.count >= earlier.audit.count && Array(audit.prefix(earlier.audit.count)) == earlier.audit
        }
    }

    static func visibleState(_ broker: TestBroker, _ cast: Cast, caseID: String, meetingID: String) async throws -> Visible {
        let coordinator = try BrokerClient(host: "127.0.0.1", port: broker.port, identity: ClientIdentity(
            certificate: cast.coordinator.certificate, privateKey: cast.coordinator.key, trustRoots: [try Certificate(pemFile: broker.pki.caCertificatePath)]))
        let admin = try broker.adminClient()
        var state = Visible()
        for path in ["/v1/cases/\(caseID)", "/v1/cases/\(caseID)/returns", "/v1/meetings/\(meetingID)/status", "/v1/meetings"] {
            let response = try await coordinator.json("GET", path)
            #expect(response.status == 200, "\(path): \(response.text)")
            state.answers.append(response.text)
        }
        for path in ["/v1/agencies", "/v1/principals", "/v1/credentials"] {
            let response = try await admin.json("GET", path)
            #expect(response.status == 200, "\(path): \(response.text)")
            // lastUsedAt moves with every handshake; everything else must be identical.
            state.answers.append(response.text.replacingOccurrences(of: #""lastUsedAt":"[^"]*","#, with: "", options: .regularExpression))
        }
        state.audit = try await admin.auditTrail().records.map(\.description)
        #expect(state.audit.count > 20)
        return state
    }

    static func snapshotFiles(_ broker: TestBroker) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: broker.directory.path("data")).filter { $0.hasPrefix("snapshot-") }.sorted()
    }

    /// Creates a meeting, a case, dispatches to two agencies and has both answer (several amendments).
    static func runACycle(_ cast: Cast, reference: String) async throws -> (meeting: String, case: String) {
        let meetingID = try #require(try await cast.meeting(at: ResearchFlowAPITests.meetingStart)["id"].string)
        let caseID = try #require(try await cast.case(meeting: meetingID, reference: reference,
                                                      fields: ["victim.name": "Jane Snapshot-4417", "victim.phone": "07700 900999"])["id"].string)
        let dispatched = try await cast.coordinator.client.json("POST", "/v1/cases/\(caseID)/research",
                                                                ["agencies": ["police", "housing"], "questions": ["Known?"]])
        #expect(dispatched.status == 201, "\(dispatched.text)")
        for request in dispatched.json["requests"].array {
            let agency = try #require(request["agency"].string), id = try #require(request["id"].string)
            for version in 1...3 {
                let answer: [String: Any] = ["knownToAgency": true, "summary": "\(agency) version \(version)", "answers": ["Yes"], "withheld": []]
                #expect(try await cast.spocs[agency]!.client.json("PUT", "/v1/requests/\(id)/return", answer).status == 200)
            }
        }
        return (meetingID, caseID)
    }

    @Test func aStartFromASnapshotMatchesAFullReplay() async throws {
        let broker = try TestBroker { $0.snapshots = SnapshotPolicy(minEntries: 8, minGrowthPercent: 0) }
        let cast = try await Cast.make(broker, agencies: ["police", "housing"])
        let (meetingID, caseID) = try await Self.runACycle(cast, reference: "MARAC-SNAP-1")
        #expect(await eventually { broker.logLines.all.contains { $0.contains("snapshot_written") } }, "no snapshot was written")
        #expect(try !Self.snapshotFiles(broker).isEmpty)
        let before = try await Self.visibleState(broker, cast, caseID: caseID, meetingID: meetingID)

        // From the latest snapshot plus the journal after it.
        try await broker.restart()
        let opened = broker.logLines.all.last { $0.contains("\"event\":\"journal_open\"") } ?? ""
        #expect(!opened.contains("\"snapshot\":0"), "the restart did not start from a snapshot: \(opened)")
        #expect(try await Self.visibleState(broker, cast, caseID: caseID, meetingID: meetingID).reproduces(before))

        // From the first record: every snapshot removed.
        await broker.stop()
        for file in try Self.snapshotFiles(broker) { try FileManager.default.removeItem(atPath: broker.directory.path("data/\(file)")) }
        try await broker.restart()
        let replayed = broker.logLines.all.last { $0.contains("\"event\":\"journal_open\"") } ?? ""
        #expect(replayed.contains("\"snapshot\":0"), "\(replayed)")
        #expect(try await Self.visibleState(broker, cast, caseID: caseID, meetingID: meetingID).reproduces(before))
        await broker.stop()

        let verify = try await Tool.runAsync(BuiltProducts.path("maracd"), ["audit", "verify", "--data", broker.directory.path("data"),
                                                                            "--certs", broker.directory.path("certs")])
        #expect(verify.status == 0 && verify.stdout.contains("OK"), "\(verify.stdout) \(verify.stderr)")
    }

    @Test func aSnapshotAheadOfTheJournalStopsStart() async throws {
        let broker = try TestBroker { $0.snapshots = SnapshotPolicy(minEntries: 4, minGrowthPercent: 0) }
        let cast = try await Cast.make(broker, agencies: ["police", "housing"])
        _ = try await Self.runACycle(cast, reference: "MARAC-SNAP-2")
        #expect(await eventually { broker.logLines.all.contains { $0.contains("snapshot_written") } })
        await broker.stop()
        // An older copy of the data directory (a restored backup, say) ...
        let data = broker.directory.path("data"), early = broker.directory.path("early")
        try FileManager.default.copyItem(atPath: data, toPath: early)
        // (restored together with the head anchor of its time, or start would refuse it as a truncated journal first)
        let anchor = broker.pki.journalAnchorPath, earlyAnchor = broker.directory.path("early-anchor")
        try FileManager.default.copyItem(atPath: anchor, toPath: earlyAnchor)
        try await broker.restart()
        let written = broker.logLines.all.filter { $0.contains("snapshot_written") }.count
        _ = try await Self.runACycle(try cast.reconnected(), reference: "MARAC-SNAP-3")
        let newer = await eventually { broker.logLines.all.filter { $0.contains("snapshot_written") }.count > written }
        #expect(newer)
        await broker.stop()
        // ... given a newer snapshot than its journal reaches: start refuses, naming both positions.
        let newest = try #require(try Self.snapshotFiles(broker).last)
        try FileManager.default.copyItem(atPath: "\(data)/\(newest)", toPath: "\(early)/\(newest)")
        try FileManager.default.removeItem(atPath: data)
        try FileManager.default.moveItem(atPath: early, toPath: data)
        try FileManager.default.removeItem(atPath: anchor)
        try FileManager.default.moveItem(atPath: earlyAnchor, toPath: anchor)
        do {
            try await broker.restart()
            Issue.record("a broker started with a snapshot ahead of its journal")
            await broker.stop()
        } catch {
            let message = "\(error)"
            #expect(message.contains("latest snapshot is at seq") && message.contains("last record is seq"), "\(message)")
        }
    }
}

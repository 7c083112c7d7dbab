import BrokerHost
import Engine
import Foundation
import Journal
import MaracClient
import Testing
import TestSupport
import Wire

/// SPEC §11.7 over real mTLS and real files: a case is erased by destroying its content key.
/// Afterwards nothing under `data/` nor in the key store, decrypted with `data.key` and every key
/// left, holds any of its content, while another case stays whole, the journal still verifies,
/// and the broker restarts. A crash between the durable erasure and the key's destruction is
/// finished at the next start.
@Suite(.serialized) struct ErasureAPITests {
    static func has(_ text: String?, _ part: String) -> Bool { (text ?? "").contains(part) }

    /// Text that appears only in the erased case's content (fields, question, return, correction, action, note, reasons).
    static let erasedMarkers = ["Alpha7731Name", "Alpha7731Phone", "Alpha7731Question", "Alpha7731Return", "Alpha7731Answer", "Alpha7731Withheld",
                                "Alpha7731Alias", "Alpha7731Correction", "Alpha7731Action", "Alpha7731Note", "Alpha7731Closure", "Alpha7731Urgent"]
    /// Text of the case that stays.
    static let keptMarkers = ["Bravo5120Name", "Bravo5120Return"]

    struct Scenario {
        let cast: Cast
        let meeting: String
        let erased: String
        let kept: String
        let policeRequest: String
        let action: String
    }

    /// Two cases heard at one meeting, each with research and a return; the first also corrected, given an
    /// action that is completed, and closed. Every piece of content the first has carries an Alpha marker.
    static func hearTwoCases(_ broker: TestBroker) async throws -> Scenario {
        let cast = try await Cast.make(broker, agencies: ["police", "housing"])
        let coordinator = cast.coordinator.client, police = cast.spocs["police"]!.client
        let start = FixtureDates.meetingStart()
        let meeting = try #require(try await cast.meeting(at: start)["id"].string)
        let erased = try #require(try await cast.case(meeting: meeting, reference: "MARAC-ERASE-1",
                                                      fields: ["victim.name": "Alpha7731Name", "victim.phone": "Alpha7731Phone"])["id"].string)
        let kept = try #require(try await cast.case(meeting: meeting, reference: "MARAC-KEEP-2", fields: ["victim.name": "Bravo5120Name"])["id"].string)
        broker.clock.set(start.addingTimeInterval(-2 * 86_400))   // after the dispatch deadline: urgent, with a reason
        let dispatched = try await coordinator.json("POST", "/v1/cases/\(erased)/research",
                                                    ["agencies": ["police"], "questions": ["Alpha7731Question?"], "urgent": true, "reason": "Alpha7731Urgent"])
        #expect(dispatched.status == 201, "\(dispatched.text)")
        let policeRequest = try #require(dispatched.json["requests"][0]["id"].string)
        let keptRequest = try #require(try await coordinator.json("POST", "/v1/cases/\(kept)/research",
                                                                  ["agencies": ["police"], "questions": ["Known?"], "urgent": true, "reason": "late"]).json["requests"][0]["id"].string)
        for (request, marker) in [(policeRequest, "Alpha7731"), (keptRequest, "Bravo5120")] {
            let answer: [String: Any] = ["knownToAgency": true, "summary": "\(marker)Return", "answers": ["\(marker)Answer"],
                                         "withheld": [["what": "\(marker)Withheld", "reason": "investigation"]]]
            let returned = try await police.json("PUT", "/v1/requests/\(request)/return", answer)
            #expect(returned.status == 200, "\(returned.text)")
        }
        #expect(try await coordinator.json("PATCH", "/v1/cases/\(erased)/fields",
                                           ["set": ["victim.alias": "Alpha7731Alias"], "reason": "Alpha7731Correction"]).status == 200)
        broker.clock.set(start.addingTimeInterval(3_600))
        let action = try #require(try await coordinator.json("POST", "/v1/cases/\(erased)/actions",
                                                             ["ownerAgency": "police", "text": "Alpha7731Action", "dueAt": rfc3339(start.addingTimeInterval(86_400))]).json["id"].string)
        #expect(try await police.json("POST", "/v1/actions/\(action)/complete", ["note": "Alpha7731Note"]).status == 200)
        let closed = try await coordinator.json("POST", "/v1/cases/\(erased)/close", ["reason": "Alpha7731Closure"])
        #expect(closed.status == 200, "\(closed.text)")
        return Scenario(cast: cast, meeting: meeting, erased: erased, kept: kept, policeRequest: policeRequest, action: action)
    }

    /// Everything on disk as an attacker holding `data.key` and the key store would read it (`ErasureProbe`).
    static func everythingReadable(_ broker: TestBroker) throws -> String {
        try ErasureProbe.readableText(dataDirectory: broker.directory.path("data"), certsDirectory: broker.directory.path("certs"))
    }

    @Test func anErasedCaseCannotBeReadFromDataWhileTheJournalVerifiesAndRestarts() async throws {
        let broker = try TestBroker { $0.snapshots = SnapshotPolicy(minEntries: 4, minGrowthPercent: 0) }
        do {
            // Enrolled now: a certificate issued at the test clock's later time would not yet be valid to OpenSSL.
            let auditor = try await broker.enrol("auditor", agency: "community-safety", role: "auditor", admin: try broker.adminClient())
            let s = try await Self.hearTwoCases(broker)

            // Before erasure: the content is readable with the keys (so the search below can find it), and a
            // snapshot holds it too.
            await broker.stop()
            let before = try Self.everythingReadable(broker)
            for marker in Self.erasedMarkers + Self.keptMarkers { #expect(before.contains(marker), "\(marker) not found before erasure") }
            try broker.start()
            let cast = try s.cast.reconnected()

            // Only the coordinator erases, only a closed case, only once.
            #expect(try await cast.spocs["police"]!.client.json("POST", "/v1/cases/\(s.erased)/erase", ["reason": "retention"]).status == 403)
            #expect(try await cast.admin.json("POST", "/v1/cases/\(s.erased)/erase", ["reason": "retention"]).status == 403)
            let open = try await cast.coordinator.client.json("POST", "/v1/cases/\(s.kept)/erase", ["reason": "retention"])
            #expect(open.status == 409 && Self.has(open.json["error"]["message"].string, "close it first"), "\(open.text)")
            #expect(try await cast.coordinator.client.json("POST", "/v1/cases/\(s.erased)/erase", ["reason": "bad\u{202E}text"]).status == 422)
            let erased = try await cast.coordinator.client.json("POST", "/v1/cases/\(s.erased)/erase", ["reason": "Retention review (DPO ticket 17)"])
            #expect(erased.status == 200 && erased.json["state"].string == "erased" && erased.json["reference"].string == "MARAC-ERASE-1", "\(erased.text)")
            #expect(try await cast.coordinator.client.json("POST", "/v1/cases/\(s.erased)/erase", ["reason": "again"]).status == 409)

            // What every role sees now: the stub; no request, return, action or pack.
            let read = try await cast.coordinator.client.json("GET", "/v1/cases/\(s.erased)")
            #expect(read.status == 200 && read.json.keys == ["id", "reference", "state", "erasedAt"], "\(read.text)")
            #expect(try await cast.coordinator.client.json("GET", "/v1/cases/\(s.erased)/returns").status == 409)
            #expect(try await cast.spocs["police"]!.client.json("GET", "/v1/requests/\(s.policeRequest)").status == 404)
            #expect(try await cast.spocs["police"]!.client.json("GET", "/v1/actions/\(s.action)").status == 404)
            let feed = try await cast.spocs["police"]!.client.json("GET", "/v1/requests")
            #expect(!feed.text.contains(s.policeRequest) && !feed.text.contains("Alpha7731"), "\(feed.text)")
            // The audit trail keeps every record, without the case text its reasons held; the erasure's reason stays.
            let trail = try await cast.admin.auditTrail()
            let auditorTrail = try await auditor.reconnected(to: broker).client.auditTrail()
            #expect(!auditorTrail.text.contains("Alpha7731") && auditorTrail.text.contains("Retention review (DPO ticket 17)"), "\(auditorTrail.text)")
            #expect(trail.records.contains { $0["action"].string == "case.close" && $0["object"].string == s.erased })
            #expect(trail.records.contains { $0["action"].string == "case.erase" && $0["object"].string == s.erased })
            // The other case is whole.
            #expect(try await cast.coordinator.client.json("GET", "/v1/cases/\(s.kept)").json["fields"]["victim.name"].string == "Bravo5120Name")

            // On disk: none of the erased case's content, decrypting everything with data.key and every key left.
            await broker.stop()
            let after = try Self.everythingReadable(broker)
            for marker in Self.erasedMarkers { #expect(!after.contains(marker), "\(marker) is still readable after erasure") }
            for marker in Self.keptMarkers { #expect(after.contains(marker), "\(marker) of the other case was lost") }
            // The hash chain is intact and verifies to its anchor.
            let report = Journal.verify(directory: broker.directory.path("data"), key: try KeyFile.load(from: broker.pki.dataKeyPath),
                                             anchorPath: broker.pki.journalAnchorPath)
            #expect(report.isValid, "\(report)")

            // And the broker restarts with the same answers.
            try broker.start()
            let again = try cast.reconnected()
            #expect(try await again.coordinator.client.json("GET", "/v1/cases/\(s.erased)").text == read.text)
            #expect(try await again.coordinator.client.json("GET", "/v1/cases/\(s.kept)").json["fields"]["victim.name"].string == "Bravo5120Name")
            let stats = try await again.coordinator.client.json("GET", "/v1/panels/domestic-abuse/statistics")
            #expect(stats.json["casesHeard"]["new"].int == 2 && stats.json["actions"]["completedOnTime"].int == 1, "\(stats.text)")
        } catch {
            await broker.stop()
            throw error
        }
        await broker.stop()
    }

    /// A crash after the erasure is durable but before the key store is rewritten and old snapshots are removed
    /// leaves the old key store and old snapshots on disk: the next start destroys the key and removes them
    /// before serving, and the case is never readable again.
    @Test func aCrashBeforeTheKeyIsDestroyedIsFinishedAtTheNextStart() async throws {
        let broker = try TestBroker { $0.snapshots = SnapshotPolicy(minEntries: 4, minGrowthPercent: 0) }
        do {
            let s = try await Self.hearTwoCases(broker)
            let data = broker.directory.path("data")
            await broker.stop()
            // The files as they were before the erasure.
            let keyStore = try #require(FileManager.default.contents(atPath: broker.pki.contentKeyStorePath))
            let snapshots = try FileManager.default.contentsOfDirectory(atPath: data).filter { $0.hasPrefix("snapshot-") }
            #expect(!snapshots.isEmpty)
            let saved = try snapshots.map { ($0, try #require(FileManager.default.contents(atPath: "\(data)/\($0)"))) }
            try broker.start()
            let cast = try s.cast.reconnected()
            #expect(try await cast.coordinator.client.json("POST", "/v1/cases/\(s.erased)/erase", ["reason": "Retention review"]).status == 200)
            await broker.stop()

            // Put back what a crash right after the journal's fsync would have left.
            try Data(keyStore).write(to: URL(fileURLWithPath: broker.pki.contentKeyStorePath))
            for (name, bytes) in saved { try Data(bytes).write(to: URL(fileURLWithPath: "\(data)/\(name)")) }
            #expect(try Self.everythingReadable(broker).contains("Alpha7731Name"), "the simulated crash left the content readable")

            try broker.start()
            let again = try cast.reconnected()
            #expect(try await again.coordinator.client.json("GET", "/v1/cases/\(s.erased)").json["state"].string == "erased")
            await broker.stop()
            let after = try Self.everythingReadable(broker)
            for marker in Self.erasedMarkers { #expect(!after.contains(marker), "\(marker) is readable after the restart") }
            #expect(after.contains("Bravo5120Name"))
        } catch {
            await broker.stop()
            throw error
        }
    }
}

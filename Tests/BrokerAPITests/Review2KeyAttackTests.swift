import Foundation
import MaracClient
import Testing
import TestSupport
import Wire

/// Review of identifier.key handling (d0a074e).
@Suite(.serialized) struct Review2KeyAttackTests {
    @Test("WEAKNESS: a lost identifier.key is silently replaced at start although the journal holds hashes under the old one")
    func WEAKNESS_identifierKeySilentlyRecreated() async throws {
        try await withTestBroker { broker in
            let cast = try await Cast.make(broker, agencies: ["police"])
            let meetingID = try #require(try await cast.meeting(at: FixtureDates.meetingStart())["id"].string)
            _ = try await cast.case(meeting: meetingID, fields: ["victim.name": "Jane Doe", "victim.dateOfBirth": "1990-01-01"])
            let path = broker.pki.identifierKeyPath
            let before = try Data(contentsOf: URL(fileURLWithPath: path))
            try FileManager.default.removeItem(atPath: path)
            var refused = false
            do { try await broker.restart() } catch { refused = true }
            let after = try? Data(contentsOf: URL(fileURLWithPath: path))
            #expect(refused, "the broker started with a new identifier key: every earlier hash is now unmatchable, silently")
            #expect(after == nil || after == before)
            await broker.stop()
        }
    }
}

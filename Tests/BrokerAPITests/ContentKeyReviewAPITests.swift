import BrokerHost
import Engine
import Foundation
@testable import Journal
import MaracClient
import Testing
import TestSupport
import Wire

/// Review of the content key store: whole records cut from the end of the key file after an erasure
/// (the documented limit the file alone cannot show) take the destroyed ids with them, since a rewrite
/// puts them last; the store would then make a new key under an erased id. The next start must mark
/// them destroyed again from the journal.
@Suite(.serialized) struct ContentKeyReviewAPITests {
    @Test func destroyedIDsCutFromTheKeyFileAreDestroyedAgainAtTheNextStart() async throws {
        let broker = try TestBroker { $0.snapshots = SnapshotPolicy(minEntries: 4, minGrowthPercent: 0) }
        do {
            let s = try await ErasureAPITests.hearTwoCases(broker)
            #expect(try await s.cast.coordinator.client.json("POST", "/v1/cases/\(s.erased)/erase", ["reason": "Retention review"]).status == 200)
            await broker.stop()

            let path = broker.pki.contentKeyStorePath
            let dataKey = try KeyFile.load(from: broker.directory.path("certs") + "/data.key")
            let bytes = Array(try #require(FileManager.default.contents(atPath: path)))
            let decoded = try ContentKeyStore.Format.decode(bytes, path: path, dataKey: dataKey)
            let destroyed = decoded.records.compactMap { if case .destroyed(let id) = $0 { id } else { nil } }
            #expect(!destroyed.isEmpty)
            // The destroyed records are the last ones: cut them (whole records), as the limit allows.
            var offset = ContentKeyStore.Format.headerLength, cut = bytes.count
            for record in decoded.records {
                let length = bytes[offset ..< offset + 4].reduce(0) { $0 << 8 | Int($1) }
                if case .destroyed = record { cut = min(cut, offset) }
                offset += 4 + length
            }
            try Data(bytes[..<cut]).write(to: URL(fileURLWithPath: path))
            let forgetful = try ContentKeyStore(path: path, dataKey: dataKey)
            #expect(destroyed.allSatisfy { !forgetful.isDestroyed($0) }, "the cut file forgot the erasure")

            try broker.start()
            await broker.stop()
            let healed = try ContentKeyStore(path: path, dataKey: dataKey)
            for id in destroyed {
                #expect(healed.isDestroyed(id), "\(id) is not destroyed after the restart")
                #expect(throws: JournalError.self) { _ = try healed.keyCreatingIfNeeded(id) }
            }
        } catch {
            await broker.stop()
            throw error
        }
    }
}

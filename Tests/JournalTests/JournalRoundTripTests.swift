import Crypto
import Foundation
import Testing
import TestSupport
@testable import Journal

@Suite struct JournalRoundTripTests {
    @Test func roundTripAcrossRotationsAndSnapshotThenReopen() async throws {
        try await withTemporaryDirectory { dir in
            let key = SymmetricKey.generate()
            let options = JournalOptions(segmentSize: 2048)
            var rng = SplitMix64(seed: 7)
            let payloads = (0..<300).map { i in payload("record \(i) " + String(repeating: "x", count: Int(rng.next() % 120))) }
            let journal = try Journal.open(directory: dir, key: key, options: options)
            #expect(journal.head == .genesis)
            let first = try await appendAll(journal, Array(payloads[..<200]))
            #expect(first.map(\.seq) == Array(1...200))
            for (a, b) in zip(first, first.dropFirst()) { #expect(b.prevHash == a.hash) }
            #expect(first[0].prevHash == JournalPosition.genesis.hash)
            try journal.writeSnapshot(payload("state at 150"), at: first[149].position)
            let rest = try await appendAll(journal, Array(payloads[200...]))
            let all = first + rest
            #expect(journal.head == all.last!.position)
            #expect(try records(journal) == all)
            journal.close()
            #expect(try segmentFiles(dir).count >= 10)

            let logs = LogLines()
            let reopened = try Journal.open(directory: dir, key: key, options: options, log: logs.sink)
            #expect(reopened.head == all.last!.position)
            #expect(logs.lines.isEmpty)
            let snapshot = try #require(try reopened.latestSnapshot())
            #expect(snapshot.position == all[149].position)
            #expect(snapshot.state == payload("state at 150"))
            #expect(try records(reopened, after: 150) == Array(all[150...]))
            #expect(try records(reopened) == all)
            #expect(try records(reopened).map(\.payload) == payloads)
            let more = try await reopened.append(payload("after reopen"))
            #expect(more.seq == 301 && more.prevHash == all.last!.hash)
            reopened.close()

            let report = Journal.verify(directory: dir, key: key)
            #expect(report.isValid, "\(report)")
            #expect(report.recordCount == 301 && report.firstSeq == 1 && report.lastSeq == 301)
            #expect(report.headHash == more.hash.hexString)
            #expect(report.snapshotCount == 1)
        }
    }

    @Test func retentionRemovesOnlySegmentsCoveredBySnapshot() async throws {
        try await withTemporaryDirectory { dir in
            let key = SymmetricKey.generate()
            let options = JournalOptions(segmentSize: 1024, snapshotsToKeep: 1, segmentRetention: .removeCoveredBySnapshot(keepingAtLeast: 2))
            let journal = try Journal.open(directory: dir, key: key, options: options)
            let all = try await appendAll(journal, (0..<100).map { payload("retained record \($0) with some padding to fill segments") })
            let before = try segmentFiles(dir).count
            try journal.writeSnapshot(payload("s1"), at: all[59].position)
            try journal.writeSnapshot(payload("s2"), at: all[79].position)
            let after = try segmentFiles(dir).count
            #expect(after < before && after >= 2)
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".snap") }.count == 1)
            #expect(try records(journal, after: 80) == Array(all[80...]))
            #expect(throws: JournalError.self) { try records(journal, after: 0) }
            journal.close()

            let reopened = try Journal.open(directory: dir, key: key, options: options)
            #expect(reopened.head == all.last!.position)
            #expect(try reopened.latestSnapshot()?.state == payload("s2"))
            reopened.close()
            let report = Journal.verify(directory: dir, key: key)
            #expect(report.isValid, "\(report)")
            #expect(report.lastSeq == 100 && report.firstSeq! > 1)
            #expect(report.notes.contains { $0.contains("retention") })
        }
    }

    @Test func snapshotPositionMustBeInTheChain() async throws {
        try await withTemporaryDirectory { dir in
            let journal = try Journal.open(directory: dir, key: .generate())
            defer { journal.close() }
            let all = try await appendAll(journal, (0..<5).map { payload("r\($0)") })
            #expect(throws: JournalError.self) { try journal.writeSnapshot([1], at: JournalPosition(seq: 3, hash: all[1].hash)) }
            #expect(throws: JournalError.self) { try journal.writeSnapshot([1], at: JournalPosition(seq: 9, hash: all[4].hash)) }
            try journal.writeSnapshot([1], at: all[2].position)
            try journal.writeSnapshot([2], at: .genesis)
            #expect(try journal.latestSnapshot()?.position == all[2].position)
        }
    }

    /// `open` keeps the snapshot it decrypted for the first `latestSnapshot()`; a snapshot written
    /// (or removed) in between is never hidden by it, even one rewritten at the same position.
    @Test func theSnapshotKeptFromOpenNeverHidesALaterOne() async throws {
        try await withTemporaryDirectory { dir in
            let key = SymmetricKey.generate()
            let journal = try Journal.open(directory: dir, key: key)
            let all = try await appendAll(journal, (0..<5).map { payload("r\($0)") })
            try journal.writeSnapshot(payload("at 3"), at: all[2].position)
            journal.close()

            let first = try Journal.open(directory: dir, key: key)
            #expect(try first.latestSnapshot()?.state == payload("at 3"))
            #expect(try first.latestSnapshot()?.state == payload("at 3"))   // read again from the file
            first.close()

            let second = try Journal.open(directory: dir, key: key)
            try second.writeSnapshot(payload("at 4"), at: all[3].position)
            #expect(try second.latestSnapshot()?.state == payload("at 4"))
            second.close()

            let third = try Journal.open(directory: dir, key: key)
            try third.writeSnapshot(payload("at 4, rewritten"), at: all[3].position)
            #expect(try third.latestSnapshot()?.state == payload("at 4, rewritten"))
            third.close()
        }
    }

    @Test func concurrentAppendersShareSyncsAndFormOneChain() async throws {
        try await withTemporaryDirectory { dir in
            let key = SymmetricKey.generate()
            let journal = try Journal.open(directory: dir, key: key, options: JournalOptions(segmentSize: 32 << 10))
            let acknowledged = try await withThrowingTaskGroup(of: [JournalRecord].self) { group in
                for task in 0..<64 {
                    group.addTask {
                        var mine: [JournalRecord] = []
                        for i in 0..<16 { mine.append(try await journal.append(payload("appender \(task) record \(i)"))) }
                        return mine
                    }
                }
                return try await group.reduce(into: []) { $0 += $1 }
            }
            let status = journal.status
            journal.close()
            #expect(acknowledged.count == 1024)
            #expect(acknowledged.map(\.seq).sorted() == Array(1...1024))
            #expect(status.syncs < status.appendedRecords, "group commit: \(status)")

            let reopened = try Journal.open(directory: dir, key: key)
            defer { reopened.close() }
            let stored = try records(reopened)
            #expect(stored == acknowledged.sorted { $0.seq < $1.seq })
            for (a, b) in zip(stored, stored.dropFirst()) { #expect(b.prevHash == a.hash && b.seq == a.seq + 1) }
        }
    }

    @Test func noPlaintextOnDisk() async throws {
        try await withTemporaryDirectory { dir in
            let marker = "PLAINTEXT-MARKER-7f3a91"
            let data = dir + "/data"
            let journal = try Journal.open(directory: data, key: .generate(), options: JournalOptions(segmentSize: 4096))
            let all = try await appendAll(journal, (0..<50).map { payload("{\"case_field\":\"\(marker) \($0)\"}") })
            try journal.writeSnapshot(payload("snapshot \(marker)"), at: all[20].position)
            journal.close()
            let needle = Array(marker.utf8)
            let files = try FileManager.default.contentsOfDirectory(atPath: data)
            #expect(files.count > 2)
            for name in files {
                #expect(!name.contains(marker))
                let bytes = try readFile(data + "/" + name)
                let found = bytes.count >= needle.count && (0...(bytes.count - needle.count)).contains { bytes[$0..<($0 + needle.count)].elementsEqual(needle) }
                #expect(!found, "plaintext marker found in \(name)")
                #expect(!String(decoding: bytes, as: UTF8.self).contains("case_field"))
            }
        }
    }

    @Test func payloadLimitAndClose() async throws {
        try await withTemporaryDirectory { dir in
            let journal = try Journal.open(directory: dir, key: .generate(), options: JournalOptions(maxPayloadSize: 100))
            await #expect(throws: JournalError.self) { try await journal.append([UInt8](repeating: 1, count: 101)) }
            let batch = try await journal.append([payload("a"), payload("b"), payload("c")])
            #expect(batch.map(\.seq) == [1, 2, 3])
            journal.close()
            journal.close()
            #expect(!journal.isHealthy)
            do {
                _ = try await journal.append(payload("late"))
                Issue.record("append after close succeeded")
            } catch let error as JournalError {
                #expect(error.code == .closed)
            }
            #expect(try records(journal).count == 3)
        }
    }
}

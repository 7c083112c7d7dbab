import Crypto
import Foundation
import Testing
@testable import Journal

/// The head anchor: cuts from the journal's end are refused by open and verify
/// alike, naming both positions; a torn record after the anchor is still cut.
@Suite struct JournalAnchorTests {
    static let payload = [UInt8](repeating: 0x41, count: 40)

    /// A closed journal of `count` records in segments of `segmentSize`, anchored in `anchor`.
    static func makeJournal(_ directory: String, anchor: String, key: SymmetricKey, count: Int, segmentSize: Int = 1024) async throws -> [JournalRecord] {
        var options = JournalOptions(segmentSize: segmentSize)
        options.anchor = .init(path: anchor)
        let journal = try Journal.open(directory: directory, key: key, options: options)
        let records = try await appendAll(journal, (0..<count).map { _ in payload })
        journal.close()
        return records
    }

    static func options(_ anchor: String, _ mode: JournalAnchor.Mode = .require) -> JournalOptions {
        var options = JournalOptions(segmentSize: 1024)
        options.anchor = .init(path: anchor, mode: mode)
        return options
    }

    /// Record boundaries of a segment file: after the header, after each record.
    static func boundaries(_ bytes: [UInt8]) -> [Int] {
        var offsets = [DiskFormat.segmentHeaderSize]
        var offset = DiskFormat.segmentHeaderSize
        while offset + DiskFormat.recordHeaderSize <= bytes.count {
            offset += DiskFormat.recordHeaderSize + Int(DiskFormat.read(UInt32.self, bytes, at: offset + 4))
            offsets.append(offset)
        }
        return offsets
    }

    /// Open and verify both refuse `data` with the truncation message naming both positions; nothing is cut.
    static func expectRefused(_ data: String, anchor: String, key: SymmetricKey, anchorSeq: UInt64, endSeq: UInt64, _ what: String) throws {
        let before = try segmentFiles(data).map { try readFile($0) }
        let expected = "journal truncated: anchor at \(anchorSeq), journal ends at \(endSeq)"
        do {
            let journal = try Journal.open(directory: data, key: key, options: options(anchor))
            journal.close()
            Issue.record("\(what): open accepted a journal cut to seq \(endSeq) with the anchor at \(anchorSeq)")
        } catch let error as JournalError {
            #expect(error.code == .truncated && error.message.contains(expected), "\(what): \(error.message)")
        }
        let report = Journal.verify(directory: data, key: key, anchorPath: anchor)
        #expect(report.problem?.code == .truncated && report.description.contains(expected), "\(what): \(report)")
        #expect(try segmentFiles(data).map { try readFile($0) } == before, "\(what): a refused open changes nothing")
    }

    @Test func everyCutAtTheEndIsRefusedByOpenAndVerify() async throws {
        try await withTemporaryDirectory { root in
            let key = SymmetricKey.generate()
            let data = root + "/data", anchor = root + "/anchor"
            let records = try await Self.makeJournal(data, anchor: anchor, key: key, count: 40)
            let head = records.last!.seq
            #expect(try JournalAnchor.read(path: anchor, key: key)?.position == records.last!.position, "clean close anchors the head")
            let segments = try segmentFiles(data)
            #expect(segments.count >= 3)
            let last = segments.last!
            let bytes = try readFile(last)
            let firstSeq = DiskFormat.read(UInt64.self, bytes, at: 24)
            let cuts = Self.boundaries(bytes).dropLast()
            #expect(cuts.count >= 2)
            var cases = 0
            func scratch() throws -> String {
                let copy = root + "/cut"
                try copyDirectory(data, to: copy)
                return copy
            }
            // At every record boundary of the last segment, and inside records (torn-looking cuts).
            for (index, offset) in cuts.enumerated() {
                for extra in [0, 5, DiskFormat.recordHeaderSize + 3] {
                    let copy = try scratch()
                    let path = copy + "/" + (last as NSString).lastPathComponent
                    try writeFile(path, Array(bytes.prefix(offset + extra)))
                    try Self.expectRefused(copy, anchor: anchor, key: key, anchorSeq: head, endSeq: firstSeq - 1 + UInt64(index), "cut at \(offset)+\(extra)")
                    cases += 1
                }
            }
            // The last segment cut to a few bytes (its header incomplete).
            for size in [0, 10, DiskFormat.segmentHeaderSize - 1] {
                let copy = try scratch()
                try writeFile(copy + "/" + (last as NSString).lastPathComponent, Array(bytes.prefix(size)))
                try Self.expectRefused(copy, anchor: anchor, key: key, anchorSeq: head, endSeq: firstSeq - 1, "last segment cut to \(size) bytes")
            }
            // Whole segments removed from the end, down to none at all.
            for removed in 1...segments.count {
                let copy = try scratch()
                let kept = segments.dropLast(removed)
                for segment in segments.suffix(removed) { try FileManager.default.removeItem(atPath: copy + "/" + (segment as NSString).lastPathComponent) }
                let end = try kept.last.map { DiskFormat.read(UInt64.self, try readFile($0), at: 24) - 1 + UInt64(Self.boundaries(try readFile($0)).count - 1) } ?? 0
                try Self.expectRefused(copy, anchor: anchor, key: key, anchorSeq: head, endSeq: end, "\(removed) segments removed")
            }
            #expect(cases == cuts.count * 3)
            // The untouched journal opens and verifies.
            #expect(Journal.verify(directory: data, key: key, anchorPath: anchor).isValid)
        }
    }

    @Test func aTornRecordAfterTheAnchorIsCutWithALogLine() async throws {
        try await withTemporaryDirectory { root in
            let key = SymmetricKey.generate()
            let data = root + "/data", anchor = root + "/anchor"
            let records = try await Self.makeJournal(data, anchor: anchor, key: key, count: 5, segmentSize: 1 << 20)
            // A crash while the next record was being written: after the anchor's last update.
            let segment = try segmentFiles(data).last!
            var bytes = try readFile(segment)
            bytes += [UInt8](repeating: 0, count: 17)
            try writeFile(segment, bytes)
            let report = Journal.verify(directory: data, key: key, anchorPath: anchor)
            #expect(report.isValid && report.notes.contains { $0.contains("torn final record") }, "\(report)")
            let log = LogLines()
            let journal = try Journal.open(directory: data, key: key, options: Self.options(anchor), log: log.sink)
            #expect(journal.head == records.last!.position)
            journal.close()
            #expect(log.lines.contains { $0.contains("cut torn final record") }, "\(log.lines)")
        }
    }

    @Test func theAnchorFollowsAnAcknowledgedAppendWithinASecond() async throws {
        try await withTemporaryDirectory { root in
            let key = SymmetricKey.generate()
            let anchor = root + "/anchor"
            let journal = try Journal.open(directory: root + "/data", key: key, options: Self.options(anchor))
            defer { journal.close() }
            #expect(try JournalAnchor.read(path: anchor, key: key)?.position == .genesis, "a new journal is anchored at once")
            for _ in 0..<3 {
                let record = try await journal.append(Self.payload)
                let acknowledged = ContinuousClock.now
                var anchored = false
                // The write is scheduled at most `updateInterval` (1 s) after the acknowledgement; the bound is
                // four intervals because a debug build under the whole suite on a shared machine can be slow
                // to run the timer and the fsync. An anchor written only at close, or every 5 s, still fails.
                while ContinuousClock.now - acknowledged < JournalAnchor.updateInterval * 4 {
                    if try JournalAnchor.read(path: anchor, key: key)?.position == record.position { anchored = true; break }
                    try await Task.sleep(for: .milliseconds(10))
                }
                #expect(anchored, "anchor at seq \(record.seq) within 4 s of the acknowledgement")
            }
            let mode = try FileManager.default.attributesOfItem(atPath: anchor)[.posixPermissions] as? Int
            #expect(mode == 0o600)
        }
    }

    @Test func aMissingOrForgedAnchorIsRefusedAndAnOldJournalIsAnchoredExplicitly() async throws {
        try await withTemporaryDirectory { root in
            let key = SymmetricKey.generate()
            let data = root + "/data", anchor = root + "/anchor"
            // A journal from before anchoring.
            let old = try Journal.open(directory: data, key: key)
            let records = try await appendAll(old, [Self.payload, Self.payload])
            old.close()
            #expect(throws: JournalError.self) { try Journal.open(directory: data, key: key, options: Self.options(anchor)) }
            do { _ = try Journal.open(directory: data, key: key, options: Self.options(anchor)) } catch let error as JournalError {
                #expect(error.code == .anchor && error.message.contains("\(anchor) is missing"), "\(error.message)")
            }
            #expect(Journal.verify(directory: data, key: key, anchorPath: anchor).problem?.code == .anchor)
            // Migration: create mode anchors it once the caller's record is durable.
            let migrating = try Journal.open(directory: data, key: key, options: Self.options(anchor, .create))
            migrating.close()
            #expect(try JournalAnchor.read(path: anchor, key: key) == nil, "nothing appended, nothing anchored")
            let migrated = try Journal.open(directory: data, key: key, options: Self.options(anchor, .create))
            let note = try await migrated.append(Self.payload)
            migrated.close()
            #expect(try JournalAnchor.read(path: anchor, key: key)?.position == note.position)
            #expect(throws: JournalError.self) { try Journal.open(directory: data, key: key, options: Self.options(anchor, .create)) }
            #expect(Journal.verify(directory: data, key: key, anchorPath: anchor).isValid)

            // Forged: a changed seq fails the MAC.
            let text = String(decoding: try readFile(anchor), as: UTF8.self)
            try writeFile(anchor, Array(text.replacingOccurrences(of: "seq \(note.seq)", with: "seq \(note.seq + 5)").utf8))
            do { _ = try Journal.open(directory: data, key: key, options: Self.options(anchor)) } catch let error as JournalError {
                #expect(error.code == .anchor && error.message.contains("fails authentication"), "\(error.message)")
            }
            // Genuine MAC, another record's hash at that seq: the end was cut and rewritten.
            try JournalAnchor.write(JournalPosition(seq: records[1].seq, hash: records[0].hash), path: anchor, key: key)
            do { _ = try Journal.open(directory: data, key: key, options: Self.options(anchor)) } catch let error as JournalError {
                #expect(error.code == .anchor && error.message.contains("does not match its anchor"), "\(error.message)")
            }
            #expect(Journal.verify(directory: data, key: key, anchorPath: anchor).problem?.code == .anchor)
        }
    }

    @Test func acceptTruncationReportsTheLossAndMovesTheAnchorOnlyAfterTheNextRecord() async throws {
        try await withTemporaryDirectory { root in
            let key = SymmetricKey.generate()
            let data = root + "/data", anchor = root + "/anchor"
            let records = try await Self.makeJournal(data, anchor: anchor, key: key, count: 6, segmentSize: 1 << 20)
            let segment = try segmentFiles(data).last!
            let bytes = try readFile(segment)
            try writeFile(segment, Array(bytes.prefix(Self.boundaries(bytes)[4])))
            let looking = try Journal.open(directory: data, key: key, options: Self.options(anchor, .acceptTruncation))
            #expect(looking.truncation == JournalTruncation(anchor: records[5].position, end: records[3].position))
            looking.close()
            #expect(try JournalAnchor.read(path: anchor, key: key)?.position == records[5].position, "held until a record says so")
            let accepting = try Journal.open(directory: data, key: key, options: Self.options(anchor, .acceptTruncation))
            let note = try await accepting.append(Self.payload)
            accepting.close()
            #expect(note.seq == 5)
            #expect(try JournalAnchor.read(path: anchor, key: key)?.position == note.position)
            let reopened = try Journal.open(directory: data, key: key, options: Self.options(anchor))
            #expect(reopened.head == note.position && reopened.truncation == nil)
            reopened.close()
        }
    }

    @Test func acceptingATruncationSetsAsideSnapshotsOfLostRecords() async throws {
        try await withTemporaryDirectory { root in
            let key = SymmetricKey.generate()
            let data = root + "/data", anchor = root + "/anchor"
            let journal = try Journal.open(directory: data, key: key, options: Self.options(anchor))
            let records = try await appendAll(journal, (0..<6).map { _ in Self.payload })
            try journal.writeSnapshot([1, 2, 3], at: records[5].position)
            journal.close()
            let segment = try segmentFiles(data).last!
            let bytes = try readFile(segment)
            try writeFile(segment, Array(bytes.prefix(Self.boundaries(bytes)[4])))
            let log = LogLines()
            let accepting = try Journal.open(directory: data, key: key, options: Self.options(anchor, .acceptTruncation), log: log.sink)
            #expect(accepting.truncation == JournalTruncation(anchor: records[5].position, end: records[3].position))
            #expect(try accepting.latestSnapshot() == nil)
            _ = try await accepting.append(Self.payload)
            accepting.close()
            let names = try FileManager.default.contentsOfDirectory(atPath: data)
            #expect(names.contains { $0.hasSuffix(".snap" + Journal.lostSuffix) }, "\(names)")
            #expect(log.lines.contains { $0.contains("set aside snapshot") }, "\(log.lines)")
            #expect(Journal.verify(directory: data, key: key, anchorPath: anchor).isValid)
        }
    }

    @Test func verifyConfirmsPositionsOrNamesWhyNot() async throws {
        try await withTemporaryDirectory { root in
            let key = SymmetricKey.generate()
            let data = root + "/data", anchor = root + "/anchor"
            let records = try await Self.makeJournal(data, anchor: anchor, key: key, count: 30)
            let good = Journal.verify(directory: data, key: key, anchorPath: anchor, positions: [records[12].position])
            #expect(good.isValid && good.confirmedPositions == [records[12].position])
            let wrong = Journal.verify(directory: data, key: key, anchorPath: anchor, positions: [JournalPosition(seq: records[12].seq, hash: records[11].hash)])
            #expect(wrong.problem?.message.contains("does not contain seq \(records[12].seq) with hash") == true, "\(wrong)")
            let beyond = Journal.verify(directory: data, key: key, anchorPath: anchor, positions: [JournalPosition(seq: 99, hash: records[0].hash)])
            #expect(beyond.problem?.message.contains("does not contain seq 99: it ends at seq 30") == true, "\(beyond)")
        }
    }
}

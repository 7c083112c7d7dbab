import Crypto
import Foundation
import Testing
import TestSupport
@testable import Journal

/// Damage and torn writes, test by test (LevelDB `log_test.cc` style).
@Suite struct JournalDamageTests {
    /// A closed journal with `count` records in one segment, and its records.
    func makeJournal(_ dir: String, key: SymmetricKey, count: Int, options: JournalOptions = .init()) async throws -> [JournalRecord] {
        let journal = try Journal.open(directory: dir, key: key, options: options)
        defer { journal.close() }
        return try await appendAll(journal, (0..<count).map { payload("damage test record \($0)") })
    }

    /// Byte ranges of the records in a single-segment journal.
    func recordRanges(_ all: [JournalRecord]) -> [Range<Int>] {
        var offset = DiskFormat.segmentHeaderSize
        return all.map { record in
            defer { offset += storedSize(record.payload.count) }
            return offset..<(offset + storedSize(record.payload.count))
        }
    }

    @Test func cutAtEveryOffsetInsideLastRecordReopensWithEarlierRecords() async throws {
        try await withTemporaryDirectory { dir in
            let key = SymmetricKey.generate()
            let pristine = dir + "/pristine"
            let all = try await makeJournal(pristine, key: key, count: 5)
            let segment = try segmentFiles(pristine)[0]
            let bytes = try readFile(segment)
            let last = recordRanges(all)[4]
            #expect(last.upperBound == bytes.count)
            let trial = dir + "/trial"
            for cut in (last.lowerBound + 1)..<last.upperBound {
                try copyDirectory(pristine, to: trial)
                try writeFile(trial + "/" + URL(fileURLWithPath: segment).lastPathComponent, Array(bytes[..<cut]))
                let logs = LogLines()
                let journal = try Journal.open(directory: trial, key: key, log: logs.sink)
                #expect(journal.head == all[3].position, "cut at \(cut)")
                #expect(try records(journal) == Array(all[..<4]))
                #expect(logs.lines.contains { $0.contains("torn") && $0.contains("offset \(last.lowerBound)") }, "cut at \(cut): \(logs.lines)")
                let next = try await journal.append(payload("after the cut"))
                #expect(next.seq == 5 && next.prevHash == all[3].hash)
                journal.close()
                #expect(Journal.verify(directory: trial, key: key).isValid)
            }
        }
    }

    @Test func zeroFilledTailIsCutAsTorn() async throws {
        try await withTemporaryDirectory { dir in
            let key = SymmetricKey.generate()
            let all = try await makeJournal(dir, key: key, count: 3)
            let segment = try segmentFiles(dir)[0]
            try writeFile(segment, try readFile(segment) + [UInt8](repeating: 0, count: 300))
            let logs = LogLines()
            let journal = try Journal.open(directory: dir, key: key, log: logs.sink)
            defer { journal.close() }
            #expect(journal.head == all[2].position)
            #expect(logs.lines.count == 1)
        }
    }

    @Test func everySingleBitFlipIsDetected() async throws {
        try await withTemporaryDirectory { dir in
            // Three segments and a snapshot in the middle one; 1,000 seeded flips over every byte of every file.
            let key = SymmetricKey.generate()
            let pristine = dir + "/pristine"
            let options = JournalOptions(segmentSize: 600)
            let journal = try Journal.open(directory: pristine, key: key, options: options)
            let all = try await appendAll(journal, (0..<18).map { payload("flip test record \($0)") })
            try journal.writeSnapshot(payload("snapshot state"), at: all[9].position)
            journal.close()
            let files = try FileManager.default.contentsOfDirectory(atPath: pristine).sorted()
            #expect(files.filter { $0.hasSuffix(".seg") }.count >= 3)
            let sizes = try files.map { try readFile(pristine + "/" + $0).count }
            let total = sizes.reduce(0, +)
            var rng = SplitMix64(seed: 0x5EED)
            let trial = dir + "/trial"
            for _ in 0..<1000 {
                var offset = Int(rng.next() % UInt64(total))
                let bit = UInt8(1) << (rng.next() % 8)
                var fileIndex = 0
                while offset >= sizes[fileIndex] { offset -= sizes[fileIndex]; fileIndex += 1 }
                try copyDirectory(pristine, to: trial)
                let path = trial + "/" + files[fileIndex]
                var bytes = try readFile(path)
                bytes[offset] ^= bit
                try writeFile(path, bytes)
                let where_ = "\(files[fileIndex]) offset \(offset) bit \(bit)"

                // verify checks everything: it must always find the flip.
                let report = Journal.verify(directory: trial, key: key)
                #expect(!report.isValid, "verify accepted a flip at \(where_)")
                #expect(report.problem?.code == .corrupt, "\(where_): \(report)")

                // open verifies from the snapshot on: it must refuse, or (flip before the snapshot's
                // segment) a full replay must fail, and nothing it delivers may differ from what was written.
                let logs = LogLines()
                if let opened = try? Journal.open(directory: trial, key: key, options: options, log: logs.sink) {
                    var delivered: [JournalRecord] = []
                    #expect(throws: JournalError.self, "replay accepted a flip at \(where_)") {
                        try opened.replay(after: 0) { delivered.append($0) }
                    }
                    #expect(delivered == Array(all.prefix(delivered.count)), "altered record returned at \(where_)")
                    #expect(logs.lines.isEmpty, "\(where_) was cut as a torn tail: \(logs.lines)")
                    opened.close()
                }
            }
        }
    }

    /// Two journals under one key whose histories differ at seq 2: the final record of one,
    /// same seq and same payload, spliced into the other. Only the chain (the previous hash,
    /// bound into each record's authentication) tells them apart.
    @Test func aRecordFromAnotherChainIsDetected() async throws {
        try await withTemporaryDirectory { dir in
            let key = SymmetricKey.generate()
            let texts = ["record zero", "record one A", "record two"]
            let ours = try await appendAll(try Journal.open(directory: dir + "/ours", key: key), texts.map(payload))
            let theirs = try await appendAll(try Journal.open(directory: dir + "/theirs", key: key), ["record zero", "record one B", "record two"].map(payload))
            #expect(ours[2].prevHash != theirs[2].prevHash && ours[2].seq == theirs[2].seq)
            let ourSegment = try segmentFiles(dir + "/ours")[0], theirSegment = try segmentFiles(dir + "/theirs")[0]
            let ourBytes = try readFile(ourSegment), theirBytes = try readFile(theirSegment)
            let last = recordRanges(ours)[2]
            #expect(recordRanges(theirs)[2] == last)
            try writeFile(ourSegment, Array(ourBytes[..<last.lowerBound] + theirBytes[last]))
            let error = try #require(throws: JournalError.self) { try Journal.open(directory: dir + "/ours", key: key) }
            #expect(error.code == .corrupt && error.seq == 3, "\(error)")
            #expect(!Journal.verify(directory: dir + "/ours", key: key).isValid)
        }
    }

    /// A snapshot from another journal under the same key, at the same seq, is refused:
    /// the record it claims to follow is not the one in this journal.
    @Test func aSnapshotFromAnotherChainIsRefused() async throws {
        try await withTemporaryDirectory { dir in
            let key = SymmetricKey.generate()
            for (name, middle) in [("ours", "middle A"), ("theirs", "middle B")] {
                let journal = try Journal.open(directory: dir + "/" + name, key: key)
                let written = try await appendAll(journal, ["first", middle, "third", "fourth"].map(payload))
                try journal.writeSnapshot(payload("state of \(name)"), at: written[2].position)
                journal.close()
            }
            let snapshot = try #require(try FileManager.default.contentsOfDirectory(atPath: dir + "/ours").first { $0.hasPrefix("snapshot-") })
            try FileManager.default.removeItem(atPath: dir + "/ours/" + snapshot)
            try FileManager.default.copyItem(atPath: dir + "/theirs/" + snapshot, toPath: dir + "/ours/" + snapshot)
            let error = try #require(throws: JournalError.self) { try Journal.open(directory: dir + "/ours", key: key) }
            #expect(error.code == .corrupt && error.message.contains("does not match the snapshot"), "\(error)")
            #expect(!Journal.verify(directory: dir + "/ours", key: key).isValid)
        }
    }

    @Test func swappedRecordsAreDetected() async throws {
        try await withTemporaryDirectory { dir in
            let key = SymmetricKey.generate()
            let all = try await makeJournal(dir, key: key, count: 6)
            let segment = try segmentFiles(dir)[0]
            let bytes = try readFile(segment)
            let r = recordRanges(all)
            try writeFile(segment, Array(bytes[..<r[2].lowerBound] + bytes[r[3]] + bytes[r[2]] + bytes[r[4].lowerBound...]))
            let error = try #require(throws: JournalError.self) { try Journal.open(directory: dir, key: key) }
            #expect(error.code == .corrupt && error.path == segment && error.offset == Int64(r[2].lowerBound) && error.seq == 4)
            #expect(error.message.contains(segment) && error.message.contains("offset \(r[2].lowerBound)"))
            #expect(!Journal.verify(directory: dir, key: key).isValid)
        }
    }

    @Test func deletedRecordIsDetected() async throws {
        try await withTemporaryDirectory { dir in
            let key = SymmetricKey.generate()
            let all = try await makeJournal(dir, key: key, count: 6)
            let segment = try segmentFiles(dir)[0]
            let bytes = try readFile(segment)
            let r = recordRanges(all)
            try writeFile(segment, Array(bytes[..<r[2].lowerBound] + bytes[r[3].lowerBound...]))
            let error = try #require(throws: JournalError.self) { try Journal.open(directory: dir, key: key) }
            #expect(error.code == .corrupt && error.offset == Int64(r[2].lowerBound) && error.seq == 4)
            let report = Journal.verify(directory: dir, key: key)
            #expect(!report.isValid && report.lastSeq == 2, "\(report)")
            #expect(report.description.contains("DAMAGED"))
        }
    }

    @Test func duplicatedRecordIsDetected() async throws {
        try await withTemporaryDirectory { dir in
            let key = SymmetricKey.generate()
            let all = try await makeJournal(dir, key: key, count: 6)
            let segment = try segmentFiles(dir)[0]
            let bytes = try readFile(segment)
            let r = recordRanges(all)
            try writeFile(segment, Array(bytes[..<r[3].upperBound] + bytes[r[3]] + bytes[r[4].lowerBound...]))
            let error = try #require(throws: JournalError.self) { try Journal.open(directory: dir, key: key) }
            #expect(error.code == .corrupt && error.offset == Int64(r[4].lowerBound) && error.seq == 4)
            // Duplicating the final record too: a complete record with the wrong seq is damage, not a torn tail.
            try writeFile(segment, bytes + Array(bytes[r[5]]))
            #expect(throws: JournalError.self) { try Journal.open(directory: dir, key: key) }
        }
    }

    @Test func missingOrSwappedSegmentFilesAreDetected() async throws {
        try await withTemporaryDirectory { dir in
            let key = SymmetricKey.generate()
            _ = try await makeJournal(dir + "/a", key: key, count: 30, options: JournalOptions(segmentSize: 400))
            let segments = try segmentFiles(dir + "/a")
            #expect(segments.count >= 4)
            try copyDirectory(dir + "/a", to: dir + "/b")
            try FileManager.default.removeItem(atPath: segments[1].replacingOccurrences(of: "/a/", with: "/b/"))
            let missing = try #require(throws: JournalError.self) { try Journal.open(directory: dir + "/b", key: key) }
            #expect(missing.code == .corrupt && missing.message.contains("missing"))

            try copyDirectory(dir + "/a", to: dir + "/c")
            let one = segments[1].replacingOccurrences(of: "/a/", with: "/c/"), two = segments[2].replacingOccurrences(of: "/a/", with: "/c/")
            try FileManager.default.moveItem(atPath: one, toPath: one + ".x")
            try FileManager.default.moveItem(atPath: two, toPath: one)
            try FileManager.default.moveItem(atPath: one + ".x", toPath: two)
            #expect(throws: JournalError.self) { try Journal.open(directory: dir + "/c", key: key) }
            #expect(!Journal.verify(directory: dir + "/c", key: key).isValid)

            // Deleting the first segment (no snapshot covers it) is detected too.
            try copyDirectory(dir + "/a", to: dir + "/d")
            try FileManager.default.removeItem(atPath: segments[0].replacingOccurrences(of: "/a/", with: "/d/"))
            #expect(throws: JournalError.self) { try Journal.open(directory: dir + "/d", key: key) }
        }
    }

    @Test func tornSegmentHeaderIsRemoved() async throws {
        try await withTemporaryDirectory { dir in
            let key = SymmetricKey.generate()
            let all = try await makeJournal(dir, key: key, count: 3)
            try writeFile(dir + "/" + DiskFormat.segmentName(2), Array(DiskFormat.segmentMagic + [1, 0]))
            let logs = LogLines()
            let journal = try Journal.open(directory: dir, key: key, log: logs.sink)
            #expect(journal.head == all[2].position)
            #expect(logs.lines.count == 1)
            journal.close()
        }
    }

    @Test func wrongKeyGivesAClearError() async throws {
        try await withTemporaryDirectory { dir in
            let key = SymmetricKey.generate(), other = SymmetricKey.generate()
            _ = try await makeJournal(dir + "/full", key: key, count: 3)
            let empty = try Journal.open(directory: dir + "/empty", key: key)
            empty.close()
            for path in [dir + "/full", dir + "/empty"] {
                let error = try #require(throws: JournalError.self) { try Journal.open(directory: path, key: other) }
                #expect(error.code == .wrongKey)
                #expect(error.message.contains("journal key does not match"))
                #expect(error.message.contains(key.fingerprint) && error.message.contains(other.fingerprint))
                let report = Journal.verify(directory: path, key: other)
                #expect(report.problem?.code == .wrongKey)
            }
        }
    }
}

@Suite struct KeyFileTests {
    @Test func createLoadAndRefuse() async throws {
        try await withTemporaryDirectory { dir in
            let path = dir + "/journal.key"
            let key = try KeyFile.create(at: path)
            let attributes = try FileManager.default.attributesOfItem(atPath: path)
            #expect((attributes[.posixPermissions] as? Int) == 0o600)
            #expect(try KeyFile.load(from: path).rawBytes == key.rawBytes)
            #expect(try readFile(path).count == 65)
            let again = try #require(throws: JournalError.self) { try KeyFile.create(at: path) }
            #expect(again.code == .keyFile && again.message.contains(path))
            #expect(try KeyFile.load(from: path).rawBytes == key.rawBytes)

            try FileManager.default.setAttributes([.posixPermissions: 0o640], ofItemAtPath: path)
            let open = try #require(throws: JournalError.self) { try KeyFile.load(from: path) }
            #expect(open.code == .keyFile && open.message.contains(path) && open.message.contains("640"))

            let short = dir + "/short.key"
            try writeFile(short, payload("abcd\n"))
            try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: short)
            let bad = try #require(throws: JournalError.self) { try KeyFile.load(from: short) }
            #expect(bad.code == .keyFile && bad.message.contains(short))

            let missing = try #require(throws: JournalError.self) { try KeyFile.load(from: dir + "/none.key") }
            #expect(missing.message.contains(dir + "/none.key"))
        }
    }
}

import Crypto
import Foundation
import Testing
@_spi(Testing) @testable import Journal

/// The content key store's append-only `MKS2` file, on real files: a new key is one appended record
/// (the file is not rewritten), erasure rewrites it compacted under a new file id, a torn append is
/// cut off, every other damage or edit stops the store, and an `MKS1` file from an older broker is
/// read and upgraded.
@Suite struct ContentKeyStoreFileTests {
    typealias Format = ContentKeyStore.Format

    /// The byte range of each record (length prefix and box), read from the length prefixes alone.
    static func recordSpans(_ bytes: [UInt8]) -> [Range<Int>] {
        var spans: [Range<Int>] = [], offset = Format.headerLength
        while offset + Format.lengthBytes <= bytes.count {
            let length = bytes[offset ..< offset + Format.lengthBytes].reduce(0) { $0 << 8 | Int($1) }
            guard length > 0, offset + Format.lengthBytes + length <= bytes.count else { break }
            spans.append(offset ..< offset + Format.lengthBytes + length)
            offset += Format.lengthBytes + length
        }
        return spans
    }

    static func decode(_ path: String, _ dataKey: SymmetricKey) throws -> Format.Decoded {
        try Format.decode(try readFile(path), path: path, dataKey: dataKey)
    }

    /// Writes `bytes` over `path`, keeping it private.
    static func overwrite(_ path: String, _ bytes: [UInt8]) throws {
        try writeFile(path, bytes)
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: path)
    }

    static func inode(_ path: String) throws -> Int {
        try #require(FileManager.default.attributesOfItem(atPath: path)[.systemFileNumber] as? Int)
    }

    /// The store's error opening `path`, which must fail; and the file must be left as it was.
    static func openingFails(_ path: String, _ dataKey: SymmetricKey) throws -> JournalError {
        let before = try readFile(path)
        let error = try #require(throws: JournalError.self) { _ = try ContentKeyStore(path: path, dataKey: dataKey) }
        #expect(try readFile(path) == before, "a store that fails to open changes nothing")
        return error
    }

    @Test func aNewKeyIsOneAppendedRecordAndTheFileIsNotRewritten() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/content-keys", dataKey = SymmetricKey.generate()
            let store = try ContentKeyStore(path: path, dataKey: dataKey)
            let first = try store.keyCreatingIfNeeded("case-1")
            let inode = try Self.inode(path), start = try readFile(path)
            #expect(start.starts(with: Array("MKS2".utf8)))
            var keys = ["case-1": first.rawBytes]
            for n in 2...5 { keys["case-\(n)"] = try store.keyCreatingIfNeeded("case-\(n)").rawBytes }
            _ = try store.keyCreatingIfNeeded("case-3")
            let bytes = try readFile(path)
            #expect(try Self.inode(path) == inode, "appended in place, not renamed over")
            #expect(bytes.starts(with: start), "earlier bytes untouched")
            #expect(Self.recordSpans(bytes).count == 5 && Self.recordSpans(bytes).last?.upperBound == bytes.count)
            let decoded = try Self.decode(path, dataKey)
            #expect(decoded.records == (1...5).map { .key(id: "case-\($0)", key: keys["case-\($0)"]!) })
            #expect(!keys.values.contains { key in bytes.indices.contains { bytes[$0...].starts(with: key) } }, "keys only sealed")
            let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
            #expect(mode == 0o600)

            let reopened = try ContentKeyStore(path: path, dataKey: dataKey)
            #expect(reopened.ids == Set(keys.keys))
            for (id, key) in keys { #expect(reopened.key(id)?.rawBytes == key) }
            let sixth = try reopened.keyCreatingIfNeeded("case-6")
            #expect(try ContentKeyStore(path: path, dataKey: dataKey).key("case-6")?.rawBytes == sixth.rawBytes)
        }
    }

    @Test func tenThousandKeysAppendedAndReopened() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/content-keys", dataKey = SymmetricKey.generate()
            let store = try ContentKeyStore(path: path, dataKey: dataKey)
            var keys: [String: [UInt8]] = [:]
            for n in 0..<10_000 { keys["case-\(n)"] = try store.keyCreatingIfNeeded("case-\(n)").rawBytes }
            let reopened = try ContentKeyStore(path: path, dataKey: dataKey)
            #expect(reopened.ids.count == 10_000)
            #expect(keys.allSatisfy { reopened.key($0.key)?.rawBytes == $0.value })
            #expect(Self.recordSpans(try readFile(path)).count == 10_000)
        }
    }

    @Test func destroyingRewritesTheFileCompactedUnderANewFileID() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/content-keys", dataKey = SymmetricKey.generate()
            let store = try ContentKeyStore(path: path, dataKey: dataKey)
            var keys: [String: [UInt8]] = [:]
            for n in 1...6 { keys["case-\(n)"] = try store.keyCreatingIfNeeded("case-\(n)").rawBytes }
            let before = try readFile(path), oldFile = try Self.decode(path, dataKey), inode = try Self.inode(path)

            try store.destroy(["case-2", "case-5", "never-made"])
            let after = try readFile(path), decoded = try Self.decode(path, dataKey)
            #expect(try Self.inode(path) != inode, "written whole and renamed into place")
            #expect(decoded.fileID != oldFile.fileID)
            let heldKeys = decoded.records.compactMap { if case .key(_, let key) = $0 { key } else { nil } }
            #expect(heldKeys.count == 4 && !heldKeys.contains(keys["case-2"]!) && !heldKeys.contains(keys["case-5"]!))
            #expect(decoded.records.filter { if case .destroyed = $0 { true } else { false } }
                        == [.destroyed(id: "case-2"), .destroyed(id: "case-5"), .destroyed(id: "never-made")])
            #expect(Self.recordSpans(after).count == 7 && decoded.validLength == after.count)

            // The store appends to the new file, in place.
            let newInode = try Self.inode(path)
            let seventh = try store.keyCreatingIfNeeded("case-7")
            #expect(try Self.inode(path) == newInode && Self.recordSpans(try readFile(path)).count == 8)

            let reopened = try ContentKeyStore(path: path, dataKey: dataKey)
            #expect(reopened.key("case-2") == nil && reopened.isDestroyed("case-2") && reopened.isDestroyed("never-made"))
            #expect(reopened.key("case-1")?.rawBytes == keys["case-1"] && reopened.key("case-7")?.rawBytes == seventh.rawBytes)
            #expect(throws: JournalError.self) { _ = try reopened.keyCreatingIfNeeded("case-5") }

            // A record of the file from before the erasure does not fit the new one, even at its own sequence number.
            let oldSecond = Self.recordSpans(before)[1], newSecond = Self.recordSpans(after)[1]
            #expect(oldSecond.count == newSecond.count)
            try Self.overwrite(path, Array(after[..<newSecond.lowerBound] + before[oldSecond] + after[newSecond.upperBound...]))
            #expect(try Self.openingFails(path, dataKey).code == .corrupt)
        }
    }

    /// A crash mid-append leaves a short end (of the length, of the box) or zeros: it is cut off when the
    /// store opens (the key was never acknowledged), and appends continue at the record boundary.
    @Test(arguments: [1, 3, 4, 5, 20, -1, -16])
    func aTornFinalAppendIsCutOffAndAppendsContinue(kept: Int) async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/content-keys", dataKey = SymmetricKey.generate()
            let store = try ContentKeyStore(path: path, dataKey: dataKey)
            let first = try store.keyCreatingIfNeeded("case-1")
            _ = try store.keyCreatingIfNeeded("case-2")
            let bytes = try readFile(path), last = Self.recordSpans(bytes)[1]
            let cut = kept > 0 ? last.lowerBound + kept : last.upperBound + kept
            try Self.overwrite(path, Array(bytes[..<cut]))

            let reopened = try ContentKeyStore(path: path, dataKey: dataKey)
            #expect(reopened.ids == ["case-1"] && reopened.key("case-1")?.rawBytes == first.rawBytes)
            #expect(try readFile(path).count == last.lowerBound, "the torn end is cut off")
            let third = try reopened.keyCreatingIfNeeded("case-3")
            let again = try ContentKeyStore(path: path, dataKey: dataKey)
            #expect(again.ids == ["case-1", "case-3"] && again.key("case-3")?.rawBytes == third.rawBytes)
        }
    }

    @Test func aZeroFilledEndIsCutOff() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/content-keys", dataKey = SymmetricKey.generate()
            let store = try ContentKeyStore(path: path, dataKey: dataKey)
            _ = try store.keyCreatingIfNeeded("case-1")
            let bytes = try readFile(path)
            try Self.overwrite(path, bytes + [UInt8](repeating: 0, count: 4096))
            #expect(try ContentKeyStore(path: path, dataKey: dataKey).ids == ["case-1"])
            #expect(try readFile(path) == bytes)
        }
    }

    /// Every other damage or edit stops the store with a `JournalError`, and nothing is dropped.
    @Test func damageAndEditsFailClosed() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/content-keys", dataKey = SymmetricKey.generate()
            let store = try ContentKeyStore(path: path, dataKey: dataKey)
            for n in 1...4 { _ = try store.keyCreatingIfNeeded("case-\(n)") }
            let good = try readFile(path), spans = Self.recordSpans(good)
            #expect(spans.count == 4 && spans.allSatisfy { $0.count == spans[0].count }, "equal-sized records, so they can be swapped")
            func with(_ edit: (inout [UInt8]) -> Void) throws -> JournalError {
                var bytes = good
                edit(&bytes)
                try Self.overwrite(path, bytes)
                return try Self.openingFails(path, dataKey)
            }
            // A flipped byte in a middle record's box, and in the last (complete) record's.
            for span in [spans[1], spans[3]] {
                let error = try with { $0[span.lowerBound + 10] ^= 0x01 }
                #expect(error.code == .corrupt && error.offset == Int64(span.lowerBound), "\(error)")
            }
            // A length over the limit, in the middle and at the end.
            for span in [spans[1], spans[3]] {
                let error = try with { $0[span.lowerBound + 1] = 0x7F }
                #expect(error.code == .corrupt && error.message.contains("length"), "\(error)")
            }
            // Records swapped, duplicated, removed from the middle.
            #expect(try with { bytes in
                bytes = Array(good[..<spans[1].lowerBound] + good[spans[2]] + good[spans[1]] + good[spans[3]])
            }.code == .corrupt)
            #expect(try with { bytes in bytes = Array(good[..<spans[2].upperBound] + good[spans[2]] + good[spans[3]]) }.code == .corrupt)
            #expect(try with { bytes in bytes = Array(good[..<spans[1].lowerBound] + good[spans[2]] + good[spans[3]]) }.code == .corrupt)
            #expect(try with { bytes in bytes += good[spans[0]] }.code == .corrupt, "a copy of the first record appended")
            // The file id changed (every record's authenticated data), the magic, the header cut short.
            #expect(try with { $0[Format.magic.count] ^= 0x01 }.code == .wrongKey)
            #expect(try with { $0[0] = UInt8(ascii: "X") }.code == .corrupt)
            #expect(try with { $0 = Array($0[..<(Format.headerLength - 1)]) }.code == .corrupt)

            // A record sealed for another file under the same data key, at the right sequence number.
            let otherPath = directory + "/other-keys"
            let other = try ContentKeyStore(path: otherPath, dataKey: dataKey)
            for n in 1...4 { _ = try other.keyCreatingIfNeeded("case-\(n)") }
            let foreign = try readFile(otherPath)
            #expect(try with { bytes in bytes = Array(good[..<spans[3].lowerBound] + foreign[Self.recordSpans(foreign)[3]]) }.code == .corrupt)
            // Another broker's data key.
            try Self.overwrite(path, good)
            #expect(try Self.openingFails(path, .generate()).code == .wrongKey)
            #expect(try ContentKeyStore(path: path, dataKey: dataKey).ids.count == 4)
        }
    }

    @Test func filesOthersCanReachOrThatAreNotRegularAreRefused() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/content-keys", dataKey = SymmetricKey.generate()
            _ = try ContentKeyStore(path: path, dataKey: dataKey).keyCreatingIfNeeded("case-1")
            for mode in [0o640, 0o604, 0o620, 0o602] {
                try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: path)
                let error = try #require(throws: JournalError.self) { _ = try ContentKeyStore(path: path, dataKey: dataKey) }
                #expect(error.code == .keyFile && error.message.contains("chmod 600"), "\(error)")
            }
            try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: path)
            #expect(try ContentKeyStore(path: path, dataKey: dataKey).ids == ["case-1"])

            let directoryPath = directory + "/a-directory"
            try FileManager.default.createDirectory(atPath: directoryPath, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
            let error = try #require(throws: JournalError.self) { _ = try ContentKeyStore(path: directoryPath, dataKey: dataKey) }
            #expect(error.code == .keyFile, "\(error)")

            // Larger than the limit (sparse: no disk used).
            let large = directory + "/large-keys"
            try Self.overwrite(large, try readFile(path))
            let handle = try #require(FileHandle(forWritingAtPath: large))
            try handle.truncate(atOffset: UInt64(ContentKeyStore.maxFileBytes + 1))
            try handle.close()
            #expect(try #require(throws: JournalError.self) { _ = try ContentKeyStore(path: large, dataKey: dataKey) }.code == .keyFile)
        }
    }

    /// The `MKS1` file of the broker before this format: `MKS1` and one AES-GCM box (the magic
    /// authenticated) over `{"destroyed":[…],"keys":{id: hex}}`, as its writer made it.
    static func legacyFile(keys: [String: [UInt8]], destroyed: [String], dataKey: SymmetricKey) throws -> [UInt8] {
        var contents = ContentKeyStore.LegacyContents()
        for (id, key) in keys { contents.keys[id] = key.hexString }
        contents.destroyed = destroyed.sorted()
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let magic = Array("MKS1".utf8)
        return magic + AES.GCM.seal(Array(try encoder.encode(contents)), using: dataKey, authenticating: magic)
    }

    @Test func anMKS1FileIsReadAndUpgradedByTheFirstChange() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/content-keys", dataKey = SymmetricKey.generate()
            let keys = ["case-a": SymmetricKey.generate().rawBytes, "referral-b": SymmetricKey.generate().rawBytes]
            let legacy = try Self.legacyFile(keys: keys, destroyed: ["case-gone"], dataKey: dataKey)
            try Self.overwrite(path, legacy)

            let store = try ContentKeyStore(path: path, dataKey: dataKey)
            #expect(store.ids == Set(keys.keys) && store.isDestroyed("case-gone"))
            #expect(keys.allSatisfy { store.key($0.key)?.rawBytes == $0.value })
            #expect(try readFile(path) == legacy, "opening writes nothing")
            #expect(throws: JournalError.self) { _ = try store.keyCreatingIfNeeded("case-gone") }

            let new = try store.keyCreatingIfNeeded("case-c")
            #expect(try readFile(path).starts(with: Array("MKS2".utf8)))
            #expect(try Self.decode(path, dataKey).records.count == 4)
            let reopened = try ContentKeyStore(path: path, dataKey: dataKey)
            #expect(reopened.ids == Set(keys.keys).union(["case-c"]) && reopened.key("case-c")?.rawBytes == new.rawBytes)
            #expect(keys.allSatisfy { reopened.key($0.key)?.rawBytes == $0.value })
            #expect(reopened.isDestroyed("case-gone"))
            #expect(throws: JournalError.self) { _ = try reopened.keyCreatingIfNeeded("case-gone") }
            let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
            #expect(mode == 0o600)

            // A damaged MKS1 file, or one under another data key, still stops the store.
            var damaged = legacy
            damaged[damaged.count - 1] ^= 0x01
            try Self.overwrite(path, damaged)
            #expect(try Self.openingFails(path, dataKey).code == .wrongKey)
            try Self.overwrite(path, legacy)
            #expect(try Self.openingFails(path, .generate()).code == .wrongKey)
        }
    }
}

/// A failed append (a short write, a failed `fdatasync`) makes no key, and the next change writes
/// the file whole, so whatever part of the failed record reached the disk is gone.
@Suite struct ContentKeyStoreFaultTests {
    @Test func aFailedAppendMakesNoKeyAndTheNextChangeRewritesTheFile() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/content-keys", dataKey = SymmetricKey.generate(), faults = FaultInjection()
            let store = try ContentKeyStore(path: path, dataKey: dataKey, faults: faults)
            let a = try store.keyCreatingIfNeeded("case-a")
            let inode = try ContentKeyStoreFileTests.inode(path), good = try readFile(path)

            faults.failWrites(errno: ENOSPC, afterBytes: 20)
            let error = try #require(throws: JournalError.self) { _ = try store.keyCreatingIfNeeded("case-b") }
            #expect(error.code == .io && error.errno == ENOSPC, "\(error)")
            #expect(store.key("case-b") == nil && store.ids == ["case-a"])
            #expect(try readFile(path).count == good.count + 20, "part of the record reached the file")
            faults.clear()
            let c = try store.keyCreatingIfNeeded("case-c")
            #expect(try ContentKeyStoreFileTests.inode(path) != inode, "written whole after the failure")
            #expect(try ContentKeyStoreFileTests.decode(path, dataKey).records == [.key(id: "case-a", key: a.rawBytes), .key(id: "case-c", key: c.rawBytes)])

            faults.failSyncs(errno: EIO)
            #expect(throws: JournalError.self) { _ = try store.keyCreatingIfNeeded("case-d") }
            #expect(store.key("case-d") == nil)
            faults.clear()
            let rewritten = try ContentKeyStoreFileTests.inode(path)
            let e = try store.keyCreatingIfNeeded("case-e")
            #expect(try ContentKeyStoreFileTests.inode(path) != rewritten)
            let reopened = try ContentKeyStore(path: path, dataKey: dataKey)
            #expect(reopened.ids == ["case-a", "case-c", "case-e"] && reopened.key("case-e")?.rawBytes == e.rawBytes)
            // Appends resume after the rewrite.
            let after = try ContentKeyStoreFileTests.inode(path)
            _ = try store.keyCreatingIfNeeded("case-f")
            #expect(try ContentKeyStoreFileTests.inode(path) == after)
        }
    }

    /// A destroy whose rewrite fails still destroys in memory: the next new key writes the file
    /// whole from memory, so the erased key is not written back to disk (found in review: the
    /// next change used to rewrite the file from a memory that still held the key).
    @Test func aFailedDestroyNeverWritesTheKeyBack() async throws {
        try await withTemporaryDirectory { directory in
            let folder = directory + "/keys"
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: false)
            let path = folder + "/content-keys", dataKey = SymmetricKey.generate()
            let store = try ContentKeyStore(path: path, dataKey: dataKey)
            let erased = try store.keyCreatingIfNeeded("case-erased")
            _ = try store.keyCreatingIfNeeded("case-kept")
            // The rewrite cannot create its temporary file: the directory is gone.
            let moved = directory + "/moved"
            try FileManager.default.moveItem(atPath: folder, toPath: moved)
            #expect(throws: JournalError.self) { try store.destroy(["case-erased"]) }
            #expect(store.key("case-erased") == nil && store.isDestroyed("case-erased"))
            try FileManager.default.moveItem(atPath: moved, toPath: folder)
            // The next new key writes the file from memory: without the erased key, with its id destroyed.
            _ = try store.keyCreatingIfNeeded("case-new")
            let records = try ContentKeyStoreFileTests.decode(path, dataKey).records
            #expect(!records.contains(.key(id: "case-erased", key: erased.rawBytes)), "\(records)")
            #expect(records.contains(.destroyed(id: "case-erased")))
            let reopened = try ContentKeyStore(path: path, dataKey: dataKey)
            #expect(reopened.key("case-erased") == nil && reopened.isDestroyed("case-erased") && reopened.ids == ["case-kept", "case-new"])
        }
    }
}

import Crypto
import Foundation
import Testing
@testable import Journal

/// The content key store (SPEC §11.7): keys survive a reopen, a destroyed key is gone from the file
/// and is never made again, the file is sealed under the data key, private, and a crash's leftover
/// temporary file (which may hold a destroyed key) is removed when the store opens.
@Suite struct ContentKeyStoreTests {
    @Test func keysPersistDestroyedKeysStayGoneAndTheFileIsSealedAndPrivate() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/content-keys", dataKey = SymmetricKey.generate()
            let store = try ContentKeyStore(path: path, dataKey: dataKey)
            let first = try store.keyCreatingIfNeeded("case-a")
            let second = try store.keyCreatingIfNeeded("case-b")
            #expect(try store.keyCreatingIfNeeded("case-a").rawBytes == first.rawBytes)
            let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
            #expect(mode == 0o600)
            let raw = try #require(FileManager.default.contents(atPath: path))
            #expect(!raw.contains(Data(first.rawBytes.hexString.utf8)) && !raw.contains(Data("case-a".utf8)), "sealed, not in the clear")

            try store.destroy(["case-a"])
            #expect(store.key("case-a") == nil && store.isDestroyed("case-a"))
            #expect(throws: JournalError.self) { _ = try store.keyCreatingIfNeeded("case-a") }

            let reopened = try ContentKeyStore(path: path, dataKey: dataKey)
            #expect(reopened.key("case-a") == nil && reopened.isDestroyed("case-a"))
            #expect(reopened.key("case-b")?.rawBytes == second.rawBytes)
            #expect(throws: JournalError.self) { _ = try reopened.keyCreatingIfNeeded("case-a") }

            // Another broker's data key does not open it; a file open to others stops it.
            #expect(throws: JournalError.self) { _ = try ContentKeyStore(path: path, dataKey: .generate()) }
            try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: path)
            #expect(throws: JournalError.self) { _ = try ContentKeyStore(path: path, dataKey: dataKey) }
            try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: path)

            // A temporary file left by a crash mid-write goes when the store opens.
            let leftover = directory + "/.content-keys.4242.abcdef.tmp"
            try Data(raw).write(to: URL(fileURLWithPath: leftover))
            _ = try ContentKeyStore(path: path, dataKey: dataKey)
            #expect(!FileManager.default.fileExists(atPath: leftover))
        }
    }
}

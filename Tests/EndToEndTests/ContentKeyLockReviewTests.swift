import Foundation
import Testing
import TestSupport

/// Review of the content key store: a second `maracd serve` on a running broker's files must stop at the
/// journal's LOCK before it opens `certs/content-keys` — opening it cuts what looks like a torn end (the
/// running broker's append in progress) and deletes `.content-keys.*.tmp` (its rewrite in progress).
@Suite(.serialized) struct ContentKeyLockReviewTests {
    @Test func aSecondBrokerDoesNotTouchTheKeyStoreOfARunningOne() async throws {
        let (dir, maracd, certs, common) = try await MaracdTests.initialisedInstall()
        _ = dir
        let first = try RunningProcess(maracd, ["serve", "--listen", "127.0.0.1:0"] + common)
        _ = try #require(first.listeningPort(), "maracd did not start: \(first.stderr)")
        // Stands for the running broker's rewrite in progress (AtomicFile's temporary name).
        let inProgress = certs + "/.content-keys.999999.12345.tmp"
        FileManager.default.createFile(atPath: inProgress, contents: Data([1, 2, 3]), attributes: [.posixPermissions: 0o600])
        let second = try await Tool.runAsync(maracd, ["serve", "--listen", "127.0.0.1:0"] + common)
        #expect(second.status != 0 && second.stderr.contains("another process"), "\(second.stderr)")
        #expect(FileManager.default.fileExists(atPath: inProgress), "the second broker deleted the running one's temporary key file")
        first.signal(SIGTERM)
        #expect(try await offPool { first.waitForExit() } == 0)
    }
}

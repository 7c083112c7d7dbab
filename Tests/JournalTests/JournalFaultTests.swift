import Crypto
import Foundation
import Testing
import TestSupport
@_spi(Testing) @testable import Journal
#if canImport(Glibc)
import Glibc
#endif

/// Write failures: a real full filesystem (tmpfs) and errors injected at the file layer.
@Suite struct JournalFaultTests {
    /// Appends until one fails; returns the acknowledged records and the error.
    func fillUntilFailure(_ journal: Journal, payloadSize: Int, limit: Int) async -> ([JournalRecord], JournalError?) {
        var acknowledged: [JournalRecord] = []
        for i in 0..<limit {
            do {
                acknowledged.append(try await journal.append([UInt8](repeating: UInt8(i & 0xFF), count: payloadSize)))
            } catch {
                return (acknowledged, error as? JournalError)
            }
        }
        return (acknowledged, nil)
    }

    func expectFailedState(_ journal: Journal) async {
        #expect(!journal.isHealthy)
        #expect(journal.status.failure != nil)
        do {
            _ = try await journal.append(payload("later"))
            Issue.record("append after a write failure succeeded")
        } catch let error as JournalError {
            #expect(error.code == .failed)
            #expect(error.message.contains("reopen"))
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    @Test(.enabled(if: Tmpfs.isAvailable, "needs permission to mount a tmpfs (root); the injected-error tests cover the same paths"))
    func fullTmpfsFailsAppendsAndReopensClean() async throws {
        try await withTemporaryDirectory { dir in
            let mountPoint = dir + "/small"
            try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
            try #require(mount("tmpfs", mountPoint, "tmpfs", 0, "size=2m") == 0, "mount failed: errno \(errno)")
            defer { umount(mountPoint) }
            let key = SymmetricKey.generate()
            let data = mountPoint + "/journal"
            let journal = try Journal.open(directory: data, key: key, options: JournalOptions(segmentSize: 512 << 10))
            let (acknowledged, failure) = await fillUntilFailure(journal, payloadSize: 48 << 10, limit: 200)
            let error = try #require(failure, "a 2 MiB filesystem never filled up")
            #expect(error.code == .writeFailed)
            #expect(error.errno == ENOSPC)
            #expect(error.message.contains("No space left on device") && error.message.contains("nothing in this append was stored"))
            #expect(acknowledged.count > 10)
            await expectFailedState(journal)
            journal.close()

            let logs = LogLines()
            let reopened = try Journal.open(directory: data, key: key, log: logs.sink)
            #expect(reopened.head == acknowledged.last!.position)
            #expect(try records(reopened) == acknowledged)
            reopened.close()
            #expect(Journal.verify(directory: data, key: key).recordCount == UInt64(acknowledged.count))
        }
    }

    @Test(arguments: [0, 100, 5000])
    func injectedWriteErrorFailsAppendsAndReopensClean(afterBytes: Int) async throws {
        try await withTemporaryDirectory { dir in
            let key = SymmetricKey.generate()
            let faults = FaultInjection()
            var options = JournalOptions(segmentSize: 16 << 10)
            options.faultInjection = faults
            let journal = try Journal.open(directory: dir, key: key, options: options)
            let acknowledged = try await appendAll(journal, (0..<40).map { payload("before the fault \($0) " + String(repeating: "p", count: 200)) })
            faults.failWrites(errno: EIO, afterBytes: afterBytes)
            // Several appenders at once, so the failing write is a group commit.
            let results = await withTaskGroup(of: Result<JournalRecord, JournalError>.self) { group in
                for i in 0..<8 {
                    group.addTask {
                        do { return .success(try await journal.append(payload("during the fault \(i) " + String(repeating: "q", count: 900)))) }
                        catch { return .failure(error as! JournalError) }
                    }
                }
                return await group.reduce(into: []) { $0.append($1) }
            }
            // Appends whose bytes fit in the budget before the fault really are stored; the rest must fail.
            var stored = acknowledged
            for result in results {
                switch result {
                case .success(let record): stored.append(record)
                case .failure(let error):
                    #expect(error.code == .writeFailed || error.code == .failed)
                    #expect(error.errno == EIO)
                }
            }
            stored.sort { $0.seq < $1.seq }
            if afterBytes == 0 { #expect(stored == acknowledged) }
            #expect(results.contains { if case .failure(let e) = $0 { e.code == .writeFailed } else { false } })
            faults.clear()
            await expectFailedState(journal)
            journal.close()

            let logs = LogLines()
            let reopened = try Journal.open(directory: dir, key: key, log: logs.sink)
            #expect(logs.lines.isEmpty, "the partial write should have been cut back already: \(logs.lines)")
            #expect(try records(reopened) == stored)
            let next = try await reopened.append(payload("after reopen"))
            #expect(next.seq == UInt64(stored.count + 1))
            reopened.close()
        }
    }

    @Test func injectedSyncErrorFailsAppendAndReopensClean() async throws {
        try await withTemporaryDirectory { dir in
            let key = SymmetricKey.generate()
            let faults = FaultInjection()
            var options = JournalOptions()
            options.faultInjection = faults
            let journal = try Journal.open(directory: dir, key: key, options: options)
            let acknowledged = try await appendAll(journal, (0..<5).map { payload("synced \($0)") })
            faults.failSyncs(errno: EIO)
            let error = try await #require(throws: JournalError.self) { try await journal.append(payload("never synced")) }
            #expect(error.code == .writeFailed && error.message.contains("fdatasync"))
            faults.clear()
            await expectFailedState(journal)
            journal.close()
            let reopened = try Journal.open(directory: dir, key: key)
            #expect(try records(reopened) == acknowledged)
            reopened.close()
        }
    }
}

/// One process at a time: a second open of the same directory is refused by name.
@Suite struct JournalLockTests {
    @Test func aSecondOpenIsRefusedUntilTheFirstCloses() async throws {
        try await withTemporaryDirectory { dir in
            let key = SymmetricKey.generate()
            let first = try Journal.open(directory: dir, key: key)
            #expect {
                try Journal.open(directory: dir, key: key)
            } throws: { error in
                (error as? JournalError)?.code == .inUse && "\(error)".contains(dir)
            }
            first.close()
            let second = try Journal.open(directory: dir, key: key)
            second.close()
        }
    }
}

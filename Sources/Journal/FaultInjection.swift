import Foundation

/// Test-only fault injection at the file layer (LevelDB `log_test.cc` style):
/// the next data write to a segment stores `afterBytes` real bytes and then
/// fails with `errno`, or the next data sync fails. Reached through
/// `JournalOptions.faultInjection` (internal; tests use `@testable import`).
final class FaultInjection: @unchecked Sendable {
    private let lock = NSLock()
    private var writeFault: (errno: Int32, afterBytes: Int)?
    private var syncFault: Int32?

    init() {}

    /// Makes every segment write from now on fail with `errno` after `afterBytes` bytes.
    func failWrites(errno: Int32, afterBytes: Int) {
        lock.lock(); defer { lock.unlock() }
        writeFault = (errno, afterBytes)
    }

    /// Makes every segment data sync from now on fail with `errno`.
    func failSyncs(errno: Int32) {
        lock.lock(); defer { lock.unlock() }
        syncFault = errno
    }

    /// Removes all faults.
    func clear() {
        lock.lock(); defer { lock.unlock() }
        writeFault = nil
        syncFault = nil
    }

    /// How many bytes of a `count`-byte write may really be written, and the errno to fail with after them.
    func writeLimit(_ count: Int) -> (allowed: Int, errno: Int32)? {
        lock.lock(); defer { lock.unlock() }
        guard let fault = writeFault else { return nil }
        return (min(count, fault.afterBytes), fault.errno)
    }

    /// The errno a data sync should fail with, if any.
    func syncErrno() -> Int32? {
        lock.lock(); defer { lock.unlock() }
        return syncFault
    }
}

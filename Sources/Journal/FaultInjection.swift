import Foundation

/// Test-only fault injection at the file layer (LevelDB `log_test.cc` style):
/// segment writes store `afterBytes` more real bytes in all and then
/// fail with `errno`, or the next data sync fails. Reached through
/// `JournalOptions.faultInjection`, which only `@_spi(Testing) import Journal` can set.
@_spi(Testing) public final class FaultInjection: @unchecked Sendable {
    private let lock = NSLock()
    private var writeFault: (errno: Int32, afterBytes: Int)?
    private var syncFault: Int32?

    public init() {}

    /// Lets segment writes store `afterBytes` more bytes in all, then makes every one fail with `errno`.
    public func failWrites(errno: Int32, afterBytes: Int) {
        lock.lock(); defer { lock.unlock() }
        writeFault = (errno, afterBytes)
    }

    /// Makes every segment data sync from now on fail with `errno`.
    public func failSyncs(errno: Int32) {
        lock.lock(); defer { lock.unlock() }
        syncFault = errno
    }

    /// Removes all faults.
    public func clear() {
        lock.lock(); defer { lock.unlock() }
        writeFault = nil
        syncFault = nil
    }

    /// How many bytes of a `count`-byte write may really be written (using up the budget), and the errno to fail with after them.
    func writeLimit(_ count: Int) -> (allowed: Int, errno: Int32)? {
        lock.lock(); defer { lock.unlock() }
        guard let fault = writeFault else { return nil }
        let allowed = min(count, fault.afterBytes)
        writeFault = (fault.errno, fault.afterBytes - allowed)
        return (allowed, fault.errno)
    }

    /// The errno a data sync should fail with, if any.
    func syncErrno() -> Int32? {
        lock.lock(); defer { lock.unlock() }
        return syncFault
    }
}

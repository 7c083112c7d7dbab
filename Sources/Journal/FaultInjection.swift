import POSIX
import Synchronization

/// Test-only fault injection at the file layer (LevelDB `log_test.cc` style):
/// segment writes store `afterBytes` more real bytes in all and then
/// fail with `errno`, or the next data sync fails. Reached through
/// `JournalOptions.faultInjection`, which only `@_spi(Testing) import Journal` can set.
@_spi(Testing) public final class FaultInjection: FileFaults {
    private struct Faults {
        var write: (errno: Int32, afterBytes: Int)?
        var sync: Int32?
    }
    private let faults = Mutex(Faults())

    public init() {}

    /// Lets segment writes store `afterBytes` more bytes in all, then makes every one fail with `errno`.
    public func failWrites(errno: Int32, afterBytes: Int) {
        faults.withLock { $0.write = (errno, afterBytes) }
    }

    /// Makes every segment data sync from now on fail with `errno`.
    public func failSyncs(errno: Int32) {
        faults.withLock { $0.sync = errno }
    }

    /// Removes all faults.
    public func clear() {
        faults.withLock { $0 = Faults() }
    }

    /// How many bytes of a `count`-byte write may really be written (using up the budget), and the errno to fail with after them.
    public func writeLimit(_ count: Int) -> (allowed: Int, errno: Int32)? {
        faults.withLock { faults in
            guard let fault = faults.write else { return nil }
            let allowed = min(count, fault.afterBytes)
            faults.write = (fault.errno, fault.afterBytes - allowed)
            return (allowed, fault.errno)
        }
    }

    /// The errno a data sync should fail with, if any.
    public func syncErrno() -> Int32? {
        faults.withLock { $0.sync }
    }
}

/// Faults a test injects at the file layer (LevelDB `log_test.cc` style):
/// `FileDescriptor.writeAll` and `syncData` ask before each write and sync.
/// The journal's `FaultInjection` is the one implementation.
public protocol FileFaults: AnyObject, Sendable {
    /// How many bytes of a `count`-byte write may really be written, and the errno to fail with after them; nil for no fault.
    func writeLimit(_ count: Int) -> (allowed: Int, errno: Int32)?
    /// The errno a data sync should fail with, if any.
    func syncErrno() -> Int32?
}

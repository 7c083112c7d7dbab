#if canImport(Glibc)
import Glibc
#endif

/// The one way the package makes a system call that returns -1 and sets errno.
///
/// EINTR is retried; EAGAIN/EWOULDBLOCK becomes `.wouldBlock`; EBADF and EFAULT
/// stop the process (a closed descriptor or a bad pointer is our bug, and going
/// on could read or write someone else's file); any other errno is thrown as a
/// `SystemError` naming `call` and `context`. (swift-nio's `NIOPosix/System.swift`
/// has the same shape.)
///
/// Not for `close` (Linux releases the descriptor even when it reports EINTR,
/// so a retry could close another thread's new file: use `FileDescriptor.close(descriptor:)`)
/// nor for a blocking `connect` (a retry after EINTR reports EALREADY).
/// - Parameters:
///   - call: the call's name, e.g. `"bind"`.
///   - context: what it was called on, e.g. `"127.0.0.1:8443"` or `"of /path"`.
///   - path: the file concerned, carried in the error.
/// - Throws: `SystemError` for any errno but EINTR, EAGAIN, EWOULDBLOCK, EBADF and EFAULT.
@inlinable
public func systemCall<T: FixedWidthInteger & SignedInteger>(_ call: @autoclosure () -> String, _ context: @autoclosure () -> String = "", path: String? = nil,
                                                            _ body: () -> T) throws(SystemError) -> IOResult<T> {
    while true {
        let result = body()
        if result != -1 { return .done(result) }
        let number = errno
        switch number {
        case EINTR: continue
        case EAGAIN, EWOULDBLOCK: return .wouldBlock
        case EBADF, EFAULT: preconditionFailure("\(call()) \(context()): \(String(cString: strerror(number))) — a bad descriptor or address is a bug")
        default: throw SystemError(call: call(), context: context(), errno: number, path: path)
        }
    }
}

/// `systemCall` for a call that has no reason to wait (a regular file, a
/// blocking descriptor, `bind`, `setsockopt`): EAGAIN is then an error like any other.
/// - Throws: `SystemError` as `systemCall` does, and for EAGAIN/EWOULDBLOCK.
@inlinable
@discardableResult
public func blockingSystemCall<T: FixedWidthInteger & SignedInteger>(_ call: @autoclosure () -> String, _ context: @autoclosure () -> String = "", path: String? = nil,
                                                                    _ body: () -> T) throws(SystemError) -> T {
    switch try systemCall(call(), context(), path: path, body) {
    case .done(let result): return result
    case .wouldBlock: throw SystemError(call: call(), context: context(), errno: EAGAIN, path: path)
    }
}

/// Nanoseconds on `CLOCK_MONOTONIC`: the event loops' clock for deadlines (only differences
/// matter: it never goes back, and does not jump when the wall clock is set).
public func monotonicNanoseconds() -> UInt64 {
    var now = timespec()
    // CLOCK_MONOTONIC with a valid pointer cannot fail (clock_gettime(2)).
    _ = clock_gettime(CLOCK_MONOTONIC, &now)
    return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
}

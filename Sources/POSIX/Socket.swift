#if canImport(Glibc)
import Glibc
#endif

/// Socket options and descriptor flags, each through `systemCall`. The
/// caller decides what a failure means (see the call sites' comments).
public enum Socket {
    /// Sets a socket option (`setsockopt`); `name` is the option's name for the error, e.g. `"TCP_NODELAY"`.
    /// - Throws: `SystemError` naming the option.
    public static func setOption<Value>(_ fd: Int32, level: Int32, _ option: Int32, to value: Value, name: String) throws(SystemError) {
        try withUnsafeBytes(of: value) { (raw) throws(SystemError) in
            _ = try blockingSystemCall("setsockopt", name) { setsockopt(fd, level, option, raw.baseAddress, socklen_t(raw.count)) }
        }
    }

    /// Sets `O_NONBLOCK` (an accepted socket does not inherit it from the listener on Linux).
    /// - Throws: `SystemError` from `fcntl`.
    public static func setNonBlocking(_ fd: Int32) throws(SystemError) {
        let flags = try blockingSystemCall("fcntl", "F_GETFL") { fcntl(fd, F_GETFL) }
        try blockingSystemCall("fcntl", "F_SETFL O_NONBLOCK") { fcntl(fd, F_SETFL, flags | O_NONBLOCK) }
    }

    /// One `recv` into a scratch buffer of `bufferSize` bytes (on the stack when small enough);
    /// `received` sees the bytes, which are valid only during the call. `.done(0)` is the end of the stream.
    /// - Throws: `SystemError` from `recv` (ECONNRESET…); EAGAIN is `.wouldBlock`.
    @inlinable
    public static func receive(_ fd: Int32, bufferSize: Int, _ received: (UnsafeRawBufferPointer) -> Void) throws(SystemError) -> IOResult<Int> {
        try withUnsafeTemporaryAllocation(byteCount: bufferSize, alignment: 1) { (buffer) throws(SystemError) in
            let outcome = try systemCall("recv") { recv(fd, buffer.baseAddress, buffer.count, 0) }
            if case .done(let count) = outcome, count > 0 { received(UnsafeRawBufferPointer(rebasing: buffer[..<count])) }
            return outcome
        }
    }

    /// Sets `FD_CLOEXEC`, so a child process does not inherit the socket.
    /// - Throws: `SystemError` from `fcntl`.
    public static func setCloseOnExec(_ fd: Int32) throws(SystemError) {
        try blockingSystemCall("fcntl", "F_SETFD FD_CLOEXEC") { fcntl(fd, F_SETFD, FD_CLOEXEC) }
    }
}

#if canImport(Glibc)
import Glibc
#endif

/// Owns one open file descriptor and closes it exactly once: by `close()`,
/// or in `deinit` if it was never closed. Not Sendable: each instance is used
/// by one thread at a time (the journal's writer queue, or the caller that opened it).
///
/// Every method goes through `systemCall`, so errors are `SystemError`s naming
/// the call, the path and errno.
public final class FileDescriptor {
    /// The file's path (or, for a socket, what it is connected to), for error messages.
    public let path: String
    private var fd: Int32
    /// Fault injection for writes and data syncs (tests only).
    public var faults: (any FileFaults)?

    /// Takes ownership of `fd`: this object will close it.
    public init(takingOwnershipOf fd: Int32, path: String) {
        self.fd = fd
        self.path = path
    }

    deinit { close() }

    /// Opens `path` (always with `O_CLOEXEC`).
    /// - Throws: `SystemError` naming the path and errno (ENOENT, EEXIST with `O_EXCL`, EACCES…).
    public static func open(_ path: String, flags: Int32, mode: mode_t = 0o600) throws -> FileDescriptor {
        let fd = try blockingSystemCall("open", "of \(path)", path: path) { posixOpen(path, flags | O_CLOEXEC, mode) }
        return FileDescriptor(takingOwnershipOf: fd, path: path)
    }

    /// Closes the descriptor; later calls do nothing.
    public func close() {
        guard fd >= 0 else { return }
        Self.close(descriptor: fd)
        fd = -1
    }

    /// Closes a descriptor this caller owns but does not keep in a `FileDescriptor`
    /// (a connection's socket, closed in its Dispatch source's cancel handler).
    ///
    /// close is never retried: Linux releases the descriptor even when it reports
    /// EINTR or EIO, and a retry could close a file another thread has just opened.
    /// EBADF (closing twice) is our bug and stops the process.
    public static func close(descriptor fd: Int32) {
        guard posixClose(fd) == -1 else { return }
        let number = errno
        precondition(number != EBADF, "close of descriptor \(fd): \(String(cString: strerror(number))) — closing twice is a bug")
    }

    /// The descriptor, for calls this type does not wrap (`send`, `recv`).
    /// Stops the process if it was closed (a use after close is our bug).
    public var rawValue: Int32 {
        precondition(fd >= 0, "use of closed file \(path)")
        return fd
    }

    /// Writes all of `bytes` at `offset` (pwrite), continuing after short writes.
    /// - Throws: `SystemError` on a failed write (or an injected fault); some bytes may have been written.
    public func writeAll(_ bytes: [UInt8], at offset: Int64) throws {
        let fd = rawValue
        var done = 0
        try bytes.withUnsafeBytes { raw in
            while done < raw.count {
                var chunk = raw.count - done
                var injected: Int32?
                if let limit = faults?.writeLimit(chunk) {
                    chunk = limit.allowed
                    injected = limit.errno
                    if chunk == 0 {
                        throw SystemError(call: "pwrite", context: "of \(raw.count) bytes at offset \(offset) to \(path) (injected fault)", errno: limit.errno, path: path)
                    }
                }
                let written = try blockingSystemCall("pwrite", "of \(raw.count - done) bytes at offset \(offset + Int64(done)) to \(path)", path: path) {
                    pwrite(fd, raw.baseAddress! + done, chunk, off_t(offset) + off_t(done))
                }
                done += written
                if let number = injected, done < raw.count {
                    throw SystemError(call: "pwrite", context: "of \(raw.count - done) bytes at offset \(offset + Int64(done)) to \(path) (injected fault)", errno: number, path: path)
                }
                if written == 0 {
                    throw SystemError(call: "pwrite", context: "wrote 0 bytes at offset \(offset + Int64(done)) to \(path)", errno: EIO, path: path)
                }
            }
        }
    }

    /// Writes all of `bytes` to `fd` at its current position (write), continuing
    /// after short writes: for standard output and error, which are not owned here.
    /// - Throws: `SystemError` naming `context`; some bytes may have been written.
    public static func writeAll(_ bytes: [UInt8], to fd: Int32, context: @autoclosure () -> String) throws {
        try bytes.withUnsafeBytes { raw in
            var done = 0
            while done < raw.count {
                let written = try blockingSystemCall("write", context()) { write(fd, raw.baseAddress! + done, raw.count - done) }
                guard written > 0 else { throw SystemError(call: "write", context: "wrote 0 bytes to \(context())", errno: EIO) }
                done += written
            }
        }
    }

    /// Reads the whole file from offset 0.
    /// - Throws: `SystemError` on a read error.
    public func readAll() throws -> [UInt8] {
        try readPrefix(Int(try size()))
    }

    /// Reads up to `size` bytes from offset 0 (fewer if the file is shorter).
    /// - Throws: `SystemError` on a read error.
    public func readPrefix(_ size: Int) throws -> [UInt8] {
        let fd = rawValue
        var out = [UInt8](repeating: 0, count: Int(size))
        var done = 0
        try out.withUnsafeMutableBytes { raw in
            while done < raw.count {
                let n = try blockingSystemCall("pread", "of \(path) at offset \(done)", path: path) {
                    pread(fd, raw.baseAddress! + done, raw.count - done, off_t(done))
                }
                if n == 0 { break }
                done += n
            }
        }
        if done < out.count { out.removeSubrange(done...) }
        return out
    }

    /// The file size in bytes.
    /// - Throws: `SystemError` if fstat fails.
    public func size() throws -> Int64 {
        Int64(try status().st_size)
    }

    /// Cuts the file to `length` bytes.
    /// - Throws: `SystemError` if ftruncate fails.
    public func truncate(to length: Int64) throws {
        let fd = rawValue
        try blockingSystemCall("ftruncate", "of \(path) to \(length) bytes", path: path) { ftruncate(fd, off_t(length)) }
    }

    /// Makes the file's data (and its size) durable: fdatasync on Linux.
    /// - Throws: `SystemError` if the sync fails (or an injected fault); the data may then be lost.
    public func syncData() throws {
        let fd = rawValue
        if let number = faults?.syncErrno() {
            throw SystemError(call: "fdatasync", context: "of \(path) (injected fault)", errno: number, path: path)
        }
        #if os(Linux)
        try blockingSystemCall("fdatasync", "of \(path)", path: path) { fdatasync(fd) }
        #else
        try blockingSystemCall("fsync", "of \(path)", path: path) { fsync(fd) }
        #endif
    }

    /// Makes the file's data and metadata durable (fsync).
    /// - Throws: `SystemError` if the sync fails.
    public func sync() throws {
        let fd = rawValue
        try blockingSystemCall("fsync", "of \(path)", path: path) { fsync(fd) }
    }

    /// Takes an exclusive advisory lock (`flock`) without waiting; it is held
    /// until the descriptor is closed or the process exits (a crash releases it).
    /// - Returns: false when another open file description holds it.
    /// - Throws: `SystemError` if flock fails for another reason.
    public func tryLockExclusive() throws -> Bool {
        let fd = rawValue
        switch try systemCall("flock", "of \(path)", path: path, { flock(fd, LOCK_EX | LOCK_NB) }) {
        case .done: return true
        case .wouldBlock: return false
        }
    }

    /// Sets the permission bits.
    /// - Throws: `SystemError` if fchmod fails.
    public func setMode(_ mode: mode_t) throws {
        let fd = rawValue
        try blockingSystemCall("fchmod", "of \(path)", path: path) { fchmod(fd, mode) }
    }

    /// The file's status (mode, size).
    /// - Throws: `SystemError` if fstat fails.
    public func status() throws -> stat {
        let fd = rawValue
        var info = stat()
        try blockingSystemCall("fstat", "of \(path)", path: path) { fstat(fd, &info) }
        return info
    }
}

private func posixOpen(_ path: String, _ flags: Int32, _ mode: mode_t) -> Int32 { open(path, flags, mode) }
private func posixClose(_ fd: Int32) -> Int32 { close(fd) }

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The one path for system calls: retries on EINTR, stops on EBADF/EFAULT
/// (those are our bugs), and otherwise throws a `JournalError` with errno and context.
enum Syscall {
    /// Runs `body` (a call returning -1 and setting errno on failure).
    /// - Throws: `JournalError` with code `.io`, naming `call`, `context` and errno.
    @discardableResult
    static func call<T: FixedWidthInteger & SignedInteger>(_ name: String, _ context: @autoclosure () -> String, path: String? = nil, _ body: () -> T) throws -> T {
        while true {
            let result = body()
            if result != -1 { return result }
            let number = errno
            if number == EINTR { continue }
            precondition(number != EBADF && number != EFAULT, "\(name) \(context()): \(errorText(number)) — a bad descriptor or address is a bug")
            throw JournalError.system(name, errno: number, context(), path: path)
        }
    }

    /// Directory entries (names only, without "." and "..").
    /// - Throws: `JournalError` if the directory cannot be opened.
    static func listDirectory(_ path: String) throws -> [String] {
        guard let dir = opendir(path) else {
            throw JournalError.system("opendir", errno: errno, "of \(path)", path: path)
        }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// fsyncs a directory so that a created, renamed or removed entry is durable.
    /// - Throws: `JournalError` if it cannot be opened or synced.
    static func syncDirectory(_ path: String) throws {
        let dir = try FileDescriptor.open(path, flags: O_RDONLY | O_DIRECTORY)
        defer { dir.close() }
        try dir.sync()
    }

    /// Creates `path` (mode 0700) and any missing parents.
    /// - Throws: `JournalError` if a component cannot be created.
    static func makeDirectories(_ path: String) throws {
        var current = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            current += "/" + component
            if mkdir(current, 0o700) == 0 { continue }
            let number = errno
            if number == EEXIST { continue }
            throw JournalError.system("mkdir", errno: number, "of \(current)", path: current)
        }
    }

    /// Removes a file.
    /// - Throws: `JournalError` unless it was removed (or already absent, when `missingOK`).
    static func unlink(_ path: String, missingOK: Bool = false) throws {
        while true {
            if Glibc_unlink(path) == 0 { return }
            let number = errno
            if number == EINTR { continue }
            if number == ENOENT && missingOK { return }
            throw JournalError.system("unlink", errno: number, "of \(path)", path: path)
        }
    }

    /// Renames `from` to `to` atomically.
    /// - Throws: `JournalError` on failure.
    static func rename(_ from: String, _ to: String) throws {
        try call("rename", "of \(from) to \(to)", path: from) { Glibc_rename(from, to) }
    }
}

private func Glibc_unlink(_ path: String) -> Int32 { unlink(path) }
private func Glibc_rename(_ from: String, _ to: String) -> Int32 { rename(from, to) }
private func posixOpen(_ path: String, _ flags: Int32, _ mode: mode_t) -> Int32 { open(path, flags, mode) }
private func posixClose(_ fd: Int32) -> Int32 { close(fd) }

/// Owns one open file descriptor and closes it exactly once: by `close()`,
/// or in `deinit` if it was never closed. Not Sendable: each instance is used
/// by one thread at a time (the writer queue, or the caller that opened it).
final class FileDescriptor {
    /// The file's path, for error messages.
    let path: String
    private var fd: Int32
    /// Fault injection for segment writes and syncs (tests only).
    var faults: FaultInjection?

    /// Takes ownership of `fd`: this object will close it.
    init(takingOwnershipOf fd: Int32, path: String) {
        self.fd = fd
        self.path = path
    }

    deinit { close() }

    /// Opens `path`.
    /// - Throws: `JournalError` naming the path and errno.
    static func open(_ path: String, flags: Int32, mode: mode_t = 0o600) throws -> FileDescriptor {
        let fd = try Syscall.call("open", "of \(path)", path: path) { posixOpen(path, flags | O_CLOEXEC, mode) }
        return FileDescriptor(takingOwnershipOf: fd, path: path)
    }

    /// Closes the descriptor; later calls do nothing. close is not retried on
    /// EINTR (Linux has already released the descriptor).
    func close() {
        guard fd >= 0 else { return }
        _ = posixClose(fd)
        fd = -1
    }

    private var liveFD: Int32 {
        precondition(fd >= 0, "use of closed file \(path)")
        return fd
    }

    /// Writes all of `bytes` at `offset`.
    /// - Throws: `JournalError` on a failed or short write; some bytes may have been written.
    func writeAll(_ bytes: [UInt8], at offset: Int64) throws {
        let fd = liveFD
        var done = 0
        try bytes.withUnsafeBytes { raw in
            while done < raw.count {
                var chunk = raw.count - done
                var injected: Int32?
                if let limit = faults?.writeLimit(chunk) {
                    chunk = limit.allowed
                    injected = limit.errno
                    if chunk == 0 {
                        throw JournalError.system("pwrite", errno: limit.errno, "of \(raw.count) bytes at offset \(offset) to \(path) (injected fault)", path: path)
                    }
                }
                let written = try Syscall.call("pwrite", "of \(raw.count - done) bytes at offset \(offset + Int64(done)) to \(path)", path: path) {
                    pwrite(fd, raw.baseAddress! + done, chunk, off_t(offset) + off_t(done))
                }
                done += written
                if let number = injected, done < raw.count {
                    throw JournalError.system("pwrite", errno: number, "of \(raw.count - done) bytes at offset \(offset + Int64(done)) to \(path) (injected fault)", path: path)
                }
                if written == 0 {
                    throw JournalError.system("pwrite", errno: EIO, "wrote 0 bytes at offset \(offset + Int64(done)) to \(path)", path: path)
                }
            }
        }
    }

    /// Reads the whole file from offset 0.
    /// - Throws: `JournalError` on a read error.
    func readAll() throws -> [UInt8] {
        try readPrefix(Int(try size()))
    }

    /// Reads up to `size` bytes from offset 0 (fewer if the file is shorter).
    /// - Throws: `JournalError` on a read error.
    func readPrefix(_ size: Int) throws -> [UInt8] {
        let fd = liveFD
        var out = [UInt8](repeating: 0, count: Int(size))
        var done = 0
        try out.withUnsafeMutableBytes { raw in
            while done < raw.count {
                let n = try Syscall.call("pread", "of \(path) at offset \(done)", path: path) {
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
    /// - Throws: `JournalError` if fstat fails.
    func size() throws -> Int64 {
        let fd = liveFD
        var info = stat()
        try Syscall.call("fstat", "of \(path)", path: path) { fstat(fd, &info) }
        return Int64(info.st_size)
    }

    /// Cuts the file to `length` bytes.
    /// - Throws: `JournalError` if ftruncate fails.
    func truncate(to length: Int64) throws {
        let fd = liveFD
        try Syscall.call("ftruncate", "of \(path) to \(length) bytes", path: path) { ftruncate(fd, off_t(length)) }
    }

    /// Makes the file's data (and its size) durable: fdatasync on Linux.
    /// - Throws: `JournalError` if the sync fails; the data may then be lost.
    func syncData() throws {
        let fd = liveFD
        if let number = faults?.syncErrno() {
            throw JournalError.system("fdatasync", errno: number, "of \(path) (injected fault)", path: path)
        }
        #if os(Linux)
        try Syscall.call("fdatasync", "of \(path)", path: path) { fdatasync(fd) }
        #else
        try Syscall.call("fsync", "of \(path)", path: path) { fsync(fd) }
        #endif
    }

    /// Makes the file's data and metadata durable (fsync).
    /// - Throws: `JournalError` if the sync fails.
    func sync() throws {
        let fd = liveFD
        try Syscall.call("fsync", "of \(path)", path: path) { fsync(fd) }
    }

    /// Takes an exclusive advisory lock (`flock`) without waiting; it is held
    /// until the descriptor is closed or the process exits (a crash releases it).
    /// - Returns: false when another open file description holds it.
    /// - Throws: `JournalError` if flock fails for another reason.
    func tryLockExclusive() throws -> Bool {
        let fd = liveFD
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let number = errno
            if number == EINTR { continue }
            if number == EWOULDBLOCK { return false }
            throw JournalError.system("flock", errno: number, "of \(path)", path: path)
        }
        return true
    }

    /// Sets the permission bits.
    /// - Throws: `JournalError` if fchmod fails.
    func setMode(_ mode: mode_t) throws {
        let fd = liveFD
        try Syscall.call("fchmod", "of \(path)", path: path) { fchmod(fd, mode) }
    }

    /// The file's status (mode, size).
    /// - Throws: `JournalError` if fstat fails.
    func status() throws -> stat {
        let fd = liveFD
        var info = stat()
        try Syscall.call("fstat", "of \(path)", path: path) { fstat(fd, &info) }
        return info
    }
}

import Foundation

/// Files with case content or secrets, mode 0600 from the first byte (SPEC §10).
///
/// Foundation's `createFile(atPath:contents:attributes:)` creates the file with
/// the process umask and changes its mode afterwards, so for a moment (or for
/// good, if the chmod fails) anyone on the host may read it. These writers ask
/// `open(2)` for 0600 itself, so the mode never depends on the umask being kind.
enum PrivateFile {
    /// The mode every file the CLI writes with case content or a key gets.
    static let mode: mode_t = 0o600

    /// Replaces `path` atomically: a new temporary file beside it, created
    /// `O_CREAT | O_EXCL` with mode 0600, written, synced, renamed over `path`,
    /// and the directory synced. A reader sees the old file or the whole new one.
    /// - Throws: `CommandFailure` with `exitCode`, naming the file and the system error.
    static func replace(_ path: String, with bytes: [UInt8], exitCode: Int32) throws {
        let directory = (path as NSString).deletingLastPathComponent
        let name = (path as NSString).lastPathComponent
        var temporary = ""
        var fd: Int32 = -1
        for _ in 0..<8 {
            temporary = (directory.isEmpty ? "" : directory + "/") + ".\(name).\(getpid()).\(UInt32.random(in: 0...UInt32.max)).tmp"
            fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
            if fd >= 0 || errno != EEXIST { break }
        }
        guard fd >= 0 else { throw failure("cannot create a temporary file for", path, exitCode) }
        do {
            try writeAll(bytes, to: fd, path: path, exitCode: exitCode)
            close(fd)
        } catch {
            close(fd)
            unlink(temporary)
            throw error
        }
        guard rename(temporary, path) == 0 else {
            let error = failure("cannot rename a temporary file to", path, exitCode)
            unlink(temporary)
            throw error
        }
        let directoryFD = open(directory.isEmpty ? "." : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directoryFD >= 0 {
            _ = fsync(directoryFD)
            close(directoryFD)
        }
    }

    /// Creates `path`, which must not exist, with mode 0600 from the start (`O_EXCL`).
    /// - Throws: `CommandFailure` with `exitCode` if it exists or cannot be written.
    static func create(_ path: String, with bytes: [UInt8], exitCode: Int32) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else { throw failure("cannot create", path, exitCode) }
        defer { close(fd) }
        try writeAll(bytes, to: fd, path: path, exitCode: exitCode)
    }

    /// Writes everything, retrying on EINTR and short writes, then `fsync`.
    private static func writeAll(_ bytes: [UInt8], to fd: Int32, path: String, exitCode: Int32) throws {
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else { throw failure("cannot write", path, exitCode) }
            offset += written
        }
        guard fsync(fd) == 0 else { throw failure("cannot sync", path, exitCode) }
    }

    private static func failure(_ what: String, _ path: String, _ exitCode: Int32) -> CommandFailure {
        CommandFailure(exitCode: exitCode, message: "\(what) \(path): \(String(cString: strerror(errno)))")
    }
}

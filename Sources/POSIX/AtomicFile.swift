#if canImport(Glibc)
import Glibc
#endif

/// Whole-file writes that a reader (or a crash) sees either entirely or not
/// at all, with the final mode from the first byte.
///
/// Foundation's `createFile(atPath:contents:attributes:)` creates the file with
/// the process umask and changes the mode afterwards, so for a moment (or for
/// good, if the chmod fails) anyone on the host may read it. Here the temporary
/// file is created by `open(O_CREAT | O_EXCL, mode)` itself: the umask can only
/// take bits away, and if it did they are put back (fchmod) before any byte is
/// written. Used for every file the package writes whole: the CLI's case files,
/// the PKI's keys and certificates, the journal's snapshots, anchor and key.
public enum AtomicFile {
    /// What `write` does when the file already exists.
    public enum Existing: Sendable {
        /// Replace it atomically (rename over it).
        case replace
        /// Leave it and fail with EEXIST (the new file is linked into place, never renamed over one).
        case refuse
    }

    /// How many temporary names are tried before giving up (a name is taken only by a leftover of a crash, or a race).
    static let temporaryNameAttempts = 8

    /// Writes `bytes` to `path`: a temporary file beside it, `.<name>.<pid>.<random>.tmp`,
    /// created `O_CREAT | O_EXCL` with `mode`, written, fsynced, renamed (or, with
    /// `.refuse`, linked) into place, and the directory fsynced.
    /// On failure the temporary file is removed and `path` is unchanged.
    /// - Throws: `SystemError` naming the call and file; EEXIST from `link` when
    ///   `existing` is `.refuse` and `path` exists.
    public static func write(_ bytes: [UInt8], to path: String, mode: mode_t, existing: Existing = .replace) throws {
        let (file, temporary) = try createTemporary(beside: path, mode: mode)
        do {
            // The umask may have taken bits away (never added them): put the exact mode back before the first byte.
            if mode_t(try file.status().st_mode) & 0o7777 != mode { try file.setMode(mode) }
            try file.writeAll(bytes, at: 0)
            try file.sync()
            file.close()
            switch existing {
            case .replace:
                try FileSystem.rename(temporary, path)
            case .refuse:
                try FileSystem.link(temporary, path)
            }
        } catch {
            file.close()
            try? FileSystem.unlink(temporary, missingOK: true)
            throw error
        }
        // Linked into place: the file is complete under its name; the temporary name goes.
        if existing == .refuse { try FileSystem.unlink(temporary) }
        try FileSystem.syncDirectory(FileSystem.parentDirectory(of: path))
    }

    /// A new, empty temporary file in `path`'s directory.
    /// - Throws: `SystemError` from `open`.
    static func createTemporary(beside path: String, mode: mode_t) throws -> (FileDescriptor, String) {
        let directoryPart = path.lastIndex(of: "/").map { String(path[...$0]) } ?? ""
        let prefix = directoryPart + "." + FileSystem.lastComponent(of: path) + ".\(getpid())."
        var attempt = 1
        while true {
            let temporary = prefix + "\(UInt32.random(in: 0...UInt32.max)).tmp"
            do {
                return (try FileDescriptor.open(temporary, flags: O_WRONLY | O_CREAT | O_EXCL, mode: mode), temporary)
            } catch let error as SystemError where error.errno == EEXIST && attempt < temporaryNameAttempts {
                attempt += 1
            }
        }
    }
}

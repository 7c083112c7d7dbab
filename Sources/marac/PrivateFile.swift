import Foundation
import POSIX

/// Files with case content or secrets, mode 0600 from the first byte (SPEC §10).
///
/// Written whole through `AtomicFile`, which asks `open(2)` for 0600 itself
/// (never Foundation's create-then-chmod), so the mode never depends on the
/// umask being kind and a reader never sees half a file.
enum PrivateFile {
    /// The mode every file the CLI writes with case content or a key gets.
    static let mode: mode_t = 0o600

    /// Writes `path` atomically with mode 0600: a reader sees the old file (or none) or the whole new one.
    /// With `existing: .refuse`, a file already at `path` is an error and is left as it is.
    /// - Throws: `CommandFailure` with `exitCode`, naming the file and the system error.
    static func write(_ bytes: [UInt8], to path: String, existing: AtomicFile.Existing = .replace, exitCode: Int32) throws {
        do {
            try AtomicFile.write(bytes, to: path, mode: mode, existing: existing)
        } catch let error as SystemError where existing == .refuse && error.errno == EEXIST {
            throw CommandFailure(exitCode: exitCode, message: "cannot create \(path): it already exists")
        } catch let error as SystemError {
            throw CommandFailure(exitCode: exitCode, message: "cannot write \(path): \(error)")
        }
    }
}

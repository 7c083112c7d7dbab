import Crypto
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

import POSIX

/// The journal key's file: 64 lower-case hex digits and a newline, mode 0600,
/// kept outside the data directory.
public enum KeyFile {
    /// Writes a new random key to `path` and returns it.
    ///
    /// The file is written whole under a temporary name and linked into place
    /// (`AtomicFile`, `.refuse`), so an existing key (and the journal it opens) is
    /// never overwritten and no reader sees half a key; it is fsynced, as is its directory.
    /// - Throws: `JournalError` `.keyFile` if `path` exists, `.io` if it cannot be written.
    @discardableResult
    public static func create(at path: String) throws -> SymmetricKey {
        let key = SymmetricKey.generate()
        do {
            try AtomicFile.write(Array((key.rawBytes.hexString + "\n").utf8), to: path, mode: 0o600, existing: .refuse)
        } catch let error as SystemError where error.errno == EEXIST {
            throw JournalError(.keyFile, "key file \(path) already exists; refusing to overwrite a key", path: path, errno: EEXIST)
        } catch let error as SystemError {
            throw JournalError(error)
        }
        return key
    }

    /// Reads the key at `path`.
    /// - Throws: `JournalError` `.keyFile` naming `path` if the file is missing,
    ///   readable or writable by group or others, or not exactly 64 hex digits.
    public static func load(from path: String) throws -> SymmetricKey {
        let contents = try readPrivate(path, what: "key file", maxBytes: 4096, expected: "expected 64 hex digits")
        let text = String(decoding: contents, as: UTF8.self).trimmingASCIIWhitespace()
        guard text.utf8.count == SymmetricKey.byteCount * 2, let bytes = [UInt8](hex: text) else {
            throw JournalError(.keyFile, "key file \(path) does not hold a \(SymmetricKey.byteCount)-byte key as \(SymmetricKey.byteCount * 2) hex digits", path: path)
        }
        return try SymmetricKey(bytes: bytes)
    }

    /// The bytes of a file holding keys (`what` names it in errors): refused with `.keyFile` if it
    /// cannot be opened, is not a regular file, is readable or writable by group or others, or is
    /// larger than `maxBytes`.
    static func readPrivate(_ path: String, what: String, maxBytes: Int, expected: String) throws -> [UInt8] {
        let file = try openPrivate(path, flags: O_RDONLY, what: what, maxBytes: maxBytes, expected: expected)
        defer { file.close() }
        return try JournalError.mappingSystemErrors { try file.readAll() }
    }

    /// A file holding keys, opened with `flags` after the checks of `readPrivate`.
    /// - Throws: `JournalError` `.keyFile` (with errno when `open` failed).
    static func openPrivate(_ path: String, flags: Int32, what: String, maxBytes: Int, expected: String) throws -> FileDescriptor {
        let file: FileDescriptor
        do {
            file = try FileDescriptor.open(path, flags: flags)
        } catch let error as SystemError {
            throw JournalError(.keyFile, "cannot open \(what) \(path): \(error.reason)", path: path, errno: error.errno)
        }
        let info = try JournalError.mappingSystemErrors { try file.status() }
        guard UInt32(info.st_mode) & UInt32(S_IFMT) == UInt32(S_IFREG) else {
            file.close()
            throw JournalError(.keyFile, "\(what) \(path) is not a regular file", path: path)
        }
        let mode = UInt32(info.st_mode) & 0o777
        guard mode & 0o077 == 0 else {
            file.close()
            throw JournalError(.keyFile, "\(what) \(path) has mode \(String(mode, radix: 8)); it must not be accessible to group or others (chmod 600 \(path))", path: path)
        }
        guard info.st_size <= maxBytes else {
            file.close()
            throw JournalError(.keyFile, "\(what) \(path) is \(info.st_size) bytes; \(expected)", path: path)
        }
        return file
    }
}

extension String {
    func trimmingASCIIWhitespace() -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\n" || $0 == "\r" || $0 == "\t" }
        guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else { return "" }
        return String(self[first...last])
    }
}

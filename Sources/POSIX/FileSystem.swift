#if canImport(Glibc)
import Glibc
#endif

/// Directory and path operations, each through `systemCall`.
public enum FileSystem {
    /// Directory entries (names only, without "." and "..").
    /// - Throws: `SystemError` if the directory cannot be opened or read.
    public static func listDirectory(_ path: String) throws -> [String] {
        guard let dir = opendir(path) else {
            throw SystemError(call: "opendir", context: "of \(path)", errno: errno, path: path)
        }
        defer { closedir(dir) }
        var names: [String] = []
        while true {
            // readdir returns nil both at the end and on an error; only errno tells them apart.
            errno = 0
            guard let entry = readdir(dir) else {
                if errno != 0 { throw SystemError(call: "readdir", context: "of \(path)", errno: errno, path: path) }
                return names
            }
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
    }

    /// The status (mode, size, type) of the file at `path`, following symbolic links.
    /// - Throws: `SystemError` (ENOENT when there is no such file).
    public static func status(of path: String) throws -> stat {
        var info = stat()
        try blockingSystemCall("stat", "of \(path)", path: path) { stat(path, &info) }
        return info
    }

    /// fsyncs a directory so that a created, renamed or removed entry is durable.
    /// - Throws: `SystemError` if it cannot be opened or synced.
    public static func syncDirectory(_ path: String) throws {
        let dir = try FileDescriptor.open(path, flags: O_RDONLY | O_DIRECTORY)
        defer { dir.close() }
        try dir.sync()
    }

    /// Creates `path` (mode `mode`, 0700 unless told) and any missing parents.
    /// - Throws: `SystemError` if a component cannot be created.
    public static func makeDirectories(_ path: String, mode: mode_t = 0o700) throws {
        var current = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            current += "/" + component
            do {
                try blockingSystemCall("mkdir", "of \(current)", path: current) { mkdir(current, mode) }
            } catch {
                if error.errno != EEXIST { throw error }
            }
        }
    }

    /// Removes a file.
    /// - Throws: `SystemError` unless it was removed (or already absent, when `missingOK`).
    public static func unlink(_ path: String, missingOK: Bool = false) throws {
        do {
            try blockingSystemCall("unlink", "of \(path)", path: path) { posixUnlink(path) }
        } catch {
            if !(missingOK && error.errno == ENOENT) { throw error }
        }
    }

    /// Renames `from` to `to` atomically, replacing `to` if it exists.
    /// - Throws: `SystemError` on failure.
    public static func rename(_ from: String, _ to: String) throws {
        try blockingSystemCall("rename", "of \(from) to \(to)", path: from) { posixRename(from, to) }
    }

    /// Gives the file `from` the second name `to`, which must not exist: atomic
    /// "create if absent" for a file written under a temporary name.
    /// - Throws: `SystemError` (EEXIST when `to` exists).
    public static func link(_ from: String, _ to: String) throws {
        try blockingSystemCall("link", "of \(from) to \(to)", path: to) { posixLink(from, to) }
    }

    /// The directory part of a path ("." when there is none).
    public static func parentDirectory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        let parent = String(path[..<slash])
        return parent.isEmpty ? "/" : parent
    }

    /// The last component of a path (the whole path when it has no "/").
    public static func lastComponent(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return path }
        return String(path[path.index(after: slash)...])
    }
}

private func posixUnlink(_ path: String) -> Int32 { unlink(path) }
private func posixRename(_ from: String, _ to: String) -> Int32 { rename(from, to) }
private func posixLink(_ from: String, _ to: String) -> Int32 { link(from, to) }

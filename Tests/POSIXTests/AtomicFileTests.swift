import Foundation
@testable import POSIX
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// Whole-file writes: all or nothing, mode from the first byte, never over a file it must not replace.
/// (The CLI's files are also traced with strace in `MaracPrivateFileTests`.)
@Suite("AtomicFile")
struct AtomicFileTests {
    private func mode(_ path: String) throws -> mode_t {
        try FileDescriptor.open(path, flags: O_RDONLY).status().st_mode & 0o7777
    }

    private func entries(_ directory: TemporaryDirectory) throws -> [String] {
        try FileSystem.listDirectory(directory.url.path).sorted()
    }

    @Test func theTemporaryFileHasTheFinalModeBeforeAnyByteIsWritten() throws {
        let directory = try TemporaryDirectory()
        let (file, temporary) = try AtomicFile.createTemporary(beside: directory.path("secret"), mode: 0o600)
        defer { try? FileSystem.unlink(temporary) }
        // Created by open(O_CREAT | O_EXCL, 0600) itself: empty, and already private (a default 0666 less any umask would not be).
        #expect(try file.size() == 0)
        #expect(try file.status().st_mode & 0o7777 == 0o600)
        #expect(temporary.hasPrefix(directory.path(".secret.")) && temporary.hasSuffix(".tmp"))
    }

    @Test func replaceWritesAllWithTheModeAndLeavesNoTemporaryFile() throws {
        let directory = try TemporaryDirectory()
        let path = directory.path("pack.txt")
        try directory.write("pack.txt", Array("old\n".utf8), mode: 0o644)
        try AtomicFile.write(Array("new contents\n".utf8), to: path, mode: 0o600)
        #expect(try FileDescriptor.open(path, flags: O_RDONLY).readAll() == Array("new contents\n".utf8))
        #expect(try mode(path) == 0o600, "an old file readable by all is replaced by a private one")
        #expect(try entries(directory) == ["pack.txt"])
    }

    @Test func refuseLeavesAnExistingFileAloneAndFailsWithEEXIST() throws {
        let directory = try TemporaryDirectory()
        let path = directory.path("data.key")
        try AtomicFile.write(Array("first".utf8), to: path, mode: 0o600, existing: .refuse)
        #expect {
            try AtomicFile.write(Array("second".utf8), to: path, mode: 0o600, existing: .refuse)
        } throws: { error in
            (error as? SystemError)?.errno == EEXIST
        }
        #expect(try FileDescriptor.open(path, flags: O_RDONLY).readAll() == Array("first".utf8))
        #expect(try entries(directory) == ["data.key"], "the temporary file is removed")
    }

    @Test func aWriteIntoAMissingDirectoryFailsNamingTheFile() throws {
        let directory = try TemporaryDirectory()
        #expect {
            try AtomicFile.write([1, 2, 3], to: directory.path("missing/file"), mode: 0o600)
        } throws: { error in
            guard let error = error as? SystemError else { return false }
            return error.call == "open" && error.errno == ENOENT && error.description.contains(directory.path("missing/.file."))
        }
    }

    @Test func aPublicFileGetsItsExactModeWhateverTheUmask() async {
        // In a child process: the umask is per process, and other tests create files meanwhile.
        await #expect(processExitsWith: .success) {
            let directory = try TemporaryDirectory()
            umask(0o077)
            try AtomicFile.write(Array("certificate".utf8), to: directory.path("cert.pem"), mode: 0o644)
            let narrowed = try FileDescriptor.open(directory.path("cert.pem"), flags: O_RDONLY).status().st_mode & 0o7777
            umask(0)
            try AtomicFile.write(Array("key".utf8), to: directory.path("key.pem"), mode: 0o600)
            let widened = try FileDescriptor.open(directory.path("key.pem"), flags: O_RDONLY).status().st_mode & 0o7777
            exit(narrowed == 0o644 && widened == 0o600 ? EXIT_SUCCESS : EXIT_FAILURE)
        }
    }
}

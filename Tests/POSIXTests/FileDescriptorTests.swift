import Foundation
import POSIX
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// The descriptor owner: closes once, reads and writes whole buffers, reports faults with the path.
@Suite("FileDescriptor")
struct FileDescriptorTests {
    /// Lets the first `afterBytes` bytes through, then fails writes; fails syncs when asked.
    final class Faults: FileFaults, @unchecked Sendable {
        var budget: Int
        var failSync = false
        init(afterBytes: Int) { budget = afterBytes }
        func writeLimit(_ count: Int) -> (allowed: Int, errno: Int32)? {
            let allowed = min(count, budget)
            budget -= allowed
            return (allowed, EIO)
        }
        func syncErrno() -> Int32? { failSync ? EIO : nil }
    }

    @Test func writesReadsTruncatesAndClosesOnce() throws {
        let directory = try TemporaryDirectory()
        let path = directory.path("file")
        let file = try FileDescriptor.open(path, flags: O_RDWR | O_CREAT | O_EXCL, mode: 0o600)
        try file.writeAll(Array("hello world".utf8), at: 0)
        try file.writeAll(Array("W".utf8), at: 6)
        try file.syncData()
        #expect(try file.readAll() == Array("hello World".utf8))
        #expect(try file.readPrefix(5) == Array("hello".utf8))
        try file.truncate(to: 5)
        #expect(try file.size() == 5)
        #expect(try file.status().st_mode & 0o777 == 0o600)
        file.close()
        file.close()
    }

    @Test func openingAMissingFileNamesItAndKeepsErrno() {
        #expect {
            _ = try FileDescriptor.open("/nonexistent-marac/file", flags: O_RDONLY)
        } throws: { error in
            guard let error = error as? SystemError else { return false }
            return error.errno == ENOENT && error.path == "/nonexistent-marac/file" && error.description.hasPrefix("open of /nonexistent-marac/file: ")
        }
    }

    @Test func anInjectedWriteFaultStoresThePrefixAndThrowsWithThePath() throws {
        let directory = try TemporaryDirectory()
        let path = directory.path("faulty")
        let file = try FileDescriptor.open(path, flags: O_RDWR | O_CREAT, mode: 0o600)
        let faults = Faults(afterBytes: 4)
        file.faults = faults
        #expect {
            try file.writeAll(Array("0123456789".utf8), at: 0)
        } throws: { error in
            guard let error = error as? SystemError else { return false }
            return error.errno == EIO && error.call == "pwrite" && error.path == path && error.description.contains("(injected fault)")
        }
        file.faults = nil
        #expect(try file.readAll() == Array("0123".utf8))
        file.faults = faults
        faults.failSync = true
        #expect(throws: SystemError.self) { try file.syncData() }
    }

    @Test func anExclusiveLockIsRefusedToASecondOpenFile() throws {
        let directory = try TemporaryDirectory()
        let path = directory.path("LOCK")
        let first = try FileDescriptor.open(path, flags: O_RDWR | O_CREAT)
        let second = try FileDescriptor.open(path, flags: O_RDWR)
        #expect(try first.tryLockExclusive())
        #expect(try !second.tryLockExclusive(), "EWOULDBLOCK from flock is an answer, not an error")
        first.close()
        #expect(try second.tryLockExclusive())
    }

    @Test func writeAllToADescriptorWritesEverything() throws {
        var ends: [Int32] = [0, 0]
        #expect(pipe(&ends) == 0)
        let reader = FileDescriptor(takingOwnershipOf: ends[0], path: "pipe")
        let writer = FileDescriptor(takingOwnershipOf: ends[1], path: "pipe")
        try FileDescriptor.writeAll(Array("a line\n".utf8), to: writer.rawValue, context: "to a pipe")
        writer.close()
        var buffer = [UInt8](repeating: 0, count: 16)
        let count = read(reader.rawValue, &buffer, buffer.count)
        #expect(Array(buffer.prefix(max(count, 0))) == Array("a line\n".utf8))
    }

    @Test func closingADescriptorTwiceIsABugThatStopsTheProcess() async {
        await #expect(processExitsWith: .failure) {
            let fd = open("/dev/null", O_RDONLY)
            FileDescriptor.close(descriptor: fd)
            FileDescriptor.close(descriptor: fd)
        }
    }

    @Test func directoriesAreMadeListedAndFilesRemoved() throws {
        let directory = try TemporaryDirectory()
        let nested = directory.path("a/b/c")
        try FileSystem.makeDirectories(nested)
        try FileSystem.makeDirectories(nested)
        #expect(try FileSystem.listDirectory(directory.path("a")) == ["b"])
        try AtomicFile.write([1], to: nested + "/f", mode: 0o600)
        try FileSystem.syncDirectory(nested)
        try FileSystem.unlink(nested + "/f")
        try FileSystem.unlink(nested + "/f", missingOK: true)
        #expect(throws: SystemError.self) { try FileSystem.unlink(nested + "/f") }
        #expect(try FileSystem.listDirectory(nested).isEmpty)
        #expect(FileSystem.parentDirectory(of: "name") == "." && FileSystem.parentDirectory(of: "/name") == "/" && FileSystem.parentDirectory(of: "a/b") == "a")
        #expect(FileSystem.lastComponent(of: "a/b") == "b" && FileSystem.lastComponent(of: "b") == "b")
    }
}

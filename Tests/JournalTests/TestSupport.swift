import Crypto
import Foundation
import Testing
@testable import Journal

/// A fresh directory under the system temp directory, removed when `body` returns or throws.
func withTemporaryDirectory<R>(_ body: (String) async throws -> R) async throws -> R {
    let path = NSTemporaryDirectory() + "journal-tests-" + SecureRandom.hex(8)
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: path) }
    return try await body(path)
}

/// Collects the journal's log lines.
final class LogLines: @unchecked Sendable {
    private let lock = NSLock()
    private var storage: [String] = []

    var sink: @Sendable (String) -> Void { { line in self.lock.lock(); self.storage.append(line); self.lock.unlock() } }
    var lines: [String] { lock.lock(); defer { lock.unlock() }; return storage }
}

/// Appends one after another and returns the acknowledged records.
func appendAll(_ journal: Journal, _ payloads: [[UInt8]]) async throws -> [JournalRecord] {
    var records: [JournalRecord] = []
    for payload in payloads { records.append(try await journal.append(payload)) }
    return records
}

/// Every record after `seq`, verified, via `replay`.
func records(_ journal: Journal, after seq: UInt64 = 0) throws -> [JournalRecord] {
    var out: [JournalRecord] = []
    try journal.replay(after: seq) { out.append($0) }
    return out
}

/// Segment file paths of `directory`, in order.
func segmentFiles(_ directory: String) throws -> [String] {
    try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".seg") }.sorted().map { directory + "/" + $0 }
}

func readFile(_ path: String) throws -> [UInt8] { Array(try Data(contentsOf: URL(fileURLWithPath: path))) }

func writeFile(_ path: String, _ bytes: [UInt8]) throws { try Data(bytes).write(to: URL(fileURLWithPath: path)) }

/// Copies a journal directory (flat) to a new path.
func copyDirectory(_ from: String, to: String) throws {
    try? FileManager.default.removeItem(atPath: to)
    try FileManager.default.copyItem(atPath: from, toPath: to)
}

/// Stored size of a record with `payloadCount` payload bytes.
func storedSize(_ payloadCount: Int) -> Int { DiskFormat.recordOverhead + payloadCount }

func payload(_ text: String) -> [UInt8] { Array(text.utf8) }

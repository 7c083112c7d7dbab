import Broker
import Crypto
import Foundation
import Journal

/// A journal directory whose only segment is a valid header (made once by `Journal.open` under
/// a fixed key) followed by the input, checked by `Journal.verify`, the offline reader that
/// parses record framing, checksums, lengths, the torn-tail rules and the chain. Inputs
/// seeded from real records keep authenticating, so mutations reach every check. The input is
/// also given to the broker's journal entry decoder, which reads every decrypted payload.
public enum JournalFuzz {
    /// A fixed key, so that the seeds in fuzz/corpus/journal stay valid.
    static let key = try! SymmetricKey(bytes: Array(repeating: 0x4B, count: SymmetricKey.byteCount))
    static let segmentName = "00000001.seg"
    static let headerSize = 92

    /// The scratch directory (on tmpfs when there is one) and the segment header.
    static let setup: (directory: String, header: [UInt8]) = {
        let base = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
        let directory = "\(base)/marac-fuzz-journal-\(getpid())"
        try? FileManager.default.removeItem(atPath: directory)
        do {
            let journal = try Journal.open(directory: directory, key: key)
            journal.close()
            let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: directory + "/" + segmentName)))
            return (directory, Array(bytes.prefix(headerSize)))
        } catch {
            preconditionFailure("cannot set up the journal fuzz directory \(directory): \(error)")
        }
    }()

    /// One scratch segment file serves every run, so runs from parallel test cases take turns.
    static let scratchLock = NSLock()

    static func run(_ input: [UInt8]) {
        scratchLock.lock()
        defer { scratchLock.unlock() }
        let (directory, header) = setup
        let path = directory + "/" + segmentName
        guard FileManager.default.createFile(atPath: path, contents: Data(header + input)) else {
            preconditionFailure("cannot write \(path)")
        }
        let report = Journal.verify(directory: directory, key: key)
        if report.isValid {
            precondition(report.recordCount == (report.lastSeq ?? 0), "records counted \(report.recordCount) but last seq \(report.lastSeq ?? 0)")
        } else {
            precondition(!(report.problem?.message.isEmpty ?? true), "damage without a message")
        }
        _ = try? JSONDecoder().decode(Entry.self, from: Data(input))
    }
}

extension JournalFuzz {
    /// The record bytes (everything after the segment header) of a fresh journal holding
    /// `payloads` under the fuzz key: a seed for fuzz/corpus/journal.
    public static func seed(payloads: [[UInt8]]) throws -> [UInt8] {
        let directory = NSTemporaryDirectory() + "marac-fuzz-seed-\(getpid())"
        try? FileManager.default.removeItem(atPath: directory)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let journal = try Journal.open(directory: directory, key: key)
        for payload in payloads {
            let done = DispatchSemaphore(value: 0)
            journal.append(payload) { _ in done.signal() }
            done.wait()
        }
        journal.close()
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: directory + "/" + segmentName)))
        return Array(bytes.dropFirst(headerSize))
    }
}

import Dispatch
import Foundation
import POSIX
import Synchronization

/// Lines collected in memory and written to a file descriptor in one `write`
/// per batch; the lock is held while writing, so batches never reorder or interleave.
final class BufferedOutput: Sendable {
    private let fileDescriptor: Int32
    private let pending = Mutex<(bytes: [UInt8], flushScheduled: Bool)>(([], false))
    private let timerQueue = DispatchQueue(label: "marac.log.flush")
    static let delay = DispatchTimeInterval.milliseconds(20)
    static let batchSize = 32 * 1024

    init(fileDescriptor: Int32) { self.fileDescriptor = fileDescriptor }

    func append(_ line: String) {
        let schedule = pending.withLock { pending -> Bool in
            pending.bytes.append(contentsOf: line.utf8)
            if pending.bytes.count >= Self.batchSize {
                writeAll(pending.bytes)
                pending.bytes.removeAll(keepingCapacity: true)
                return false
            }
            defer { pending.flushScheduled = true }
            return !pending.flushScheduled
        }
        if schedule { timerQueue.asyncAfter(deadline: .now() + Self.delay) { [self] in flush() } }
    }

    func flush() {
        pending.withLock { pending in
            pending.flushScheduled = false
            guard !pending.bytes.isEmpty else { return }
            writeAll(pending.bytes)
            pending.bytes.removeAll(keepingCapacity: pending.bytes.capacity <= Self.batchSize * 2)
        }
    }

    private func writeAll(_ bytes: [UInt8]) {
        // A log that cannot be written has nowhere to report it: the batch is dropped.
        try? FileDescriptor.writeAll(bytes, to: fileDescriptor, context: "to the log")
    }
}

import Crypto
import Foundation
import Journal
import Synchronization

/// An `EventStore` in memory, for fast tests of the engine and the domain: the same
/// ordering, chaining and snapshot contract as the journal, nothing on disk. Each
/// record's hash is SHA-256 over the previous hash, the sequence number and the payload.
///
/// `failWrites()` makes every later append fail, as a full disk would.
public final class InMemoryEventStore: EventStore {
    private struct State {
        var records: [JournalRecord] = []
        var snapshot: JournalSnapshot?
        var closed = false
        var failing = false
    }

    private let state = Mutex(State())
    private let clock: @Sendable () -> Date

    /// - Parameter clock: stamps each record's time.
    public init(clock: @escaping @Sendable () -> Date = { Date() }) {
        self.clock = clock
    }

    public var head: JournalPosition { state.withLock { $0.records.last?.position ?? .genesis } }

    public var isHealthy: Bool { state.withLock { !$0.closed && !$0.failing } }

    /// Every record appended so far, in order.
    public var records: [JournalRecord] { state.withLock { $0.records } }

    /// From now on every append fails with `write_failed`.
    public func failWrites() { state.withLock { $0.failing = true } }

    public func append(_ payload: [UInt8], completion: @escaping @Sendable (Result<JournalRecord, JournalError>) -> Void) {
        completion(appendNow(payload))
    }

    /// `append` without the callback: a memory store is durable at once, so domain tests
    /// can commit each entry in line and apply it at the record's chain position.
    public func appendNow(_ payload: [UInt8]) -> Result<JournalRecord, JournalError> {
        let now = clock()
        return state.withLock { state in
            if state.closed { return .failure(JournalError(.closed, "the store is closed")) }
            if state.failing { return .failure(JournalError(.writeFailed, "write failed (injected)")) }
            let previous = state.records.last?.position ?? .genesis
            let seq = previous.seq + 1
            var hasher = SHA256()
            hasher.update(previous.hash)
            withUnsafeBytes(of: seq.bigEndian) { hasher.update(Array($0)) }
            hasher.update(payload)
            let record = JournalRecord(seq: seq, timeMilliseconds: Int64(now.timeIntervalSince1970 * 1000), payload: payload,
                                       hash: hasher.finalize(), prevHash: previous.hash)
            state.records.append(record)
            return .success(record)
        }
    }

    public func replay(after seq: UInt64, _ body: (JournalRecord) throws -> Void) throws {
        for record in records where record.seq > seq { try body(record) }
    }

    public func latestSnapshot() throws -> JournalSnapshot? { state.withLock { $0.snapshot } }

    public func writeSnapshot(_ bytes: [UInt8], at position: JournalPosition) throws {
        try state.withLock { state in
            guard state.records.contains(where: { $0.position == position }) else {
                throw JournalError(.invalidArgument, "no record at \(position)")
            }
            state.snapshot = JournalSnapshot(position: position, state: bytes)
        }
    }

    /// Nothing to do: the memory store keeps only its newest snapshot, and removes none without a newer one.
    public func removeSnapshots(before seq: UInt64) throws {}

    public func close() { state.withLock { $0.closed = true } }
}

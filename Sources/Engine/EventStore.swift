import Journal

/// Where the engine's entries are made durable: an append-only, hash-chained log
/// of opaque payloads with snapshots. The file journal (`Journal`) is the one real
/// implementation; `InMemoryEventStore` serves fast domain tests.
///
/// Contract: `append` completes in the order called, with consecutive sequence
/// numbers from `head.seq + 1`, once the record is durable (or with the error that
/// stops the store); `replay` presents every record after `seq` in order.
public protocol EventStore: Sendable {
    /// The last durable record (`JournalPosition.genesis` while empty).
    var head: JournalPosition { get }
    /// False once a write has failed or the store is closed.
    var isHealthy: Bool { get }
    /// Appends one payload; `completion` runs once it is durable or has failed.
    func append(_ payload: [UInt8], completion: @escaping @Sendable (Result<JournalRecord, JournalError>) -> Void)
    /// Calls `body` with every record after `seq`, in order.
    func replay(after seq: UInt64, _ body: (JournalRecord) throws -> Void) throws
    /// The newest snapshot, if any.
    func latestSnapshot() throws -> JournalSnapshot?
    /// Stores `state` as the snapshot at `position` (a durable record).
    func writeSnapshot(_ state: [UInt8], at position: JournalPosition) throws
    /// Removes every snapshot taken before `seq`, if one at or after it exists (an erasure at `seq`
    /// must leave no snapshot holding what it erased).
    func removeSnapshots(before seq: UInt64) throws
    /// Flushes and releases the store; later appends fail with `closed`.
    func close()
}

extension Journal: EventStore {}

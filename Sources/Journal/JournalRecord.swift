import Foundation

/// One verified record: its place in the chain, its time and its decrypted payload.
///
/// A `JournalRecord` is only ever produced for a record that was durably
/// written (by `append`) or that passed authentication and the chain checks
/// (by `replay`), so a caller never sees altered data.
public struct JournalRecord: Sendable, Hashable {
    /// Sequence number, 1, 2, 3, … without gaps.
    public let seq: UInt64
    /// Wall-clock time of the append, in milliseconds since 1970-01-01 UTC.
    public let timeMilliseconds: Int64
    /// The plaintext payload.
    public let payload: [UInt8]
    /// This record's chain hash: SHA-256(prevHash || its stored bytes).
    public let hash: [UInt8]
    /// The chain hash of the record before it (the genesis hash for seq 1).
    public let prevHash: [UInt8]

    /// Makes a record value (the journal builds these; tests may compare them).
    public init(seq: UInt64, timeMilliseconds: Int64, payload: [UInt8], hash: [UInt8], prevHash: [UInt8]) {
        self.seq = seq
        self.timeMilliseconds = timeMilliseconds
        self.payload = payload
        self.hash = hash
        self.prevHash = prevHash
    }

    /// The append time as a `Date`.
    public var time: Date { Date(timeIntervalSince1970: Double(timeMilliseconds) / 1000) }

    /// The chain position just after this record, e.g. to take a snapshot at.
    public var position: JournalPosition { JournalPosition(seq: seq, hash: hash) }
}

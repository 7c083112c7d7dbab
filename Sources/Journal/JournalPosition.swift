import Crypto

/// A point in the journal's chain: a record's sequence number and chain hash.
///
/// The empty journal is at `JournalPosition.genesis` (seq 0, 32 zero bytes).
/// Positions are what snapshots are taken at and what an audit compares.
public struct JournalPosition: Sendable, Hashable, CustomStringConvertible {
    /// Sequence number of the record (0 for the empty journal).
    public let seq: UInt64
    /// The record's chain hash, SHA-256(prevHash || stored record bytes); 32 bytes.
    public let hash: [UInt8]

    /// Makes a position; `hash` must be 32 bytes to match any record.
    public init(seq: UInt64, hash: [UInt8]) {
        self.seq = seq
        self.hash = hash
    }

    /// The position of an empty journal: seq 0 and the genesis hash (32 zero bytes).
    public static let genesis = JournalPosition(seq: 0, hash: DiskFormat.genesisHash)

    /// `"seq N, hash <hex>"`.
    public var description: String { "seq \(seq), hash \(hash.hexString)" }
}

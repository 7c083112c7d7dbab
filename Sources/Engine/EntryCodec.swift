import Broker
import Crypto
import Foundation
import Wire
import Journal

/// How entries and snapshots are stored: Foundation's default JSON format, written by
/// `JSON.encodeStored` (unchanged since the first journal, so old data directories open).
enum EntryCodec {
    static func encode(_ value: some Encodable) throws -> [UInt8] {
        try JSON.encodeStored(value)
    }

    static func decode(_ record: JournalRecord) throws -> Entry {
        do { return try JSONDecoder().decode(Entry.self, from: Data(record.payload)) } catch {
            throw BrokerSetupError(file: "journal", key: "seq \(record.seq)", message: "entry cannot be decoded: \(error)")
        }
    }

    /// The record's place in the hash chain, as the audit trail shows it.
    static func chainPosition(_ record: JournalRecord) -> ChainPosition {
        ChainPosition(seq: record.seq, hash: record.hash.hexString, prevHash: record.prevHash.hexString)
    }
}

import Broker
import Foundation
import Wire

/// `JSON.decodeStored`, which reads every journal entry and snapshot at start, into the types
/// the journal and snapshots hold: whatever the bytes, it refuses or decodes, never crashes
/// (depth and size limits included); what it decodes, `JSONDecoder` decodes to the same value
/// (unless an object names a key twice, which no stored encoder writes: then the two read
/// different members), and encoding it again (`JSON.encodeStored`) reads back the same.
enum StoredJSONFuzz {
    static func run(_ bytes: [UInt8]) {
        guard bytes.count <= 256 * 1024 else { return }
        check(JSONValue.self, bytes)
        check(Entry.self, bytes)
        check(Event.self, bytes)
        check([AuditRecord].self, bytes)
        check(BrokerState.self, bytes)
    }

    /// Whether `bytes` hold a number whose digits are all zeros followed by an exponent (`0e3`,
    /// `0.00e5`; over-approximated: strings too). JSONDecoder refuses many of them although they
    /// are valid JSON (RFC 8259) and mean 0 — `0e1`…`0e9`, `0E5` and `0.00e5`, while it reads
    /// `0e10`, `0.0e5`, `-0e5` and `0e+5` — and no stored encoder writes an exponent on zero.
    static func hasZeroWithExponent(_ bytes: [UInt8]) -> Bool {
        bytes.indices.dropFirst().contains { i in
            guard bytes[i] | 0x20 == UInt8(ascii: "e"), bytes[i - 1] == UInt8(ascii: "0") else { return false }
            var j = i - 1
            while j > 0, bytes[j - 1] == UInt8(ascii: "0") || bytes[j - 1] == UInt8(ascii: ".") { j -= 1 }
            return j == 0 || !(bytes[j - 1] >= UInt8(ascii: "1") && bytes[j - 1] <= UInt8(ascii: "9"))
        }
    }

    static func check<T: Codable & Equatable>(_ type: T.Type, _ bytes: [UInt8]) {
        let value: T
        do { value = try JSON.decodeStored(T.self, from: bytes) } catch {
            precondition(!"\(error)".isEmpty, "a refusal without a message")
            return
        }
        if !JSON.repeatsKey(bytes) {
            guard let foundation = try? JSONDecoder().decode(T.self, from: Data(bytes)) else {
                // JSONDecoder refuses `0e3`, `0E3` and `0.00e5` (valid JSON, RFC 8259; it reads `-0e3` and `0.0e5`).
                if hasZeroWithExponent(bytes) { return }
                preconditionFailure("decodeStored read \(T.self) from input JSONDecoder refuses")
            }
            precondition(foundation == value, "decodeStored and JSONDecoder read different \(T.self) values")
        }
        guard let again = try? JSON.encodeStored(value) else { return }   // a non-finite number: not storable
        precondition((try? JSON.decodeStored(T.self, from: again)) == value, "\(T.self) does not read back after encodeStored")
    }
}

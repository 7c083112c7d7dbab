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

    /// Whether `bytes` hold `0e` or `0E` not preceded by a digit, `.` or `-` (over-approximated: strings too).
    static func hasUnsignedZeroExponent(_ bytes: [UInt8]) -> Bool {
        bytes.indices.dropLast().contains { i in
            bytes[i] == UInt8(ascii: "0") && (bytes[i + 1] | 0x20) == UInt8(ascii: "e")
                && (i == 0 || !(bytes[i - 1] >= UInt8(ascii: "0") && bytes[i - 1] <= UInt8(ascii: "9") || bytes[i - 1] == UInt8(ascii: ".") || bytes[i - 1] == UInt8(ascii: "-")))
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
                // JSONDecoder refuses `0e3` and `0E3` (valid JSON, RFC 8259; it reads `-0e3` and `0e-3`).
                if hasUnsignedZeroExponent(bytes) { return }
                preconditionFailure("decodeStored read \(T.self) from input JSONDecoder refuses")
            }
            precondition(foundation == value, "decodeStored and JSONDecoder read different \(T.self) values")
        }
        guard let again = try? JSON.encodeStored(value) else { return }   // a non-finite number: not storable
        precondition((try? JSON.decodeStored(T.self, from: again)) == value, "\(T.self) does not read back after encodeStored")
    }
}

import Foundation

/// A reply written to JSON by hand, for the few answers sent on every request (`whoami`, a
/// return submission's echo): ``JSON/encode(_:)`` uses ``writeJSON(to:)`` instead of the
/// `Encodable` conformance, which costs a tree of boxes, a sort and a dynamic cast per field.
///
/// `writeJSON(to:)` must write exactly the bytes the `Encodable` conformance writes through
/// ``JSON/encode(_:)``'s encoder: keys in sorted order, the same escaping, dates as RFC 3339
/// in whole seconds. Each conforming type has a test comparing the two on hostile strings.
/// `encodeStored` (journal entries, snapshots) uses ``StoredJSONWritable`` instead.
public protocol JSONWritable: Encodable {
    /// Appends the value's JSON in the API's format.
    func writeJSON(to out: inout JSONOutput)
}

/// The API's JSON written directly into bytes: the caller names the keys, in sorted order;
/// commas, quoting and escaping are done here (``JSONString``, the escaping `JSONWriter` uses).
public struct JSONOutput {
    /// What has been written.
    public private(set) var bytes: [UInt8]
    /// No member or element written yet in the innermost open object or array.
    private var atStart = true

    /// An empty output with room for `capacity` bytes.
    public init(capacity: Int = 256) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    /// Opens an object (`{`).
    public mutating func beginObject() {
        bytes.append(UInt8(ascii: "{"))
        atStart = true
    }

    /// Closes the innermost object (`}`).
    public mutating func endObject() {
        bytes.append(UInt8(ascii: "}"))
        atStart = false
    }

    /// Opens an array (`[`).
    public mutating func beginArray() {
        bytes.append(UInt8(ascii: "["))
        atStart = true
    }

    /// Closes the innermost array (`]`).
    public mutating func endArray() {
        bytes.append(UInt8(ascii: "]"))
        atStart = false
    }

    /// Starts a member of the innermost object: `"name":` after a comma if needed. `name` is
    /// a Swift property name (no character that needs escaping).
    public mutating func key(_ name: StaticString) {
        if !atStart { bytes.append(UInt8(ascii: ",")) }
        atStart = false
        bytes.append(UInt8(ascii: "\""))
        name.withUTF8Buffer { bytes.append(contentsOf: $0) }
        bytes.append(contentsOf: [UInt8(ascii: "\""), UInt8(ascii: ":")])
    }

    /// Starts an element of the innermost array (a comma if needed).
    public mutating func element() {
        if !atStart { bytes.append(UInt8(ascii: ",")) }
        atStart = false
    }

    /// A string value.
    public mutating func string(_ value: String) { JSONString.appendQuoted(value, to: &bytes) }

    /// An integer value.
    public mutating func integer(_ value: Int) { bytes.appendDecimal(value) }

    /// `true` or `false`.
    public mutating func bool(_ value: Bool) {
        if value { bytes.append(contentsOf: [0x74, 0x72, 0x75, 0x65]) } else { bytes.append(contentsOf: [0x66, 0x61, 0x6C, 0x73, 0x65]) }
    }

    /// A date as the API writes it: `"YYYY-MM-DDTHH:MM:SSZ"` (``RFC3339/format(_:fraction:)``).
    public mutating func date(_ value: Date) {
        bytes.append(UInt8(ascii: "\""))
        RFC3339.append(value, to: &bytes)
        bytes.append(UInt8(ascii: "\""))
    }

    /// An array with one element per item, each written by `write`.
    public mutating func array<S: Sequence>(_ items: S, _ write: (inout JSONOutput, S.Element) throws -> Void) rethrows {
        beginArray()
        for item in items {
            element()
            try write(&self, item)
        }
        endArray()
    }

    /// An array of strings.
    public mutating func strings(_ values: [String]) { array(values) { $0.string($1) } }
}

/// A value written by hand in the stored format, for what is journaled on every request (an
/// entry's envelope, a return, an acknowledgement): ``JSON/encodeStored(_:)`` uses
/// ``writeStoredJSON(to:)`` for a top-level value that has it.
///
/// It must write exactly the bytes the `Encodable` conformance writes through `encodeStored`'s
/// encoders: keys in encoding (declaration) order, a nil optional left out, dates as seconds
/// since 2001 (``JSONOutput/storedDate(_:)``), anything not written by hand through
/// ``JSONOutput/storedValue(_:)``. `StoredDecoderEquivalenceTests` compares the two for every
/// event, entry and stored envelope. A writer that throws (a non-finite number) is abandoned and
/// the value encoded again through `Encodable`, so errors are the encoder's.
public protocol StoredJSONWritable: Encodable {
    /// Appends the value's JSON in the stored format.
    func writeStoredJSON(to out: inout JSONOutput) throws
}

extension JSONOutput {
    /// Thrown by the stored writers for a value only the encoder can report on.
    struct NotWritable: Error {}

    /// A key of the stored format: a Swift property name, as ``key(_:)``.
    public mutating func storedKey(_ name: StaticString) { key(name) }

    /// A date as `encodeStored` writes it: seconds since 2001, a JSON number.
    public mutating func storedDate(_ value: Date) throws {
        guard JSONWriter.appendNumber(value.timeIntervalSinceReferenceDate, to: &bytes) else { throw NotWritable() }
    }

    /// Any value through its `Encodable` conformance, in the stored format.
    public mutating func storedValue<T: Encodable>(_ value: T) throws {
        bytes.append(contentsOf: try JSON.encodeStoredThroughEncodable(value))
    }

    /// An array of strings (also the stored format).
    public mutating func storedStrings(_ values: [String]) { strings(values) }

    /// An unsigned integer (sequence numbers).
    public mutating func integer(_ value: UInt64) { bytes.appendDecimal(value) }

    /// An output that appends to `bytes` (``StoredJSONStream`` lends its buffer to a hand-written value).
    init(continuing bytes: [UInt8]) { self.bytes = bytes }

    /// The bytes, leaving this output empty (no copy).
    mutating func takeBytes() -> [UInt8] {
        var taken: [UInt8] = []
        swap(&taken, &bytes)
        return taken
    }
}

extension JSONWritable {
    /// The value's JSON bytes (what ``JSON/encode(_:)`` returns for it).
    public func jsonBytes() -> [UInt8] {
        var out = JSONOutput()
        writeJSON(to: &out)
        return out.bytes
    }
}

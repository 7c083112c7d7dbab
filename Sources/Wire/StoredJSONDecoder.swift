import Foundation

/// A `Decoder` that reads what `JSON.encodeStored` writes — Foundation's default JSON format —
/// straight from the bytes, for every `Decodable` type without per-type code: what the broker
/// replays journal entries and loads snapshots with.
///
/// It reads as `JSONDecoder()` with its defaults does: dates as seconds since 2001 (`Date`'s own
/// `Decodable`), `Data` as base64, `URL` as a string, a missing key or `null` as nil for an
/// optional, a whole number written as `1.0` or `1e2` accepted for an integer, unknown keys
/// ignored (of a key written twice, the first is read). `StoredJSONDecoderTests` checks that both
/// decode every event and a whole state to equal values. It is several times faster because it
/// builds no tree: a container reads its members where they lie, in the order asked, which is
/// the order they were written in; a key asked out of order finds the members by scanning the
/// rest of the object once. Every byte of the input is checked as JSON (``JSONReader``), whether
/// or not a type reads it.
final class StoredJSONDecoder: Decoder {
    let reader: JSONReader
    /// Where the value being decoded starts (not whitespace).
    @exclusivity(unchecked) var position: Int
    /// The keys from the top value to the one being decoded (for errors and the depth limit).
    @exclusivity(unchecked) var path: [any CodingKey]
    /// The end of the last value whose end became known: lets a container learn where the value
    /// it just had decoded ends without scanning it again.
    @exclusivity(unchecked) var lastEnd: (start: Int, end: Int) = (-1, -1)

    init(reader: JSONReader, position: Int, path: [any CodingKey] = []) {
        self.reader = reader
        self.position = position
        self.path = path
    }

    var codingPath: [any CodingKey] { path }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    /// Decodes the whole input as one `T`, refusing anything after it but whitespace.
    static func decode<T: Decodable>(_ type: T.Type, from bytes: UnsafeBufferPointer<UInt8>, limits: JSONReadLimits) throws -> T {
        guard bytes.count <= limits.maxBytes else {
            throw JSONReadError(code: .tooLarge, message: "input of \(bytes.count) bytes is larger than the limit of \(limits.maxBytes)", offset: 0)
        }
        let reader = JSONReader(bytes: bytes, limits: limits)
        let start = reader.skipWhitespace(0)
        guard start < bytes.count else { throw JSONReadError(code: .truncated, message: "input holds no JSON value", offset: start) }
        let decoder = StoredJSONDecoder(reader: reader, position: start)
        let value = try decoder.decodeValue(T.self, at: start)
        let end = try decoder.end(of: start)
        let after = reader.skipWhitespace(end)
        guard after == bytes.count else {
            throw JSONReadError(code: .trailingBytes, message: "unexpected \(reader.describe(after)) after the JSON value", offset: after)
        }
        return value
    }

    // MARK: Values

    /// Decodes the value at `start` (the path already names it).
    func decodeValue<T: Decodable>(_ type: T.Type, at start: Int) throws -> T {
        if Self.isScalar(T.self) { return try scalar(T.self, at: start) }
        return try construct(T.self, at: start)
    }

    /// Decodes a value that is not a scalar: by hand for a ``StoredJSONDecodable``, else through `init(from:)`.
    func construct<T: Decodable>(_ type: T.Type, at start: Int) throws -> T {
        if let byHand = T.self as? any StoredJSONDecodable.Type { return try readByHand(byHand, as: T.self, at: start) }
        let saved = position
        position = start
        defer { position = saved }
        return try T(from: self)
    }

    /// `U` is `T` (the caller checked), so the cast is an identity.
    private func readByHand<U: StoredJSONDecodable, T>(_ type: U.Type, as: T.Type, at start: Int) throws -> T {
        try checkContainer(UInt8(ascii: "{"), [String: Any].self, at: start)
        let object = StoredJSONObject(decoder: self, object: StoredObject(start: start, reader: reader), scope: scope)
        return unsafeBitCast(try U(storedJSON: object), to: T.self)
    }

    /// Decodes the value at `start` (the path names its container) as the member or element `key`.
    /// A scalar is read without pushing its key; only its error, if any, is made again with the key.
    @inline(__always)
    func decodeValue<T: Decodable>(_ type: T.Type, at start: Int, in scope: StoredScope, key: any CodingKey) throws -> T {
        if Self.isScalar(T.self) {
            do { return try scalar(T.self, at: start) } catch {
                return try at(scope, key) { try scalar(T.self, at: start) }
            }
        }
        return try at(scope, key) { try construct(T.self, at: start) }
    }

    /// Whether `T` is one of the scalars read without a container: the common ones, and those
    /// `JSONDecoder` reads its own way. (Metatype comparisons: no `T?` is made, whose metadata
    /// an unspecialized generic would look up on every call.)
    @inline(__always)
    static func isScalar<T>(_ type: T.Type) -> Bool {
        T.self == String.self || T.self == Date.self || T.self == Int.self || T.self == UInt64.self || T.self == Bool.self
            || T.self == Double.self || T.self == Data.self || T.self == URL.self || T.self == Decimal.self
    }

    /// The value at `start` as `T`, one of the ``isScalar(_:)`` types. (Each branch has checked that
    /// `T` is the type it makes, so the casts are identities.)
    func scalar<T: Decodable>(_ type: T.Type, at start: Int) throws -> T {
        if T.self == String.self { return unsafeBitCast(try string(at: start), to: T.self) }
        if T.self == Date.self { return unsafeBitCast(Date(timeIntervalSinceReferenceDate: try number(Double.self, at: start)), to: T.self) }
        if T.self == Int.self { return unsafeBitCast(try number(Int.self, at: start), to: T.self) }
        if T.self == UInt64.self { return unsafeBitCast(try number(UInt64.self, at: start), to: T.self) }
        if T.self == Bool.self { return unsafeBitCast(try bool(at: start), to: T.self) }
        if T.self == Double.self { return unsafeBitCast(try number(Double.self, at: start), to: T.self) }
        if T.self == Data.self {
            let text = try string(at: start)
            guard let data = Data(base64Encoded: text) else { throw corrupted("the string is not base64 data") }
            return unsafeBitCast(data, to: T.self)
        }
        if T.self == URL.self {
            let text = try string(at: start)
            guard let url = URL(string: text) else { throw corrupted("invalid URL string") }
            return unsafeBitCast(url, to: T.self)
        }
        precondition(T.self == Decimal.self, "\(T.self) is not a scalar")
        let span = try numberSpan(at: start, for: Decimal.self)
        guard let decimal = Decimal(string: reader.text(span), locale: Locale(identifier: "en_US_POSIX")) else {
            throw corrupted("number \(reader.text(span)) is not representable as Decimal")
        }
        return unsafeBitCast(decimal, to: T.self)
    }

    /// Where the value at `start` ends: known if it was just decoded to its end, scanned otherwise.
    func end(of start: Int) throws(JSONReadError) -> Int {
        if lastEnd.start == start { return lastEnd.end }
        let end = try reader.skipValue(at: start, depth: path.count)
        lastEnd = (start, end)
        return end
    }

    func finished(_ start: Int, at end: Int) { lastEnd = (start, end) }

    // MARK: Scalars

    func string(at start: Int) throws -> String {
        guard reader.byte(start) == UInt8(ascii: "\"") else { throw try mismatch(String.self, at: start) }
        let span = try reader.scanString(at: start)
        finished(start, at: span.end)
        return try reader.string(span)
    }

    func bool(at start: Int) throws -> Bool {
        switch reader.byte(start) {
        case UInt8(ascii: "t"): finished(start, at: try reader.literal("true", at: start)); return true
        case UInt8(ascii: "f"): finished(start, at: try reader.literal("false", at: start)); return false
        default: throw try mismatch(Bool.self, at: start)
        }
    }

    func numberSpan<T>(at start: Int, for type: T.Type) throws -> JSONReader.NumberSpan {
        guard let byte = reader.byte(start), byte == UInt8(ascii: "-") || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) else {
            throw try mismatch(T.self, at: start)
        }
        let span = try reader.scanNumber(at: start)
        finished(start, at: span.end)
        return span
    }

    func number<T: FixedWidthInteger>(_ type: T.Type, at start: Int) throws -> T {
        let span = try numberSpan(at: start, for: T.self)
        guard let value = reader.integer(span, as: T.self) else {
            throw corrupted("number \(reader.text(span)) does not fit in \(T.self)")
        }
        return value
    }

    func number(_ type: Double.Type, at start: Int) throws -> Double {
        let span = try numberSpan(at: start, for: Double.self)
        guard let value = reader.double(span) else { throw corrupted("number \(reader.text(span)) does not fit in Double") }
        return value
    }

    func number(_ type: Float.Type, at start: Int) throws -> Float {
        let value = try number(Double.self, at: start)
        guard let float = Float(exactly: value) ?? (abs(value) <= Double(Float.greatestFiniteMagnitude) ? Float(value) : nil) else {
            throw corrupted("number \(value) does not fit in Float")
        }
        return float
    }

    // MARK: Errors

    func corrupted(_ message: String) -> DecodingError {
        .dataCorrupted(DecodingError.Context(codingPath: path, debugDescription: message))
    }

    /// The error for a value of the wrong kind: `valueNotFound` for `null`, `typeMismatch` otherwise.
    func mismatch<T>(_ type: T.Type, at start: Int) throws -> DecodingError {
        guard start < reader.count else { throw reader.expected("a value", at: start) }
        let found: String
        switch reader.bytes[start] {
        case UInt8(ascii: "n"):
            _ = try reader.literal("null", at: start)
            return .valueNotFound(T.self, DecodingError.Context(codingPath: path, debugDescription: "Expected \(T.self) value but found null instead."))
        case UInt8(ascii: "\""): found = "a string"
        case UInt8(ascii: "{"): found = "a dictionary"
        case UInt8(ascii: "["): found = "an array"
        case UInt8(ascii: "t"), UInt8(ascii: "f"): found = "bool"
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): found = "number"
        default: throw reader.expected("a value", at: start)
        }
        return .typeMismatch(T.self, DecodingError.Context(codingPath: path, debugDescription: "Expected to decode \(T.self) but found \(found) instead."))
    }

    // MARK: Decoder

    /// Checks that the value at `start` opens a container (`open`) and is within the depth limit.
    func checkContainer<T>(_ open: UInt8, _ type: T.Type, at start: Int) throws {
        guard reader.byte(start) == open else { throw try mismatch(T.self, at: start) }
        guard path.count < reader.limits.maxDepth else { throw reader.tooDeep(at: start) }
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        let start = position
        try checkContainer(UInt8(ascii: "{"), [String: Any].self, at: start)
        return KeyedDecodingContainer(StoredKeyedContainer<Key>(decoder: self, object: StoredObject(start: start, reader: reader), scope: scope))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        let start = position
        try checkContainer(UInt8(ascii: "["), [Any].self, at: start)
        return try StoredUnkeyedContainer(decoder: self, start: start, scope: scope)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer {
        StoredSingleValueContainer(decoder: self, start: position, scope: scope)
    }

    /// Runs `body` with `path` set to the container's (`scope`) plus `key`, restored after (also on a throw).
    ///
    /// Containers are used last-made-first, so the path below a container's depth is its own and is
    /// only cut back, never copied: pushing a key allocates nothing.
    @inline(__always)
    func at<R>(_ scope: StoredScope, _ key: (any CodingKey)?, _ body: () throws -> R) rethrows -> R {
        if path.count > scope.depth { path.removeLast(path.count - scope.depth) }
        if !scope.keys.isEmpty { path.append(contentsOf: scope.keys) }
        if let key { path.append(key) }
        let pushed = scope.keys.count + (key == nil ? 0 : 1)
        defer { path.removeLast(min(pushed, path.count)) }
        return try body()
    }

    /// The scope of a container made for the value being decoded now.
    var scope: StoredScope { StoredScope(depth: path.count, keys: []) }
}

/// Where a container sits: the decoder's path up to `depth` is its parent's, then `keys` (the key
/// of a container made by `nestedContainer`, which outlives the call that made it; else none).
struct StoredScope {
    var depth: Int
    var keys: [any CodingKey]

    var count: Int { depth + keys.count }

    func path(in decoder: StoredJSONDecoder) -> [any CodingKey] { Array(decoder.path.prefix(depth)) + keys }

    func nested(_ key: any CodingKey) -> StoredScope { StoredScope(depth: depth, keys: keys + [key]) }
}

/// An array element's coding key, named as `JSONDecoder` names it.
struct StoredIndexKey: CodingKey {
    let intValue: Int?
    var stringValue: String { "Index \(intValue ?? 0)" }
    init(_ index: Int) { intValue = index }
    init?(stringValue: String) { nil }
    init?(intValue: Int) { self.intValue = intValue }
}

/// The members of one object found so far: read in order as they are asked for, and scanned
/// ahead only when a key is asked out of order (or is absent).
final class StoredObject {
    struct Member {
        var key: JSONReader.StringSpan
        var valueStart: Int
        /// Known once the value was decoded to its end or skipped; -1 before.
        var valueEnd: Int
    }

    let start: Int
    let reader: JSONReader
    @exclusivity(unchecked) var members: [Member] = []
    /// Every member found, and the object's end known.
    @exclusivity(unchecked) var complete = false
    @exclusivity(unchecked) var end = -1
    /// The member to try first: the one after the last read.
    @exclusivity(unchecked) var expect = 0

    init(start: Int, reader: JSONReader) {
        self.start = start
        self.reader = reader
    }

    /// Finds the next member after those found (or the object's end). The last found member's end
    /// must be known, or is found by scanning its value.
    func discoverNext(depth: Int) throws(JSONReadError) {
        var i: Int
        if let last = members.last {
            var valueEnd = last.valueEnd
            if valueEnd < 0 {
                valueEnd = try reader.skipValue(at: last.valueStart, depth: depth + 1)
                members[members.count - 1].valueEnd = valueEnd
            }
            i = reader.skipWhitespace(valueEnd)
            switch reader.byte(i) {
            case UInt8(ascii: ","): i = reader.skipWhitespace(i + 1)
            case UInt8(ascii: "}"):
                complete = true
                end = i + 1
                return
            default: throw reader.expected("',' or '}' in an object", at: i)
            }
        } else {
            i = reader.skipWhitespace(start + 1)
            if reader.byte(i) == UInt8(ascii: "}") {
                complete = true
                end = i + 1
                return
            }
        }
        guard reader.byte(i) == UInt8(ascii: "\"") else { throw reader.expected("a key string", at: i) }
        let key = try reader.scanString(at: i)
        i = reader.skipWhitespace(key.end)
        guard reader.byte(i) == UInt8(ascii: ":") else { throw reader.expected("':' after a key", at: i) }
        let valueStart = reader.skipWhitespace(i + 1)
        guard valueStart < reader.count else { throw reader.expected("a value", at: valueStart) }
        members.append(Member(key: key, valueStart: valueStart, valueEnd: -1))
    }

    /// Finds every member.
    func discoverAll(depth: Int) throws(JSONReadError) {
        while !complete { try discoverNext(depth: depth) }
    }

    /// The index of the member named `key`, nil if the object has none (the first, if written twice).
    func find(_ key: String, depth: Int) throws(JSONReadError) -> Int? {
        if expect < members.count {
            if try reader.string(members[expect].key, equals: key) { return hit(expect) }
        } else if !complete {
            try discoverNext(depth: depth)
            if !complete, try reader.string(members[members.count - 1].key, equals: key) { return hit(members.count - 1) }
        }
        for index in members.indices {
            if try reader.string(members[index].key, equals: key) { return hit(index) }
        }
        while !complete {
            try discoverNext(depth: depth)
            if !complete, try reader.string(members[members.count - 1].key, equals: key) { return hit(members.count - 1) }
        }
        return nil
    }

    private func hit(_ index: Int) -> Int {
        expect = index + 1
        return index
    }

    /// Records where member `index`'s value ends, and notices when it was the object's last.
    func ended(_ index: Int, at valueEnd: Int) throws(JSONReadError) {
        members[index].valueEnd = valueEnd
        guard !complete, index == members.count - 1 else { return }
        let i = reader.skipWhitespace(valueEnd)
        if reader.byte(i) == UInt8(ascii: "}") {
            complete = true
            end = i + 1
        }
    }
}

struct StoredKeyedContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let decoder: StoredJSONDecoder
    let object: StoredObject
    let scope: StoredScope

    var codingPath: [any CodingKey] { scope.path(in: decoder) }

    var allKeys: [Key] {
        do {
            try object.discoverAll(depth: scope.count)
            decoder.finished(object.start, at: object.end)
            return try object.members.compactMap { Key(stringValue: try decoder.reader.string($0.key)) }
        } catch {
            // `allKeys` cannot throw: a damaged object shows no keys, and the decode that follows
            // meets the damage (its end is never reached) and throws.
            return []
        }
    }

    func contains(_ key: Key) -> Bool {
        (try? find(key)) != nil
    }

    /// The member named `key`, nil when absent. Also tells the decoder where this object ends,
    /// once known, so the container above need not scan it again.
    private func find(_ key: Key) throws(JSONReadError) -> Int? {
        let index = try object.find(key.stringValue, depth: scope.count)
        if object.complete { decoder.finished(object.start, at: object.end) }
        return index
    }

    private func require(_ key: Key) throws -> Int {
        guard let index = try find(key) else {
            throw DecodingError.keyNotFound(key, DecodingError.Context(codingPath: codingPath,
                                                                      debugDescription: "No value associated with key \(key) (\"\(key.stringValue)\")."))
        }
        return index
    }

    /// Decodes member `index` as `T` and records where it ends.
    private func value<T: Decodable>(_ type: T.Type, _ index: Int, _ key: Key) throws -> T {
        let start = object.members[index].valueStart
        let value = try decoder.decodeValue(T.self, at: start, in: scope, key: key)
        if decoder.lastEnd.start == start { try object.ended(index, at: decoder.lastEnd.end) }
        if object.complete { decoder.finished(object.start, at: object.end) }
        return value
    }

    func decodeNil(forKey key: Key) throws -> Bool {
        let index = try require(key)
        let start = object.members[index].valueStart
        guard try decoder.reader.isNull(at: start) else { return false }
        try object.ended(index, at: start + 4)
        if object.complete { decoder.finished(object.start, at: object.end) }
        return true
    }

    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        try value(T.self, try require(key), key)
    }

    func decodeIfPresent<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? {
        try decodeIfPresent(T.self, key)
    }

    /// What every `decodeIfPresent` does: nil for an absent key or `null`.
    private func decodeIfPresent<T: Decodable>(_ type: T.Type, _ key: Key) throws -> T? {
        guard let index = try find(key) else { return nil }
        let start = object.members[index].valueStart
        if try decoder.reader.isNull(at: start) {
            try object.ended(index, at: start + 4)
            if object.complete { decoder.finished(object.start, at: object.end) }
            return nil
        }
        return try value(T.self, index, key)
    }

    // The scalar requirements, through the generic ones (which read scalars without a container).
    func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool { try value(Bool.self, try require(key), key) }
    func decode(_ type: String.Type, forKey key: Key) throws -> String { try value(String.self, try require(key), key) }
    func decode(_ type: Double.Type, forKey key: Key) throws -> Double { try value(Double.self, try require(key), key) }
    func decode(_ type: Float.Type, forKey key: Key) throws -> Float { try value(Float.self, try require(key), key) }
    func decode(_ type: Int.Type, forKey key: Key) throws -> Int { try value(Int.self, try require(key), key) }
    func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 { try value(Int8.self, try require(key), key) }
    func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 { try value(Int16.self, try require(key), key) }
    func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 { try value(Int32.self, try require(key), key) }
    func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 { try value(Int64.self, try require(key), key) }
    func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt { try value(UInt.self, try require(key), key) }
    func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 { try value(UInt8.self, try require(key), key) }
    func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 { try value(UInt16.self, try require(key), key) }
    func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 { try value(UInt32.self, try require(key), key) }
    func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 { try value(UInt64.self, try require(key), key) }

    func decodeIfPresent(_ type: Bool.Type, forKey key: Key) throws -> Bool? { try decodeIfPresent(Bool.self, key) }
    func decodeIfPresent(_ type: String.Type, forKey key: Key) throws -> String? { try decodeIfPresent(String.self, key) }
    func decodeIfPresent(_ type: Double.Type, forKey key: Key) throws -> Double? { try decodeIfPresent(Double.self, key) }
    func decodeIfPresent(_ type: Float.Type, forKey key: Key) throws -> Float? { try decodeIfPresent(Float.self, key) }
    func decodeIfPresent(_ type: Int.Type, forKey key: Key) throws -> Int? { try decodeIfPresent(Int.self, key) }
    func decodeIfPresent(_ type: Int8.Type, forKey key: Key) throws -> Int8? { try decodeIfPresent(Int8.self, key) }
    func decodeIfPresent(_ type: Int16.Type, forKey key: Key) throws -> Int16? { try decodeIfPresent(Int16.self, key) }
    func decodeIfPresent(_ type: Int32.Type, forKey key: Key) throws -> Int32? { try decodeIfPresent(Int32.self, key) }
    func decodeIfPresent(_ type: Int64.Type, forKey key: Key) throws -> Int64? { try decodeIfPresent(Int64.self, key) }
    func decodeIfPresent(_ type: UInt.Type, forKey key: Key) throws -> UInt? { try decodeIfPresent(UInt.self, key) }
    func decodeIfPresent(_ type: UInt8.Type, forKey key: Key) throws -> UInt8? { try decodeIfPresent(UInt8.self, key) }
    func decodeIfPresent(_ type: UInt16.Type, forKey key: Key) throws -> UInt16? { try decodeIfPresent(UInt16.self, key) }
    func decodeIfPresent(_ type: UInt32.Type, forKey key: Key) throws -> UInt32? { try decodeIfPresent(UInt32.self, key) }
    func decodeIfPresent(_ type: UInt64.Type, forKey key: Key) throws -> UInt64? { try decodeIfPresent(UInt64.self, key) }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
        let index = try require(key)
        let start = object.members[index].valueStart
        try decoder.at(scope, key) { try decoder.checkContainer(UInt8(ascii: "{"), [String: Any].self, at: start) }
        return KeyedDecodingContainer(StoredKeyedContainer<NestedKey>(decoder: decoder, object: StoredObject(start: start, reader: decoder.reader),
                                                                      scope: scope.nested(key)))
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        let index = try require(key)
        let start = object.members[index].valueStart
        try decoder.at(scope, key) { try decoder.checkContainer(UInt8(ascii: "["), [Any].self, at: start) }
        return try StoredUnkeyedContainer(decoder: decoder, start: start, scope: scope.nested(key))
    }

    func superDecoder() throws -> any Decoder {
        try superDecoder(named: "super", key: nil)
    }

    func superDecoder(forKey key: Key) throws -> any Decoder {
        try superDecoder(named: key.stringValue, key: key)
    }

    private func superDecoder(named name: String, key: (any CodingKey)?) throws -> any Decoder {
        let superKey = key ?? StoredSuperKey()
        guard let index = try object.find(name, depth: scope.count) else {
            // `JSONDecoder` hands out a decoder of `null` here; no stored type asks for a missing one.
            throw DecodingError.keyNotFound(superKey, DecodingError.Context(codingPath: codingPath, debugDescription: "No value associated with key \(name)."))
        }
        return StoredJSONDecoder(reader: decoder.reader, position: object.members[index].valueStart, path: codingPath + [superKey])
    }
}

private struct StoredSuperKey: CodingKey {
    var stringValue: String { "super" }
    var intValue: Int? { nil }
    init() {}
    init?(stringValue: String) { nil }
    init?(intValue: Int) { nil }
}

struct StoredUnkeyedContainer: UnkeyedDecodingContainer {
    let decoder: StoredJSONDecoder
    let start: Int
    let scope: StoredScope
    /// Where the next element starts, or the index after `]` once at the end.
    private var next: Int
    private(set) var currentIndex = 0
    private(set) var isAtEnd = false

    init(decoder: StoredJSONDecoder, start: Int, scope: StoredScope) throws {
        self.decoder = decoder
        self.start = start
        self.scope = scope
        let first = decoder.reader.skipWhitespace(start + 1)
        if decoder.reader.byte(first) == UInt8(ascii: "]") {
            isAtEnd = true
            next = first + 1
            decoder.finished(start, at: next)
        } else {
            guard first < decoder.reader.count else { throw decoder.reader.expected("a value or ']'", at: first) }
            next = first
        }
    }

    var codingPath: [any CodingKey] { scope.path(in: decoder) }

    var count: Int? {
        guard !isAtEnd else { return currentIndex }
        var count = currentIndex
        var i = next
        while true {
            guard let end = try? decoder.reader.skipValue(at: i, depth: scope.count + 1) else { return nil }
            count += 1
            i = decoder.reader.skipWhitespace(end)
            switch decoder.reader.byte(i) {
            case UInt8(ascii: ","): i = decoder.reader.skipWhitespace(i + 1)
            case UInt8(ascii: "]"): return count
            default: return nil
            }
        }
    }

    private func atEndError<T>(_ type: T.Type) -> DecodingError {
        .valueNotFound(T.self, DecodingError.Context(codingPath: codingPath + [StoredIndexKey(currentIndex)], debugDescription: "Unkeyed container is at end."))
    }

    /// Moves past the element that started at `elementStart` and ended at `knownEnd` (scanned if unknown).
    private mutating func advance(from elementStart: Int, knownEnd: Int?) throws(JSONReadError) {
        var end = knownEnd ?? -1
        if end < 0 { end = try decoder.reader.skipValue(at: elementStart, depth: scope.count + 1) }
        currentIndex += 1
        var i = decoder.reader.skipWhitespace(end)
        switch decoder.reader.byte(i) {
        case UInt8(ascii: ","):
            i = decoder.reader.skipWhitespace(i + 1)
            guard i < decoder.reader.count else { throw decoder.reader.expected("a value", at: i) }
            next = i
        case UInt8(ascii: "]"):
            isAtEnd = true
            next = i + 1
            decoder.finished(start, at: next)
        default:
            throw decoder.reader.expected("',' or ']' in an array", at: i)
        }
    }

    mutating func decodeNil() throws -> Bool {
        guard !isAtEnd else { throw atEndError(Any?.self) }
        let elementStart = next
        guard try decoder.reader.isNull(at: elementStart) else { return false }
        try advance(from: elementStart, knownEnd: elementStart + 4)
        return true
    }

    /// What every `decode` does.
    private mutating func element<T: Decodable>(_ type: T.Type) throws -> T {
        guard !isAtEnd else { throw atEndError(T.self) }
        let elementStart = next
        let value = try decoder.decodeValue(T.self, at: elementStart, in: scope, key: StoredIndexKey(currentIndex))
        try advance(from: elementStart, knownEnd: decoder.lastEnd.start == elementStart ? decoder.lastEnd.end : nil)
        return value
    }

    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T { try element(T.self) }
    mutating func decode(_ type: Bool.Type) throws -> Bool { try element(Bool.self) }
    mutating func decode(_ type: String.Type) throws -> String { try element(String.self) }
    mutating func decode(_ type: Double.Type) throws -> Double { try element(Double.self) }
    mutating func decode(_ type: Float.Type) throws -> Float { try element(Float.self) }
    mutating func decode(_ type: Int.Type) throws -> Int { try element(Int.self) }
    mutating func decode(_ type: Int8.Type) throws -> Int8 { try element(Int8.self) }
    mutating func decode(_ type: Int16.Type) throws -> Int16 { try element(Int16.self) }
    mutating func decode(_ type: Int32.Type) throws -> Int32 { try element(Int32.self) }
    mutating func decode(_ type: Int64.Type) throws -> Int64 { try element(Int64.self) }
    mutating func decode(_ type: UInt.Type) throws -> UInt { try element(UInt.self) }
    mutating func decode(_ type: UInt8.Type) throws -> UInt8 { try element(UInt8.self) }
    mutating func decode(_ type: UInt16.Type) throws -> UInt16 { try element(UInt16.self) }
    mutating func decode(_ type: UInt32.Type) throws -> UInt32 { try element(UInt32.self) }
    mutating func decode(_ type: UInt64.Type) throws -> UInt64 { try element(UInt64.self) }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
        guard !isAtEnd else { throw atEndError(KeyedDecodingContainer<NestedKey>.self) }
        let elementStart = next
        let key = StoredIndexKey(currentIndex)
        try decoder.at(scope, key) { try decoder.checkContainer(UInt8(ascii: "{"), [String: Any].self, at: elementStart) }
        try advance(from: elementStart, knownEnd: nil)
        return KeyedDecodingContainer(StoredKeyedContainer<NestedKey>(decoder: decoder, object: StoredObject(start: elementStart, reader: decoder.reader),
                                                                      scope: scope.nested(key)))
    }

    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
        guard !isAtEnd else { throw atEndError((any UnkeyedDecodingContainer).self) }
        let elementStart = next
        let key = StoredIndexKey(currentIndex)
        try decoder.at(scope, key) { try decoder.checkContainer(UInt8(ascii: "["), [Any].self, at: elementStart) }
        try advance(from: elementStart, knownEnd: nil)
        return try StoredUnkeyedContainer(decoder: decoder, start: elementStart, scope: scope.nested(key))
    }

    mutating func superDecoder() throws -> any Decoder {
        guard !isAtEnd else { throw atEndError((any Decoder).self) }
        let elementStart = next
        let path = codingPath + [StoredIndexKey(currentIndex)]
        try advance(from: elementStart, knownEnd: nil)
        return StoredJSONDecoder(reader: decoder.reader, position: elementStart, path: path)
    }
}

struct StoredSingleValueContainer: SingleValueDecodingContainer {
    let decoder: StoredJSONDecoder
    let start: Int
    let scope: StoredScope

    var codingPath: [any CodingKey] { scope.path(in: decoder) }

    func decodeNil() -> Bool {
        guard (try? decoder.reader.isNull(at: start)) == true else { return false }
        decoder.finished(start, at: start + 4)
        return true
    }

    func decode<T: Decodable>(_ type: T.Type) throws -> T { try decoder.at(scope, nil) { try decoder.decodeValue(T.self, at: start) } }
    func decode(_ type: Bool.Type) throws -> Bool { try decoder.at(scope, nil) { try decoder.bool(at: start) } }
    func decode(_ type: String.Type) throws -> String { try decoder.at(scope, nil) { try decoder.string(at: start) } }
    func decode(_ type: Double.Type) throws -> Double { try decoder.at(scope, nil) { try decoder.number(Double.self, at: start) } }
    func decode(_ type: Float.Type) throws -> Float { try decoder.at(scope, nil) { try decoder.number(Float.self, at: start) } }
    func decode(_ type: Int.Type) throws -> Int { try decoder.at(scope, nil) { try decoder.number(Int.self, at: start) } }
    func decode(_ type: Int8.Type) throws -> Int8 { try decoder.at(scope, nil) { try decoder.number(Int8.self, at: start) } }
    func decode(_ type: Int16.Type) throws -> Int16 { try decoder.at(scope, nil) { try decoder.number(Int16.self, at: start) } }
    func decode(_ type: Int32.Type) throws -> Int32 { try decoder.at(scope, nil) { try decoder.number(Int32.self, at: start) } }
    func decode(_ type: Int64.Type) throws -> Int64 { try decoder.at(scope, nil) { try decoder.number(Int64.self, at: start) } }
    func decode(_ type: UInt.Type) throws -> UInt { try decoder.at(scope, nil) { try decoder.number(UInt.self, at: start) } }
    func decode(_ type: UInt8.Type) throws -> UInt8 { try decoder.at(scope, nil) { try decoder.number(UInt8.self, at: start) } }
    func decode(_ type: UInt16.Type) throws -> UInt16 { try decoder.at(scope, nil) { try decoder.number(UInt16.self, at: start) } }
    func decode(_ type: UInt32.Type) throws -> UInt32 { try decoder.at(scope, nil) { try decoder.number(UInt32.self, at: start) } }
    func decode(_ type: UInt64.Type) throws -> UInt64 { try decoder.at(scope, nil) { try decoder.number(UInt64.self, at: start) } }
}

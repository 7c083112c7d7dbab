import Foundation

/// A type that ``JSON/decodeStored(_:from:limits:)`` reads by hand from an object's members
/// instead of through its `init(from:)`: for the few types a start reads a million of (an
/// entry's envelope, audit records), where `Codable`'s generic containers cost more than the
/// reading itself.
///
/// `init(storedJSON:)` must read exactly what the synthesized `init(from:)` reads (`decode` for
/// each required member, `decodeIfPresent` for each optional one): `StoredDecoderEquivalenceTests`
/// decodes each such type both ways and compares.
public protocol StoredJSONDecodable: Decodable {
    /// Reads the value from the members of `object`.
    /// - Throws: `DecodingError` as `init(from:)` would, or ``JSONReadError`` for input that is not JSON.
    init(storedJSON object: StoredJSONObject) throws
}

/// The members of one JSON object being decoded by ``JSON/decodeStored(_:from:limits:)``, read by
/// name. Members are found fastest in the order they were written; any order works.
///
/// Valid only inside the `init(storedJSON:)` it is handed to.
public struct StoredJSONObject {
    let decoder: StoredJSONDecoder
    let object: StoredObject
    let scope: StoredScope

    init(decoder: StoredJSONDecoder, object: StoredObject, scope: StoredScope) {
        self.decoder = decoder
        self.object = object
        self.scope = scope
    }

    /// The keys from the top value to this object (for errors).
    public var codingPath: [any CodingKey] { scope.path(in: decoder) }

    /// The member `key` as `T`.
    /// - Throws: `DecodingError.keyNotFound` when absent, `.valueNotFound` for `null`, `.typeMismatch`
    ///   for a value of another kind; ``JSONReadError`` for input that is not JSON.
    public func decode<T: Decodable>(_ type: T.Type, forKey key: String) throws -> T {
        try value(T.self, try require(key), key)
    }

    /// The member `key` as `T`, nil when absent or `null`.
    /// - Throws: as ``decode(_:forKey:)``, but not for an absent member or `null`.
    public func decodeIfPresent<T: Decodable>(_ type: T.Type, forKey key: String) throws -> T? {
        guard let index = try find(key) else { return nil }
        let start = object.members[index].valueStart
        if try decoder.reader.isNull(at: start) {
            try ended(index, at: start + 4)
            return nil
        }
        return try value(T.self, index, key)
    }

    /// A required string member.
    public func string(_ key: String) throws -> String { try decode(String.self, forKey: key) }
    /// An optional string member.
    public func stringIfPresent(_ key: String) throws -> String? { try decodeIfPresent(String.self, forKey: key) }
    /// A required date member (seconds since 2001, as `Date` encodes itself).
    public func date(_ key: String) throws -> Date { try decode(Date.self, forKey: key) }
    /// A required unsigned integer member.
    public func uint64(_ key: String) throws -> UInt64 { try decode(UInt64.self, forKey: key) }

    /// An optional array of strings, read without a container per element.
    public func stringsIfPresent(_ key: String) throws -> [String]? {
        guard let index = try find(key) else { return nil }
        let start = object.members[index].valueStart
        let reader = decoder.reader
        if try reader.isNull(at: start) {
            try ended(index, at: start + 4)
            return nil
        }
        guard reader.byte(start) == UInt8(ascii: "[") else { return try value([String].self, index, key) }
        var strings: [String] = []
        var i = reader.skipWhitespace(start + 1)
        if reader.byte(i) != UInt8(ascii: "]") {
            while true {
                // Anything but a string takes the general path, which names the element in its error.
                guard reader.byte(i) == UInt8(ascii: "\"") else { return try value([String].self, index, key) }
                let span = try reader.scanString(at: i)
                strings.append(try reader.string(span))
                i = reader.skipWhitespace(span.end)
                if reader.byte(i) == UInt8(ascii: ",") {
                    i = reader.skipWhitespace(i + 1)
                } else if reader.byte(i) == UInt8(ascii: "]") {
                    break
                } else {
                    throw reader.expected("',' or ']' in an array", at: i)
                }
            }
        }
        try ended(index, at: i + 1)
        return strings
    }

    // MARK: Bookkeeping shared with the keyed container

    /// The member named `key`, nil when absent; tells the decoder where the object ends once known.
    func find(_ key: String) throws(JSONReadError) -> Int? {
        let index = try object.find(key, depth: scope.count)
        if object.complete { decoder.finished(object.start, at: object.end) }
        return index
    }

    func require(_ key: String) throws -> Int {
        guard let index = try find(key) else {
            let name = StoredNameKey(key)
            throw DecodingError.keyNotFound(name, DecodingError.Context(codingPath: scope.path(in: decoder),
                                                                       debugDescription: "No value associated with key \(name) (\"\(key)\")."))
        }
        return index
    }

    /// Decodes member `index` as `T` and records where it ends.
    func value<T: Decodable>(_ type: T.Type, _ index: Int, _ key: String) throws -> T {
        let start = object.members[index].valueStart
        let value = try decoder.decodeValue(T.self, at: start, in: scope, key: StoredNameKey(key))
        if decoder.lastEnd.start == start { try object.ended(index, at: decoder.lastEnd.end) }
        if object.complete { decoder.finished(object.start, at: object.end) }
        return value
    }

    func ended(_ index: Int, at end: Int) throws(JSONReadError) {
        try object.ended(index, at: end)
        if object.complete { decoder.finished(object.start, at: object.end) }
    }
}

/// A member's name as a coding key (for paths in errors).
struct StoredNameKey: CodingKey {
    let stringValue: String
    var intValue: Int? { nil }
    init(_ name: String) { stringValue = name }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

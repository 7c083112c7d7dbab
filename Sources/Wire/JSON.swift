import Foundation

/// The one JSON configuration of the API, so every body reads and writes dates and errors the
/// same way.
///
/// Foundation's `JSONEncoder` and `JSONDecoder` are not `Sendable`, so they are never shared:
/// ``makeEncoder()`` and ``makeDecoder()`` build a configured one per call, which is cheap next
/// to the encoding itself.
///
/// Dates are RFC 3339 strings (``RFC3339``): written in UTC with `Z` and whole seconds
/// (`2027-03-23T10:00:00Z`), read with any offset (`Z`, `+01:00`, `-05:30`) and with or without
/// fractional seconds. The broker, the client and the fuzz targets all use this one
/// configuration.
public enum JSON {
    /// A new encoder with the API's configuration: RFC 3339 UTC dates, slashes not escaped, keys
    /// sorted (Foundation's order is otherwise unspecified, and stable bytes make responses
    /// comparable in tests and logs).
    public static func makeEncoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(RFC3339.format(date))
        }
        return encoder
    }

    /// A new decoder with the API's configuration: dates as RFC 3339 with any offset.
    public static func makeDecoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let container = try decoder.singleValueContainer()
            let text = try container.decode(String.self)
            guard let date = RFC3339.parse(text) else {
                throw DecodingError.dataCorruptedError(in: container, debugDescription: RFC3339.expectation)
            }
            return date
        }
        return decoder
    }

    /// Encodes `value` as compact UTF-8 JSON. A ``JSONWritable`` value writes itself (the same
    /// bytes, without the encoder).
    ///
    /// - Throws: `EncodingError` when the value cannot be represented (a non-finite number, or a
    ///   custom `encode(to:)` that throws) — a bug in the caller, not in the client's input.
    public static func encode(_ value: some Encodable) throws -> [UInt8] {
        if let writable = value as? any JSONWritable { return writable.jsonBytes() }
        return try JSONWriter.encode(value)
    }

    /// Encodes `value` in the format of Foundation's `JSONEncoder()` with its defaults (dates
    /// as seconds since 2001, keys in encoding order), several times faster: for what the
    /// broker stores (journal entries, snapshots), which `JSONDecoder()` reads back exactly.
    ///
    /// - Throws: `EncodingError` as for ``encode(_:)``.
    public static func encodeStored(_ value: some Encodable) throws -> [UInt8] {
        if let writable = value as? any StoredJSONWritable {
            var out = JSONOutput(capacity: 512)
            if (try? writable.writeStoredJSON(to: &out)) != nil { return out.bytes }
        }
        return try encodeStoredThroughEncodable(value)
    }

    /// ``encodeStored(_:)`` through `Encodable` only: streamed when the value fills its containers
    /// in order (synthesized `Codable` always does); the tree writer otherwise, and for the error
    /// of a value that cannot be written.
    static func encodeStoredThroughEncodable(_ value: some Encodable) throws -> [UInt8] {
        if let bytes = StoredJSONStream.encode(value, byHand: false) { return bytes }
        return try JSONWriter.encode(value, style: .stored)
    }

    /// Decodes what ``encodeStored(_:)`` wrote (or Foundation's `JSONEncoder()` with its defaults):
    /// the same values `JSONDecoder()` reads, several times faster (``StoredJSONDecoder``).
    ///
    /// - Throws: ``JSONReadError`` when `bytes` are not JSON, are nested deeper or are larger than
    ///   `limits` allow, or hold anything after the value; `DecodingError` when the JSON does not
    ///   have `T`'s shape.
    public static func decodeStored<T: Decodable>(_ type: T.Type, from bytes: [UInt8], limits: JSONReadLimits = .stored) throws -> T {
        try bytes.withUnsafeBufferPointer { try StoredJSONDecoder.decode(T.self, from: $0, limits: limits) }
    }

    /// Decodes a request body.
    ///
    /// - Throws: ``JSONBodyError`` (`400 invalid_json`) when the body is empty, is not JSON, or
    ///   does not have the expected shape, has a key the type does not know (a misspelling
    ///   must not be ignored), or repeats a key; its message names the key path and what was
    ///   expected, e.g. `"meeting.startsAt" must be a string`.
    public static func decode<T: Decodable>(_ type: T.Type, from body: [UInt8]) throws(JSONBodyError) -> T {
        if body.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D }) {
            throw JSONBodyError(message: "request body is empty; expected a JSON object", keyPath: nil)
        }
        let data = Data(body)
        let value: T
        do {
            value = try makeDecoder().decode(type, from: data)
        } catch let DecodingError.dataCorrupted(context) where context.codingPath.isEmpty {
            // Foundation reports a number that does not fit (1.5 or 1e30 for an Int) as invalid
            // JSON without a key path; tell the client which of the two it was.
            if (try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])) != nil {
                throw JSONBodyError(message: JSONBodyError.numberDoesNotFit, keyPath: nil)
            }
            throw JSONBodyError(message: "request body is not valid JSON", keyPath: nil)
        } catch let error as DecodingError {
            throw JSONBodyError(error)
        } catch {
            throw JSONBodyError(message: "request body is not valid JSON", keyPath: nil)
        }
        if let problem = JSONStrictness.problem(in: body, decoded: value) { throw problem }
        return value
    }
}

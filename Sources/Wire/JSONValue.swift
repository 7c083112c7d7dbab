import Foundation

/// Any JSON value, on both sides of the wire.
///
/// The broker keeps case field values in it: it never interprets them, it stores them,
/// releases them to the agencies the sharing policy allows and otherwise keeps them opaque.
/// The client reads the broker's answers with it by key, without mirroring every server type
/// (so it keeps working when the broker adds keys), and checks files a user wrote before they
/// are sent.
///
/// Numbers are kept as `Double`, so integers beyond 2^53 lose precision. Encoded, a whole
/// number is written without a fraction (`1`, not `1.0`), by ``JSON`` and by `JSONEncoder`.
public enum JSONValue: Codable, Sendable, Hashable, CustomStringConvertible {
    /// JSON `null`.
    case null
    /// `true` or `false`.
    case bool(Bool)
    /// Any JSON number.
    case number(Double)
    /// A string.
    case string(String)
    /// An array, in order.
    case array([JSONValue])
    /// An object; key order is not significant.
    case object([String: JSONValue])

    /// Text that is not JSON; ``message`` says where and why, e.g.
    /// `not valid JSON: Unexpected end of file`.
    public struct NotJSON: Error, Sendable, CustomStringConvertible {
        /// `not valid JSON: ` and the reader's one-line reason.
        public let message: String
        /// The same as ``message``.
        public var description: String { message }
    }

    /// Parses UTF-8 JSON text; any value may be at the top.
    /// - Throws: ``NotJSON`` naming what could not be read.
    public init(parsing bytes: [UInt8]) throws(NotJSON) {
        do { self = try JSONDecoder().decode(JSONValue.self, from: Data(bytes)) } catch {
            throw NotJSON(message: "not valid JSON: \(Self.reason(error))")
        }
    }

    /// Decodes any JSON value.
    /// - Throws: `DecodingError` if the input is not JSON.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else if let value = try? container.decode([String: JSONValue].self) {
            self = .object(value)
        } else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "not a JSON value")
        }
    }

    /// Encodes the value as the JSON it stands for.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .number(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }

    /// The member `key` of an object, `.null` otherwise (also when the member is absent).
    public subscript(_ key: String) -> JSONValue {
        if case .object(let members) = self { return members[key] ?? .null }
        return .null
    }

    /// The value if this is a string.
    public var string: String? { if case .string(let value) = self { return value } else { return nil } }
    /// The value if this is a boolean.
    public var bool: Bool? { if case .bool(let value) = self { return value } else { return nil } }
    /// The value if this is a whole number.
    public var int: Int? { if case .number(let value) = self, value == value.rounded() { return Int(value) } else { return nil } }
    /// The elements if this is an array, otherwise none.
    public var array: [JSONValue] { if case .array(let value) = self { return value } else { return [] } }
    /// The members if this is an object.
    public var object: [String: JSONValue]? { if case .object(let value) = self { return value } else { return nil } }
    /// Whether this is `null` (or an absent member).
    public var isNull: Bool { self == .null }
    /// An RFC 3339 string as a date (any offset, see ``RFC3339``).
    public var date: Date? { string.flatMap(RFC3339.parse) }

    /// Compact JSON text with sorted keys, as the broker writes it.
    public var description: String {
        (try? String(decoding: JSON.encode(self), as: UTF8.self)) ?? "null"
    }

    /// How a value reads in a table cell: strings bare, everything else as JSON.
    public var displayText: String {
        if case .string(let value) = self { return value }
        return description
    }

    /// The JSON type name, for error messages.
    public var typeName: String {
        switch self {
        case .null: return "null"
        case .bool: return "a boolean"
        case .number: return "a number"
        case .string: return "a string"
        case .array: return "an array"
        case .object: return "an object"
        }
    }

    /// The size of this value's compact JSON encoding in bytes, estimated without
    /// encoding (escapes are not counted; numbers count as 24): enough to enforce
    /// the case size limits.
    public var approximateSize: Int {
        switch self {
        case .null: return 4
        case .bool: return 5
        case .number: return 24
        case .string(let value): return value.utf8.count + 2
        case .array(let values): return 2 + values.reduce(0) { $0 + $1.approximateSize + 1 }
        case .object(let values):
            return 2 + values.reduce(0) { $0 + $1.key.utf8.count + 4 + $1.value.approximateSize }
        }
    }

    /// How deeply arrays and objects nest inside this value (a scalar is 0).
    public var depth: Int {
        switch self {
        case .array(let values): return 1 + (values.map(\.depth).max() ?? 0)
        case .object(let values): return 1 + (values.values.map(\.depth).max() ?? 0)
        default: return 0
        }
    }

    /// Every string found in the value (keys and strings, recursively) — used to
    /// check that a released reply holds no withheld value.
    public var allStrings: [String] {
        switch self {
        case .string(let value): return [value]
        case .array(let values): return values.flatMap(\.allStrings)
        case .object(let values): return values.flatMap { [$0.key] + $0.value.allStrings }
        default: return []
        }
    }

    /// A one-line reason from a decoding error: Foundation's own words for text that is not
    /// JSON rather than the wrapper's.
    static func reason(_ error: any Error) -> String {
        guard let error = error as? DecodingError else { return "\(error)" }
        switch error {
        case .dataCorrupted(let context):
            let underlying = (context.underlyingError as NSError?)?.userInfo[NSDebugDescriptionErrorKey] as? String
            return underlying ?? context.debugDescription
        default: return "\(error)"
        }
    }
}

import Foundation

/// Any JSON value, for reading the broker's answers by key without mirroring
/// every server type (the client keeps working when the broker adds keys) and
/// for checking files a user wrote before they are sent.
public enum JSON: Sendable, Equatable, Codable, CustomStringConvertible {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSON])
    case object([String: JSON])

    /// Parses UTF-8 JSON text.
    /// - Throws: `ClientError` `.protocolViolation` naming what could not be read.
    public init(parsing bytes: [UInt8]) throws {
        do { self = try JSONDecoder().decode(JSON.self, from: Data(bytes)) } catch {
            throw ClientError(.protocolViolation, "not valid JSON: \(Self.describe(error))")
        }
    }

    /// Decodes any JSON value.
    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() { self = .null }
        else if let value = try? container.decode(Bool.self) { self = .bool(value) }
        else if let value = try? container.decode(Double.self) { self = .number(value) }
        else if let value = try? container.decode(String.self) { self = .string(value) }
        else if let value = try? container.decode([JSON].self) { self = .array(value) }
        else { self = .object(try container.decode([String: JSON].self)) }
    }

    /// Encodes the value; whole numbers without a fraction, as the broker writes them.
    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .number(let value):
            if value == value.rounded(), abs(value) < 1e15 { try container.encode(Int64(value)) } else { try container.encode(value) }
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }

    /// The member `key` of an object, `.null` otherwise.
    public subscript(_ key: String) -> JSON {
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
    public var array: [JSON] { if case .array(let value) = self { return value } else { return [] } }
    /// The members if this is an object.
    public var object: [String: JSON]? { if case .object(let value) = self { return value } else { return nil } }
    /// Whether this is `null` (or an absent member).
    public var isNull: Bool { self == .null }
    /// An RFC 3339 string member as a date.
    public var date: Date? { string.flatMap(ClientJSON.parseRFC3339) }

    /// Compact JSON text with sorted keys.
    public var description: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? String(decoding: encoder.encode(self), as: UTF8.self)) ?? "null"
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

    /// A one-line reason from a decoding error, with the path where it happened.
    static func describe(_ error: Error) -> String {
        guard let error = error as? DecodingError else { return "\(error)" }
        switch error {
        case .dataCorrupted(let context):
            let underlying = (context.underlyingError as NSError?)?.userInfo[NSDebugDescriptionErrorKey] as? String
            return underlying ?? context.debugDescription
        default: return "\(error)"
        }
    }
}

import Foundation

/// An arbitrary JSON value: what a case field may hold.
///
/// The broker never interprets case field values; it stores them, releases them
/// to the agencies the sharing policy allows and otherwise keeps them opaque.
/// Numbers are kept as `Double`, so integers beyond 2^53 lose precision.
public enum JSONValue: Codable, Sendable, Equatable, Hashable {
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

    /// The string, if this is a string.
    public var stringValue: String? {
        if case .string(let value) = self { return value }
        return nil
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
}

import Foundation

/// A request body that is not the JSON the endpoint expects: what was wrong and at which key
/// path, in words a client can act on. It lives with the JSON reader that finds these problems
/// (``JSON/decode(_:from:)``, the strictness checks); HTTPServer answers it `400 invalid_json`.
public struct JSONBodyError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The envelope code of every JSON body error.
    public static let invalidJSON = ErrorCode.invalidJSON.rawValue

    static let numberDoesNotFit =
        "request body contains a number that does not fit the expected type, such as a fraction where a whole number is expected"

    /// Always ``invalidJSON``.
    public let code: String
    /// What was wrong, in plain words, e.g. `missing key "consent.status"`.
    public let message: String
    /// The offending key path (`"fields.victim.name"`, `"answers[2]"`), nil for the whole body.
    public let keyPath: String?

    /// Creates an error with code ``invalidJSON``.
    public init(message: String, keyPath: String?) {
        self.code = Self.invalidJSON
        self.message = message
        self.keyPath = keyPath
    }

    /// Translates Foundation's `DecodingError` into a message a client can act on.
    public init(_ error: DecodingError) {
        switch error {
        case .keyNotFound(let key, let context):
            let path = Self.describe(context.codingPath + [key])
            self.init(message: "missing key \"\(path)\"", keyPath: path)
        case .typeMismatch(let type, let context):
            let found = Self.foundDescription(context.debugDescription)
            if context.codingPath.isEmpty {
                self.init(message: "request body must be \(Self.describe(type))\(found)", keyPath: nil)
            } else {
                let path = Self.describe(context.codingPath)
                self.init(message: "\"\(path)\" must be \(Self.describe(type))\(found)", keyPath: path)
            }
        case .valueNotFound(let type, let context):
            if context.codingPath.isEmpty {
                self.init(message: "request body must be \(Self.describe(type)), not null", keyPath: nil)
            } else {
                let path = Self.describe(context.codingPath)
                self.init(message: "\"\(path)\" must be \(Self.describe(type)), not null", keyPath: path)
            }
        case .dataCorrupted(let context):
            if context.codingPath.isEmpty {
                self.init(message: "request body is not valid JSON", keyPath: nil)
            } else {
                let path = Self.describe(context.codingPath)
                let detail = context.debugDescription
                if detail.hasPrefix("Cannot initialize") {
                    self.init(message: "\"\(path)\" has a value that is not allowed", keyPath: path)
                } else if detail.contains("does not fit") {
                    self.init(message: "\"\(path)\" is not a number in the allowed range", keyPath: path)
                } else if detail == RFC3339.expectation {
                    self.init(message: "\"\(path)\": \(detail)", keyPath: path)
                } else {
                    self.init(message: "\"\(path)\" has an invalid value", keyPath: path)
                }
            }
        @unknown default:
            self.init(message: "request body does not have the expected shape", keyPath: nil)
        }
    }

    /// `invalid_json: missing key "title"`.
    public var description: String { "\(code): \(message)" }

    /// `["consent", "status"]` → `consent.status`; array positions as `[2]`.
    static func describe(_ path: [any CodingKey]) -> String {
        var result = ""
        for key in path {
            if let index = key.intValue {
                result += "[\(index)]"
            } else {
                result += result.isEmpty ? key.stringValue : ".\(key.stringValue)"
            }
        }
        return result
    }

    static func describe(_ type: Any.Type) -> String {
        switch type {
        case is String.Type, is Substring.Type: return "a string"
        case is Bool.Type: return "true or false"
        case is Int.Type, is Int8.Type, is Int16.Type, is Int32.Type, is Int64.Type,
             is UInt.Type, is UInt8.Type, is UInt16.Type, is UInt32.Type, is UInt64.Type:
            return "an integer"
        case is Double.Type, is Float.Type, is Decimal.Type: return "a number"
        case is Date.Type: return "an RFC 3339 date-time string"
        default:
            let name = String(describing: type)
            if name.hasPrefix("Array<") { return "an array" }
            if name.hasPrefix("Dictionary<") { return "an object" }
            return "a value of type \(name)"
        }
    }

    /// Foundation says "Expected to decode String but found number instead."; keep "number".
    static func foundDescription(_ debugDescription: String) -> String {
        guard let start = debugDescription.range(of: "but found "),
              let end = debugDescription.range(of: " instead", range: start.upperBound..<debugDescription.endIndex) else {
            return ""
        }
        let found = debugDescription[start.upperBound..<end.lowerBound]
        guard !found.isEmpty, found.count <= 24 else { return "" }
        return ", found \(found)"
    }
}

import Foundation
import Testing
import TestSupport

/// `docs/openapi.json`, and a small validator for the subset of JSON Schema it
/// uses ($ref, type, enum, pattern, date-time, properties, required,
/// additionalProperties, items), so tests can check live answers against it.
struct OpenAPIDocument: @unchecked Sendable {
    let root: [String: Any]

    static var path: String {
        URL(fileURLWithPath: TestBroker.repositoryConfig).deletingLastPathComponent().appendingPathComponent("docs/openapi.json").path
    }

    static func load() throws -> OpenAPIDocument {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        return OpenAPIDocument(root: try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any]))
    }

    /// Every documented operation as `"METHOD /pattern"`.
    var operations: Set<String> {
        var result: Set<String> = []
        for (path, item) in root["paths"] as? [String: Any] ?? [:] {
            for method in (item as? [String: Any] ?? [:]).keys { result.insert("\(method.uppercased()) \(path)") }
        }
        return result
    }

    /// The JSON schema documented for an answer, falling back to `default` (the error envelope).
    func responseSchema(method: String, pattern: String, status: Int) -> [String: Any]? {
        let operation = ((root["paths"] as? [String: Any])?[pattern] as? [String: Any])?[method.lowercased()] as? [String: Any]
        let responses = operation?["responses"] as? [String: Any] ?? [:]
        let response = (responses[String(status)] ?? responses["default"]) as? [String: Any]
        return ((response?["content"] as? [String: Any])?["application/json"] as? [String: Any])?["schema"] as? [String: Any]
    }

    /// Whether the operation documents this status explicitly (errors fall under `default`).
    func documents(method: String, pattern: String, status: Int) -> Bool {
        let operation = ((root["paths"] as? [String: Any])?[pattern] as? [String: Any])?[method.lowercased()] as? [String: Any]
        return (operation?["responses"] as? [String: Any])?[String(status)] != nil
    }

    /// Every way `value` departs from `schema`, as "path: what".
    func violations(of value: Any?, against schema: [String: Any], at path: String = "$") -> [String] {
        if let reference = schema["$ref"] as? String {
            let name = String(reference.split(separator: "/").last ?? "")
            guard let target = ((root["components"] as? [String: Any])?["schemas"] as? [String: Any])?[name] as? [String: Any] else {
                return ["\(path): unresolved \(reference)"]
            }
            return violations(of: value, against: target, at: path)
        }
        if let alternatives = schema["oneOf"] as? [[String: Any]] {
            let outcomes = alternatives.map { violations(of: value, against: $0, at: path) }
            return outcomes.filter(\.isEmpty).count == 1 ? [] : ["\(path): matches \(outcomes.filter(\.isEmpty).count) of the oneOf shapes, not one: \(outcomes)"]
        }
        guard let value, !(value is NSNull) else { return ["\(path): null"] }
        var problems: [String] = []
        let isBool = String(describing: type(of: value)).contains("Boolean")
        switch schema["type"] as? String {
        case "string":
            guard let text = value as? String else { return ["\(path): expected a string, got \(value)"] }
            if let allowed = schema["enum"] as? [String], !allowed.contains(text) { problems.append("\(path): \(text) not in \(allowed)") }
            if let pattern = schema["pattern"] as? String, text.range(of: pattern, options: .regularExpression) == nil {
                problems.append("\(path): \(text) does not match \(pattern)")
            }
            if schema["format"] as? String == "date-time", text.range(of: #"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$"#, options: .regularExpression) == nil {
                problems.append("\(path): \(text) is not RFC 3339 UTC")
            }
        case "integer":
            if isBool || !(value is Int) { problems.append("\(path): expected an integer, got \(value)") }
        case "boolean":
            if !isBool { problems.append("\(path): expected a boolean, got \(value)") }
        case "array":
            guard let array = value as? [Any] else { return ["\(path): expected an array"] }
            let items = schema["items"] as? [String: Any] ?? [:]
            for (index, element) in array.enumerated() { problems += violations(of: element, against: items, at: "\(path)[\(index)]") }
        case "object":
            guard let object = value as? [String: Any] else { return ["\(path): expected an object"] }
            let properties = schema["properties"] as? [String: Any] ?? [:]
            for key in schema["required"] as? [String] ?? [] where object[key] == nil { problems.append("\(path).\(key): required but absent") }
            for (key, member) in object {
                if let property = properties[key] as? [String: Any] {
                    problems += violations(of: member, against: property, at: "\(path).\(key)")
                } else if schema["additionalProperties"] as? Bool == false {
                    problems.append("\(path).\(key): not in the documented shape")
                }
            }
        default: break
        }
        return problems
    }
}

import Foundation
import Synchronization

/// Checks a request body that already decoded for what `Decodable` lets
/// through silently: a key the type does not have (a misspelt `releaseAt` or
/// `fields` would otherwise be ignored and the request carried out without
/// it), and a key given twice in one object (Foundation's two JSON readers
/// disagree on which one wins).
enum JSONStrictness {
    /// The first problem in `body`, decoded as `value`, or nil.
    static func problem(in body: [UInt8], decoded value: Any) -> JSONBodyError? {
        if let key = duplicateKey(in: body) {
            return JSONBodyError(message: "key \"\(key)\" appears more than once in one object", keyPath: key)
        }
        guard let input = try? JSONSerialization.jsonObject(with: Data(body), options: [.fragmentsAllowed]) else { return nil }
        return unknownKey(in: input, decoded: value, path: "")
    }

    /// Walks the JSON input beside the decoded value. Only structs (and classes)
    /// are checked: dictionaries and enums such as free-form JSON values are
    /// open by design; their keys are checked by the domain.
    ///
    /// Reflection is slow (a `Mirror` looks up its type's fields each time), so a
    /// type's property names are learnt once and kept, and a `Mirror` of a value is
    /// made only to reach a property whose input holds further objects.
    static func unknownKey(in input: Any, decoded: Any, path: String) -> JSONBodyError? {
        if let array = input as? [Any] {
            guard array.contains(where: holdsKeys) else { return nil }
            let mirror = Mirror(reflecting: unwrapOptional(decoded))
            guard mirror.displayStyle == .collection else { return nil }
            for (index, (element, decodedElement)) in zip(array, mirror.children.map(\.value)).enumerated() {
                if let error = unknownKey(in: element, decoded: decodedElement, path: "\(path)[\(index)]") { return error }
            }
            return nil
        }
        guard let object = input as? [String: Any] else { return nil }
        let value = unwrapOptional(decoded)
        guard let labels = propertyNames(of: value) else { return nil }
        var properties: [String: Any]?
        for key in object.keys.sorted() {
            let keyPath = path.isEmpty ? key : "\(path).\(key)"
            guard labels.contains(key) else {
                let allowed = labels.sorted().joined(separator: ", ")
                return JSONBodyError(message: "unknown key \"\(keyPath)\"; check its spelling (allowed here: \(allowed))", keyPath: keyPath)
            }
            let nested = object[key]!
            guard holdsKeys(nested) else { continue }
            if properties == nil {
                properties = [:]
                for child in Mirror(reflecting: value).children {
                    if let label = child.label { properties![label] = child.value }
                }
            }
            if let property = properties![key], let error = unknownKey(in: nested, decoded: property, path: keyPath) { return error }
        }
        return nil
    }

    /// Whether a JSON value is, or holds, an object.
    private static func holdsKeys(_ input: Any) -> Bool {
        if input is [String: Any] { return true }
        guard let array = input as? [Any] else { return false }
        return array.contains(where: holdsKeys)
    }

    /// The stored property names of a struct or class value, nil for anything else; learnt once per type.
    private static func propertyNames(of value: Any) -> Set<String>? {
        let type = ObjectIdentifier(Swift.type(of: value))
        if let known = shapes.withLock({ $0[type] }) { return known }
        let mirror = Mirror(reflecting: value)
        let names: Set<String>? = mirror.displayStyle == .struct || mirror.displayStyle == .class
            ? Set(mirror.children.compactMap(\.label)) : nil
        shapes.withLock { $0[type] = .some(names) }
        return names
    }

    private static let shapes = Mutex<[ObjectIdentifier: Set<String>?]>([:])

    private static func unwrapOptional(_ value: Any) -> Any {
        guard let optional = value as? any OptionalValue, let wrapped = optional.wrappedValue else { return value }
        return unwrapOptional(wrapped)
    }

    /// The first key that appears twice in one object. `bytes` must be valid JSON.
    static func duplicateKey(in bytes: [UInt8]) -> String? {
        struct Container {
            let isObject: Bool
            var keys: Set<String> = []
            var expectingKey: Bool
        }
        let quote = UInt8(ascii: "\""), backslash = UInt8(ascii: "\\")
        var stack: [Container] = []
        var index = 0
        while index < bytes.count {
            switch bytes[index] {
            case UInt8(ascii: "{"): stack.append(Container(isObject: true, expectingKey: true))
            case UInt8(ascii: "["): stack.append(Container(isObject: false, expectingKey: false))
            case UInt8(ascii: "}"), UInt8(ascii: "]"): if !stack.isEmpty { stack.removeLast() }
            case UInt8(ascii: ","): if stack.last?.isObject == true { stack[stack.count - 1].expectingKey = true }
            case quote:
                var end = index + 1
                var escaped = false
                while end < bytes.count, bytes[end] != quote {
                    if bytes[end] == backslash { escaped = true; end += 1 }
                    end += 1
                }
                guard end < bytes.count else { return nil }
                if let top = stack.last, top.isObject, top.expectingKey {
                    let raw = Array(bytes[index...end])
                    let key = escaped ? ((try? JSONSerialization.jsonObject(with: Data(raw), options: [.fragmentsAllowed])) as? String)
                        ?? String(decoding: raw, as: UTF8.self) : String(decoding: raw.dropFirst().dropLast(), as: UTF8.self)
                    if !stack[stack.count - 1].keys.insert(key).inserted { return key }
                    stack[stack.count - 1].expectingKey = false
                }
                index = end
            default: break
            }
            index += 1
        }
        return nil
    }
}

/// Reaches the value inside an `Optional` seen as `Any`, without reflection.
private protocol OptionalValue {
    var wrappedValue: Any? { get }
}

extension Optional: OptionalValue {
    fileprivate var wrappedValue: Any? { map { $0 as Any } }
}

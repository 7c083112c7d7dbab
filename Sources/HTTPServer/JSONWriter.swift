import Foundation

/// A small `Encoder` that writes compact UTF-8 JSON directly, in the API's
/// format: keys sorted (as `JSONEncoder`'s `.sortedKeys`), slashes not
/// escaped, dates as RFC 3339 UTC strings, integral doubles without a
/// fraction. It exists because Foundation's `JSONEncoder` cost more than the
/// rest of a small request put together; `JSONWriterTests` checks that the
/// two produce the same bytes.
///
/// Values are collected into a light tree (objects must be sorted before they
/// are written, and a container may be filled in any order), then serialized.
struct JSONWriter {
    /// Encodes `value`.
    /// - Throws: `EncodingError.invalidValue` for a non-finite number or a value that encodes nothing.
    static func encode(_ value: some Encodable) throws -> [UInt8] {
        let root = try JSONWriter.node(for: value, path: [])
        var out: [UInt8] = []
        out.reserveCapacity(256)
        root.write(into: &out)
        return out
    }

    static func node(for value: some Encodable, path: [any CodingKey]) throws -> Node {
        if let date = value as? Date { return .scalar(quoted(JSON.RFC3339.format(date))) }
        let encoder = TreeEncoder(codingPath: path)
        try value.encode(to: encoder)
        guard let node = encoder.storage.node else {
            throw EncodingError.invalidValue(value, .init(codingPath: path, debugDescription: "\(type(of: value)) encoded nothing"))
        }
        return node
    }

    static func quoted(_ string: String) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(string.utf8.count + 2)
        JSONString.appendQuoted(string, to: &out)
        return out
    }

    static func number(_ value: Double, path: [any CodingKey]) throws -> [UInt8] {
        guard value.isFinite else {
            throw EncodingError.invalidValue(value, .init(codingPath: path, debugDescription: "\(value) is not a JSON number"))
        }
        if value == value.rounded(), abs(value) < 9_007_199_254_740_992 {
            return Array((value == 0 && value.sign == .minus ? "-0" : String(Int64(value))).utf8)
        }
        return Array(String(value).utf8)
    }
}

extension JSONWriter {
    /// A value being built: scalars are already serialized; containers are reference
    /// types so nested containers can be filled after they were handed out.
    enum Node {
        case scalar([UInt8])
        case object(ObjectBox)
        case array(ArrayBox)
        /// What a `superEncoder()` encodes, known only after it was handed out (`null` if nothing).
        case deferred(Slot)

        func write(into out: inout [UInt8]) {
            switch self {
            case .scalar(let bytes): out.append(contentsOf: bytes)
            case .object(let box):
                out.append(UInt8(ascii: "{"))
                for (index, key) in box.members.keys.sorted().enumerated() {
                    if index > 0 { out.append(UInt8(ascii: ",")) }
                    JSONString.appendQuoted(key, to: &out)
                    out.append(UInt8(ascii: ":"))
                    box.members[key]!.write(into: &out)
                }
                out.append(UInt8(ascii: "}"))
            case .array(let box):
                out.append(UInt8(ascii: "["))
                for (index, element) in box.elements.enumerated() {
                    if index > 0 { out.append(UInt8(ascii: ",")) }
                    element.write(into: &out)
                }
                out.append(UInt8(ascii: "]"))
            case .deferred(let slot):
                if let node = slot.node { node.write(into: &out) } else { out.append(contentsOf: "null".utf8) }
            }
        }
    }

    final class ObjectBox { var members: [String: Node] = [:] }
    final class ArrayBox { var elements: [Node] = [] }

    /// Where one encoder's single value goes.
    final class Slot { var node: Node? }
}

private final class TreeEncoder: Encoder {
    let codingPath: [any CodingKey]
    let userInfo: [CodingUserInfoKey: Any] = [:]
    let storage: JSONWriter.Slot

    init(codingPath: [any CodingKey], storage: JSONWriter.Slot = JSONWriter.Slot()) {
        self.codingPath = codingPath
        self.storage = storage
    }

    /// An encoder whose value is written where `node` is placed.
    static func deferred(codingPath: [any CodingKey]) -> (node: JSONWriter.Node, encoder: TreeEncoder) {
        let slot = JSONWriter.Slot()
        return (.deferred(slot), TreeEncoder(codingPath: codingPath, storage: slot))
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        let box: JSONWriter.ObjectBox
        if case .object(let existing)? = storage.node { box = existing } else {
            box = JSONWriter.ObjectBox()
            storage.node = .object(box)
        }
        return KeyedEncodingContainer(KeyedWriter<Key>(box: box, codingPath: codingPath))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        let box: JSONWriter.ArrayBox
        if case .array(let existing)? = storage.node { box = existing } else {
            box = JSONWriter.ArrayBox()
            storage.node = .array(box)
        }
        return UnkeyedWriter(box: box, codingPath: codingPath)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer { SingleWriter(slot: storage, codingPath: codingPath) }
}

/// Index keys for the coding path of array elements.
private struct IndexKey: CodingKey {
    let intValue: Int?
    var stringValue: String { "\(intValue ?? 0)" }
    init(_ index: Int) { intValue = index }
    init?(stringValue: String) { nil }
    init?(intValue: Int) { self.intValue = intValue }
}

private struct KeyedWriter<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let box: JSONWriter.ObjectBox
    let codingPath: [any CodingKey]

    private func put(_ bytes: [UInt8], _ key: Key) { box.members[key.stringValue] = .scalar(bytes) }

    mutating func encodeNil(forKey key: Key) throws { put(Array("null".utf8), key) }
    mutating func encode(_ value: Bool, forKey key: Key) throws { put(Array((value ? "true" : "false").utf8), key) }
    mutating func encode(_ value: String, forKey key: Key) throws { put(JSONWriter.quoted(value), key) }
    mutating func encode(_ value: Double, forKey key: Key) throws { put(try JSONWriter.number(value, path: codingPath + [key]), key) }
    mutating func encode(_ value: Float, forKey key: Key) throws { put(try JSONWriter.number(Double(value), path: codingPath + [key]), key) }
    mutating func encode(_ value: Int, forKey key: Key) throws { put(Array(String(value).utf8), key) }
    mutating func encode(_ value: Int8, forKey key: Key) throws { put(Array(String(value).utf8), key) }
    mutating func encode(_ value: Int16, forKey key: Key) throws { put(Array(String(value).utf8), key) }
    mutating func encode(_ value: Int32, forKey key: Key) throws { put(Array(String(value).utf8), key) }
    mutating func encode(_ value: Int64, forKey key: Key) throws { put(Array(String(value).utf8), key) }
    mutating func encode(_ value: UInt, forKey key: Key) throws { put(Array(String(value).utf8), key) }
    mutating func encode(_ value: UInt8, forKey key: Key) throws { put(Array(String(value).utf8), key) }
    mutating func encode(_ value: UInt16, forKey key: Key) throws { put(Array(String(value).utf8), key) }
    mutating func encode(_ value: UInt32, forKey key: Key) throws { put(Array(String(value).utf8), key) }
    mutating func encode(_ value: UInt64, forKey key: Key) throws { put(Array(String(value).utf8), key) }
    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        box.members[key.stringValue] = try JSONWriter.node(for: value, path: codingPath + [key])
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
        let nested = JSONWriter.ObjectBox()
        box.members[key.stringValue] = .object(nested)
        return KeyedEncodingContainer(KeyedWriter<NestedKey>(box: nested, codingPath: codingPath + [key]))
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        let nested = JSONWriter.ArrayBox()
        box.members[key.stringValue] = .array(nested)
        return UnkeyedWriter(box: nested, codingPath: codingPath + [key])
    }

    mutating func superEncoder() -> any Encoder {
        let (node, encoder) = TreeEncoder.deferred(codingPath: codingPath)
        box.members["super"] = node
        return encoder
    }
    mutating func superEncoder(forKey key: Key) -> any Encoder {
        let (node, encoder) = TreeEncoder.deferred(codingPath: codingPath + [key])
        box.members[key.stringValue] = node
        return encoder
    }
}

private struct UnkeyedWriter: UnkeyedEncodingContainer, ScalarWriting {
    let box: JSONWriter.ArrayBox
    let codingPath: [any CodingKey]
    var count: Int { box.elements.count }

    mutating func write(_ bytes: [UInt8]) { box.elements.append(.scalar(bytes)) }
    var valuePath: [any CodingKey] { codingPath + [IndexKey(box.elements.count)] }

    mutating func encode<T: Encodable>(_ value: T) throws {
        box.elements.append(try JSONWriter.node(for: value, path: valuePath))
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        let nested = JSONWriter.ObjectBox()
        let path = valuePath
        box.elements.append(.object(nested))
        return KeyedEncodingContainer(KeyedWriter<NestedKey>(box: nested, codingPath: path))
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        let nested = JSONWriter.ArrayBox()
        let path = valuePath
        box.elements.append(.array(nested))
        return UnkeyedWriter(box: nested, codingPath: path)
    }

    mutating func superEncoder() -> any Encoder {
        let (node, encoder) = TreeEncoder.deferred(codingPath: valuePath)
        box.elements.append(node)
        return encoder
    }
}

private struct SingleWriter: SingleValueEncodingContainer, ScalarWriting {
    let slot: JSONWriter.Slot
    let codingPath: [any CodingKey]

    mutating func write(_ bytes: [UInt8]) { slot.node = .scalar(bytes) }
    var valuePath: [any CodingKey] { codingPath }

    mutating func encode<T: Encodable>(_ value: T) throws { slot.node = try JSONWriter.node(for: value, path: codingPath) }
}

/// The scalar `encode` overloads that unkeyed and single-value containers share
/// (same names and signatures in both protocols), written once.
private protocol ScalarWriting {
    /// Stores one serialized scalar.
    mutating func write(_ bytes: [UInt8])
    /// The coding path of the value being written (for errors).
    var valuePath: [any CodingKey] { get }
}

extension ScalarWriting {
    mutating func encodeNil() throws { write(Array("null".utf8)) }
    mutating func encode(_ value: Bool) throws { write(Array((value ? "true" : "false").utf8)) }
    mutating func encode(_ value: String) throws { write(JSONWriter.quoted(value)) }
    mutating func encode(_ value: Double) throws { write(try JSONWriter.number(value, path: valuePath)) }
    mutating func encode(_ value: Float) throws { write(try JSONWriter.number(Double(value), path: valuePath)) }
    mutating func encode(_ value: Int) throws { write(Array(String(value).utf8)) }
    mutating func encode(_ value: Int8) throws { write(Array(String(value).utf8)) }
    mutating func encode(_ value: Int16) throws { write(Array(String(value).utf8)) }
    mutating func encode(_ value: Int32) throws { write(Array(String(value).utf8)) }
    mutating func encode(_ value: Int64) throws { write(Array(String(value).utf8)) }
    mutating func encode(_ value: UInt) throws { write(Array(String(value).utf8)) }
    mutating func encode(_ value: UInt8) throws { write(Array(String(value).utf8)) }
    mutating func encode(_ value: UInt16) throws { write(Array(String(value).utf8)) }
    mutating func encode(_ value: UInt32) throws { write(Array(String(value).utf8)) }
    mutating func encode(_ value: UInt64) throws { write(Array(String(value).utf8)) }
}

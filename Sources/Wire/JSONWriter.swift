import Foundation

/// A small `Encoder` that writes compact UTF-8 JSON, in the API's format: keys
/// sorted (as `JSONEncoder`'s `.sortedKeys`), slashes not escaped, dates as
/// RFC 3339 UTC strings, integral doubles without a fraction. It exists because
/// Foundation's `JSONEncoder` cost more than the rest of a small request put
/// together; `JSONWriterTests` checks that the two produce the same bytes.
///
/// Scalars are written once, into one scratch buffer, as they are encoded;
/// containers keep only where their members' bytes lie (objects must be sorted
/// before they are written, and a container may be filled in any order). The
/// output is assembled from those pieces at the end. Coding paths are built
/// only when an error needs one.
///
/// The `.stored` style writes what Foundation's `JSONEncoder()` writes with its
/// defaults, up to key order (kept as encoded): dates as their own `Encodable`
/// (seconds since 2001 as a number). `JSONDecoder()` reads both back exactly.
/// Both styles write `Data` as base64, `URL` as its absolute string and `Decimal`
/// as a number, as `JSONEncoder` does.
struct JSONWriter {
    enum Style {
        /// The API's format (see above).
        case api
        /// Foundation's default format: keys in encoding order, dates as seconds since 2001.
        case stored
    }

    /// Encodes `value`.
    /// - Throws: `EncodingError.invalidValue` for a non-finite number or a value that encodes nothing.
    static func encode(_ value: some Encodable, style: Style = .api) throws -> [UInt8] {
        let scratch = Scratch(style: style)
        let root = try scratch.node(for: value, path: nil)
        var out: [UInt8] = []
        out.reserveCapacity(scratch.bytes.count + 64)
        scratch.bytes.withUnsafeBufferPointer { root.write(into: &out, from: $0, sortingKeys: style == .api) }
        return out
    }
}

extension JSONWriter {
    /// A value being built: scalars are byte ranges of the scratch buffer;
    /// containers are reference types so nested containers can be filled after
    /// they were handed out.
    enum Node {
        case bytes(Range<Int>)
        case object(ObjectBox)
        case array(ArrayBox)
        /// What a `superEncoder()` encodes, known only after it was handed out (`null` if nothing).
        case deferred(TreeEncoder)

        func write(into out: inout [UInt8], from scratch: UnsafeBufferPointer<UInt8>, sortingKeys: Bool) {
            switch self {
            case .bytes(let range): out.append(contentsOf: UnsafeBufferPointer(rebasing: scratch[range]))
            case .object(let box):
                out.append(UInt8(ascii: "{"))
                let members = sortingKeys ? box.sortedMembers() : box.lastOfEachKey()
                for index in members.indices {
                    if index > 0 { out.append(UInt8(ascii: ",")) }
                    JSONString.appendQuoted(members[index].key, to: &out)
                    out.append(UInt8(ascii: ":"))
                    members[index].node.write(into: &out, from: scratch, sortingKeys: sortingKeys)
                }
                out.append(UInt8(ascii: "}"))
            case .array(let box):
                out.append(UInt8(ascii: "["))
                for index in box.elements.indices {
                    if index > 0 { out.append(UInt8(ascii: ",")) }
                    box.elements[index].write(into: &out, from: scratch, sortingKeys: sortingKeys)
                }
                out.append(UInt8(ascii: "]"))
            case .deferred(let encoder):
                if let node = encoder.node {
                    node.write(into: &out, from: scratch, sortingKeys: sortingKeys)
                } else {
                    out.append(contentsOf: "null".utf8)
                }
            }
        }
    }

    final class ObjectBox {
        /// In the order encoded; a key encoded twice keeps its last value.
        var members: [(key: String, node: Node)] = []

        init() { members.reserveCapacity(8) }

        /// The members sorted by key; of a key encoded twice, the last value. Small objects
        /// (most of them, and often nearly sorted already) are sorted in place by insertion.
        func sortedMembers() -> [(key: String, node: Node)] {
            guard members.count <= 24 else { return sortedLargeObject() }
            var index = 1
            while index < members.count {
                var position = index
                while position > 0, members[position].key < members[position - 1].key {
                    members.swapAt(position, position - 1)
                    position -= 1
                }
                index += 1
            }
            var position = members.count - 1
            while position > 0 {
                if members[position].key == members[position - 1].key { members.remove(at: position - 1) }
                position -= 1
            }
            return members
        }

        private func sortedLargeObject() -> [(key: String, node: Node)] {
            let sorted = members.indices.sorted { a, b in
                members[a].key != members[b].key ? members[a].key < members[b].key : a < b
            }
            var result: [(key: String, node: Node)] = []
            result.reserveCapacity(sorted.count)
            for (position, index) in sorted.enumerated() {
                if position + 1 < sorted.count, members[sorted[position + 1]].key == members[index].key { continue }
                result.append(members[index])
            }
            return result
        }

        /// The members in encoding order, a repeated key only at its last place.
        func lastOfEachKey() -> [(key: String, node: Node)] {
            guard members.count > 1 else { return members }
            if members.count <= 16 {
                // Small objects (all of a struct's): compare keys pairwise rather than hash them.
                var repeated = false
                outer: for later in 1..<members.count {
                    for earlier in 0..<later where members[earlier].key == members[later].key {
                        repeated = true
                        break outer
                    }
                }
                if !repeated { return members }
            }
            var seen = Set<String>(minimumCapacity: members.count)
            var result: [(key: String, node: Node)] = []
            result.reserveCapacity(members.count)
            for member in members.reversed() where seen.insert(member.key).inserted {
                result.append(member)
            }
            return result.reversed()
        }
    }

    final class ArrayBox { var elements: [Node] = [] }

    /// A coding path as a chain of links, turned into an array only for an error.
    final class Path {
        let parent: Path?
        let key: any CodingKey
        init(_ parent: Path?, _ key: any CodingKey) {
            self.parent = parent
            self.key = key
        }

        static func array(_ path: Path?) -> [any CodingKey] {
            var keys: [any CodingKey] = []
            var link = path
            while let current = link {
                keys.append(current.key)
                link = current.parent
            }
            return keys.reversed()
        }
    }

    /// The bytes of every scalar of one `encode`.
    final class Scratch {
        var bytes: [UInt8] = []
        let style: Style

        init(style: Style) {
            self.style = style
            bytes.reserveCapacity(512)
        }

        func node<T: Encodable>(for value: T, path: Path?) throws -> Node {
            if style == .api, T.self == Date.self, let date = value as? Date { return string(RFC3339.format(date)) }
            // The other types `JSONEncoder` writes its own way, in both styles.
            if T.self == Data.self, let data = value as? Data { return string(data.base64EncodedString()) }
            if T.self == URL.self, let url = value as? URL { return string(url.absoluteString) }
            if T.self == Decimal.self, let decimal = value as? Decimal {
                guard !decimal.isNaN else {
                    throw EncodingError.invalidValue(value, .init(codingPath: Path.array(path), debugDescription: "NaN is not a JSON number"))
                }
                return scalar { $0.append(contentsOf: decimal.description.utf8) }
            }
            let encoder = TreeEncoder(scratch: self, path: path)
            try value.encode(to: encoder)
            guard let node = encoder.node else {
                throw EncodingError.invalidValue(value, .init(codingPath: Path.array(path),
                                                              debugDescription: "\(type(of: value)) encoded nothing"))
            }
            return node
        }

        /// Appends what `write` writes and returns it as a node.
        func scalar(_ write: (inout [UInt8]) -> Void) -> Node {
            let start = bytes.count
            write(&bytes)
            return .bytes(start..<bytes.count)
        }

        func string(_ value: String) -> Node { scalar { JSONString.appendQuoted(value, to: &$0) } }
        func literal(_ text: StaticString) -> Node {
            scalar { out in text.withUTF8Buffer { out.append(contentsOf: $0) } }
        }
        func integer(_ value: some BinaryInteger) -> Node { scalar { $0.appendDecimal(value) } }

        func number(_ value: Double, path: @autoclosure () -> [any CodingKey]) throws -> Node {
            guard value.isFinite else {
                throw EncodingError.invalidValue(value, .init(codingPath: path(), debugDescription: "\(value) is not a JSON number"))
            }
            return scalar { _ = JSONWriter.appendNumber(value, to: &$0) }
        }
    }

    /// Appends a finite `value` as `JSONEncoder` writes it (an integral value without a
    /// fraction); false, appending nothing, for NaN or an infinity.
    static func appendNumber(_ value: Double, to out: inout [UInt8]) -> Bool {
        guard value.isFinite else { return false }
        if value == value.rounded(), abs(value) < 9_007_199_254_740_992 {
            if value == 0 && value.sign == .minus {
                out.append(contentsOf: "-0".utf8)
            } else {
                out.appendDecimal(Int64(value))
            }
        } else {
            out.append(contentsOf: String(value).utf8)
        }
        return true
    }
}

/// The `Encoder` handed to each value; also the slot its one value goes into.
final class TreeEncoder: Encoder {
    let scratch: JSONWriter.Scratch
    let path: JSONWriter.Path?
    var node: JSONWriter.Node?

    init(scratch: JSONWriter.Scratch, path: JSONWriter.Path?) {
        self.scratch = scratch
        self.path = path
    }

    var codingPath: [any CodingKey] { JSONWriter.Path.array(path) }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        let box: JSONWriter.ObjectBox
        if case .object(let existing)? = node { box = existing } else {
            box = JSONWriter.ObjectBox()
            node = .object(box)
        }
        return KeyedEncodingContainer(KeyedWriter<Key>(box: box, scratch: scratch, path: path))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        let box: JSONWriter.ArrayBox
        if case .array(let existing)? = node { box = existing } else {
            box = JSONWriter.ArrayBox()
            node = .array(box)
        }
        return UnkeyedWriter(box: box, scratch: scratch, path: path)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer { SingleWriter(encoder: self) }
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
    let scratch: JSONWriter.Scratch
    let path: JSONWriter.Path?

    var codingPath: [any CodingKey] { JSONWriter.Path.array(path) }

    private func put(_ node: JSONWriter.Node, _ key: Key) { box.members.append((key.stringValue, node)) }
    private func keyPath(_ key: Key) -> [any CodingKey] { JSONWriter.Path.array(JSONWriter.Path(path, key)) }

    mutating func encodeNil(forKey key: Key) throws { put(scratch.literal("null"), key) }
    mutating func encode(_ value: Bool, forKey key: Key) throws { put(scratch.literal(value ? "true" : "false"), key) }
    mutating func encode(_ value: String, forKey key: Key) throws { put(scratch.string(value), key) }
    mutating func encode(_ value: Double, forKey key: Key) throws { put(try scratch.number(value, path: keyPath(key)), key) }
    mutating func encode(_ value: Float, forKey key: Key) throws { put(try scratch.number(Double(value), path: keyPath(key)), key) }
    mutating func encode(_ value: Int, forKey key: Key) throws { put(scratch.integer(value), key) }
    mutating func encode(_ value: Int8, forKey key: Key) throws { put(scratch.integer(value), key) }
    mutating func encode(_ value: Int16, forKey key: Key) throws { put(scratch.integer(value), key) }
    mutating func encode(_ value: Int32, forKey key: Key) throws { put(scratch.integer(value), key) }
    mutating func encode(_ value: Int64, forKey key: Key) throws { put(scratch.integer(value), key) }
    mutating func encode(_ value: UInt, forKey key: Key) throws { put(scratch.integer(value), key) }
    mutating func encode(_ value: UInt8, forKey key: Key) throws { put(scratch.integer(value), key) }
    mutating func encode(_ value: UInt16, forKey key: Key) throws { put(scratch.integer(value), key) }
    mutating func encode(_ value: UInt32, forKey key: Key) throws { put(scratch.integer(value), key) }
    mutating func encode(_ value: UInt64, forKey key: Key) throws { put(scratch.integer(value), key) }
    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        put(try scratch.node(for: value, path: JSONWriter.Path(path, key)), key)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
        let nested = JSONWriter.ObjectBox()
        put(.object(nested), key)
        return KeyedEncodingContainer(KeyedWriter<NestedKey>(box: nested, scratch: scratch, path: JSONWriter.Path(path, key)))
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        let nested = JSONWriter.ArrayBox()
        put(.array(nested), key)
        return UnkeyedWriter(box: nested, scratch: scratch, path: JSONWriter.Path(path, key))
    }

    mutating func superEncoder() -> any Encoder {
        let encoder = TreeEncoder(scratch: scratch, path: path)
        box.members.append(("super", .deferred(encoder)))
        return encoder
    }
    mutating func superEncoder(forKey key: Key) -> any Encoder {
        let encoder = TreeEncoder(scratch: scratch, path: JSONWriter.Path(path, key))
        put(.deferred(encoder), key)
        return encoder
    }
}

private struct UnkeyedWriter: UnkeyedEncodingContainer, ScalarWriting {
    let box: JSONWriter.ArrayBox
    let scratch: JSONWriter.Scratch
    let path: JSONWriter.Path?
    var count: Int { box.elements.count }
    var codingPath: [any CodingKey] { JSONWriter.Path.array(path) }

    mutating func write(_ node: JSONWriter.Node) { box.elements.append(node) }
    var elementPath: JSONWriter.Path { JSONWriter.Path(path, IndexKey(box.elements.count)) }
    var valuePath: [any CodingKey] { JSONWriter.Path.array(elementPath) }

    mutating func encode<T: Encodable>(_ value: T) throws {
        box.elements.append(try scratch.node(for: value, path: elementPath))
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        let nested = JSONWriter.ObjectBox()
        let path = elementPath
        box.elements.append(.object(nested))
        return KeyedEncodingContainer(KeyedWriter<NestedKey>(box: nested, scratch: scratch, path: path))
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        let nested = JSONWriter.ArrayBox()
        let path = elementPath
        box.elements.append(.array(nested))
        return UnkeyedWriter(box: nested, scratch: scratch, path: path)
    }

    mutating func superEncoder() -> any Encoder {
        let encoder = TreeEncoder(scratch: scratch, path: elementPath)
        box.elements.append(.deferred(encoder))
        return encoder
    }
}

private struct SingleWriter: SingleValueEncodingContainer, ScalarWriting {
    let encoder: TreeEncoder
    var scratch: JSONWriter.Scratch { encoder.scratch }
    var codingPath: [any CodingKey] { encoder.codingPath }

    mutating func write(_ node: JSONWriter.Node) { encoder.node = node }
    var valuePath: [any CodingKey] { encoder.codingPath }

    mutating func encode<T: Encodable>(_ value: T) throws { encoder.node = try scratch.node(for: value, path: encoder.path) }
}

/// The scalar `encode` overloads that unkeyed and single-value containers share
/// (same names and signatures in both protocols), written once.
private protocol ScalarWriting {
    var scratch: JSONWriter.Scratch { get }
    /// Stores one scalar.
    mutating func write(_ node: JSONWriter.Node)
    /// The coding path of the value being written (for errors).
    var valuePath: [any CodingKey] { get }
}

extension ScalarWriting {
    mutating func encodeNil() throws { write(scratch.literal("null")) }
    mutating func encode(_ value: Bool) throws { write(scratch.literal(value ? "true" : "false")) }
    mutating func encode(_ value: String) throws { write(scratch.string(value)) }
    mutating func encode(_ value: Double) throws { write(try scratch.number(value, path: valuePath)) }
    mutating func encode(_ value: Float) throws { write(try scratch.number(Double(value), path: valuePath)) }
    mutating func encode(_ value: Int) throws { write(scratch.integer(value)) }
    mutating func encode(_ value: Int8) throws { write(scratch.integer(value)) }
    mutating func encode(_ value: Int16) throws { write(scratch.integer(value)) }
    mutating func encode(_ value: Int32) throws { write(scratch.integer(value)) }
    mutating func encode(_ value: Int64) throws { write(scratch.integer(value)) }
    mutating func encode(_ value: UInt) throws { write(scratch.integer(value)) }
    mutating func encode(_ value: UInt8) throws { write(scratch.integer(value)) }
    mutating func encode(_ value: UInt16) throws { write(scratch.integer(value)) }
    mutating func encode(_ value: UInt32) throws { write(scratch.integer(value)) }
    mutating func encode(_ value: UInt64) throws { write(scratch.integer(value)) }
}

import Foundation

/// Writes the `.stored` style of ``JSONWriter`` (Foundation's default format, keys in encoding
/// order) straight into one buffer while the value encodes: no tree of nodes, no copy at the
/// end. It is what ``JSON/encodeStored(_:)`` tries first for every journal entry and snapshot.
/// A member that is ``StoredJSONWritable`` writes itself into the same buffer.
///
/// Streaming is only possible when containers are filled in the order they are opened, which
/// is what synthesized `Codable` always does. Anything else — a container written after a
/// sibling or its parent was written again, a key encoded twice in one object, a
/// `superEncoder`, a value that encodes nothing or twice, any error — makes ``encode(_:)``
/// answer nil, and the caller encodes the value again with the tree writer, which handles every
/// case (and names the coding path in its errors). So the bytes are always the tree writer's;
/// `StoredJSONStreamTests` checks that byte for byte for every event and a whole state.
final class StoredJSONStream {
    /// An open container, innermost last.
    struct Frame {
        let id: Int
        let isObject: Bool
        var count = 0
        /// Where this object's keys start in `keys` (duplicate detection).
        let keysStart: Int
        /// The keys, once an object has more than `linearKeys` of them.
        var seen: Set<String>?
    }

    /// Thrown inside to abandon the stream for the tree writer.
    struct Abandon: Error {}

    private static let linearKeys = 16

    @exclusivity(unchecked) var out: [UInt8] = []
    @exclusivity(unchecked) private var frames: [Frame] = []
    @exclusivity(unchecked) private var keys: [String] = []
    private var nextID = 0
    /// Set where the `Encoder` protocol gives no way to throw (containers are not throwing).
    var abandoned = false

    private init() { out.reserveCapacity(512) }

    /// `value` as the tree writer's `.stored` style writes it, or nil when it must be written by the tree.
    /// With `byHand` false the value itself is encoded through `Encodable` even if it is
    /// ``StoredJSONWritable`` (what its own writer falls back to); its members may still write themselves.
    static func encode(_ value: some Encodable, byHand: Bool = true) -> [UInt8]? {
        let stream = StoredJSONStream()
        do { try stream.write(value, byHand: byHand) } catch { return nil }
        guard !stream.abandoned, stream.frames.isEmpty else { return nil }
        return stream.out
    }

    // MARK: Values

    /// Writes one value where the caller left the buffer (after a key or a comma).
    func write<T: Encodable>(_ value: T, byHand: Bool = true) throws {
        // The types `JSONWriter` writes its own way (by static type, as it does), and the common
        // scalars without an encoder; the same bytes as their `encode(to:)` through the tree.
        if T.self == String.self { return JSONString.appendQuoted(unsafeBitCast(value, to: String.self), to: &out) }
        if T.self == Date.self { return try number(unsafeBitCast(value, to: Date.self).timeIntervalSinceReferenceDate) }
        if T.self == Int.self { return out.appendDecimal(unsafeBitCast(value, to: Int.self)) }
        if T.self == Bool.self { return literal(unsafeBitCast(value, to: Bool.self) ? "true" : "false") }
        if T.self == Double.self { return try number(unsafeBitCast(value, to: Double.self)) }
        if T.self == Data.self, let data = value as? Data { return JSONString.appendQuoted(data.base64EncodedString(), to: &out) }
        if T.self == URL.self, let url = value as? URL { return JSONString.appendQuoted(url.absoluteString, to: &out) }
        if T.self == Decimal.self, let decimal = value as? Decimal {
            guard !decimal.isNaN else { throw Abandon() }
            return out.append(contentsOf: decimal.description.utf8)
        }
        // A value written by hand writes into this buffer (a snapshot's returns, audit records…).
        if byHand, let writable = value as? any StoredJSONWritable {
            var output = JSONOutput(continuing: out)
            out = []
            defer { out = output.takeBytes() }
            try writable.writeStoredJSON(to: &output)
            return
        }
        let depth = frames.count
        let encoder = StoredStreamEncoder(stream: self)
        try value.encode(to: encoder)
        guard encoder.state != .empty, !abandoned else { throw Abandon() }
        close(downTo: depth)
    }

    func literal(_ text: StaticString) { text.withUTF8Buffer { out.append(contentsOf: $0) } }

    func number(_ value: Double) throws {
        guard JSONWriter.appendNumber(value, to: &out) else { throw Abandon() }
    }

    func integer(_ value: some BinaryInteger) { out.appendDecimal(value) }

    // MARK: Containers

    /// Opens an object or array and returns its id.
    func open(object: Bool) -> Int {
        out.append(object ? UInt8(ascii: "{") : UInt8(ascii: "["))
        nextID += 1
        frames.append(Frame(id: nextID, isObject: object, keysStart: keys.count))
        return nextID
    }

    /// Makes `id` the innermost open container (closing those opened inside it, which are
    /// complete), and writes the separator before its next member.
    /// - Throws: ``Abandon`` when `id` was already closed (written out of order).
    func enter(_ id: Int) throws {
        if frames.last?.id != id {
            guard let index = frames.lastIndex(where: { $0.id == id }) else { throw Abandon() }
            close(downTo: index + 1)
        }
        if frames[frames.count - 1].count > 0 { out.append(UInt8(ascii: ",")) }
        frames[frames.count - 1].count += 1
    }

    /// ``enter(_:)`` for an object member, then its key.
    /// - Throws: ``Abandon`` also when the key was already written in this object.
    func enter(_ id: Int, key: String) throws {
        try enter(id)
        let top = frames.count - 1
        if frames[top].seen != nil {
            guard frames[top].seen!.insert(key).inserted else { throw Abandon() }
        } else {
            for index in frames[top].keysStart..<keys.count where keys[index] == key { throw Abandon() }
            keys.append(key)
            if keys.count - frames[top].keysStart > Self.linearKeys {
                frames[top].seen = Set(keys[frames[top].keysStart...])
                keys.removeSubrange(frames[top].keysStart...)
            }
        }
        JSONString.appendQuoted(key, to: &out)
        out.append(UInt8(ascii: ":"))
    }

    /// How many members `id` has; asking a closed container abandons the stream.
    func count(of id: Int) -> Int {
        guard let frame = frames.last(where: { $0.id == id }) else {
            abandoned = true
            return 0
        }
        return frame.count
    }

    func isOpen(_ id: Int) -> Bool { frames.contains { $0.id == id } }

    /// Closes every container above the first `depth`.
    private func close(downTo depth: Int) {
        while frames.count > depth {
            let frame = frames.removeLast()
            if frame.seen == nil { keys.removeSubrange(frame.keysStart...) }
            out.append(frame.isObject ? UInt8(ascii: "}") : UInt8(ascii: "]"))
        }
    }
}

/// The `Encoder` handed to one non-scalar value.
final class StoredStreamEncoder: Encoder {
    enum State: Equatable {
        case empty
        case container(id: Int, object: Bool)
        case single
    }

    let stream: StoredJSONStream
    var state = State.empty

    init(stream: StoredJSONStream) { self.stream = stream }

    var codingPath: [any CodingKey] { [] }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        KeyedEncodingContainer(StreamKeyedWriter<Key>(stream: stream, id: containerID(object: true)))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        StreamUnkeyedWriter(stream: stream, id: containerID(object: false))
    }

    func singleValueContainer() -> any SingleValueEncodingContainer { StreamSingleWriter(encoder: self) }

    /// The container this value writes into, opened on first use. Asking again for the same
    /// kind while it is open gives the same one; anything else abandons the stream.
    private func containerID(object: Bool) -> Int {
        switch state {
        case .empty:
            let id = stream.open(object: object)
            state = .container(id: id, object: object)
            return id
        case .container(let id, let kind) where kind == object && stream.isOpen(id):
            return id
        default:
            stream.abandoned = true
            return -1
        }
    }
}

private struct StreamKeyedWriter<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let stream: StoredJSONStream
    let id: Int

    var codingPath: [any CodingKey] { [] }

    private func enter(_ key: Key) throws { try stream.enter(id, key: key.stringValue) }

    mutating func encodeNil(forKey key: Key) throws { try enter(key); stream.literal("null") }
    mutating func encode(_ value: Bool, forKey key: Key) throws { try enter(key); stream.literal(value ? "true" : "false") }
    mutating func encode(_ value: String, forKey key: Key) throws { try enter(key); JSONString.appendQuoted(value, to: &stream.out) }
    mutating func encode(_ value: Double, forKey key: Key) throws { try enter(key); try stream.number(value) }
    mutating func encode(_ value: Float, forKey key: Key) throws { try enter(key); try stream.number(Double(value)) }
    mutating func encode(_ value: Int, forKey key: Key) throws { try enter(key); stream.integer(value) }
    mutating func encode(_ value: Int8, forKey key: Key) throws { try enter(key); stream.integer(value) }
    mutating func encode(_ value: Int16, forKey key: Key) throws { try enter(key); stream.integer(value) }
    mutating func encode(_ value: Int32, forKey key: Key) throws { try enter(key); stream.integer(value) }
    mutating func encode(_ value: Int64, forKey key: Key) throws { try enter(key); stream.integer(value) }
    mutating func encode(_ value: UInt, forKey key: Key) throws { try enter(key); stream.integer(value) }
    mutating func encode(_ value: UInt8, forKey key: Key) throws { try enter(key); stream.integer(value) }
    mutating func encode(_ value: UInt16, forKey key: Key) throws { try enter(key); stream.integer(value) }
    mutating func encode(_ value: UInt32, forKey key: Key) throws { try enter(key); stream.integer(value) }
    mutating func encode(_ value: UInt64, forKey key: Key) throws { try enter(key); stream.integer(value) }
    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws { try enter(key); try stream.write(value) }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
        KeyedEncodingContainer(StreamKeyedWriter<NestedKey>(stream: stream, id: nested(key, object: true)))
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        StreamUnkeyedWriter(stream: stream, id: nested(key, object: false))
    }

    private func nested(_ key: Key, object: Bool) -> Int {
        do { try enter(key) } catch {
            stream.abandoned = true
            return -1
        }
        return stream.open(object: object)
    }

    mutating func superEncoder() -> any Encoder { abandon() }
    mutating func superEncoder(forKey key: Key) -> any Encoder { abandon() }

    private func abandon() -> any Encoder {
        stream.abandoned = true
        return StoredStreamEncoder(stream: stream)
    }
}

private struct StreamUnkeyedWriter: UnkeyedEncodingContainer, StreamScalarWriting {
    let stream: StoredJSONStream
    let id: Int

    var codingPath: [any CodingKey] { [] }
    var count: Int { stream.count(of: id) }

    func begin() throws { try stream.enter(id) }

    mutating func encode<T: Encodable>(_ value: T) throws { try begin(); try stream.write(value) }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        KeyedEncodingContainer(StreamKeyedWriter<NestedKey>(stream: stream, id: nested(object: true)))
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        StreamUnkeyedWriter(stream: stream, id: nested(object: false))
    }

    private func nested(object: Bool) -> Int {
        do { try begin() } catch {
            stream.abandoned = true
            return -1
        }
        return stream.open(object: object)
    }

    mutating func superEncoder() -> any Encoder {
        stream.abandoned = true
        return StoredStreamEncoder(stream: stream)
    }
}

private struct StreamSingleWriter: SingleValueEncodingContainer, StreamScalarWriting {
    let encoder: StoredStreamEncoder
    var stream: StoredJSONStream { encoder.stream }
    var codingPath: [any CodingKey] { [] }

    /// One value per encoder: a second one (the tree keeps the last) abandons the stream.
    func begin() throws {
        guard encoder.state == .empty else { throw StoredJSONStream.Abandon() }
        encoder.state = .single
    }

    mutating func encode<T: Encodable>(_ value: T) throws { try begin(); try stream.write(value) }
}

/// The scalar `encode` overloads that unkeyed and single-value containers share.
private protocol StreamScalarWriting {
    var stream: StoredJSONStream { get }
    /// Called before each value: the separator, or the one-value check.
    func begin() throws
}

extension StreamScalarWriting {
    mutating func encodeNil() throws { try begin(); stream.literal("null") }
    mutating func encode(_ value: Bool) throws { try begin(); stream.literal(value ? "true" : "false") }
    mutating func encode(_ value: String) throws { try begin(); JSONString.appendQuoted(value, to: &stream.out) }
    mutating func encode(_ value: Double) throws { try begin(); try stream.number(value) }
    mutating func encode(_ value: Float) throws { try begin(); try stream.number(Double(value)) }
    mutating func encode(_ value: Int) throws { try begin(); stream.integer(value) }
    mutating func encode(_ value: Int8) throws { try begin(); stream.integer(value) }
    mutating func encode(_ value: Int16) throws { try begin(); stream.integer(value) }
    mutating func encode(_ value: Int32) throws { try begin(); stream.integer(value) }
    mutating func encode(_ value: Int64) throws { try begin(); stream.integer(value) }
    mutating func encode(_ value: UInt) throws { try begin(); stream.integer(value) }
    mutating func encode(_ value: UInt8) throws { try begin(); stream.integer(value) }
    mutating func encode(_ value: UInt16) throws { try begin(); stream.integer(value) }
    mutating func encode(_ value: UInt32) throws { try begin(); stream.integer(value) }
    mutating func encode(_ value: UInt64) throws { try begin(); stream.integer(value) }
}

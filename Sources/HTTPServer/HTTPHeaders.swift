/// An ordered list of header fields with case-insensitive lookup by name.
///
/// Order and duplicates are kept as received, because some rules depend on them (a duplicated
/// `Content-Length` is an error, repeated `Connection` headers combine). Names keep their
/// original spelling; every lookup compares names ASCII-case-insensitively.
///
/// Values added through ``add(name:value:)`` and ``replaceOrAdd(name:value:)`` have CR, LF and
/// other control characters (except HTAB) replaced by a space, so a handler that copies user
/// input into a header cannot split the response. Names are the programmer's constants: a name
/// that is not an HTTP token (empty, or containing spaces, colons or control characters) is a
/// programming error and traps.
public struct HTTPHeaders: Sendable, Sequence, Equatable, ExpressibleByDictionaryLiteral, CustomStringConvertible {
    /// One header field.
    public typealias Element = (name: String, value: String)

    private var fields: [Element]

    /// Creates an empty list.
    public init() {
        fields = []
    }

    /// Creates a list from pairs in the given order (values are sanitised like ``add(name:value:)``).
    public init(_ pairs: [(String, String)]) {
        fields = []
        fields.reserveCapacity(pairs.count)
        for (name, value) in pairs { add(name: name, value: value) }
    }

    /// Creates a list from a literal, keeping the literal's order.
    public init(dictionaryLiteral elements: (String, String)...) {
        self.init(elements)
    }

    /// Used by the parser, which has already validated names and values.
    init(validated fields: [Element]) {
        self.fields = fields
    }

    /// The number of fields, duplicates included.
    public var count: Int { fields.count }

    /// True when there are no fields.
    public var isEmpty: Bool { fields.isEmpty }

    /// The first value for `name`, or nil if absent.
    public subscript(name: String) -> String? {
        for field in fields where Self.namesEqual(field.name, name) {
            return field.value
        }
        return nil
    }

    /// Every value for `name`, in order.
    public func values(for name: String) -> [String] {
        fields.compactMap { Self.namesEqual($0.name, name) ? $0.value : nil }
    }

    /// True when at least one field is called `name`.
    public func contains(_ name: String) -> Bool {
        fields.contains { Self.namesEqual($0.name, name) }
    }

    /// Appends a field, keeping any existing fields of the same name.
    public mutating func add(name: String, value: String) {
        Self.checkName(name)
        fields.append((name, Self.sanitised(value)))
    }

    /// Replaces the first field called `name` and removes the others, or appends one if absent.
    public mutating func replaceOrAdd(name: String, value: String) {
        Self.checkName(name)
        let value = Self.sanitised(value)
        if let first = fields.firstIndex(where: { Self.namesEqual($0.name, name) }) {
            fields[first] = (name, value)
            var index = fields.index(after: first)
            while index < fields.endIndex {
                if Self.namesEqual(fields[index].name, name) {
                    fields.remove(at: index)
                } else {
                    index += 1
                }
            }
        } else {
            fields.append((name, value))
        }
    }

    /// Removes every field called `name`.
    public mutating func remove(name: String) {
        fields.removeAll { Self.namesEqual($0.name, name) }
    }

    /// Iterates the fields in order.
    public func makeIterator() -> IndexingIterator<[Element]> {
        fields.makeIterator()
    }

    /// Two lists are equal when they hold the same names (compared case-insensitively) and
    /// values, in the same order.
    public static func == (lhs: HTTPHeaders, rhs: HTTPHeaders) -> Bool {
        lhs.fields.count == rhs.fields.count
            && zip(lhs.fields, rhs.fields).allSatisfy { namesEqual($0.name, $1.name) && $0.value == $1.value }
    }

    /// The fields one per line, as they would be written.
    public var description: String {
        fields.map { "\($0.name): \($0.value)" }.joined(separator: "\n")
    }

    /// ASCII case-insensitive comparison without allocating.
    static func namesEqual(_ lhs: String, _ rhs: String) -> Bool {
        let fast = lhs.utf8.withContiguousStorageIfAvailable { a in
            rhs.utf8.withContiguousStorageIfAvailable { b in bytesEqualIgnoringCase(a, b) }
        }
        if let fast, let result = fast { return result }
        return bytesEqualIgnoringCase(lhs.utf8, rhs.utf8)
    }

    @inline(__always)
    private static func bytesEqualIgnoringCase<A: Collection, B: Collection>(_ a: A, _ b: B) -> Bool
    where A.Element == UInt8, B.Element == UInt8 {
        guard a.count == b.count else { return false }
        for (x, y) in zip(a, b) where x != y {
            guard asciiLower(x) == asciiLower(y) else { return false }
        }
        return true
    }

    @inline(__always)
    static func asciiLower(_ byte: UInt8) -> UInt8 {
        (byte >= 0x41 && byte <= 0x5A) ? byte | 0x20 : byte
    }

    private static func checkName(_ name: String) {
        precondition(!name.isEmpty && name.utf8.allSatisfy(HTTPParser.isTokenByte), "invalid header name \(name.debugDescription)")
    }

    private static func sanitised(_ value: String) -> String {
        let needsCleaning = value.utf8.contains { ($0 < 0x20 && $0 != 0x09) || $0 == 0x7F }
        guard needsCleaning else { return value }
        let cleaned = value.utf8.map { ($0 < 0x20 && $0 != 0x09) || $0 == 0x7F ? 0x20 : $0 }
        return String(decoding: cleaned, as: UTF8.self)
    }
}

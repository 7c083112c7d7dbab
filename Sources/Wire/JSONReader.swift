import Foundation

/// A strict JSON scanner over UTF-8 bytes (RFC 8259), with limits: what ``StoredJSONDecoder``
/// reads stored entries and snapshots with.
///
/// It never builds a tree. It finds where a value ends (checking its whole syntax on the way),
/// and reads the scalars a decoder asks for in place. Refused: anything that is not JSON (a
/// leading zero, a trailing comma, a control character or invalid UTF-8 in a string, an
/// unpaired surrogate escape), nesting deeper than ``Limits/maxDepth``, and input larger than
/// ``Limits/maxBytes``. Each refusal is a ``JSONReadError`` naming what was wrong and the byte
/// offset where it was found.
///
/// The reader borrows the bytes: it is used only inside the `withUnsafeBufferPointer` call
/// that made it.
struct JSONReader {
    let bytes: UnsafeBufferPointer<UInt8>
    let limits: JSONReadLimits

    var count: Int { bytes.count }

    // MARK: Whitespace and punctuation

    /// The index of the first byte at or after `index` that is not JSON whitespace.
    @inline(__always)
    func skipWhitespace(_ index: Int) -> Int {
        var i = index
        while i < bytes.count {
            switch bytes[i] {
            case 0x20, 0x0A, 0x0D, 0x09: i += 1
            default: return i
            }
        }
        return i
    }

    /// The byte at `index`, or nil at the end.
    @inline(__always)
    func byte(_ index: Int) -> UInt8? { index < bytes.count ? bytes[index] : nil }

    func error(_ code: JSONReadError.Code, _ message: String, at offset: Int) -> JSONReadError {
        JSONReadError(code: code, message: message, offset: offset)
    }

    /// What a byte is, for messages.
    func describe(_ index: Int) -> String {
        guard index < bytes.count else { return "the end of the input" }
        let byte = bytes[index]
        if byte >= 0x20 && byte < 0x7F { return "'\(Character(Unicode.Scalar(byte)))'" }
        return "byte 0x" + String(byte, radix: 16)
    }

    func expected(_ what: String, at index: Int) -> JSONReadError {
        guard index < bytes.count else { return error(.truncated, "input ends where \(what) was expected", at: index) }
        return error(.syntax, "expected \(what), found \(describe(index))", at: index)
    }

    // MARK: Skipping (and checking) a value

    /// The index just after the value starting at `index` (which is not whitespace), having
    /// checked its whole syntax. `depth` is how deeply the value is nested already.
    /// - Throws: ``JSONReadError`` when the value is not JSON or is nested too deeply.
    func skipValue(at index: Int, depth: Int) throws(JSONReadError) -> Int {
        guard index < bytes.count else { throw expected("a value", at: index) }
        switch bytes[index] {
        case UInt8(ascii: "\""):
            return try scanString(at: index).end
        case UInt8(ascii: "{"):
            guard depth < limits.maxDepth else { throw tooDeep(at: index) }
            var i = skipWhitespace(index + 1)
            if byte(i) == UInt8(ascii: "}") { return i + 1 }
            while true {
                guard byte(i) == UInt8(ascii: "\"") else { throw expected("a key string", at: i) }
                i = skipWhitespace(try scanString(at: i).end)
                guard byte(i) == UInt8(ascii: ":") else { throw expected("':' after a key", at: i) }
                i = skipWhitespace(try skipValue(at: skipWhitespace(i + 1), depth: depth + 1))
                switch byte(i) {
                case UInt8(ascii: ","): i = skipWhitespace(i + 1)
                case UInt8(ascii: "}"): return i + 1
                default: throw expected("',' or '}' in an object", at: i)
                }
            }
        case UInt8(ascii: "["):
            guard depth < limits.maxDepth else { throw tooDeep(at: index) }
            var i = skipWhitespace(index + 1)
            if byte(i) == UInt8(ascii: "]") { return i + 1 }
            while true {
                i = skipWhitespace(try skipValue(at: i, depth: depth + 1))
                switch byte(i) {
                case UInt8(ascii: ","): i = skipWhitespace(i + 1)
                case UInt8(ascii: "]"): return i + 1
                default: throw expected("',' or ']' in an array", at: i)
                }
            }
        case UInt8(ascii: "t"): return try literal("true", at: index)
        case UInt8(ascii: "f"): return try literal("false", at: index)
        case UInt8(ascii: "n"): return try literal("null", at: index)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return try scanNumber(at: index).end
        default:
            throw expected("a value", at: index)
        }
    }

    func tooDeep(at index: Int) -> JSONReadError {
        error(.tooDeep, "values are nested more than \(limits.maxDepth) deep", at: index)
    }

    /// The index after the literal `text` at `index`.
    func literal(_ text: StaticString, at index: Int) throws(JSONReadError) -> Int {
        let length = text.utf8CodeUnitCount
        guard index + length <= bytes.count else { throw error(.truncated, "input ends inside the literal \(text)", at: index) }
        let pointer = text.utf8Start
        for offset in 0..<length where bytes[index + offset] != pointer[offset] {
            throw error(.syntax, "expected the literal \(text), found \(describe(index + offset))", at: index + offset)
        }
        return index + length
    }

    /// Whether the value at `index` is `null` (checked in full).
    func isNull(at index: Int) throws(JSONReadError) -> Bool {
        guard byte(index) == UInt8(ascii: "n") else { return false }
        _ = try literal("null", at: index)
        return true
    }

    // MARK: Strings

    /// A string's place: its content between the quotes, whether it holds escapes, whether it is
    /// all ASCII, and the index after the closing quote.
    struct StringSpan {
        var contentStart: Int
        var contentEnd: Int
        var escaped: Bool
        var ascii: Bool
        var end: Int
    }

    /// Scans the string whose opening quote is at `index`, checking escapes and UTF-8.
    func scanString(at index: Int) throws(JSONReadError) -> StringSpan {
        var i = index + 1
        var escaped = false
        var high: UInt8 = 0
        while i < bytes.count {
            let byte = bytes[i]
            if byte == UInt8(ascii: "\"") {
                let span = StringSpan(contentStart: index + 1, contentEnd: i, escaped: escaped, ascii: high < 0x80, end: i + 1)
                if high >= 0x80 { try checkUTF8(span) }
                return span
            }
            if byte == UInt8(ascii: "\\") {
                escaped = true
                i = try skipEscape(at: i)
                continue
            }
            if byte < 0x20 {
                throw error(.syntax, "control character 0x\(String(byte, radix: 16)) inside a string (it must be escaped)", at: i)
            }
            high |= byte
            i += 1
        }
        throw error(.truncated, "input ends inside a string", at: index)
    }

    /// The index after the escape whose backslash is at `index`.
    private func skipEscape(at index: Int) throws(JSONReadError) -> Int {
        guard let kind = byte(index + 1) else { throw error(.truncated, "input ends inside an escape", at: index) }
        switch kind {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
             UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
            return index + 2
        case UInt8(ascii: "u"):
            let (_, end) = try unicodeEscape(at: index)
            return end
        default:
            throw error(.syntax, "invalid escape \\\(describe(index + 1))", at: index)
        }
    }

    /// The scalar of a `\uXXXX` escape (a surrogate pair taken together) at `index`, and the index after it.
    private func unicodeEscape(at index: Int) throws(JSONReadError) -> (Unicode.Scalar, Int) {
        let first = try hex4(at: index + 2)
        if first >= 0xD800 && first < 0xDC00 {
            guard byte(index + 6) == UInt8(ascii: "\\"), byte(index + 7) == UInt8(ascii: "u") else {
                throw error(.syntax, "unpaired surrogate \\u\(String(first, radix: 16)) in a string", at: index)
            }
            let second = try hex4(at: index + 8)
            guard second >= 0xDC00 && second < 0xE000 else {
                throw error(.syntax, "unpaired surrogate \\u\(String(first, radix: 16)) in a string", at: index)
            }
            let value = 0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
            return (Unicode.Scalar(value)!, index + 12)
        }
        guard let scalar = Unicode.Scalar(first) else {
            throw error(.syntax, "unpaired surrogate \\u\(String(first, radix: 16)) in a string", at: index)
        }
        return (scalar, index + 6)
    }

    private func hex4(at index: Int) throws(JSONReadError) -> UInt32 {
        guard index + 4 <= bytes.count else { throw error(.truncated, "input ends inside a \\u escape", at: index) }
        var value: UInt32 = 0
        for i in index..<index + 4 {
            let byte = bytes[i]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw error(.syntax, "\\u escape needs four hex digits, found \(describe(i))", at: i)
            }
            value = value << 4 | UInt32(digit)
        }
        return value
    }

    private func checkUTF8(_ span: StringSpan) throws(JSONReadError) {
        let content = UnsafeBufferPointer(rebasing: bytes[span.contentStart..<span.contentEnd])
        var iterator = content.makeIterator()
        var decoder = Unicode.UTF8.ForwardParser()
        var offset = span.contentStart
        while true {
            switch decoder.parseScalar(from: &iterator) {
            case .valid(let scalar): offset += scalar.count
            case .emptyInput: return
            case .error: throw error(.syntax, "invalid UTF-8 in a string", at: offset)
            }
        }
    }

    /// The text of a scanned string.
    func string(_ span: StringSpan) throws(JSONReadError) -> String {
        let content = UnsafeBufferPointer(rebasing: bytes[span.contentStart..<span.contentEnd])
        guard span.escaped else { return String(decoding: content, as: UTF8.self) }
        var out: [UInt8] = []
        out.reserveCapacity(content.count)
        var i = span.contentStart
        while i < span.contentEnd {
            let byte = bytes[i]
            guard byte == UInt8(ascii: "\\") else {
                out.append(byte)
                i += 1
                continue
            }
            switch bytes[i + 1] {
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                let (scalar, end) = try unicodeEscape(at: i)
                out.append(contentsOf: UTF8.encode(scalar)!)
                i = end
                continue
            default: out.append(bytes[i + 1])   // " \ /
            }
            i += 2
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Whether the scanned string's text is exactly `text` (the common, unescaped case compares bytes).
    func string(_ span: StringSpan, equals text: String) throws(JSONReadError) -> Bool {
        guard !span.escaped else { return try string(span) == text }
        let length = span.contentEnd - span.contentStart
        var text = text
        return text.withUTF8 { utf8 in
            utf8.count == length && (length == 0 || memcmp(utf8.baseAddress!, bytes.baseAddress! + span.contentStart, length) == 0)
        }
    }

    // MARK: Numbers

    /// A number's place: where it ends and whether it is written as an integer (no fraction, no exponent).
    struct NumberSpan {
        var start: Int
        var end: Int
        var isInteger: Bool
    }

    /// Scans the number at `index` by RFC 8259's grammar (no leading zeros, no `+`, digits after `.` and `e`).
    func scanNumber(at index: Int) throws(JSONReadError) -> NumberSpan {
        var i = index
        if byte(i) == UInt8(ascii: "-") { i += 1 }
        guard let first = byte(i), first >= UInt8(ascii: "0") && first <= UInt8(ascii: "9") else { throw expected("a digit", at: i) }
        i += 1
        if first == UInt8(ascii: "0") {
            if let next = byte(i), next >= UInt8(ascii: "0") && next <= UInt8(ascii: "9") {
                throw error(.syntax, "number with a leading zero", at: index)
            }
        } else {
            while let next = byte(i), next >= UInt8(ascii: "0") && next <= UInt8(ascii: "9") { i += 1 }
        }
        var isInteger = true
        if byte(i) == UInt8(ascii: ".") {
            isInteger = false
            i += 1
            guard let digit = byte(i), digit >= UInt8(ascii: "0") && digit <= UInt8(ascii: "9") else { throw expected("a digit after '.'", at: i) }
            while let next = byte(i), next >= UInt8(ascii: "0") && next <= UInt8(ascii: "9") { i += 1 }
        }
        if byte(i) == UInt8(ascii: "e") || byte(i) == UInt8(ascii: "E") {
            isInteger = false
            i += 1
            if byte(i) == UInt8(ascii: "+") || byte(i) == UInt8(ascii: "-") { i += 1 }
            guard let digit = byte(i), digit >= UInt8(ascii: "0") && digit <= UInt8(ascii: "9") else { throw expected("a digit in an exponent", at: i) }
            while let next = byte(i), next >= UInt8(ascii: "0") && next <= UInt8(ascii: "9") { i += 1 }
        }
        return NumberSpan(start: index, end: i, isInteger: isInteger)
    }

    /// The number's text (for messages and the slow paths).
    func text(_ span: NumberSpan) -> String {
        String(decoding: UnsafeBufferPointer(rebasing: bytes[span.start..<span.end]), as: UTF8.self)
    }

    /// The number as a `Double`, correctly rounded; nil when it is out of `Double`'s range (or, with
    /// `refusingUnderflow`, not zero but rounded to zero).
    func double(_ span: NumberSpan, refusingUnderflow: Bool = true) -> Double? {
        if span.isInteger, span.end - span.start <= 16 {
            // Up to 15 digits (and a sign) is exact in a Double: no rounding to do.
            var value = 0
            var i = span.start
            let negative = bytes[i] == UInt8(ascii: "-")
            if negative { i += 1 }
            if span.end - i <= 15 {
                while i < span.end {
                    value = value &* 10 &+ Int(bytes[i] &- UInt8(ascii: "0"))
                    i += 1
                }
                // -0 stays negative zero, as strtod reads it.
                return negative ? (value == 0 ? -0.0 : -Double(value)) : Double(value)
            }
        }
        guard let value = Double(text(span)), value.isFinite else { return nil }
        // A number that is not zero but rounds to zero (`1e-400`) does not fit a Double either, as
        // `JSONDecoder` reads it (read as an integer it is 0); a zero with any exponent is zero.
        if value == 0, refusingUnderflow {
            var i = span.start
            while i < span.end, bytes[i] != UInt8(ascii: "e"), bytes[i] != UInt8(ascii: "E") {
                if bytes[i] >= UInt8(ascii: "1"), bytes[i] <= UInt8(ascii: "9") { return nil }
                i += 1
            }
        }
        return value
    }

    /// The number as `T`; nil when it is not a whole number within `T`'s range (`1.0` and `1e2` are
    /// whole numbers, as `JSONDecoder` reads them).
    func integer<T: FixedWidthInteger>(_ span: NumberSpan, as type: T.Type) -> T? {
        guard span.isInteger else {
            guard let value = double(span, refusingUnderflow: false), value == value.rounded(), let exact = T(exactly: value) else { return nil }
            return exact
        }
        var i = span.start
        let negative = bytes[i] == UInt8(ascii: "-")
        if negative {
            guard T.isSigned else { return i + 2 == span.end && bytes[i + 1] == UInt8(ascii: "0") ? 0 : nil }
            i += 1
        }
        var value: T = 0
        while i < span.end {
            let digit = T(bytes[i] &- UInt8(ascii: "0"))
            let (times, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (next, overflow2) = negative ? times.subtractingReportingOverflow(digit) : times.addingReportingOverflow(digit)
            guard !overflow1, !overflow2 else { return nil }
            value = next
            i += 1
        }
        return value
    }
}

/// How much a ``JSONReader`` accepts.
public struct JSONReadLimits: Sendable, Equatable {
    /// The deepest nesting of objects and arrays (the top value is depth 1).
    public var maxDepth: Int
    /// The largest input, in bytes.
    public var maxBytes: Int

    /// Creates limits.
    public init(maxDepth: Int, maxBytes: Int) {
        self.maxDepth = maxDepth
        self.maxBytes = maxBytes
    }

    /// For what the broker stores. The deepest stored value is a case field (at most
    /// `Limits.fieldValueDepth`, 8) inside an event inside an entry or a snapshot, well under 100;
    /// 100 levels of `Decodable` recursion also fit a thread's smallest stack. No snapshot comes near 4 GiB.
    public static let stored = JSONReadLimits(maxDepth: 100, maxBytes: 4 << 30)
}

/// JSON that ``JSON/decodeStored(_:from:limits:)`` refuses before its shape is looked at: not
/// JSON, nested too deeply, or too large.
public struct JSONReadError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What kind of refusal.
    public struct Code: RawRepresentable, Hashable, Sendable {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }

        /// Not JSON: a byte where the grammar does not allow it.
        public static let syntax = Code(rawValue: "syntax")
        /// The input ends inside a value.
        public static let truncated = Code(rawValue: "truncated")
        /// Nested deeper than the limit.
        public static let tooDeep = Code(rawValue: "too_deep")
        /// Larger than the limit.
        public static let tooLarge = Code(rawValue: "too_large")
        /// Bytes after the value.
        public static let trailingBytes = Code(rawValue: "trailing_bytes")
    }

    /// What kind of refusal.
    public let code: Code
    /// What was wrong, e.g. `expected ',' or '}' in an object, found ']'`.
    public let message: String
    /// The byte offset where it was found.
    public let offset: Int

    /// `message` with the offset.
    public var description: String { "\(message) (at byte \(offset))" }
}

extension JSONReader {
    /// Whether an object in the value at `index` names a key twice (false if it is not JSON).
    /// `decodeStored` reads the first of two members with one name where `JSONDecoder` reads the
    /// last; neither stored encoder ever writes two.
    func repeatsKey(at index: Int, depth: Int = 0) -> Bool {
        guard depth < limits.maxDepth, let first = byte(index) else { return false }
        switch first {
        case UInt8(ascii: "{"):
            var seen = Set<String>()
            var i = skipWhitespace(index + 1)
            while self.byte(i) == UInt8(ascii: "\"") {
                guard let key = try? scanString(at: i), let name = try? string(key) else { return false }
                guard seen.insert(name).inserted else { return true }
                i = skipWhitespace(key.end)
                guard self.byte(i) == UInt8(ascii: ":") else { return false }
                i = skipWhitespace(i + 1)
                if repeatsKey(at: i, depth: depth + 1) { return true }
                guard let end = try? skipValue(at: i, depth: depth + 1) else { return false }
                i = skipWhitespace(end)
                guard self.byte(i) == UInt8(ascii: ",") else { return false }
                i = skipWhitespace(i + 1)
            }
            return false
        case UInt8(ascii: "["):
            var i = skipWhitespace(index + 1)
            while i < count, bytes[i] != UInt8(ascii: "]") {
                if repeatsKey(at: i, depth: depth + 1) { return true }
                guard let end = try? skipValue(at: i, depth: depth + 1) else { return false }
                i = skipWhitespace(end)
                guard self.byte(i) == UInt8(ascii: ",") else { return false }
                i = skipWhitespace(i + 1)
            }
            return false
        default:
            return false
        }
    }
}

extension JSON {
    /// Whether some object in the JSON `bytes` names a key twice: the one input on which
    /// ``decodeStored(_:from:limits:)`` and `JSONDecoder` read different values (the first member
    /// of that name, and the last). Neither `encodeStored` nor `JSONEncoder` writes such input.
    package static func repeatsKey(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBufferPointer { buffer in
            let reader = JSONReader(bytes: buffer, limits: .stored)
            return reader.repeatsKey(at: reader.skipWhitespace(0))
        }
    }
}

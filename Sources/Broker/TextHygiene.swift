import Foundation
import Wire

/// Text hygiene (SPEC §10): what the broker accepts in free text, so that
/// nothing it stores, prints or serves can move a terminal's cursor or make one
/// agency's words look like another's.
///
/// `\r\n` becomes `\n`; multi-line text may also hold `\t`. Refused, with
/// `422 invalid_text` naming the field: every other C0 control (a lone `\r`
/// included) and DEL, the C1 controls U+0080–U+009F, the bidirectional
/// overrides and isolates U+202A–U+202E and U+2066–U+2069, and the other
/// format characters (general category Cf) that `Validate.isText` has always
/// refused. Only commands are checked: events replayed from the journal are
/// taken as they were stored.
enum TextHygiene {
    /// The first scalar `text` may not hold, after `\r\n` became `\n`; nil if clean.
    static func forbiddenScalar(in text: String, multiline: Bool) -> Unicode.Scalar? {
        // ASCII (most text) without looking up Unicode properties: its only controls are
        // U+0000–U+001F and DEL, and it has no format characters.
        var ascii = true
        for byte in text.utf8 {
            guard byte < 0x80 else {
                ascii = false
                break
            }
            if byte < 0x20 || byte == 0x7F {
                if multiline && (byte == 0x0A || byte == 0x09) { continue }
                return Unicode.Scalar(byte)
            }
        }
        if ascii { return nil }
        for scalar in text.unicodeScalars {
            switch scalar.properties.generalCategory {
            case .control, .format:
                if multiline && (scalar == "\n" || scalar == "\t") { continue }
                return scalar
            default:
                continue
            }
        }
        return nil
    }

    /// `text` with every `\r\n` made `\n`; other `\r` stay, to be refused.
    static func normalised(_ text: String) -> String {
        // "\r\n" is a single Character (one grapheme), so compare scalars.
        guard text.utf8.contains(0x0D) else { return text }
        var scalars = String.UnicodeScalarView()
        var iterator = text.unicodeScalars.makeIterator()
        var pending: Unicode.Scalar?
        while let scalar = pending ?? iterator.next() {
            pending = nil
            if scalar == "\r", let next = iterator.next() {
                if next == "\n" { scalars.append("\n") } else { scalars.append(scalar); pending = next }
            } else {
                scalars.append(scalar)
            }
        }
        return String(scalars)
    }

    /// Normalises `text` in place, or says why it is refused.
    /// - Returns: 422 `invalid_text` naming `field` and the scalar, or nil.
    static func clean(_ text: inout String, field: @autoclosure () -> String, multiline: Bool = true) -> DomainError? {
        let result = normalised(text)
        if let scalar = forbiddenScalar(in: result, multiline: multiline) {
            return DomainError(.invalidText, "\(field()): contains \(describe(scalar)); text may not hold control or "
                               + "bidirectional formatting characters\(multiline ? " (line breaks and tabs excepted)" : "")")
        }
        text = result
        return nil
    }

    /// Cleans an optional text field.
    static func clean(_ text: inout String?, field: @autoclosure () -> String, multiline: Bool = true) -> DomainError? {
        guard var value = text else { return nil }
        if let error = clean(&value, field: field(), multiline: multiline) { return error }
        text = value
        return nil
    }

    /// Cleans every element, naming `field[index]`.
    static func clean(_ texts: inout [String], field: @autoclosure () -> String, multiline: Bool = true) -> DomainError? {
        for index in texts.indices {
            if let error = clean(&texts[index], field: "\(field())[\(index)]", multiline: multiline) { return error }
        }
        return nil
    }

    /// Cleans every string (and object key) inside a case field value.
    static func clean(_ value: inout JSONValue, field: String) -> DomainError? {
        switch value {
        case .null, .bool, .number:
            return nil
        case .string(var text):
            if let error = clean(&text, field: field) { return error }
            value = .string(text)
            return nil
        case .array(var items):
            for index in items.indices {
                if let error = clean(&items[index], field: field) { return error }
            }
            value = .array(items)
            return nil
        case .object(let members):
            var cleaned: [String: JSONValue] = [:]
            for (key, member) in members.sorted(by: { $0.key < $1.key }) {
                var name = key
                if let error = clean(&name, field: field, multiline: false) { return error }
                var inner = member
                if let error = clean(&inner, field: field) { return error }
                cleaned[name] = inner
            }
            value = .object(cleaned)
            return nil
        }
    }

    /// `U+001B (ESC)`-style naming for the message: the scalar itself is never echoed.
    static func describe(_ scalar: Unicode.Scalar) -> String {
        var hex = String(scalar.value, radix: 16, uppercase: true)
        while hex.count < 4 { hex = "0" + hex }
        let names: [UInt32: String] = [0x00: "NUL", 0x0A: "line feed", 0x09: "tab", 0x0D: "carriage return", 0x1B: "ESC",
                                       0x7F: "DEL", 0x202E: "right-to-left override", 0x202D: "left-to-right override"]
        return names[scalar.value].map { "U+\(hex) (\($0))" } ?? "U+\(hex)"
    }
}

/// Text from the broker made safe to print on a terminal (SPEC §10).
///
/// The broker refuses control and bidirectional formatting characters in
/// every free-text field, but a journal written before that rule, or a broker
/// that is not ours, can still send them; printed raw, an escape sequence or a
/// carriage return can rewrite what is already on the screen, and a
/// right-to-left override can disguise one agency's words as another's. Every
/// line `marac` prints passes through here.
public enum TerminalText {
    /// `text` with every control or format character (general categories Cc and
    /// Cf: C0 but line feed and tab, DEL, C1, bidirectional overrides and
    /// isolates, zero-width formatting) shown as a visible `\xNN` or `\uNNNN`.
    /// Line feeds and tabs stay unless `singleLine` is set.
    public static func safe(_ text: String, singleLine: Bool = false) -> String {
        guard text.unicodeScalars.contains(where: { needsEscape($0, singleLine: singleLine) }) else { return text }
        var result = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            if needsEscape(scalar, singleLine: singleLine) {
                result.append(contentsOf: visible(scalar).unicodeScalars)
            } else {
                result.append(scalar)
            }
        }
        return String(result)
    }

    /// A JSON document with every control or format character inside its
    /// strings written as a `\uNNNN` escape: the same JSON value, but nothing
    /// in it can act on a terminal. Outside strings JSON holds no such characters.
    public static func safeJSON(_ bytes: [UInt8]) -> [UInt8] {
        let text = String(decoding: bytes, as: UTF8.self)
        guard text.unicodeScalars.contains(where: { needsEscape($0, singleLine: true) && $0 != "\n" && $0 != "\t" }) else { return bytes }
        var result: [UInt8] = []
        result.reserveCapacity(bytes.count + 64)
        for scalar in text.unicodeScalars {
            if needsEscape(scalar, singleLine: true) && scalar != "\n" && scalar != "\t" {
                // UTF-16 code units, so that scalars beyond the BMP become a surrogate pair.
                for unit in String(scalar).utf16 { result.append(contentsOf: Array("\\u\(hex(UInt32(unit), width: 4))".utf8)) }
            } else {
                result.append(contentsOf: Array(String(scalar).utf8))
            }
        }
        return result
    }

    static func needsEscape(_ scalar: Unicode.Scalar, singleLine: Bool) -> Bool {
        switch scalar.properties.generalCategory {
        case .control, .format:
            return singleLine || (scalar != "\n" && scalar != "\t")
        default:
            return false
        }
    }

    static func visible(_ scalar: Unicode.Scalar) -> String {
        scalar.value < 0x100 ? "\\x\(hex(scalar.value, width: 2))" : "\\u\(hex(scalar.value, width: 4))"
    }

    static func hex(_ value: UInt32, width: Int) -> String {
        let digits = String(value, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }
}

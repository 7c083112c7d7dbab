/// The one way pages write HTML: every piece of text and every attribute value goes through
/// `text` / `attributes`, which escape `& < > " '`, and show control and bidirectional
/// formatting characters as visible `\u{…}` marks, so nothing a principal typed (or an older
/// broker stored) can open a tag, leave an attribute, or reorder the text around it. Markup
/// comes only from the string literals of `open`/`close`/`element` (tag and attribute names,
/// which are never data).
struct HTMLWriter {
    private(set) var html = ""

    /// Escapes text for an element's content or a double-quoted attribute value.
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            case "\n", "\t": out.unicodeScalars.append(scalar)
            default:
                switch scalar.properties.generalCategory {
                case .control, .format, .lineSeparator, .paragraphSeparator:
                    out += "\\u{" + String(scalar.value, radix: 16, uppercase: true) + "}"
                default:
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out
    }

    /// Escaped text.
    mutating func text(_ text: String) { html += Self.escape(text) }

    /// `<tag a="v" …>`; attributes whose value is nil are left out, "" writes a bare attribute.
    mutating func open(_ tag: StaticString, _ attributes: KeyValuePairs<StaticString, String?> = [:]) {
        html += "<\(tag)"
        for (name, value) in attributes {
            guard let value else { continue }
            html += value.isEmpty ? " \(name)" : " \(name)=\"\(Self.escape(value))\""
        }
        html += ">"
    }

    /// `</tag>`.
    mutating func close(_ tag: StaticString) { html += "</\(tag)>" }

    /// `<tag …>text</tag>`.
    mutating func element(_ tag: StaticString, _ attributes: KeyValuePairs<StaticString, String?> = [:], _ content: String) {
        open(tag, attributes)
        text(content)
        close(tag)
    }

    /// A void element (`<input …>`, `<meta …>`).
    mutating func void(_ tag: StaticString, _ attributes: KeyValuePairs<StaticString, String?> = [:]) { open(tag, attributes) }

    /// Runs `body` inside `<tag …>…</tag>`.
    mutating func wrap(_ tag: StaticString, _ attributes: KeyValuePairs<StaticString, String?> = [:], _ body: (inout HTMLWriter) -> Void) {
        open(tag, attributes)
        body(&self)
        close(tag)
    }
}

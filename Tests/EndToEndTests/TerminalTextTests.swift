import Foundation
import MaracClient
import Testing

/// `TerminalText`: what `marac` prints can never act on a terminal, even when
/// the broker sends control characters (data from a journal older than SPEC §10).
@Suite struct TerminalTextTests {
    @Test func controlAndBidiCharactersBecomeVisibleEscapes() {
        #expect(TerminalText.safe("plain — ünïcode 🙂\n\ttab") == "plain — ünïcode 🙂\n\ttab")
        #expect(TerminalText.safe("a\rb") == "a\\x0Db")
        #expect(TerminalText.safe("x\u{1B}[2J\u{1B}[Hy") == "x\\x1B[2J\\x1B[Hy")
        #expect(TerminalText.safe("nul\u{0}bel\u{7}del\u{7F}") == "nul\\x00bel\\x07del\\x7F")
        #expect(TerminalText.safe("c1\u{9B}2J\u{85}") == "c1\\x9B2J\\x85")
        #expect(TerminalText.safe("\u{202E}evil\u{202C} \u{2066}iso\u{2069}") == "\\u202Eevil\\u202C \\u2066iso\\u2069")
        #expect(TerminalText.safe("two\nlines\tand tab", singleLine: true) == "two\\x0Alines\\x09and tab")
        let hostile = "ok\r== Police ==\u{1B}]0;title\u{7}\u{202E}"
        #expect(!TerminalText.safe(hostile).unicodeScalars.contains { $0.properties.generalCategory == .control || $0.properties.generalCategory == .format })
    }

    @Test func jsonKeepsItsValueButLosesRawControls() throws {
        let raw = Array("{\"summary\":\"a\u{202E}b\u{9B}c\",\"n\":1}".utf8)
        let safe = TerminalText.safeJSON(raw)
        #expect(String(decoding: safe, as: UTF8.self) == #"{"summary":"a\u202Eb\u009Bc","n":1}"#)
        #expect(String(decoding: TerminalText.safeJSON(Array("\"\u{1B}[2J\"".utf8)), as: UTF8.self) == #""\u001B[2J""#)
        let before = try JSONSerialization.jsonObject(with: Data(raw)) as? NSDictionary
        let after = try JSONSerialization.jsonObject(with: Data(safe)) as? NSDictionary
        #expect(before == after, "the same JSON value")
        let pretty = Array("{\n  \"a\": \"b\"\n}\n".utf8)
        #expect(TerminalText.safeJSON(pretty) == pretty, "layout whitespace is kept")
        let astral = Array("\"\u{E0001}\"".utf8)   // a format character beyond the BMP: a surrogate pair
        #expect(String(decoding: TerminalText.safeJSON(astral), as: UTF8.self) == #""\uDB40\uDC01""#)
    }
}

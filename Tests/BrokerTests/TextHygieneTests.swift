import Foundation
import Testing
@testable import Broker
import Wire

/// SPEC §10 text hygiene: every free-text field normalises `\r\n` and refuses
/// controls and bidirectional overrides with 422 `invalid_text` naming the field.
@Suite("Text hygiene")
struct TextHygieneTests {
    /// One of each refused kind: C0 (NUL, ESC, a lone CR, BEL), DEL, C1 (NEL, CSI), bidi overrides and isolates.
    static let forbidden: [String] = ["\u{0}", "\u{1B}[2J", "a\rb", "\u{7}", "\u{7F}", "\u{85}", "\u{9B}", "\u{9F}",
                                      "\u{202A}", "\u{202B}", "\u{202C}", "\u{202D}", "\u{202E}", "\u{2066}", "\u{2067}", "\u{2068}", "\u{2069}"]

    /// Asserts an `invalid_text` refusal naming `field`, with nothing journaled.
    func expectRefused<R>(_ h: Harness, _ outcome: Outcome<R>, field: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let before = h.journal.count
        let error = try h.refusal(outcome, sourceLocation: sourceLocation)
        #expect(error.code == .invalidText, "\(error)", sourceLocation: sourceLocation)
        #expect(error.code.httpStatus == 422, sourceLocation: sourceLocation)
        #expect(error.message.hasPrefix("\(field): "), "\(error.message)", sourceLocation: sourceLocation)
        #expect(!error.message.unicodeScalars.contains { $0.properties.generalCategory == .control || $0.properties.generalCategory == .format },
                "the message never echoes the character", sourceLocation: sourceLocation)
        #expect(h.journal.count == before, sourceLocation: sourceLocation)
    }

    @Test("The checker: CR LF becomes LF; C0 but LF and tab, DEL, C1, bidi overrides and isolates refused")
    func checker() {
        var text = "one\r\ntwo\r\n\tthree\n"
        #expect(TextHygiene.clean(&text, field: "summary") == nil)
        #expect(text == "one\ntwo\n\tthree\n")
        for bad in Self.forbidden + ["\r", "x\r\r\n", "\r\n\r"] {
            var copy = bad
            let error = TextHygiene.clean(&copy, field: "answers[1]")
            #expect(error?.code == .invalidText, "\(bad.unicodeScalars.map { $0.value })")
            #expect(error?.message.hasPrefix("answers[1]: ") == true)
            #expect(copy == bad, "a refused text is left alone")
        }
        for good in ["Ünïcödé — “quotes” 中文 🙂", "tab\tinside", "العربية", "line\u{2028}sep"] {
            var copy = good
            #expect(TextHygiene.clean(&copy, field: "summary") == nil, "\(good)")
            #expect(copy == good)
        }
        var oneLine = "two\r\nlines"
        #expect(TextHygiene.clean(&oneLine, field: "title", multiline: false)?.code == .invalidText)
        var tabbed = "a\tb"
        #expect(TextHygiene.clean(&tabbed, field: "title", multiline: false)?.code == .invalidText)
    }

    /// The ASCII shortcuts of `forbiddenScalar` and `Validate.isText` decide as the Unicode
    /// property scan does: every ASCII byte alone, in pairs, with spaces, and beside a non-ASCII scalar.
    @Test("ASCII text is checked as the Unicode scan checks it")
    func asciiShortcutsMatchTheUnicodeScan() {
        func scanForbidden(_ text: String, multiline: Bool) -> Unicode.Scalar? {
            text.unicodeScalars.first { scalar in
                switch scalar.properties.generalCategory {
                case .control, .format: return !(multiline && (scalar == "\n" || scalar == "\t"))
                default: return false
                }
            }
        }
        func scanIsText(_ text: String, limit: Int, multiline: Bool) -> Bool {
            var blank = true
            for scalar in text.unicodeScalars {
                switch scalar.properties.generalCategory {
                case .control, .format:
                    guard multiline, scalar == "\n" || scalar == "\t" || scalar == "\r" else { return false }
                default: break
                }
                if blank && !Validate.isWhitespaceOrNewline(scalar) { blank = false }
            }
            return !blank && (text.utf8.count <= limit || text.count <= limit)
        }
        var texts: [String] = []
        for a in 0..<128 {
            let one = String(UnicodeScalar(UInt8(a)))
            texts += [one, one + " ", " " + one, one + "é", "x" + one + "y"]
            for b in stride(from: 0, to: 128, by: 7) { texts.append(one + String(UnicodeScalar(UInt8(b)))) }
        }
        texts += ["", " ", "\r\n", "a\r\nb", String(repeating: "a", count: 11), "\u{A0}"]
        for text in texts {
            for multiline in [false, true] {
                #expect(TextHygiene.forbiddenScalar(in: text, multiline: multiline) == scanForbidden(text, multiline: multiline), "\(Array(text.utf8))")
                #expect(Validate.isText(text, limit: 10, multiline: multiline) == scanIsText(text, limit: 10, multiline: multiline), "\(Array(text.utf8))")
            }
        }
    }

    @Test("Meeting titles, case references, case field values and the lawful basis")
    func casesAndMeetings() throws {
        var s = try Scenario()
        for bad in Self.forbidden + ["two\nlines"] {
            try expectRefused(s.h, s.h.broker.createMeeting(NewMeeting(title: "MARAC \(bad)", startsAt: Scenario.startsAt), by: s.coordinator, env: s.h.env),
                              field: "title")
            try expectRefused(s.h, s.h.broker.createCase(NewCase(meeting: s.meeting.id, reference: "R-\(bad)", fields: [:], consent: nil),
                                                         by: s.coordinator, env: s.h.env), field: "reference")
        }
        for bad in Self.forbidden {
            let nested: JSONValue = .object(["lines": .array([.string("fine"), .string("x\(bad)")])])
            try expectRefused(s.h, s.h.broker.createCase(NewCase(meeting: s.meeting.id, reference: "R-1", fields: ["victim.address": nested], consent: nil),
                                                         by: s.coordinator, env: s.h.env), field: "fields[\"victim.address\"]")
            try expectRefused(s.h, s.h.broker.createCase(NewCase(meeting: s.meeting.id, reference: "R-1", fields: [:],
                                                                 consent: Consent(status: .notObtained, lawfulBasis: "risk\(bad)")),
                                                         by: s.coordinator, env: s.h.env), field: "consent.lawfulBasis")
            try expectRefused(s.h, s.h.broker.recordConsent(caseID: s.caseRecord.id, Consent(status: .notObtained, lawfulBasis: "risk\(bad)"),
                                                            by: s.coordinator, env: s.h.env), field: "consent.lawfulBasis")
        }
        let record = try s.h.run(s.h.broker.createCase(
            NewCase(meeting: s.meeting.id, reference: "R-2", fields: ["victim.address": .string("1 Road\r\nTown")],
                    consent: Consent(status: .notObtained, lawfulBasis: "risk\r\nof harm")), by: s.coordinator, env: s.h.env))
        #expect(s.h.state.cases[record.id]?.fields["victim.address"] == .string("1 Road\nTown"))
        #expect(s.h.state.cases[record.id]?.consent?.lawfulBasis == "risk\nof harm")
    }

    @Test("Questions, urgent reasons and extension reasons")
    func dispatchAndExtension() throws {
        var s = try Scenario()
        for bad in Self.forbidden {
            try expectRefused(s.h, s.dispatch(["police"], questions: ["fine", "q\(bad)"]), field: "questions[1]")
            try expectRefused(s.h, s.dispatch(["police"], urgent: true, reason: "now\(bad)"), field: "reason")
        }
        let request = try s.h.run(s.dispatch(["police"], questions: ["one\r\ntwo", "q"])).requests[0]
        #expect(s.h.state.requests[request.id]?.questions == ["one\ntwo", "q"])
        s.h.now = request.returnDeadline.addingTimeInterval(60)
        for bad in Self.forbidden {
            try expectRefused(s.h, s.h.broker.grantExtension(requestID: request.id, ExtensionGrant(until: Scenario.startsAt.addingTimeInterval(-3600), reason: "late\(bad)"),
                                                             by: s.coordinator, env: s.h.env), field: "reason")
        }
        try s.h.run(s.h.broker.grantExtension(requestID: request.id, ExtensionGrant(until: Scenario.startsAt.addingTimeInterval(-3600), reason: "late\r\nreply"),
                                              by: s.coordinator, env: s.h.env))
        #expect(s.h.state.requests[request.id]?.extensionReason == "late\nreply")
    }

    @Test("Return summary, answers and withheld items")
    func returns() throws {
        var s = try Scenario()
        let request = try s.h.run(s.dispatch(["police"])).requests[0]
        let good = s.answer("ok")
        for bad in Self.forbidden {
            var summary = good; summary.summary = "Nothing\(bad)"
            try expectRefused(s.h, s.h.broker.submitReturn(requestID: request.id, summary, by: s.police, env: s.h.env), field: "summary")
            var answer = good; answer.answers[1] = "no\(bad)"
            try expectRefused(s.h, s.h.broker.submitReturn(requestID: request.id, answer, by: s.police, env: s.h.env), field: "answers[1]")
            var what = good; what.withheld = [WithheldItem(what: "w\(bad)", reason: "r")]
            try expectRefused(s.h, s.h.broker.submitReturn(requestID: request.id, what, by: s.police, env: s.h.env), field: "withheld[0].what")
            var reason = good; reason.withheld = [WithheldItem(what: "w", reason: "r"), WithheldItem(what: "w", reason: "r\(bad)")]
            try expectRefused(s.h, s.h.broker.submitReturn(requestID: request.id, reason, by: s.police, env: s.h.env), field: "withheld[1].reason")
        }
        let crlf = ReturnSubmission(knownToAgency: true, summary: "a\r\nb", answers: ["c\r\nd", "\te"], withheld: [WithheldItem(what: "w\r\nx", reason: "y\r\nz")])
        let stored = try s.h.run(s.h.broker.submitReturn(requestID: request.id, crlf, by: s.police, env: s.h.env))
        #expect(stored.summary == "a\nb" && stored.answers == ["c\nd", "\te"] && stored.withheld == [WithheldItem(what: "w\nx", reason: "y\nz")])
        #expect(s.h.state.requests[request.id]?.returns.last == stored)
    }

    @Test("Agency and principal names, revocation reasons")
    func registry() throws {
        var h = try Harness()
        let spoc = try h.person("pat", agency: "police", role: .spoc)
        for bad in Self.forbidden + ["two\nlines"] {
            try expectRefused(h, h.broker.createAgency(NewAgency(id: "new-agency", name: "New \(bad)", kind: .nonCore), by: h.admin, env: h.env), field: "name")
            try expectRefused(h, h.broker.updateAgency(id: "police", AgencyPatch(name: "Police \(bad)"), by: h.admin, env: h.env), field: "name")
            try expectRefused(h, h.broker.createPrincipal(NewPrincipal(id: "new-person", name: "Jo \(bad)", agency: "police", role: .spoc), by: h.admin, env: h.env),
                              field: "name")
            try expectRefused(h, h.broker.updatePrincipal(id: "pat", PrincipalPatch(name: "Pat \(bad)"), by: h.admin, env: h.env), field: "name")
            try expectRefused(h, h.broker.revokeCredential(serial: spoc.serial, reason: "lost \(bad)", by: h.admin, env: h.env), field: "reason")
        }
        #expect(h.state.credentials[spoc.serial]?.revokedAt == nil)
    }
}

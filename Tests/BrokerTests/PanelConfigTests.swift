import Foundation
import Testing
@testable import Broker
import Wire

/// `config/panels.json` (SPEC §11.1): the shipped panels load; anything unknown or
/// collapsing stops start, naming the file and the key.
@Suite("Panel configuration")
struct PanelConfigTests {
    func load(_ text: String) throws(ConfigError) -> PanelSet {
        try PanelSet.load(Data(text.utf8), file: "panels.json", policy: try! shippedPolicy())
    }

    /// The shipped community panel with one key replaced.
    func panelJSON(_ key: String, _ value: String) -> String {
        let base: [String: String] = [
            "id": #""community""#, "name": #""Community MARAC""#, "caseTypes": #"["asb"]"#,
            "referralLeadDays": "14", "acceptanceLeadDays": "7", "researchLeadWorkingDays": "5", "returnDeadlineHours": "24",
            "criteria": #"[{"id": "escalation", "text": "Potential escalation"}]"#,
            "rules": #"[{"kind": "anyOf", "criteria": ["escalation"]}]"#,
        ]
        var fields = base
        fields[key] = value
        return #"{"panels": [{"# + fields.sorted { $0.key < $1.key }.map { "\"\($0.key)\": \($0.value)" }.joined(separator: ", ") + "}]}"
    }

    @Test("The shipped panels: DA first with today's deadlines, the community panel with the seeds' rules")
    func shipped() throws {
        let panels = try PanelSet.load(configData("panels.json"), file: "config/panels.json", policy: shippedPolicy())
        #expect(panels.panels.map(\.id) == ["domestic-abuse", "community"])
        let da = panels.first
        #expect(da.researchLeadWorkingDays == 5 && da.returnDeadlineHours == 24 && da.agendaLeadHours == 24 && da.minimumAge == 16)
        let community = try #require(panels["community"])
        #expect(community.rules.map(\.kind) == ["minimumAge", "excludeCaseTypes", "countWithin", "unresolvedFor", "anyOf"])
        #expect(community.rules.filter(\.isHard).map(\.kind) == ["minimumAge", "excludeCaseTypes"])
        #expect(try load(panelJSON("id", #""community""#)).first.id == "community", "the test's base panel is valid")
    }

    @Test("Refused, naming file and key", arguments: [
        ("rules", #"[{"kind": "vibes"}]"#, "panels[0].rules[0].kind", "unknown rule kind vibes"),
        ("rules", #"[{"kind": "anyOf", "criteria": ["repeat"]}]"#, "panels[0].rules[0].criteria", "criterion repeat is not among"),
        ("rules", #"[{"kind": "minimumAge", "field": "victim.shoeSize", "years": 18}]"#, "panels[0].rules[0].field", "not classified"),
        ("rules", #"[{"kind": "minimumAge", "field": "victim.dateOfBirth", "years": 18, "months": 2}]"#, "panels[0].rules[0].months", "unknown key"),
        ("referralLeadDays", "5", "panels[0].referralLeadDays", "no later than acceptance"),
        ("returnDeadlineHours", "120", "panels[0].returnDeadlineHours", "would not come after research"),
        ("agendaLeadHours", "-1", "panels[0].agendaLeadHours", "whole number"),
        ("caseTypes", "[]", "panels[0].caseTypes", "at least one case type"),
        ("colour", #""blue""#, "panels[0].colour", "unknown key"),
    ])
    func refused(key: String, value: String, errorKey: String, message: String) {
        do {
            _ = try load(panelJSON(key, value))
            Issue.record("accepted \(key) = \(value)")
        } catch {
            #expect(error.file == "panels.json" && error.key == errorKey && error.message.contains(message), "\(error)")
        }
    }

    @Test("Two panels with one id, and an empty file, are refused")
    func duplicates() {
        let panel = panelJSON("id", #""community""#).dropFirst(#"{"panels": ["#.count).dropLast(2)
        #expect(throws: ConfigError.self) { try load(#"{"panels": [\#(panel), \#(panel)]}"#) }
        #expect(throws: ConfigError.self) { try load(#"{"panels": []}"#) }
    }

    @Test("Month arithmetic and ages on a date")
    func months() {
        #expect(civil("2027-05-31").adding(months: -3) == civil("2027-02-28"))
        #expect(civil("2028-05-31").adding(months: -3) == civil("2028-02-29"))
        #expect(civil("2027-01-15").adding(months: -6) == civil("2026-07-15"))
        #expect(civil("2009-06-02").years(until: civil("2027-06-01")) == 17)
        #expect(civil("2009-06-02").years(until: civil("2027-06-02")) == 18)
    }
}

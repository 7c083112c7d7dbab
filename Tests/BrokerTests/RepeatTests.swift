import Crypto
import Foundation
import Testing
@testable import Broker
import Wire

/// SPEC §11.6: repeats found by keyed hashes of normalised identifiers, reported to the
/// coordinator only, within the panel's window (12 months), never stored in clear.
@Suite("Repeats")
struct RepeatTests {
    static let key = Array("a test identifier key of 32 bytes".utf8.prefix(32))
    static let hasher = IdentifierHasher { HMACSHA256.authenticationCode(for: $0, key: key) }

    /// The standard scenario with identifier hashing and the shipped panels.
    func scenario() throws -> Scenario {
        var s = try Scenario()
        let panels = try PanelSet.load(configData("panels.json"), file: "panels.json", policy: shippedPolicy())
        s.h.broker = Domain(state: s.h.state, policy: try shippedPolicy(), rules: DeadlineRules(calendar: try shippedCalendar()),
                            panels: panels, identifierHasher: Self.hasher)
        return s
    }

    func referral(name: String = "Alice Example", birth: String = "1990-02-03", criteria: [String]? = ["repeat"]) -> NewReferral {
        NewReferral(caseType: "domestic-abuse", fields: ["victim.name": .string(name), "victim.dateOfBirth": .string(birth)],
                    consent: Consent(status: .obtained), criteria: criteria, reason: "Further incident")
    }

    @Test("A case heard within 12 months is reported to the coordinator; after 12 months it is not")
    func window() throws {
        var s = try scenario()
        // Scenario's case (Alice Example, 1990-02-03) is created before hashing was on: hash it as a new case would be.
        let earlier = try s.h.run(s.h.broker.createCase(
            NewCase(meeting: s.meeting.id, reference: "MARAC-2027-0043", fields: ["victim.name": .string("  ALICE   example "),
                                                                                  "victim.dateOfBirth": .string("1990-02-03")],
                    consent: Consent(status: .obtained)), by: s.coordinator, env: s.h.env))
        #expect(earlier.repeatOf == [], "no earlier hearing yet")
        let stored = try #require(s.h.state.identifierHashes?["case:\(earlier.id)"])
        #expect(stored.count == 1 && !json(s.h.state.identifierHashes).lowercased().contains("alice"), "hashes only, never the name")

        // Six months after the meeting: a new referral for the same person (spelt differently).
        s.h.now = date("2027-10-01T09:00:00Z")
        let again = try s.h.run(s.h.broker.submitReferral(referral(name: "alice EXAMPLE"), by: s.police, env: s.h.env))
        let seen = try s.h.run(s.h.broker.referral(id: again.id, by: s.coordinator, env: s.h.env))
        #expect(seen.repeatOf?.map(\.case) == [earlier.id] && seen.repeatOf?.first?.listedAt == Scenario.startsAt, "\(String(describing: seen.repeatOf))")
        #expect(try s.h.run(s.h.broker.listReferrals(by: s.coordinator)).referrals.first?.repeatOf?.count == 1)

        // The referring SPOC learns nothing: its reply and its views have the same keys as for a new person.
        let fresh = try s.h.run(s.h.broker.submitReferral(referral(name: "Nobody Known"), by: s.police, env: s.h.env))
        #expect(again.repeatOf == nil && fresh.repeatOf == nil)
        let spocView = try s.h.run(s.h.broker.referral(id: again.id, by: s.police, env: s.h.env))
        let freshView = try s.h.run(s.h.broker.referral(id: fresh.id, by: s.police, env: s.h.env))
        #expect(spocView.repeatOf == nil && keys(spocView) == keys(freshView))
        #expect(try s.h.run(s.h.broker.listReferrals(by: s.police)).referrals.allSatisfy { $0.repeatOf == nil })

        // Accepted: the new case's reply names the repeat to the coordinator.
        let november = try laterMeeting(&s)
        let accepted = try s.h.run(s.h.broker.decideReferral(id: again.id, DecisionOrder(decision: .accepted, meeting: november, reference: "MARAC-2027-0150"),
                                                             by: s.coordinator, env: s.h.env))
        #expect(accepted.case?.repeatOf?.map(\.case) == [earlier.id])
        #expect(!json(accepted.referral).contains("repeatOf") || accepted.referral.repeatOf == nil)

        // Statistics: the November meeting heard one new case, a repeat; April's two new cases were heard together, neither a repeat.
        s.h.now = date("2027-11-05T09:00:00Z")
        let november2027 = try s.h.run(s.h.broker.statistics(panelID: "domestic-abuse", from: "2027-11-01", to: "2027-11-30", by: s.auditor, env: s.h.env))
        #expect(november2027.casesHeard == .init(new: 1, review: 0, repeats: 1), "\(november2027.casesHeard)")
        let april = try s.h.run(s.h.broker.statistics(panelID: "domestic-abuse", from: "2027-04-01", to: "2027-04-30", by: s.auditor, env: s.h.env))
        #expect(april.casesHeard.new == 2 && april.casesHeard.repeats == 0, "\(april.casesHeard)")

        // Thirteen months after the hearing: no longer a repeat.
        s.h.now = date("2028-05-02T09:00:00Z")
        let late = try s.h.run(s.h.broker.submitReferral(referral(), by: s.police, env: s.h.env))
        let lateView = try s.h.run(s.h.broker.referral(id: late.id, by: s.coordinator, env: s.h.env))
        #expect(lateView.repeatOf?.filter { $0.case == earlier.id } == [], "outside the 12-month window: \(String(describing: lateView.repeatOf))")
    }

    @Test("Identifiers are normalised; an NHS number, a PNC id or a postcode with the first address line also match")
    func normalisation() {
        let a = RepeatIdentifiers.normalised(["victim.name": .string("Mary-Jane  O'Neil"), "victim.dateOfBirth": .string("1980-01-02"),
                                              "victim.nhsNumber": .string("943 476 5919"), "perpetrator.pncId": .string("12/345678a"),
                                              "victim.postcode": .string("ab1 2cd"), "victim.address": .string("12 Acacia Avenue, Northtown")])
        let b = RepeatIdentifiers.normalised(["victim.name": .string("mary-jane o'neil"), "victim.dateOfBirth": .string("1980-01-02"),
                                              "victim.nhsNumber": .string("9434765919"), "perpetrator.pncId": .string("12/345678A"),
                                              "victim.postcode": .string("AB12CD"), "victim.address": .string("12  acacia avenue\nNorthtown")])
        #expect(a == b && a.count == 4, "\(a) \(b)")
        #expect(RepeatIdentifiers.normalised(["victim.name": .string("Only A Name")]).isEmpty, "a name alone identifies no one")
    }

    @Test("Without an identifier key nothing is hashed and no repeat is reported")
    func off() throws {
        var s = try Scenario()
        let made = try s.h.run(s.h.broker.submitReferral(referral(criteria: nil), by: s.police, env: s.h.env))
        #expect(s.h.state.identifierHashes == nil)
        #expect(try s.h.run(s.h.broker.referral(id: made.id, by: s.coordinator, env: s.h.env)).repeatOf == nil)
    }

    func keys<T: Encodable>(_ value: T) -> Set<String> {
        let object = try? JSONSerialization.jsonObject(with: Data(json(value).utf8)) as? [String: Any]
        return Set(object?.keys.map { $0 } ?? [])
    }

    func laterMeeting(_ s: inout Scenario) throws -> String {
        try s.h.run(s.h.broker.createMeeting(NewMeeting(title: "MARAC November", startsAt: date("2027-11-04T10:00:00Z")), by: s.coordinator, env: s.h.env)).id
    }
}

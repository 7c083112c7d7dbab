import Foundation
import Testing
@testable import Broker
@testable import Engine
import Crypto

@Suite("Registry and identity")
struct RegistryTests {
    @Test("Bootstrap creates the default agencies and the admin with its certificate")
    func bootstrap() throws {
        let h = try Harness()
        #expect(h.state.agencies.count == 11)
        let admin = h.admin
        #expect(admin == Actor(principal: "admin", agency: "community-safety", role: .admin, serial: "A0"))
        let who = try h.broker.whoami(by: admin).get().reply
        #expect(who.principal == "admin" && who.role == .admin && who.certificate.serial == "A0")
        #expect(h.state.audit.first?.action == "system.bootstrap")
        #expect(h.state.audit.first?.principal == "system")
        // Lower-case serials are looked up upper-case.
        #expect(try h.broker.identify(serial: "a0", at: h.now).get() == admin)
    }

    @Test("identify refuses unknown, revoked and expired certificates, disabled principals and inactive agencies")
    func identifyRefusals() throws {
        var h = try Harness()
        let spoc = try h.person("pat", agency: "police", role: .spoc)
        #expect(try h.broker.identify(serial: spoc.serial, at: h.now).get() == spoc)
        #expect(h.broker.identify(serial: "FFFF", at: h.now).failureCode == .credentialUnknown)

        // Disabled principal: refused on the next request.
        try h.run(h.broker.updatePrincipal(id: "pat", PrincipalPatch(active: false), by: h.admin, env: h.env))
        #expect(h.broker.identify(serial: spoc.serial, at: h.now).failureCode == .principalDisabled)
        try h.run(h.broker.updatePrincipal(id: "pat", PrincipalPatch(active: true), by: h.admin, env: h.env))
        #expect(h.broker.identify(serial: spoc.serial, at: h.now).failureCode == nil)

        // Inactive agency.
        try h.run(h.broker.updateAgency(id: "police", AgencyPatch(active: false), by: h.admin, env: h.env))
        #expect(h.broker.identify(serial: spoc.serial, at: h.now).failureCode == .agencyInactive)
        #expect(DomainError.Code.agencyInactive.httpStatus == 403)
        try h.run(h.broker.updateAgency(id: "police", AgencyPatch(active: true), by: h.admin, env: h.env))

        // Expired: one second after notAfter.
        let notAfter = h.state.credentials[spoc.serial]!.notAfter
        #expect(h.broker.identify(serial: spoc.serial, at: notAfter).failureCode == nil)
        #expect(h.broker.identify(serial: spoc.serial, at: notAfter.addingTimeInterval(1)).failureCode == .credentialExpired)

        // Revoked: immediately.
        let revoked = try h.run(h.broker.revokeCredential(serial: spoc.serial, reason: "laptop lost", by: h.admin, env: h.env))
        #expect(revoked.status == "revoked")
        #expect(h.broker.identify(serial: spoc.serial, at: h.now).failureCode == .credentialRevoked)
        #expect(h.state.audit.last?.action == "credential.revoke" && h.state.audit.last?.reason == "laptop lost")
    }

    @Test("Agency and principal validation names the field")
    func validation() throws {
        var h = try Harness()
        let admin = h.admin
        let env = h.env
        #expect(try h.refusal(h.broker.createAgency(NewAgency(id: "Bad Id", name: "X", kind: .core), by: admin, env: env)).message.hasPrefix("id:"))
        #expect(try h.refusal(h.broker.createAgency(NewAgency(id: "ok", name: " ", kind: .core), by: admin, env: env)).message.hasPrefix("name:"))
        #expect(try h.refusal(h.broker.createAgency(NewAgency(id: "police", name: "Again", kind: .core), by: admin, env: env)).code == .conflict)
        let created = try h.run(h.broker.createAgency(NewAgency(id: "fire-rescue", name: "Fire and Rescue", kind: .nonCore), by: admin, env: env))
        #expect(created == Agency(id: "fire-rescue", name: "Fire and Rescue", kind: .nonCore, active: true))
        let refused = try h.refusal(h.broker.createPrincipal(NewPrincipal(id: "x", name: "X", agency: "nowhere", role: .spoc), by: admin, env: env))
        #expect(refused.code == .validationFailed && refused.message.hasPrefix("agency:"))
        #expect(refused.code.httpStatus == 422)
        #expect(try h.refusal(h.broker.createPrincipal(NewPrincipal(id: "-x", name: "X", agency: "police", role: .spoc), by: admin, env: env)).message.hasPrefix("id:"))
        #expect(try h.refusal(h.broker.updateAgency(id: "nowhere", AgencyPatch(name: "N"), by: admin, env: env)).code == .notFound)
        #expect(try h.refusal(h.broker.updatePrincipal(id: "admin", PrincipalPatch(active: false), by: admin, env: env)).code == .conflict)
        #expect(try h.refusal(h.broker.updateAgency(id: "community-safety", AgencyPatch(active: false), by: admin, env: env)).code == .conflict)
        #expect(h.state.audit.map(\.action).suffix(1) == ["agency.create"])
    }

    @Test("Registry roles: admin manages, coordinator may list agencies and principals and approve, others 403")
    func roles() throws {
        var h = try Harness()
        let coordinator = try h.person("cora", agency: "community-safety", role: .coordinator)
        let spoc = try h.person("pat", agency: "police", role: .spoc)
        let auditor = try h.person("aud", agency: "community-safety", role: .auditor)
        let env = h.env
        #expect(h.broker.listAgencies(by: coordinator).failureCode == nil)
        #expect(h.broker.listAgencies(by: h.admin).failureCode == nil)
        #expect(h.broker.listAgencies(by: spoc).failureCode == .forbidden)
        #expect(h.broker.listAgencies(by: auditor).failureCode == .forbidden)
        for actor in [coordinator, spoc, auditor] {
            #expect(h.broker.createAgency(NewAgency(id: "x", name: "X", kind: .core), by: actor, env: env).failureCode == .forbidden)
            #expect(h.broker.updateAgency(id: "police", AgencyPatch(active: false), by: actor, env: env).failureCode == .forbidden)
            #expect(h.broker.listPrincipals(by: actor).failureCode == (actor.role == .coordinator ? nil : .forbidden))
            #expect(h.broker.approveCredential(serial: spoc.serial, by: actor, env: env).failureCode == (actor.role == .coordinator ? .conflict : .forbidden))
            #expect(h.broker.createPrincipal(NewPrincipal(id: "x", name: "X", agency: "police", role: .admin), by: actor, env: env).failureCode == .forbidden)
            #expect(h.broker.updatePrincipal(id: "pat", PrincipalPatch(role: .admin), by: actor, env: env).failureCode == .forbidden)
            #expect(h.broker.listCredentials(by: actor, env: env).failureCode == (actor.role == .coordinator ? nil : .forbidden))
            #expect(h.broker.whoami(by: actor).failureCode == nil)
        }
        #expect(DomainError.Code.forbidden.httpStatus == 403)
        #expect(try h.broker.listPrincipals(by: h.admin).get().reply.principals.map(\.id) == ["admin", "aud", "cora", "pat"])
        #expect(try h.broker.listCredentials(by: h.admin, env: env).get().reply.credentials.count == 4)
    }

    /// A data directory from before SPEC §10 opens: its credentials carry no approval of their own.
    /// A coordinator's or SPOC's follows its principal's approval (as then); an auditor's, never
    /// approved by anyone, is pending; an admin's needs none. Every new one starts pending.
    @Test("Credentials journaled before credential approvals follow their principal's; auditors' become pending")
    func legacyCredentialsMigrate() throws {
        let legacy = try JSONDecoder().decode(Credential.self, from: Data(#"{"serial":"AB12","principal":"x","issuedAt":0,"notAfter":86400000}"#.utf8))
        #expect(legacy.approval == nil)
        let approvedSPOC = Principal(id: "x", name: "X", agency: "police", role: .spoc, approvedBy: "cora", approvedAt: Date(timeIntervalSince1970: 0))
        let unapprovedSPOC = Principal(id: "x", name: "X", agency: "police", role: .spoc)
        let auditor = Principal(id: "x", name: "X", agency: "community-safety", role: .auditor)
        let admin = Principal(id: "x", name: "X", agency: "community-safety", role: .admin)
        #expect(legacy.isApproved(for: approvedSPOC) && legacy.approver(for: approvedSPOC)?.by == "cora")
        #expect(!legacy.isApproved(for: unapprovedSPOC) && !legacy.isApproved(for: auditor) && legacy.isApproved(for: admin))
        var pending = legacy
        pending.approval = .pending
        #expect(!pending.isApproved(for: approvedSPOC), "a new certificate of an approved person is pending again")

        var h = try Harness()
        let spoc = try h.person("pat", agency: "police", role: .spoc, approved: false)
        let refused = h.state.identify(serial: spoc.serial, at: h.now)
        #expect(refused.failureCode == .credentialNotApproved)
        #expect(h.state.identify(serial: spoc.serial, at: h.now, allowPending: true).failureCode == nil, "whoami and the handshake")
        #expect(try h.broker.whoami(by: spoc).get().reply.certificate.approval == "pending")
    }

    @Test("Audit log: a record applied but not yet durable (no chain hash) is not listed until it is")
    func auditListsOnlyDurableRecords() throws {
        var s = try Scenario()
        let listed = try s.h.broker.auditRecords(limit: 500, by: s.auditor).get().reply.records
        let entry = try #require(s.h.broker.readCase(id: s.caseRecord.id, by: s.coordinator, env: s.h.env).get().entry)
        let record = s.h.append(entry)
        let seq = record.seq
        #expect(seq == (listed.last?.seq ?? 0) + 1)
        s.h.broker.apply(entry, position: ChainPosition(seq: seq, hash: "", prevHash: ""))
        #expect(try s.h.broker.auditRecords(limit: 500, by: s.auditor).get().reply.records == listed)
        s.h.broker.recordChain(EntryCodec.chainPosition(record))
        let after = try s.h.broker.auditRecords(limit: 500, by: s.auditor).get().reply.records
        #expect(after.count == listed.count + 1 && after.last?.action == "case.read" && after.last?.hash == record.hash.hexString)
    }

    @Test("Audit log: admin and auditor only, paged, filtered, never values")
    func auditLog() throws {
        var s = try Scenario()
        let auditor = s.auditor
        let page = try s.h.broker.auditRecords(after: 0, limit: 3, by: auditor).get().reply
        #expect(page.records.map(\.seq) == [1, 2, 3])
        #expect(page.next == 3)
        let rest = try s.h.broker.auditRecords(after: 3, limit: 500, by: s.h.admin).get().reply
        #expect(rest.next == nil)
        #expect(rest.records.first?.seq == 4)
        #expect(s.h.broker.auditRecords(by: s.coordinator).failureCode == .forbidden)
        #expect(s.h.broker.auditRecords(by: s.police).failureCode == .forbidden)
        #expect(s.h.broker.auditRecords(limit: 0, by: auditor).failureCode == .invalid)

        let created = try #require(s.h.state.audit.first { $0.action == "case.create" })
        #expect(created.principal == "cora" && created.agency == "community-safety" && created.serial == s.coordinator.serial)
        #expect(created.fields == Scenario.fields.keys.sorted())
        let chain = s.h.journal.map { $0.hash.hexString }
        #expect(created.hash == chain[Int(created.seq) - 1] && created.prevHash == chain[Int(created.seq) - 2])

        _ = try s.h.run(s.dispatch(["police"]))
        let request = try #require(s.h.state.requests.values.first)
        _ = try s.h.run(s.h.broker.readRequest(id: request.id, by: s.police, env: s.h.env))
        let byCase = try s.h.broker.auditRecords(object: s.caseRecord.id, by: auditor).get().reply.records.map(\.action)
        #expect(byCase == ["case.create", "research.dispatch", "request.read"])
        let byPolice = try s.h.broker.auditRecords(principal: "pat-police", by: auditor).get().reply.records.map(\.action)
        #expect(byPolice == ["request.read"])
        let text = json(s.h.state.audit)
        for value in Scenario.fields.values.compactMap(\.string) {
            #expect(!text.contains(value), "audit holds the value \(value)")
        }
    }
}

extension Result {
    var failureCode: DomainError.Code? {
        if case .failure(let error) = self { return (error as? DomainError)?.code }
        return nil
    }
}

/// `Validate.isText` against the `CharacterSet` definition it replaced, on every scalar of
/// the Basic Multilingual Plane's interesting blocks and on random mixtures of them.
@Suite struct TextValidationTests {
    static func reference(_ text: String, limit: Int, multiline: Bool) -> Bool {
        !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty && text.count <= limit
            && text.unicodeScalars.allSatisfy {
                !CharacterSet.controlCharacters.contains($0) || (multiline && ($0 == "\n" || $0 == "\t" || $0 == "\r"))
            }
    }

    @Test func agreesWithFoundationsCharacterSets() {
        let ranges: [ClosedRange<UInt32>] = [0...0x3FF, 0x1680...0x1680, 0x180E...0x180E, 0x2000...0x206F, 0x3000...0x3000,
                                             0xFEFF...0xFEFF, 0xFFF9...0xFFFB, 0x1F600...0x1F600, 0xE0001...0xE0001]
        var scalars: [Unicode.Scalar] = []
        for range in ranges { scalars += range.compactMap(Unicode.Scalar.init) }
        for scalar in scalars {
            for multiline in [false, true] {
                for text in [String(scalar), "a" + String(scalar), String(scalar) + String(scalar)] {
                    #expect(Validate.isText(text, limit: 5, multiline: multiline) == Self.reference(text, limit: 5, multiline: multiline),
                            "U+\(String(scalar.value, radix: 16)) in \(text.debugDescription), multiline \(multiline)")
                }
            }
        }
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<3_000 {
            let text = String(String.UnicodeScalarView((0..<Int.random(in: 0...12, using: &generator)).map { _ in
                scalars.randomElement(using: &generator)!
            }))
            let limit = Int.random(in: 1...10, using: &generator)
            for multiline in [false, true] {
                #expect(Validate.isText(text, limit: limit, multiline: multiline) == Self.reference(text, limit: limit, multiline: multiline),
                        "\(text.debugDescription) limit \(limit)")
            }
        }
        // Characters, not bytes, count against the limit.
        #expect(Validate.isText("ééééé", limit: 5))
        #expect(!Validate.isText("éééééé", limit: 5))
        #expect(Validate.isText("e\u{301}e\u{301}", limit: 2))
        #expect(Validate.isText("🇬🇧", limit: 1))
        // As before: a zero-width joiner is a format character (Cf), refused like a control character.
        #expect(!Validate.isText("👩\u{200D}👧", limit: 5))
    }
}

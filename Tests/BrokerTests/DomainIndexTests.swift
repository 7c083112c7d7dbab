import Foundation
import Testing
@testable import Broker
@testable import Engine
import Wire

/// The state's derived indexes (which cases of a reference are listed at a meeting; which subjects
/// hold an identifier hash) against the scans they replace, after random sequences of the commands
/// that change listings, references, hashes and erasure: a differential test. The indexes are
/// rebuilt, not stored, when a state is decoded: a snapshot's JSON does not change.
@Suite struct DomainIndexTests {
    /// SplitMix64: the same sequence for a seed on every platform.
    struct SeededGenerator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    static let references = (1...5).map { "REF-\($0)" }
    static let names = ["Alice Example", "Bea Sample", "Cy Person", "Dee Other"]

    static func fields(_ name: String) -> [String: JSONValue] {
        ["victim.name": .string(name), "victim.dateOfBirth": .string("1990-02-03")]
    }

    /// `createCase`'s duplicate check as it was: every case scanned.
    static func scannedHasCase(_ state: BrokerState, reference: String, meeting: String) -> Bool {
        state.cases.values.contains { $0.isListed(at: meeting) && $0.reference == reference }
    }

    /// `repeats(of:)` as it was: every subject's hashes scanned.
    static func scannedRepeats(_ domain: Domain, of fields: [String: JSONValue], panel: Panel, at date: Date) -> [RepeatMatch]? {
        guard let hasher = domain.identifierHasher else { return nil }
        let wanted = Set(hasher.hashes(of: fields))
        guard !wanted.isEmpty else { return [] }
        let rules = domain.rules
        let since = rules.calendar.instant(on: rules.calendar.localDate(of: date).date.adding(months: -panel.repeatWindowMonths), secondsOfDay: 0)
        var matches: [RepeatMatch] = []
        for (subject, hashes) in domain.state.identifierHashes ?? [:] where subject.hasPrefix("case:") && !wanted.isDisjoint(with: hashes) {
            let id = String(subject.dropFirst(5))
            guard let record = domain.state.cases[id], record.currentState != .erased else { continue }
            let heard = record.allListings.compactMap { domain.state.meetings[$0.meeting]?.startsAt }.filter { $0 >= since && $0 < date }.max()
            if let heard { matches.append(RepeatMatch(case: id, reference: record.reference, listedAt: heard)) }
        }
        return matches.sorted { ($0.listedAt, $0.case) > ($1.listedAt, $1.case) }
    }

    func check(_ s: Scenario, meetings: [Meeting], step: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let state = s.h.state
        for meeting in meetings {
            for reference in Self.references {
                #expect(state.hasCase(reference: reference, listedAt: meeting.id) == Self.scannedHasCase(state, reference: reference, meeting: meeting.id),
                        "\(step): \(reference) at \(meeting.id)", sourceLocation: sourceLocation)
            }
        }
        let all = Set((state.identifierHashes ?? [:]).values.joined())
        for hash in all {
            let scanned = Set((state.identifierHashes ?? [:]).filter { $0.value.contains(hash) }.keys)
            #expect(state.subjects(holdingAnyOf: [hash]) == scanned, "\(step): hash \(hash)", sourceLocation: sourceLocation)
        }
        let panel = s.h.broker.panel(of: meetings[0])
        for name in Self.names {
            for at in [date("2027-06-15T09:00:00Z"), date("2028-01-15T09:00:00Z")] {
                #expect(s.h.broker.repeats(of: Self.fields(name), panel: panel, at: at) == Self.scannedRepeats(s.h.broker, of: Self.fields(name), panel: panel, at: at),
                        "\(step): repeats of \(name)", sourceLocation: sourceLocation)
            }
        }
        var rebuilt = state
        rebuilt.rebuildIndexes()
        #expect(rebuilt.indexes == state.indexes, "\(step): kept index equals a rebuilt one", sourceLocation: sourceLocation)
    }

    @Test(arguments: [1, 2, 3] as [UInt64])
    func indexesAnswerAsTheScansDoAfterRandomCommands(seed: UInt64) throws {
        var s = try RepeatTests().scenario()
        var random = SeededGenerator(state: seed)
        var meetings = [s.meeting]
        for month in 5...9 {
            meetings.append(try s.h.run(s.h.broker.createMeeting(NewMeeting(title: "MARAC \(month)", startsAt: date("2027-0\(month)-06T09:00:00Z")),
                                                                 by: s.coordinator, env: s.h.env)))
        }
        var counts: [String: Int] = [:]
        for step in 0..<150 {
            let cases = s.h.state.cases.values.sorted { $0.id < $1.id }
            let open = cases.filter { $0.currentState == .open }, closed = cases.filter { $0.currentState == .closed }
            let operation: String
            switch Int.random(in: 0..<10, using: &random) {
            case 0..<4:
                let meeting = meetings.randomElement(using: &random)!, reference = Self.references.randomElement(using: &random)!
                let duplicate = Self.scannedHasCase(s.h.state, reference: reference, meeting: meeting.id)
                let outcome = s.h.broker.createCase(NewCase(meeting: meeting.id, reference: reference, fields: Self.fields(Self.names.randomElement(using: &random)!), consent: nil),
                                                    by: s.coordinator, env: s.h.env)
                if duplicate { #expect(try s.h.refusal(outcome).code == .conflict) } else { try s.h.run(outcome) }
                operation = duplicate ? "create-duplicate" : "create"
            case 4:
                guard let record = open.randomElement(using: &random) else { continue }
                let last = record.allListings.compactMap { s.h.state.meetings[$0.meeting]?.startsAt }.max()!
                guard let meeting = meetings.filter({ $0.startsAt > last }).randomElement(using: &random) else { continue }
                let duplicate = Self.scannedHasCase(s.h.state, reference: record.reference, meeting: meeting.id)
                let outcome = s.h.broker.relistCase(caseID: record.id, NewListing(meeting: meeting.id), by: s.coordinator, env: s.h.env)
                if duplicate { #expect(try s.h.refusal(outcome).code == .conflict) } else { try s.h.run(outcome) }
                operation = duplicate ? "relist-duplicate" : "relist"
            case 5:
                guard let record = open.randomElement(using: &random) else { continue }
                try s.h.run(s.h.broker.correctFields(caseID: record.id, FieldPatch(set: Self.fields(Self.names.randomElement(using: &random)!), reason: "typo"),
                                                     by: s.coordinator, env: s.h.env))
                operation = "correct"
            case 6:
                guard let record = open.randomElement(using: &random) else { continue }
                try s.h.run(s.h.broker.closeCase(caseID: record.id, Reasoned(reason: "safe"), by: s.coordinator, env: s.h.env))
                operation = "close"
            case 7:
                guard let record = closed.randomElement(using: &random) else { continue }
                try s.h.run(s.h.broker.eraseCase(caseID: record.id, Reasoned(reason: "request"), by: s.coordinator, env: s.h.env))
                operation = "erase"
            default:
                try s.h.run(s.h.broker.submitReferral(NewReferral(caseType: "domestic-abuse", fields: Self.fields(Self.names.randomElement(using: &random)!),
                                                                  consent: Consent(status: .obtained), criteria: ["repeat"], reason: "Further incident"),
                                                      by: s.police, env: s.h.env))
                operation = "referral"
            }
            counts[operation, default: 0] += 1
            try check(s, meetings: meetings, step: "seed \(seed) step \(step) \(operation)")
        }
        #expect(["create", "create-duplicate", "relist", "correct", "close", "erase", "referral"].allSatisfy { counts[$0, default: 0] > 0 }, "\(counts)")

        // Replayed from the journal, and decoded from a snapshot's JSON: the same state, indexes included.
        #expect(s.h.replayed() == s.h.state)
        let snapshot = try EntryCodec.encode(s.h.state)
        #expect(!String(decoding: snapshot, as: UTF8.self).contains("\"indexes\""), "the indexes are not written")
        let decoded = try EntryCodec.decodeState(snapshot)
        #expect(decoded == s.h.state && decoded.indexes == s.h.state.indexes && !decoded.indexes.listed.isEmpty)
    }
}

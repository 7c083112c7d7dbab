import Foundation
import Testing
@testable import Broker
@testable import Engine
import Journal
@testable import Wire

/// The journal and snapshots are read with `JSON.decodeStored` since it replaced `JSONDecoder`
/// there: both must read every event, entry and state the broker stores, as either encoder
/// wrote it (`JSON.encodeStored` today, Foundation's `JSONEncoder()` in older journals), to
/// equal values.
@Suite("Stored decoder equivalence")
struct StoredDecoderEquivalenceTests {
    /// Every `Event` case, by its name in the stored form.
    static let eventKinds: Set<String> = [
        "agencyCreated", "agencyUpdated", "principalCreated", "principalUpdated", "credentialRegistered", "credentialRevoked",
        "credentialApprovalChanged", "meetingCreated", "caseCreated", "consentRecorded", "requestDispatched", "requestReleased",
        "requestAcknowledged", "returnSubmitted", "extensionGranted", "referralSubmitted", "referralDecided", "caseListed",
        "fieldsCorrected", "identifiersHashed", "actionAgreed", "actionCompleted", "actionCancelled", "caseClosed", "meetingInvited",
        "contentKeyAssigned", "contentErased",
    ]

    /// A journal that holds every kind of event: the replay scenario, then a referral heard, researched,
    /// corrected, actioned, closed and erased, a declined referral, a relisting and an invitation.
    func everyKindOfEntry() throws -> (entries: [Entry], state: BrokerState, records: [JournalRecord], keys: ContentKeyStore) {
        let s = try ReplayTests().busy()
        let erasure = ErasureTests()
        var (t, meeting) = try erasure.scenario()
        let record = try erasure.heardAndClosed(&t, meeting: meeting)
        try t.h.run(t.h.broker.recordConsent(caseID: t.caseRecord.id, Consent(status: .obtained), by: t.coordinator, env: t.h.env))
        let may = try t.h.run(t.h.broker.createMeeting(NewMeeting(title: "MARAC May", startsAt: date("2027-05-20T09:00:00Z")), by: t.coordinator, env: t.h.env))
        try t.h.run(t.h.broker.relistCase(caseID: t.caseRecord.id, NewListing(meeting: may.id), by: t.coordinator, env: t.h.env))
        try t.h.run(t.h.broker.invite(meetingID: may.id, Invitation(agencies: ["housing"]), by: t.coordinator, env: t.h.env))
        try t.h.run(t.h.broker.eraseCase(caseID: record.id, Reasoned(reason: "Retention review"), by: t.coordinator, env: t.h.env))
        var entries: [Entry] = []
        for harness in [s.h, t.h] {
            for stored in harness.journal { entries.append(try EntryCodec.decode(stored, keys: harness.keys)) }
        }
        return (entries, t.h.state, t.h.journal, t.h.keys)
    }

    /// Both decoders read `bytes` as `T`, to `expected`.
    func bothRead<T: Codable & Equatable>(_ expected: T, from bytes: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) throws {
        #expect(try JSONDecoder().decode(T.self, from: Data(bytes)) == expected, sourceLocation: sourceLocation)
        #expect(try JSON.decodeStored(T.self, from: bytes) == expected, sourceLocation: sourceLocation)
    }

    @Test("Every event and entry reads the same with JSONDecoder and decodeStored, from either encoder")
    func everyEntry() throws {
        let (entries, _, _, _) = try everyKindOfEntry()
        var kinds = Set<String>()
        for entry in entries {
            try bothRead(entry, from: try JSON.encodeStored(entry))
            try bothRead(entry, from: Array(try JSONEncoder().encode(entry)))
            for event in entry.events {
                let object = try JSONSerialization.jsonObject(with: JSONEncoder().encode(event)) as! [String: Any]
                kinds.formUnion(object.keys)
                try bothRead(event, from: try JSON.encodeStored(event))
                try bothRead(event.redacted, from: try JSON.encodeStored(event.redacted))
            }
        }
        #expect(kinds == Self.eventKinds)
    }

    @Test("The streaming stored encoder writes every event, entry and a whole state byte for byte as the tree writer")
    func streamedAsTheTree() throws {
        let (entries, state, _, _) = try everyKindOfEntry()
        func same(_ value: some Encodable, sourceLocation: SourceLocation = #_sourceLocation) throws {
            let streamed = try #require(StoredJSONStream.encode(value), "the stream gave up on \(type(of: value))", sourceLocation: sourceLocation)
            #expect(streamed == (try JSONWriter.encode(value, style: .stored)), sourceLocation: sourceLocation)
        }
        for entry in entries {
            try same(entry)
            for event in entry.events {
                try same(event)
                try same(event.redacted)
            }
        }
        try same(state)
        #expect(try JSON.encodeStored(state) == (try JSONWriter.encode(state, style: .stored)))
    }

    @Test("What is written by hand in the stored format (entries, events, returns, envelopes) is what Encodable writes")
    func handWrittenAsEncodable() throws {
        let (entries, state, _, _) = try everyKindOfEntry()
        func same<T: StoredJSONWritable>(_ value: T, sourceLocation: SourceLocation = #_sourceLocation) throws {
            var out = JSONOutput()
            try value.writeStoredJSON(to: &out)
            #expect(out.bytes == (try JSONWriter.encode(value, style: .stored)), "\(T.self)", sourceLocation: sourceLocation)
            #expect(try JSON.encodeStored(value) == out.bytes, sourceLocation: sourceLocation)
        }
        var handWritten = Set<String>()
        for entry in entries {
            try same(entry)
            if let actor = entry.actor { try same(actor) }
            if let audit = entry.audit { try same(audit) }
            for event in entry.events {
                try same(event)
                try same(event.redacted)
                switch event {
                case .returnSubmitted(let version):
                    try same(version)
                    handWritten.insert("returnSubmitted")
                case .requestAcknowledged: handWritten.insert("requestAcknowledged")
                case .requestReleased: handWritten.insert("requestReleased")
                default: break
                }
            }
            // The stored envelope with sealed boxes, and a box's content, as EntryCodec writes them.
            let stored = EntryCodec.Stored(at: entry.at, actor: entry.actor, audit: entry.audit, events: entry.events,
                                           sealed: [EntryCodec.Box(key: "k-1", box: "AAEC"), EntryCodec.Box(key: "k-\"2", box: "")])
            try same(stored)
            try same(EntryCodec.Stored(at: entry.at, actor: nil, audit: nil, events: [], sealed: nil))
            try same(EntryCodec.Content(events: entry.events.enumerated().map { .init(index: $0.offset, event: $0.element) }, reason: entry.audit?.reason))
        }
        #expect(handWritten == ["returnSubmitted", "requestAcknowledged", "requestReleased"])
        #expect(!state.requests.isEmpty)
        for request in state.requests.values { try same(request) }
        // A request with every optional set and returns, and one with none.
        var full = try #require(state.requests.values.first)
        let version = ResearchReturn(request: full.id, agency: full.agency, version: 1, submittedAt: Date(timeIntervalSinceReferenceDate: 2.5),
                                     knownToAgency: true, summary: "Known \"since\"\n2024", answers: ["Yes", ""], withheld: [WithheldItem(what: "w", reason: "r")])
        full.returns = [version, version]
        full.reason = "urgent\u{1}"
        full.releasedAt = Date(timeIntervalSinceReferenceDate: 10)
        full.acknowledgedAt = Date(timeIntervalSinceReferenceDate: 11.25)
        full.extendedUntil = Date(timeIntervalSinceReferenceDate: -12)
        full.extensionReason = "court date"
        full.feedPosition = .max
        full.returnBytes = 0
        full.caseVersion = 3
        full.followUp = false
        try same(full)
        var bare = full
        bare.returns = []
        (bare.reason, bare.releasedAt, bare.acknowledgedAt, bare.extendedUntil, bare.extensionReason) = (nil, nil, nil, nil, nil)
        (bare.feedPosition, bare.returnBytes, bare.caseVersion, bare.followUp) = (nil, nil, nil, nil)
        try same(bare)
        #expect(state.audit.contains { $0.releasedTo != nil } && state.audit.contains { $0.reason != nil })
        for record in state.audit { try same(record) }
        // Hostile strings and an audit detail with every optional.
        let hostile = "\"\\\u{0}\u{1f}\n\r\té🚓</script>"
        try same(AuditDetail(action: hostile, object: hostile, fields: [hostile, ""], releasedTo: ["police": [hostile], "health": []], reason: hostile))
        try same(Event.returnSubmitted(return: ResearchReturn(request: hostile, agency: hostile, version: Int.max, submittedAt: Date(timeIntervalSinceReferenceDate: -0.5),
                                                              knownToAgency: false, summary: hostile, answers: [], withheld: [WithheldItem(what: hostile, reason: "")])))
        try same(Entry(at: Date(timeIntervalSinceReferenceDate: 1e9 + 0.123), actor: Actor(principal: hostile, agency: "", role: .monitor, serial: hostile),
                       audit: nil, events: [.requestReleased(request: hostile, at: .distantFuture), .requestAcknowledged(request: "", at: .distantPast, principal: hostile)]))
    }

    @Test("A value the hand-written writer cannot write is encoded through Encodable, with its error")
    func handWrittenFallsBackForItsError() throws {
        let entry = Entry(at: Date(timeIntervalSinceReferenceDate: .nan), actor: nil, audit: nil, events: [])
        #expect(throws: EncodingError.self) { _ = try JSON.encodeStored(entry) }
    }

    @Test("A whole state, audit log included, reads the same with JSONDecoder and decodeStored")
    func wholeState() throws {
        let (_, state, _, _) = try everyKindOfEntry()
        #expect(!state.audit.isEmpty && !(state.referrals ?? [:]).isEmpty && !(state.actions ?? [:]).isEmpty && !(state.corrections ?? [:]).isEmpty)
        try bothRead(state, from: try JSON.encodeStored(state))
        try bothRead(state, from: Array(try JSONEncoder().encode(state)))
        let sorted = JSONEncoder()
        sorted.outputFormatting = .sortedKeys
        try bothRead(state, from: Array(try sorted.encode(state)))
    }

    @Test("Stored records, with their sealed boxes, replay to the same state through the engine's codec")
    func storedRecords() throws {
        let (_, state, records, keys) = try everyKindOfEntry()
        var replayed = BrokerState()
        for record in records {
            replayed.apply(try EntryCodec.decode(record, keys: keys), position: EntryCodec.chainPosition(record))
        }
        #expect(replayed == state)
        #expect(records.contains { String(decoding: $0.payload, as: UTF8.self).contains("\"sealed\"") })
    }

    @Test("A damaged stored entry is refused with an error naming its record, never a crash")
    func damagedEntries() throws {
        let (_, _, records, keys) = try everyKindOfEntry()
        for record in records.prefix(40) {
            for cut in stride(from: 0, to: record.payload.count, by: max(1, record.payload.count / 25)) {
                let damaged = JournalRecord(seq: record.seq, timeMilliseconds: record.timeMilliseconds, payload: Array(record.payload[..<cut]), hash: record.hash, prevHash: record.prevHash)
                #expect(throws: BrokerSetupError.self) { try EntryCodec.decode(damaged, keys: keys) }
            }
        }
    }
}

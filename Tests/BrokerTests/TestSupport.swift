import Foundation
import Testing
@testable import Broker
@testable import Engine
import Journal
import Wire

/// Parses an RFC 3339 timestamp; crashes the test on a typo.
func date(_ text: String) -> Date {
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withInternetDateTime]
    guard let value = formatter.date(from: text) else { fatalError("bad test date \(text)") }
    return value
}

func civil(_ text: String) -> CivilDate {
    guard let value = CivilDate(text) else { fatalError("bad test date \(text)") }
    return value
}

/// The repository's `config/` directory.
let configDirectory = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("config")

func configData(_ name: String) throws -> Data {
    try Data(contentsOf: configDirectory.appendingPathComponent(name))
}

func shippedSeeds() throws -> [AgencySeed] {
    try Agency.loadSeeds(configData("agencies.json"), file: "config/agencies.json")
}

func shippedPolicy() throws -> SharingPolicy {
    try SharingPolicy.load(configData("policy.json"), file: "config/policy.json", agencies: Set(shippedSeeds().map(\.id)))
}

func shippedCalendar() throws -> WorkingCalendar {
    try WorkingCalendar.load(configData("calendar.json"), file: "config/calendar.json")
}

/// Sequential ids `id-1`, `id-2`, … shared by copies of an environment.
final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0
    func next() -> String {
        lock.lock(); defer { lock.unlock() }
        value += 1
        return "id-\(value)"
    }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
}

/// A broker driven like the engine drives it: decide, append the entry's stored form to
/// an event store (the engine's `InMemoryEventStore`, real SHA-256 chain), decode it back,
/// apply it at the record's chain position, reply. The store keeps every entry for replay tests.
struct Harness {
    var broker: Domain
    var now: Date
    let ids = Counter()
    let store = InMemoryEventStore()
    /// The content keys entries are sealed under, in memory (SPEC §11.7).
    let keys = try! ContentKeyStore(path: nil, dataKey: .generate())

    static let adminSerial = "A0"

    init(now: Date = date("2027-03-01T09:00:00Z"), policy: SharingPolicy? = nil, rules: DeadlineRules? = nil) throws {
        self.now = now
        broker = Domain(policy: try policy ?? shippedPolicy(), rules: try rules ?? DeadlineRules(calendar: shippedCalendar()))
        let boot = BrokerState.bootstrap(agencies: try shippedSeeds(), adminSerial: Harness.adminSerial,
                                         adminNotAfter: now.addingTimeInterval(365 * 86_400), adminIssuedAt: now.addingTimeInterval(-60))
        commit(boot)
    }

    var env: Environment {
        let ids = self.ids
        return Environment(now: now) { ids.next() }
    }

    var state: BrokerState { broker.state }

    /// Every record the store holds, in order.
    var journal: [JournalRecord] { store.records }

    /// Appends `entry` as the engine does and returns its record, without applying it.
    func append(_ entry: Entry) -> JournalRecord {
        let payload = try! EntryCodec.encode(entry, plan: broker.state.sealingPlan(of: entry), keys: keys)
        return try! store.appendNow(payload).get()
    }

    mutating func commit(_ entry: Entry) {
        let record = append(entry)
        let decoded = try! EntryCodec.decode(record, keys: keys)
        precondition(decoded == entry, "entry does not round-trip")
        broker.apply(decoded, position: EntryCodec.chainPosition(record))
        // As the engine does once an erasure is durable.
        for case .contentErased(_, let erased, _) in entry.events { try! keys.destroy(erased) }
    }

    /// Runs an outcome: on success journals and applies its entry and returns the reply.
    @discardableResult
    mutating func run<R>(_ outcome: Outcome<R>, sourceLocation: SourceLocation = #_sourceLocation) throws -> R {
        switch outcome {
        case .success(let decision):
            if let entry = decision.entry { commit(entry) }
            return decision.reply
        case .failure(let error):
            Issue.record("unexpected refusal \(error)", sourceLocation: sourceLocation)
            throw error
        }
    }

    /// The refusal of an outcome that must be refused; nothing is journaled.
    func refusal<R>(_ outcome: Outcome<R>, sourceLocation: SourceLocation = #_sourceLocation) throws -> DomainError {
        switch outcome {
        case .success:
            Issue.record("expected a refusal", sourceLocation: sourceLocation)
            throw TestFailure(description: "accepted")
        case .failure(let error):
            return error
        }
    }

    func actor(_ serial: String) throws -> Actor {
        try broker.identify(serial: serial, at: now).get()
    }

    var admin: Actor { try! actor(Harness.adminSerial) }

    /// The server operator, as `maracd credential approve` records it.
    static let operatorActor = Actor(principal: "offline-test", agency: "", role: .coordinator, serial: "OFFLINE")

    /// Creates a principal with a certificate (serial derived from the id), approved
    /// unless `approved` is false (an admin's needs none), and returns it as an actor.
    @discardableResult
    mutating func person(_ id: String, agency: String, role: Role, approved: Bool = true) throws -> Actor {
        let admin = self.admin
        try run(broker.createPrincipal(NewPrincipal(id: id, name: id.capitalized, agency: agency, role: role), by: admin, env: env))
        let serial = String(id.utf8.map { String($0, radix: 16, uppercase: true) }.joined().prefix(40))
        try run(broker.registerCredential(NewCredential(serial: serial, principal: id, issuedAt: now, notAfter: now.addingTimeInterval(365 * 86_400)),
                                          by: admin, env: env))
        if role.needsApproval && approved {
            // Approved as the server operator would approve the first coordinator's certificate offline.
            try run(broker.approveCredential(serial: serial, by: Harness.operatorActor, env: env))
        }
        return try broker.identify(serial: serial, at: now, allowPending: true).get()
    }

    /// Replays the store into a fresh state, as the engine does at startup.
    func replayed() -> BrokerState {
        var state = BrokerState()
        try! store.replay(after: 0) { record in
            state.apply(try EntryCodec.decode(record, keys: keys), position: EntryCodec.chainPosition(record))
        }
        return state
    }
}

/// A standard cast: coordinator, SPOCs for police, housing, health, children's
/// social care, an auditor, a meeting on 1 April 2027 10:00 London and a case.
struct Scenario {
    var h: Harness
    let coordinator: Actor
    let police: Actor
    let housing: Actor
    let health: Actor
    let childrens: Actor
    let auditor: Actor
    let meeting: Meeting
    let caseRecord: Case

    static let startsAt = date("2027-04-01T09:00:00Z")

    static let fields: [String: JSONValue] = [
        "victim.name": .string("Alice Example"),
        "victim.dateOfBirth": .string("1990-02-03"),
        "victim.phone": .string("07700 900123"),
        "victim.address": .string("12 Acacia Avenue"),
        "victim.safeAddress": .string("Refuge Fourteen"),
        "victim.gp": .string("Dr Hill, Riverside Surgery"),
        "victim.sexualOrientation": .string("bisexual-marker"),
        "victim.immigrationStatus": .string("status-marker"),
        "perpetrator.name": .string("Bob Example"),
        "perpetrator.pncId": .string("PNC-77-SECRET"),
        "perpetrator.substanceUse": .string("alcohol-marker"),
        "child.1.name": .string("Charlie Example"),
        "child.1.school": .string("Hilltop Primary"),
        "risk.level": .string("high"),
        "risk.dashScore": .number(17),
        "referral.reason": .string("Strangulation reported"),
    ]

    init(now: Date = date("2027-03-01T09:00:00Z")) throws {
        var h = try Harness(now: now)
        coordinator = try h.person("cora", agency: "community-safety", role: .coordinator)
        police = try h.person("pat-police", agency: "police", role: .spoc)
        housing = try h.person("hal-housing", agency: "housing", role: .spoc)
        health = try h.person("hetty-health", agency: "health", role: .spoc)
        childrens = try h.person("cass-csc", agency: "childrens-social-care", role: .spoc)
        auditor = try h.person("aud", agency: "community-safety", role: .auditor)
        meeting = try h.run(h.broker.createMeeting(NewMeeting(title: "MARAC April 2027", startsAt: Scenario.startsAt), by: coordinator, env: h.env))
        caseRecord = try h.run(h.broker.createCase(
            NewCase(meeting: meeting.id, reference: "MARAC-2027-0042", fields: Scenario.fields,
                    consent: Consent(status: .notObtained, lawfulBasis: "High risk of serious harm")),
            by: coordinator, env: h.env))
        self.h = h
    }

    mutating func dispatch(_ agencies: [String], questions: [String] = ["Is the victim known?", "Any recent incidents?"],
                           fields: [String]? = nil, releaseAt: Date? = nil, urgent: Bool? = nil, reason: String? = nil) -> Outcome<RequestList> {
        h.broker.dispatch(caseID: caseRecord.id,
                          DispatchOrder(agencies: agencies, questions: questions, fields: fields, releaseAt: releaseAt, urgent: urgent, reason: reason),
                          by: coordinator, env: h.env)
    }

    func answer(_ text: String, count: Int = 2) -> ReturnSubmission {
        ReturnSubmission(knownToAgency: true, summary: "Summary: \(text)", answers: (1...count).map { "\(text) answer \($0)" },
                         withheld: [WithheldItem(what: "\(text) withheld item", reason: "ongoing investigation")])
    }
}

/// JSON of a reply as the API would send it.
func json<T: Encodable>(_ value: T) -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    encoder.dateEncodingStrategy = .iso8601
    return String(decoding: try! encoder.encode(value), as: UTF8.self)
}

import Foundation
import Wire

/// A MARAC meeting; also its API shape `{id, title, startsAt, dispatchDeadline, returnDeadline,
/// panel, referralDeadline, acceptanceDeadline, agendaAt}`. The deadlines are computed once, at
/// creation, from the panel and calendar, and journaled with it, so a later configuration
/// change does not move the deadlines of existing meetings. The panel's fields are absent
/// from meetings journaled before panels existed (they belong to the default panel).
public struct Meeting: Codable, Sendable, Equatable {
    /// Opaque id.
    public var id: String
    /// Human title, e.g. `MARAC North, April 2027`.
    public var title: String
    /// When the meeting starts.
    public var startsAt: Date
    /// Research must be dispatched by then (unless urgent).
    public var dispatchDeadline: Date
    /// Returns are due by then (unless extended).
    public var returnDeadline: Date
    /// The panel that meets (nil: journaled before panels, the default panel).
    public var panel: String?
    /// Referrals for this meeting close then (`referralLeadDays` calendar days before).
    public var referralDeadline: Date?
    /// Referrals accepted later need `urgent` with a reason (`acceptanceLeadDays` calendar days before).
    public var acceptanceDeadline: Date?
    /// Invited SPOCs see the agenda from then (`agendaLeadHours` before).
    public var agendaAt: Date?

    /// Creates a meeting.
    public init(id: String, title: String, startsAt: Date, dispatchDeadline: Date, returnDeadline: Date,
                panel: String? = nil, referralDeadline: Date? = nil, acceptanceDeadline: Date? = nil, agendaAt: Date? = nil) {
        self.id = id
        self.title = title
        self.startsAt = startsAt
        self.dispatchDeadline = dispatchDeadline
        self.returnDeadline = returnDeadline
        self.panel = panel
        self.referralDeadline = referralDeadline
        self.acceptanceDeadline = acceptanceDeadline
        self.agendaAt = agendaAt
    }
}

extension Case {
    /// Encodes `consent` as `null` when absent, so the shape is always
    /// `{id, meeting, reference, fields, consent, state, listings}` (plus `panel`,
    /// `caseType` and `referral` when known). `meeting` is the first listing's.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(meeting, forKey: .meeting)
        try container.encode(reference, forKey: .reference)
        try container.encode(fields, forKey: .fields)
        try container.encode(consent, forKey: .consent)
        try container.encode(currentState, forKey: .state)
        try container.encode(allListings, forKey: .listings)
        try container.encodeIfPresent(panel, forKey: .panel)
        try container.encodeIfPresent(caseType, forKey: .caseType)
        try container.encodeIfPresent(referral, forKey: .referral)
        try container.encodeIfPresent(version, forKey: .version)
        try container.encodeIfPresent(closedAt, forKey: .closedAt)
        try container.encodeIfPresent(repeatOf, forKey: .repeatOf)
        try container.encodeIfPresent(erasedAt, forKey: .erasedAt)
    }

    /// `state`, open for cases journaled before states existed.
    public var currentState: CaseState { state ?? .open }

    /// `listings`, or the one listing (new, at `meeting`) of a case journaled before listings existed.
    public var allListings: [Listing] { listings ?? [Listing(meeting: meeting, kind: .new, slot: nil)] }

    /// Whether the case is listed at `meeting`.
    public func isListed(at meeting: String) -> Bool { allListings.contains { $0.meeting == meeting } }
}

/// One correction of a case's fields (`PATCH /v1/cases/{id}/fields`): the values it sets, the
/// paths it removes, and what the changed paths held before, so that a request released before
/// it still shows what it released. Kept in the state, never in API replies.
public struct FieldCorrection: Codable, Sendable, Equatable {
    /// The case's version after it.
    public var version: Int
    public var set: [String: JSONValue]
    public var remove: [String]
    public var reason: String
    /// The previous values of the changed paths that existed.
    public var replaced: [String: JSONValue]
    /// The changed paths that did not exist before.
    public var added: [String]
}

/// Where a case stands (SPEC §11.3).
public enum CaseState: String, Codable, Sendable {
    case open, closed, erased
}

/// A case on one meeting's agenda: its first hearing (`new`) or a later one (`review`).
public struct Listing: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable { case new, review }
    /// The meeting.
    public var meeting: String
    public var kind: Kind
    /// The time slot given, `HH:MM` local time, if any.
    public var slot: String?

    public init(meeting: String, kind: Kind, slot: String?) {
        self.meeting = meeting
        self.kind = kind
        self.slot = slot
    }
}

/// The consent record of a case (SPEC §5).
public struct Consent: Codable, Sendable, Equatable {
    /// Whether the victim consented to information sharing.
    public enum Status: String, Codable, Sendable {
        /// Consent obtained.
        case obtained
        /// Consent not obtained: sharing needs a lawful basis.
        case notObtained = "not-obtained"
    }
    /// Obtained or not.
    public var status: Status
    /// Required when consent was not obtained, e.g. "high risk of serious harm".
    public var lawfulBasis: String?

    /// Creates a consent record.
    public init(status: Status, lawfulBasis: String? = nil) {
        self.status = status
        self.lawfulBasis = lawfulBasis
    }
}

/// A case on a meeting's agenda; also its API shape `{id, meeting, reference, fields, consent}`.
public struct Case: Codable, Sendable, Equatable {
    /// Opaque id.
    public var id: String
    /// The meeting it is heard at.
    public var meeting: String
    /// Human reference, e.g. `MARAC-2027-0042`.
    public var reference: String
    /// Dotted path → value; every path classified by the policy.
    public var fields: [String: JSONValue]
    /// The consent record; research cannot be dispatched without one.
    public var consent: Consent?
    /// Nil in cases journaled before case states: open.
    public var state: CaseState?
    /// Every meeting the case is listed at, in listing order; nil in cases journaled before listings.
    public var listings: [Listing]?
    /// The panel that hears it (nil: journaled before panels; its first meeting's panel).
    public var panel: String?
    /// The referral's case type, e.g. `asb`, when the case came from a referral.
    public var caseType: String?
    /// The referral it was accepted from.
    public var referral: String?
    /// How many times the fields were corrected (nil: never).
    public var version: Int?
    /// When the case was closed.
    public var closedAt: Date?
    /// Cases heard before within the panel's repeat window: in the coordinator's replies only, never stored.
    public var repeatOf: [RepeatMatch]?
    /// When the case was erased (its content key destroyed).
    public var erasedAt: Date?

    /// Creates a case.
    public init(id: String, meeting: String, reference: String, fields: [String: JSONValue], consent: Consent?,
                state: CaseState? = nil, listings: [Listing]? = nil, panel: String? = nil, caseType: String? = nil, referral: String? = nil) {
        self.id = id
        self.meeting = meeting
        self.reference = reference
        self.fields = fields
        self.consent = consent
        self.state = state
        self.listings = listings
        self.panel = panel
        self.caseType = caseType
        self.referral = referral
    }
}

/// Information an agency holds but will not share, and why.
public struct WithheldItem: Codable, Sendable, Equatable {
    /// What is withheld, e.g. "details of an ongoing investigation".
    public var what: String
    /// Why, e.g. "would prejudice the investigation".
    public var reason: String

    /// Creates an item.
    public init(what: String, reason: String) {
        self.what = what
        self.reason = reason
    }
}

/// One version of an agency's return; also its API shape
/// `{request, agency, version, submittedAt, knownToAgency, summary, answers, withheld}`.
public struct ResearchReturn: Codable, Sendable, Equatable {
    /// The request answered.
    public var request: String
    /// The agency that wrote it.
    public var agency: String
    /// 1 for the first return, then 2, 3… for amendments.
    public var version: Int
    /// When this version came in.
    public var submittedAt: Date
    /// Whether the subjects are known to the agency.
    public var knownToAgency: Bool
    /// Summary of what the agency holds.
    public var summary: String
    /// One answer per question, in question order.
    public var answers: [String]
    /// Information held but not shared.
    public var withheld: [WithheldItem]

    /// Creates a return version.
    public init(request: String, agency: String, version: Int, submittedAt: Date, knownToAgency: Bool,
                summary: String, answers: [String], withheld: [WithheldItem]) {
        self.request = request
        self.agency = agency
        self.version = version
        self.submittedAt = submittedAt
        self.knownToAgency = knownToAgency
        self.summary = summary
        self.answers = answers
        self.withheld = withheld
    }
}

/// Written by hand: a return is encoded on every submission (its size counted against
/// `limits.maxReturnBytesPerRequest` when decided and again when applied, then the reply).
/// `ResearchReturnJSONTests` compares these bytes with the `Encodable` form's.
extension ResearchReturn: JSONWritable {
    public func writeJSON(to out: inout JSONOutput) {
        out.beginObject()
        out.key("agency"); out.string(agency)
        out.key("answers"); out.strings(answers)
        out.key("knownToAgency"); out.bool(knownToAgency)
        out.key("request"); out.string(request)
        out.key("submittedAt"); out.date(submittedAt)
        out.key("summary"); out.string(summary)
        out.key("version"); out.integer(version)
        out.key("withheld")
        out.array(withheld) { out, item in
            out.beginObject()
            out.key("reason"); out.string(item.reason)
            out.key("what"); out.string(item.what)
            out.endObject()
        }
        out.endObject()
    }
}

/// A research request to one agency, as stored (the API shape is `RequestView`).
public struct ResearchRequest: Codable, Sendable, Equatable {
    /// Opaque id.
    public var id: String
    /// The case researched.
    public var `case`: String
    /// The case's meeting.
    public var meeting: String
    /// The agency asked.
    public var agency: String
    /// The questions, in order.
    public var questions: [String]
    /// Names of the case fields released to the agency, fixed at dispatch.
    public var fieldNames: [String]
    /// Every agency of the dispatch (the "invited" set for `"*"` categories).
    public var invited: [String]
    /// Dispatched outside the deadline, or flagged urgent by the coordinator.
    public var urgent: Bool
    /// Why it is urgent.
    public var reason: String?
    /// When the agency may first see it.
    public var releaseAt: Date
    /// The meeting's dispatch deadline.
    public var dispatchDeadline: Date
    /// The meeting's return deadline.
    public var returnDeadline: Date
    /// When the coordinator dispatched it.
    public var dispatchedAt: Date
    /// Who dispatched it.
    public var dispatchedBy: String
    /// When it became visible to the agency; nil while scheduled.
    public var releasedAt: Date?
    /// When the agency first read it.
    public var acknowledgedAt: Date?
    /// An extended return deadline.
    public var extendedUntil: Date?
    /// Why it was extended.
    public var extensionReason: String?
    /// Every version of the agency's return, oldest first.
    public var returns: [ResearchReturn]
    /// Journal sequence number of the dispatch.
    public var createdSeq: UInt64
    /// Journal sequence number of the last change the agency is told about
    /// (release, return, extension).
    public var changedSeq: UInt64
    /// That change's place in the agency's own feed (1, 2, 3… per agency): drives the SPOC
    /// cursor, which so reveals nothing of other agencies' activity. Nil in requests from a
    /// snapshot written before feed positions existed, which count as position 1.
    public var feedPosition: UInt64?
    /// The compact JSON size of all `returns` together (what `limits.maxReturnBytesPerRequest`
    /// counts), kept as versions are applied so a new version costs one encoding, not one per
    /// version. Nil in a dispatch entry and in snapshots from before it was kept: then counted.
    public var returnBytes: Int?
    /// The case's version when the request was released (nil: 0, or not released): its fields are
    /// shown as they were then, whatever corrections follow.
    public var caseVersion: Int?
    /// Research asked after the meeting (`kind: "follow-up"`), with its own return deadline.
    public var followUp: Bool?

    /// The size `limits.maxReturnBytesPerRequest` counts: `returnBytes`, or counted when not kept.
    public var totalReturnBytes: Int {
        returnBytes ?? returns.reduce(0) { $0 + ReturnLimits.encodedSize(of: $1) }
    }

    /// The deadline a return must meet: the extension if granted, else the return deadline.
    public var effectiveReturnDeadline: Date { extendedUntil ?? returnDeadline }

    /// The state at `now` (SPEC §7 meeting status).
    public func state(at now: Date) -> RequestState {
        if releasedAt == nil { return .scheduled }
        if !returns.isEmpty { return .returned }
        if now > effectiveReturnDeadline { return .overdue }
        if extendedUntil != nil { return .extended }
        if acknowledgedAt != nil { return .acknowledged }
        return .released
    }
}

/// Where a request stands.
public enum RequestState: String, Codable, Sendable {
    /// Waiting for its `releaseAt`; the agency cannot see it.
    case scheduled
    /// Visible to the agency, not yet read.
    case released
    /// Read by the agency.
    case acknowledged
    /// At least one return version is in.
    case returned
    /// Its return deadline was extended and it is not yet returned.
    case extended
    /// Past its (possibly extended) deadline without a return.
    case overdue
}

import Foundation
import Wire

/// A referral of a case to a panel by an agency (SPEC §11.2); also its API shape
/// `{id, panel, meeting?, agency, referrer, state, caseType, criteria, reason, consent,
/// fields, screening, decision?, case?, createdAt}`.
public struct Referral: Codable, Sendable, Equatable {
    public enum State: String, Codable, Sendable { case submitted, accepted, declined, redirected }

    public var id: String
    public var panel: String
    /// The meeting asked for, if any.
    public var meeting: String?
    /// The referring agency.
    public var agency: String
    /// The referring principal.
    public var referrer: String
    public var state: State
    public var caseType: String
    /// Criterion ids the referrer claims, from the panel's `criteria`.
    public var criteria: [String]
    public var reason: String
    public var consent: Consent
    /// Case fields as for `POST /v1/cases`, every path classified by the sharing policy.
    public var fields: [String: JSONValue]
    /// Each rule of the panel and how the referral fared against it.
    public var screening: [ScreeningOutcome]
    public var decision: ReferralDecision?
    /// The case an acceptance created.
    public var `case`: String?
    /// The referral this one was redirected from.
    public var redirectedFrom: String?
    /// Cases heard before within the panel's repeat window: in the coordinator's views only, never stored.
    public var repeatOf: [RepeatMatch]?
    public var createdAt: Date
    /// When the referral's content was erased (its content key destroyed).
    public var erasedAt: Date?
}

/// One rule's outcome: `{rule, passed, detail}` (`rule` is the rule's kind; `hard` whether failing refuses).
public struct ScreeningOutcome: Codable, Sendable, Equatable {
    public var rule: String
    public var hard: Bool
    public var passed: Bool
    /// What was found, in words (no field values beyond dates and counts).
    public var detail: String
}

/// The coordinator's decision: `accepted` (with the case, meeting and slot), `declined`
/// (reason and advice for the referrer) or `redirected` (to another panel, with the new referral).
public struct ReferralDecision: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable { case accepted, declined, redirected }
    public var decision: Kind
    public var by: String
    public var at: Date
    public var meeting: String?
    public var slot: String?
    public var `case`: String?
    public var reason: String?
    public var advice: String?
    public var urgent: Bool?
    /// For a redirection: the panel and the new referral made there.
    public var panel: String?
    public var referral: String?

    var state: Referral.State {
        switch decision {
        case .accepted: .accepted
        case .declined: .declined
        case .redirected: .redirected
        }
    }
}

/// `POST /v1/referrals`.
public struct NewReferral: Codable, Sendable {
    /// Default: the first panel.
    public var panel: String?
    public var meeting: String?
    public var caseType: String
    public var fields: [String: JSONValue]
    public var consent: Consent
    public var criteria: [String]?
    public var reason: String

    public init(panel: String? = nil, meeting: String? = nil, caseType: String, fields: [String: JSONValue], consent: Consent,
                criteria: [String]? = nil, reason: String) {
        self.panel = panel
        self.meeting = meeting
        self.caseType = caseType
        self.fields = fields
        self.consent = consent
        self.criteria = criteria
        self.reason = reason
    }
}

/// `POST /v1/referrals/{id}/decision`.
public struct DecisionOrder: Codable, Sendable {
    public var decision: ReferralDecision.Kind
    /// Accepted: the meeting, an optional `HH:MM` slot and case reference (default: the referral id).
    public var meeting: String?
    public var slot: String?
    public var reference: String?
    /// Accepted after the meeting's acceptance deadline: `urgent` with a `reason`.
    public var urgent: Bool?
    /// Declined and redirected: why. Declined: `advice` for the referrer too.
    public var reason: String?
    public var advice: String?
    /// Redirected: the other panel.
    public var panel: String?
    /// Redirected: the case type under the other panel, when screening found it was another
    /// kind of case (e.g. neighbour anti-social behaviour referred as domestic abuse); default the referral's.
    public var caseType: String?

    public init(decision: ReferralDecision.Kind, meeting: String? = nil, slot: String? = nil, reference: String? = nil,
                urgent: Bool? = nil, reason: String? = nil, advice: String? = nil, panel: String? = nil, caseType: String? = nil) {
        self.caseType = caseType
        self.decision = decision
        self.meeting = meeting
        self.slot = slot
        self.reference = reference
        self.urgent = urgent
        self.reason = reason
        self.advice = advice
        self.panel = panel
    }
}

/// The answer to an acceptance: the referral and the case it became.
public struct DecisionReply: Codable, Sendable, Equatable {
    public var referral: Referral
    public var `case`: Case?
}

/// `GET /v1/referrals`.
public struct ReferralList: Codable, Sendable, Equatable {
    public var referrals: [Referral]
}

/// `GET /v1/panels`.
public struct PanelList: Codable, Sendable, Equatable {
    public var panels: [Panel]
}

/// `POST /v1/cases/{id}/listings`.
public struct NewListing: Codable, Sendable {
    public var meeting: String
    public var kind: Listing.Kind?
    public var slot: String?
    public init(meeting: String, kind: Listing.Kind? = nil, slot: String? = nil) {
        self.meeting = meeting
        self.kind = kind
        self.slot = slot
    }
}

/// `POST /v1/meetings/{id}/invitations`.
public struct Invitation: Codable, Sendable {
    public var agencies: [String]
    public init(agencies: [String]) { self.agencies = agencies }
}

/// `GET /v1/meetings/{id}/agenda`: the meeting's cases in slot order. SPOCs get no `case` and no `agencies`.
public struct Agenda: Codable, Sendable, Equatable {
    public struct Item: Codable, Sendable, Equatable {
        public var slot: String?
        public var reference: String
        public var kind: Listing.Kind
        /// The case id (coordinator only).
        public var `case`: String?
        /// Agencies with a request for the case at this meeting (coordinator only).
        public var agencies: [String]?
        /// Open actions on the case: all of them for the coordinator, the agency's own for a SPOC.
        public var openActions: Int
    }
    public var meeting: Meeting
    public var publishedAt: Date?
    public var items: [Item]
}

/// `GET /v1/cases`: the coordinator's list, without fields (`GET /v1/cases/{id}` has them, audited).
public struct CaseList: Codable, Sendable, Equatable {
    public struct Item: Codable, Sendable, Equatable {
        public var id: String
        public var reference: String
        public var state: CaseState
        public var panel: String?
        public var caseType: String?
        public var listings: [Listing]
        public var version: Int?
    }
    public var cases: [Item]
}

import Foundation
import Wire

/// `{"agencies": [...]}`.
public struct AgencyList: Codable, Sendable, Equatable {
    /// Sorted by id.
    public var agencies: [Agency]
}

/// `{"principals": [...]}`.
public struct PrincipalList: Codable, Sendable, Equatable {
    /// Sorted by id.
    public var principals: [Principal]
}

/// `{"meetings": [...]}`.
public struct MeetingList: Codable, Sendable, Equatable {
    /// Sorted by start time.
    public var meetings: [Meeting]
}

/// `GET /v1/whoami`: `{principal, name, agency, role, certificate: {serial, notAfter}}`.
public struct WhoAmI: Codable, Sendable, Equatable {
    /// The caller's certificate.
    public struct Certificate: Codable, Sendable, Equatable {
        /// Upper-case hex serial.
        public var serial: String
        /// Expiry.
        public var notAfter: Date
        /// `pending` until a coordinator approves it (then only whoami answers), `approved`, or `not-needed`.
        public var approval: String
    }
    /// Principal id.
    public var principal: String
    /// Principal name.
    public var name: String
    /// Agency id.
    public var agency: String
    /// Role.
    public var role: Role
    /// The certificate in use.
    public var certificate: Certificate
}

/// A credential as listed: `{serial, principal, agency, status, issuedAt, notAfter, revokedAt?, reason?}`.
public struct CredentialView: Codable, Sendable, Equatable {
    /// Upper-case hex serial.
    public var serial: String
    /// Principal id.
    public var principal: String
    /// The principal's agency.
    public var agency: String
    /// active | expired | revoked.
    public var status: String
    /// Issue time.
    public var issuedAt: Date
    /// Expiry.
    public var notAfter: Date
    /// Revocation time.
    public var revokedAt: Date?
    /// Revocation reason.
    public var reason: String?
    /// `pending`, `approved` or `not-needed` (an administrator's): whether a coordinator has let it open case text.
    public var approval: String
    /// The coordinator (or `offline-<user>`) who approved it.
    public var approvedBy: String?
    /// When it was approved.
    public var approvedAt: Date?
    /// Active and within `Limits.expiryWarningDays` of expiry: time to rotate.
    public var expiresSoon: Bool
    /// The credential this one renewed, if it is a renewal.
    public var renewedFrom: String? = nil
    /// The last request the broker accepted from it, to the minute (`nil`: none recorded).
    public var lastUsedAt: Date? = nil
}

/// `{"credentials": [...]}`.
public struct CredentialList: Codable, Sendable, Equatable {
    /// Sorted by principal, then serial.
    public var credentials: [CredentialView]

    public init(credentials: [CredentialView]) { self.credentials = credentials }
}

/// A request as its agency (or the coordinator) reads it:
/// `{id, case, reference, meeting, agency, state, urgent, reason?, questions,
/// fields, releaseAt, dispatchDeadline, returnDeadline, extendedUntil?}`.
/// `fields` holds only what the agency may see; withheld fields are absent.
public struct RequestView: Codable, Sendable, Equatable {
    /// Request id.
    public var id: String
    /// Case id.
    public var `case`: String
    /// Case reference.
    public var reference: String
    /// Meeting id.
    public var meeting: String
    /// Agency asked.
    public var agency: String
    /// Current state.
    public var state: RequestState
    /// Urgent dispatch.
    public var urgent: Bool
    /// Why urgent.
    public var reason: String?
    /// Questions in order.
    public var questions: [String]
    /// The case fields released to the agency.
    public var fields: [String: JSONValue]
    /// Release time.
    public var releaseAt: Date
    /// The meeting's dispatch deadline.
    public var dispatchDeadline: Date
    /// The meeting's return deadline.
    public var returnDeadline: Date
    /// Extended return deadline, if granted.
    public var extendedUntil: Date?
    /// `follow-up` for research asked after the meeting; absent for the meeting's own research.
    public var kind: String?
}

/// `{"requests": [...]}`: the answer to a dispatch.
public struct RequestList: Codable, Sendable, Equatable {
    /// One per agency, in the order asked.
    public var requests: [RequestView]
}

/// A request in the SPOC's change feed: everything but the questions and the
/// case fields, which are released (and audited, and acknowledged) only by
/// reading the request itself.
public struct RequestSummary: Codable, Sendable, Equatable {
    /// Request id.
    public var id: String
    /// Case id.
    public var `case`: String
    /// Case reference.
    public var reference: String
    /// Meeting id.
    public var meeting: String
    /// The SPOC's agency.
    public var agency: String
    /// Current state.
    public var state: RequestState
    /// Urgent dispatch.
    public var urgent: Bool
    /// Why urgent.
    public var reason: String?
    /// Release time.
    public var releaseAt: Date
    /// Dispatch deadline.
    public var dispatchDeadline: Date
    /// Return deadline.
    public var returnDeadline: Date
    /// Extended return deadline.
    public var extendedUntil: Date?
}

/// `GET /v1/requests?after=`: `{requests, cursor}`; pass `cursor` as the next `after`.
public struct RequestPage: Codable, Sendable, Equatable {
    /// Changed requests, oldest change first.
    public var requests: [RequestSummary]
    /// Opaque cursor.
    public var cursor: String
}

/// `GET /v1/requests/{id}/return`: `{latest, versions}`.
public struct ReturnHistory: Codable, Sendable, Equatable {
    /// The newest version.
    public var latest: ResearchReturn
    /// Every version, oldest first.
    public var versions: [ResearchReturn]
}

/// One row of `GET /v1/meetings/{id}/status`.
public struct RequestStatus: Codable, Sendable, Equatable {
    /// Request id.
    public var id: String
    /// Case id.
    public var `case`: String
    /// Case reference.
    public var reference: String
    /// Agency.
    public var agency: String
    /// State now.
    public var state: RequestState
    /// Urgent dispatch.
    public var urgent: Bool
    /// Scheduled or actual release time.
    public var releaseAt: Date
    /// When released.
    public var releasedAt: Date?
    /// When first read by the agency.
    public var acknowledgedAt: Date?
    /// When the latest return version came in.
    public var returnedAt: Date?
    /// Extended deadline.
    public var extendedUntil: Date?
}

/// `{"requests": [...]}` for a meeting's status, ordered by case reference then agency.
public struct MeetingStatus: Codable, Sendable, Equatable {
    /// Every request of the meeting.
    public var requests: [RequestStatus]
    /// Every action the meeting agreed, with its state (`overdue` while open past `dueAt`).
    public var actions: [ActionView]
}

/// One agency's part of a case's collated returns.
public struct CollatedReturn: Codable, Sendable, Equatable {
    /// Request id.
    public var request: String
    /// Agency id.
    public var agency: String
    /// Agency name.
    public var agencyName: String
    /// State now.
    public var state: RequestState
    /// The questions asked.
    public var questions: [String]
    /// The latest return, if any.
    public var latest: ResearchReturn?
    /// Every version.
    public var versions: [ResearchReturn]
    /// `follow-up` for research asked after the meeting.
    public var kind: String?
}

/// `GET /v1/cases/{id}/returns`: `{id, reference, meeting, returns}`, ordered by agency.
public struct CaseReturns: Codable, Sendable, Equatable {
    /// Case id.
    public var id: String
    /// Case reference.
    public var reference: String
    /// Meeting id.
    public var meeting: String
    /// One per request, by agency id.
    public var returns: [CollatedReturn]
}

/// `GET /v1/audit`: `{records, next?}`; `next` is the `after` for the next page.
public struct AuditPage: Codable, Sendable, Equatable {
    /// Records in sequence order.
    public var records: [AuditRecord]
    /// Present when more records follow.
    public var next: UInt64?
}


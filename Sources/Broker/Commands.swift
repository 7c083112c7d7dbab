import Foundation
import Wire

/// What a command needs from the world: the clock and fresh ids. Injected so
/// that tests use a fixed clock and counter ids, production the system clock
/// and random ids.
public struct Environment: Sendable {
    /// The current time.
    public var now: Date
    /// A fresh opaque id for each created object.
    public var newID: @Sendable () -> String

    /// Creates an environment.
    public init(now: Date, newID: @escaping @Sendable () -> String) {
        self.now = now
        self.newID = newID
    }

    /// The system clock and random 128-bit ids (lower-case hex, no dashes).
    public static func system() -> Environment {
        Environment(now: Date()) {
            UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        }
    }
}

/// The outcome of an accepted command: the entry to journal (nil for reads that
/// need no audit record) and the reply to send once it is durable.
public struct Decision<Reply: Sendable>: Sendable {
    /// Journal this, then `apply` it, then send `reply`.
    public var entry: Entry?
    /// The answer body.
    public var reply: Reply

    /// Creates a decision.
    public init(entry: Entry?, reply: Reply) {
        self.entry = entry
        self.reply = reply
    }
}

/// Every command answers an accepted decision or a refusal; a refusal changes nothing.
public typealias Outcome<Reply: Sendable> = Result<Decision<Reply>, DomainError>

// MARK: Command bodies (decoded by the API layer)

/// `POST /v1/agencies`.
public struct NewAgency: Codable, Sendable {
    /// Lower-case slug.
    public var id: String
    /// Display name.
    public var name: String
    /// core | non-core.
    public var kind: AgencyKind
    /// Default true.
    public var active: Bool?
    /// Creates a body.
    public init(id: String, name: String, kind: AgencyKind, active: Bool? = nil) {
        self.id = id; self.name = name; self.kind = kind; self.active = active
    }
}

/// `PATCH /v1/agencies/{id}`: only the keys present change.
public struct AgencyPatch: Codable, Sendable {
    /// New name.
    public var name: String?
    /// New kind.
    public var kind: AgencyKind?
    /// Enable or disable.
    public var active: Bool?
    /// Creates a body.
    public init(name: String? = nil, kind: AgencyKind? = nil, active: Bool? = nil) {
        self.name = name; self.kind = kind; self.active = active
    }
}

/// `POST /v1/principals`.
public struct NewPrincipal: Codable, Sendable {
    /// Slug.
    public var id: String
    /// Display name.
    public var name: String
    /// An existing agency.
    public var agency: String
    /// The role.
    public var role: Role
    /// Default true.
    public var active: Bool?
    /// Creates a body.
    public init(id: String, name: String, agency: String, role: Role, active: Bool? = nil) {
        self.id = id; self.name = name; self.agency = agency; self.role = role; self.active = active
    }
}

/// `PATCH /v1/principals/{id}`: only the keys present change.
public struct PrincipalPatch: Codable, Sendable {
    /// New name.
    public var name: String?
    /// Move to another existing agency.
    public var agency: String?
    /// New role.
    public var role: Role?
    /// Enable or disable.
    public var active: Bool?
    /// Creates a body.
    public init(name: String? = nil, agency: String? = nil, role: Role? = nil, active: Bool? = nil) {
        self.name = name; self.agency = agency; self.role = role; self.active = active
    }
}

/// What a signer made for a principal in `issueCredential`/`renewCredential`: the
/// domain registers its serial and expiry and hands the whole value back as the reply.
public protocol SignedCredential: Sendable {
    /// Upper-case hex serial.
    var serial: String { get }
    /// Expiry.
    var notAfter: Date { get }
    /// SHA-256 of the certified key's DER SubjectPublicKeyInfo (upper-case hex).
    var keySHA256: String? { get }
}

/// A certificate just signed, to register (issue 6).
public struct NewCredential: Codable, Sendable {
    /// Upper-case hex serial.
    public var serial: String
    /// The principal it was issued to.
    public var principal: String
    /// Issue time.
    public var issuedAt: Date
    /// Expiry.
    public var notAfter: Date
    /// SHA-256 of the certified key (``SignedCredential/keySHA256``); nil only where no key is known.
    public var keySHA256: String?
    /// Creates a body.
    public init(serial: String, principal: String, issuedAt: Date, notAfter: Date, keySHA256: String? = nil) {
        self.serial = serial; self.principal = principal; self.issuedAt = issuedAt; self.notAfter = notAfter; self.keySHA256 = keySHA256
    }
}

/// `POST /v1/meetings`.
public struct NewMeeting: Codable, Sendable {
    /// Non-empty title.
    public var title: String
    /// In the future.
    public var startsAt: Date
    /// The panel that meets; default the first of `panels.json`.
    public var panel: String?
    /// Creates a body.
    public init(title: String, startsAt: Date, panel: String? = nil) { self.title = title; self.startsAt = startsAt; self.panel = panel }
}

/// `POST /v1/cases`.
public struct NewCase: Codable, Sendable {
    /// An existing meeting.
    public var meeting: String
    /// Human reference, unique within the meeting.
    public var reference: String
    /// Dotted path → value; every path must be classified by the policy.
    public var fields: [String: JSONValue]
    /// Optional at creation; required before dispatch.
    public var consent: Consent?
    /// Creates a body.
    public init(meeting: String, reference: String, fields: [String: JSONValue], consent: Consent?) {
        self.meeting = meeting; self.reference = reference; self.fields = fields; self.consent = consent
    }
}

/// `POST /v1/cases/{id}/research`.
public struct DispatchOrder: Codable, Sendable {
    /// One request per agency.
    public var agencies: [String]
    /// Questions for every agency.
    public var questions: [String]
    /// Narrow the fields sent (never widen); default: everything each agency may see.
    public var fields: [String]?
    /// Schedule the release; default: now.
    public var releaseAt: Date?
    /// Allows dispatch after the deadline; needs `reason`.
    public var urgent: Bool?
    /// Why it is urgent.
    public var reason: String?
    /// The listing's meeting the research is for; default the case's latest listing.
    public var meeting: String?
    /// `follow-up`: research after that meeting has started, with its own `returnBy`.
    public var kind: String?
    /// A follow-up's return deadline (in the future, at most 90 days ahead).
    public var returnBy: Date?
    /// Creates a body.
    public init(agencies: [String], questions: [String], fields: [String]? = nil, releaseAt: Date? = nil,
                urgent: Bool? = nil, reason: String? = nil, meeting: String? = nil, kind: String? = nil, returnBy: Date? = nil) {
        self.agencies = agencies; self.questions = questions; self.fields = fields
        self.releaseAt = releaseAt; self.urgent = urgent; self.reason = reason; self.meeting = meeting
        self.kind = kind; self.returnBy = returnBy
    }
}

/// `PUT /v1/requests/{id}/return`.
public struct ReturnSubmission: Codable, Sendable {
    /// Whether the subjects are known to the agency.
    public var knownToAgency: Bool
    /// Summary.
    public var summary: String
    /// One per question, in order.
    public var answers: [String]
    /// Held but not shared; default none.
    public var withheld: [WithheldItem]?
    /// Creates a body.
    public init(knownToAgency: Bool, summary: String, answers: [String], withheld: [WithheldItem]? = nil) {
        self.knownToAgency = knownToAgency; self.summary = summary; self.answers = answers; self.withheld = withheld
    }
}

/// `POST /v1/requests/{id}/extension`.
public struct ExtensionGrant: Codable, Sendable {
    /// New return deadline: after the current one and the present, not after the meeting start.
    public var until: Date
    /// Why (audited).
    public var reason: String
    /// Creates a body.
    public init(until: Date, reason: String) { self.until = until; self.reason = reason }
}

/// `PATCH /v1/cases/{id}/fields`: a correction of a case's fields.
public struct FieldPatch: Codable, Sendable {
    /// Paths to set (each classified by the sharing policy).
    public var set: [String: JSONValue]?
    /// Paths to remove (each on the case).
    public var remove: [String]?
    /// Why, for the audit trail.
    public var reason: String
    /// If given, the case's current version: a correction based on an older one is refused (409).
    public var version: Int?
    public init(set: [String: JSONValue]? = nil, remove: [String]? = nil, reason: String, version: Int? = nil) {
        self.set = set; self.remove = remove; self.reason = reason; self.version = version
    }
}

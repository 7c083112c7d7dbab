import Foundation

/// A state change. Every event carries all the data needed to apply it
/// (generated ids, times, computed deadlines), so replaying the journal
/// reproduces the state exactly, whatever the clock or configuration now says.
public enum Event: Codable, Sendable, Equatable {
    /// A new agency.
    case agencyCreated(agency: Agency)
    /// An agency's new value (name, kind, active).
    case agencyUpdated(agency: Agency)
    /// A new principal.
    case principalCreated(principal: Principal)
    /// A principal's new value (name, agency, role, active).
    case principalUpdated(principal: Principal)
    /// A certificate registered for a principal.
    case credentialRegistered(credential: Credential)
    /// A certificate revoked now.
    case credentialRevoked(serial: String, at: Date, reason: String)
    /// A certificate approved, or made pending again (its principal's role or agency changed).
    case credentialApprovalChanged(serial: String, approval: CredentialApproval)
    /// A new meeting with its computed deadlines.
    case meetingCreated(meeting: Meeting)
    /// A new case.
    case caseCreated(case: Case)
    /// A consent record set on an existing case.
    case consentRecorded(case: String, consent: Consent)
    /// A request created (released by a following `requestReleased`, now or later).
    case requestDispatched(request: ResearchRequest)
    /// A request made visible to its agency.
    case requestReleased(request: String, at: Date)
    /// The agency's first read of a request.
    case requestAcknowledged(request: String, at: Date, principal: String)
    /// A return version.
    case returnSubmitted(return: ResearchReturn)
    /// A request's return deadline extended.
    case extensionGranted(request: String, until: Date, reason: String)
    /// A referral made by an agency, with its screening outcome.
    case referralSubmitted(referral: Referral)
    /// The coordinator's decision on a referral (an acceptance's case is a `caseCreated` in the same entry).
    case referralDecided(referral: String, decision: ReferralDecision)
    /// A case listed again, at a later meeting.
    case caseListed(case: String, listing: Listing)
    /// A case's fields corrected (the new version).
    case fieldsCorrected(case: String, correction: FieldCorrection)
    /// Keyed hashes of a case's or referral's identifiers (`case:ID`, `referral:ID`), for repeats.
    case identifiersHashed(subject: String, hashes: [String])
    /// An action agreed for an agency.
    case actionAgreed(action: Action)
    /// An action completed by its owner agency.
    case actionCompleted(action: String, at: Date, note: String)
    /// An action cancelled by the coordinator.
    case actionCancelled(action: String, at: Date, reason: String)
    /// A case closed by the coordinator.
    case caseClosed(case: String, at: Date, reason: String)
    /// Agencies invited to a meeting beyond those with a request for it.
    case meetingInvited(meeting: String, agencies: [String])
    /// A case or referral given the id of the content key its content is sealed under (SPEC §11.7).
    case contentKeyAssigned(subject: String, key: String)
    /// Cases and referrals erased: their content keys destroyed, their content blanked (SPEC §11.7).
    case contentErased(subjects: [String], keys: [String], at: Date)
}

/// What an entry is audited as: never field values or return text.
public struct AuditDetail: Codable, Sendable, Equatable {
    /// e.g. `case.read`, `research.dispatch`, `return.submit`, `agency.create`.
    public var action: String
    /// The id of the object acted on.
    public var object: String
    /// Names of the case fields released, if any.
    public var fields: [String]?
    /// For a release of research to agencies: which field names went to which agency.
    public var releasedTo: [String: [String]]?
    /// The urgent or extension reason, if any.
    public var reason: String?

    /// Creates a detail.
    public init(action: String, object: String, fields: [String]? = nil, releasedTo: [String: [String]]? = nil, reason: String? = nil) {
        self.action = action
        self.object = object
        self.fields = fields
        self.releasedTo = releasedTo
        self.reason = reason
    }

    /// The action names the broker records.
    public enum Action {
        /// First start: default agencies and the admin.
        public static let bootstrap = "system.bootstrap"
        /// Agency registry.
        public static let agencyCreate = "agency.create", agencyUpdate = "agency.update"
        /// Principal registry.
        public static let principalCreate = "principal.create", principalUpdate = "principal.update", principalApprove = "principal.approve"
        /// Credentials.
        public static let credentialRegister = "credential.register", credentialRevoke = "credential.revoke"
        public static let credentialApprove = "credential.approve", credentialRenew = "credential.renew"
        /// Meetings.
        public static let meetingCreate = "meeting.create"
        /// Cases.
        public static let caseCreate = "case.create", caseRead = "case.read", consentRecord = "case.consent"
        /// Research.
        public static let dispatch = "research.dispatch", release = "research.release"
        /// Requests.
        public static let requestRead = "request.read", requestExtend = "request.extend"
        /// Returns.
        public static let returnSubmit = "return.submit", returnRead = "return.read"
        /// Collation.
        public static let returnsCollate = "case.returns", researchPack = "case.pack"
        /// Referrals (SPEC §11.2).
        public static let referralSubmit = "referral.submit", referralRead = "referral.read", referralDecide = "referral.decide"
        /// Cases across meetings and the agenda (SPEC §11.3, §11.4).
        public static let caseList = "case.list", meetingInvite = "meeting.invite", caseCorrect = "case.correct", caseClose = "case.close"
        /// Actions (SPEC §11.5).
        public static let actionAgree = "action.agree", actionComplete = "action.complete", actionCancel = "action.cancel"
        /// Erasure by key destruction (SPEC §11.7): by the coordinator, or by the retention sweep.
        public static let contentErase = "case.erase"
        /// The journal's head anchor created for a journal written before anchoring (`maracd journal anchor --init`).
        public static let journalAnchorCreated = "journal.anchor_created"
        /// Records lost from the journal's end, accepted by the operator (`maracd journal accept-truncation`).
        public static let journalTruncationAccepted = "journal.truncation_accepted"
    }
}

/// One journal record: one accepted command, its actor, its audit detail and
/// its events, applied together or not at all.
public struct Entry: Codable, Sendable, Equatable {
    /// When the command was accepted.
    public var at: Date
    /// Who issued it; nil for the system (bootstrap, scheduled release).
    public var actor: Actor?
    /// What to record in the audit log, if anything.
    public var audit: AuditDetail?
    /// The state changes; may be empty for an audited read.
    public var events: [Event]

    /// Creates an entry.
    public init(at: Date, actor: Actor?, audit: AuditDetail?, events: [Event]) {
        self.at = at
        self.actor = actor
        self.audit = audit
        self.events = events
    }
}

/// Where an entry sits in the journal's hash chain, given to `apply` by the
/// journal after the record is durable.
public struct ChainPosition: Codable, Sendable, Equatable {
    /// 1-based journal sequence number.
    public var seq: UInt64
    /// The record's chain hash (hex).
    public var hash: String
    /// The previous record's chain hash (hex).
    public var prevHash: String

    /// Creates a position.
    public init(seq: UInt64, hash: String, prevHash: String) {
        self.seq = seq
        self.hash = hash
        self.prevHash = prevHash
    }
}

/// An audit record as the API exposes it (SPEC §7):
/// `{seq, at, principal, agency, serial, action, object, fields?, reason?, hash, prevHash}`,
/// plus `releasedTo` (agency → field names) on research dispatch and release records.
/// System entries (bootstrap, scheduled release) have principal and agency
/// `system` and an empty serial.
public struct AuditRecord: Codable, Sendable, Equatable {
    /// Journal sequence number.
    public var seq: UInt64
    /// When.
    public var at: Date
    /// Who.
    public var principal: String
    /// Their agency.
    public var agency: String
    /// Their certificate serial.
    public var serial: String
    /// What.
    public var action: String
    /// To which object.
    public var object: String
    /// Field names released.
    public var fields: [String]?
    /// Research released: agency → the field names that agency was sent; on an invitation,
    /// each agency given the meeting and its agenda → no field.
    public var releasedTo: [String: [String]]?
    /// Urgent or extension reason.
    public var reason: String?
    /// The record's chain hash.
    public var hash: String
    /// The previous record's chain hash.
    public var prevHash: String
}

extension AuditRecord {
    /// The only actions whose reason an administrator sees: the registry's and the journal's own.
    /// Every other reason (urgent dispatch, extension, decline, correction, closure, cancellation,
    /// and whatever action comes next) is a coordinator's free text about a case: withheld by default.
    static let registryReasonActions: Set<String> = [
        AuditDetail.Action.credentialRevoke, AuditDetail.Action.journalAnchorCreated, AuditDetail.Action.journalTruncationAccepted,
        // The erasure's reason outlives the key it destroys; the coordinator is told it is shown to administrators.
        AuditDetail.Action.contentErase,
    ]

    /// The record as an administrator sees it: a case-related reason replaced by a notice.
    var withoutCaseText: AuditRecord {
        guard reason != nil, !Self.registryReasonActions.contains(action) else { return self }
        var copy = self
        copy.reason = "(withheld from administrators: case text)"
        return copy
    }
}

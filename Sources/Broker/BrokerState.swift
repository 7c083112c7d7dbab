import Foundation
import Wire

/// Everything the broker knows, rebuilt by applying journal entries in order.
///
/// The state is a pure value: `apply` is total and deterministic, so replaying
/// the journal (or loading a snapshot of this value, which round-trips through
/// JSON exactly) gives the same state.
public struct BrokerState: Codable, Sendable, Equatable {
    /// Agencies by id.
    public internal(set) var agencies: [String: Agency] = [:]
    /// Principals by id.
    public internal(set) var principals: [String: Principal] = [:]
    /// Credentials by serial.
    public internal(set) var credentials: [String: Credential] = [:]
    /// The last feed position given out per agency (`ResearchRequest.feedPosition`);
    /// nil in snapshots written before feed positions existed.
    public internal(set) var feedPositions: [String: UInt64]?
    /// Meetings by id.
    public internal(set) var meetings: [String: Meeting] = [:]
    /// Cases by id.
    public internal(set) var cases: [String: Case] = [:]
    /// Referrals by id; nil in snapshots written before referrals existed.
    public internal(set) var referrals: [String: Referral]?
    /// Agencies invited to each meeting by the coordinator (beyond those with a request for it);
    /// nil in snapshots written before invitations existed.
    public internal(set) var invitations: [String: [String]]?
    /// Identifier hashes by subject (`case:ID`, `referral:ID`); nil in snapshots written before repeats.
    public internal(set) var identifierHashes: [String: [String]]?
    /// Actions by id; nil in snapshots written before actions existed.
    public internal(set) var actions: [String: Action]?
    /// The last action-feed position given out per agency (`Action.feedPosition`).
    public internal(set) var actionFeed: [String: UInt64]?
    /// Field corrections per case, oldest first; nil in snapshots written before corrections existed.
    public internal(set) var corrections: [String: [FieldCorrection]]?
    /// The content key id of each case and referral made since content keys (SPEC §11.7).
    public internal(set) var contentKeys: [String: String]?
    /// Content key ids destroyed: nothing is ever sealed under them again.
    public internal(set) var erasedKeys: Set<String>?
    /// The journal position of the last erasure (snapshots before it hold erased content).
    public internal(set) var lastErasureSeq: UInt64?
    /// Research requests by id, each with its return versions.
    public internal(set) var requests: [String: ResearchRequest] = [:]
    /// The audit log, in journal order.
    public internal(set) var audit: [AuditRecord] = []
    /// The sequence number of the last applied entry (0 when empty).
    public internal(set) var lastSeq: UInt64 = 0
    /// The chain hash of the last applied entry.
    public internal(set) var lastHash: String = ""
    /// Lookups derived from the fields above, so that a new case or a repeat check does not scan every
    /// case: kept up to date by `apply`, rebuilt when a state is decoded, never written to a snapshot.
    private(set) var indexes = Indexes()

    /// An empty state.
    public init() {}

    enum CodingKeys: String, CodingKey {
        case agencies, principals, credentials, feedPositions, meetings, cases, referrals, invitations, identifierHashes, actions,
             actionFeed, corrections, contentKeys, erasedKeys, lastErasureSeq, requests, audit, lastSeq, lastHash
    }

    /// Reads a state as the synthesized decoder would (`decode` for each required member,
    /// `decodeIfPresent` for each optional one), then builds its indexes.
    /// - Throws: `DecodingError` for a missing member or a value of the wrong kind.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        agencies = try c.decode([String: Agency].self, forKey: .agencies)
        principals = try c.decode([String: Principal].self, forKey: .principals)
        credentials = try c.decode([String: Credential].self, forKey: .credentials)
        feedPositions = try c.decodeIfPresent([String: UInt64].self, forKey: .feedPositions)
        meetings = try c.decode([String: Meeting].self, forKey: .meetings)
        cases = try c.decode([String: Case].self, forKey: .cases)
        referrals = try c.decodeIfPresent([String: Referral].self, forKey: .referrals)
        invitations = try c.decodeIfPresent([String: [String]].self, forKey: .invitations)
        identifierHashes = try c.decodeIfPresent([String: [String]].self, forKey: .identifierHashes)
        actions = try c.decodeIfPresent([String: Action].self, forKey: .actions)
        actionFeed = try c.decodeIfPresent([String: UInt64].self, forKey: .actionFeed)
        corrections = try c.decodeIfPresent([String: [FieldCorrection]].self, forKey: .corrections)
        contentKeys = try c.decodeIfPresent([String: String].self, forKey: .contentKeys)
        erasedKeys = try c.decodeIfPresent(Set<String>.self, forKey: .erasedKeys)
        lastErasureSeq = try c.decodeIfPresent(UInt64.self, forKey: .lastErasureSeq)
        requests = try c.decode([String: ResearchRequest].self, forKey: .requests)
        audit = try c.decode([AuditRecord].self, forKey: .audit)
        lastSeq = try c.decode(UInt64.self, forKey: .lastSeq)
        lastHash = try c.decode(String.self, forKey: .lastHash)
        rebuildIndexes()
    }

    // MARK: Bootstrap

    /// The first entry of a new journal: the default agencies and the `admin`
    /// principal with its certificate.
    ///
    /// If `adminAgency` is not among `agencies`, it is created as a core agency
    /// named "Community Safety Partnership", so the entry always applies.
    public static func bootstrap(agencies: [AgencySeed], adminSerial: String, adminNotAfter: Date,
                                 adminIssuedAt: Date, adminAgency: String = "community-safety",
                                 adminName: String = "Administrator") -> Entry {
        var seeds = agencies
        if !seeds.contains(where: { $0.id == adminAgency }) {
            seeds.append(Agency(id: adminAgency, name: "Community Safety Partnership", kind: .core))
        }
        var events = seeds.map { Event.agencyCreated(agency: $0) }
        events.append(.principalCreated(principal: Principal(id: "admin", name: adminName, agency: adminAgency, role: .admin)))
        events.append(.credentialRegistered(credential: Credential(serial: adminSerial, principal: "admin",
                                                                    issuedAt: adminIssuedAt, notAfter: adminNotAfter)))
        return Entry(at: adminIssuedAt, actor: nil, audit: AuditDetail(action: AuditDetail.Action.bootstrap, object: "admin"),
                     events: events)
    }

    // MARK: Identity

    /// Who holds the certificate with `serial` at `now`.
    ///
    /// Runs on every request, so a revoked certificate, a disabled principal or
    /// an inactive agency is refused on its next request even on an open
    /// connection. Serials are compared upper-case.
    /// - Returns: `credential_unknown`, `credential_revoked`, `credential_expired`,
    ///   `principal_disabled`, `agency_inactive` or — unless `allowPending` (the
    ///   handshake, and `GET /v1/whoami`) — `credential_not_approved` (all 403) when refused.
    public func identify(serial: String, at now: Date, allowPending: Bool = false) -> Result<Actor, DomainError> {
        // Peers' serials arrive upper-case already (the TLS layer writes them so): no copy then.
        let key = serial.utf8.contains(where: { $0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "z") }) ? serial.uppercased() : serial
        guard let credential = credentials[key], let principal = principals[credential.principal] else {
            return .failure(DomainError(.credentialUnknown, "certificate \(key) is not registered"))
        }
        if credential.revokedAt != nil {
            return .failure(DomainError(.credentialRevoked, "certificate \(key) has been revoked"))
        }
        if now > credential.notAfter {
            return .failure(DomainError(.credentialExpired, "certificate \(key) expired at \(RFC3339.format(credential.notAfter, fraction: .milliseconds))"))
        }
        guard principal.active else {
            return .failure(DomainError(.principalDisabled, "principal \(principal.id) is disabled"))
        }
        guard let agency = agencies[principal.agency], agency.active else {
            return .failure(DomainError(.agencyInactive, "agency \(principal.agency) is inactive"))
        }
        guard allowPending || credential.isApproved(for: principal) else {
            return .failure(DomainError(.credentialNotApproved,
                                        "certificate \(key) of \(principal.id) (\(principal.role.rawValue)) has not been approved by a coordinator yet: "
                                            + "only GET /v1/whoami answers until one approves it (POST /v1/credentials/\(key)/approve)"))
        }
        return .success(Actor(principal: principal.id, agency: agency.id, role: principal.role, serial: key))
    }

    // MARK: Apply

    /// Applies one journal entry at its chain position. Total: events that refer
    /// to objects that do not exist are ignored (they cannot come from `decide`).
    public mutating func apply(_ entry: Entry, position: ChainPosition) {
        for event in entry.events { apply(event, seq: position.seq) }
        if let detail = entry.audit {
            audit.append(AuditRecord(seq: position.seq, at: entry.at,
                                     principal: entry.actor?.principal ?? "system",
                                     agency: entry.actor?.agency ?? "system",
                                     serial: entry.actor?.serial ?? "",
                                     action: detail.action, object: detail.object,
                                     fields: detail.fields, releasedTo: detail.releasedTo, reason: detail.reason,
                                     hash: position.hash, prevHash: position.prevHash))
        }
        lastSeq = max(lastSeq, position.seq)
        lastHash = position.hash
    }

    private mutating func apply(_ event: Event, seq: UInt64) {
        switch event {
        case .agencyCreated(let agency), .agencyUpdated(let agency):
            agencies[agency.id] = agency
        case .principalCreated(let principal), .principalUpdated(let principal):
            principals[principal.id] = principal
        case .credentialRegistered(let credential):
            credentials[credential.serial] = credential
        case .credentialApprovalChanged(let serial, let approval):
            credentials[serial]?.approval = approval
        case .credentialRevoked(let serial, let at, let reason):
            credentials[serial]?.revokedAt = at
            credentials[serial]?.revocationReason = reason
        case .meetingCreated(let meeting):
            meetings[meeting.id] = meeting
        case .caseCreated(let record):
            let old = cases[record.id]
            cases[record.id] = record
            reindex(case: record.id, was: old)
        case .consentRecorded(let id, let consent):
            cases[id]?.consent = consent
        case .requestDispatched(var request):
            request.createdSeq = seq
            requests[request.id] = request
            markChanged(request.id, seq: seq)
        case .requestReleased(let id, let at):
            guard let request = requests[id], request.releasedAt == nil else { return }
            requests[id]?.releasedAt = at
            // What it releases is the case as it is now: later corrections do not change it.
            requests[id]?.caseVersion = cases[request.case]?.version
            markChanged(id, seq: seq)
        case .requestAcknowledged(let id, let at, _):
            guard requests[id]?.acknowledgedAt == nil else { return }
            requests[id]?.acknowledgedAt = at
        case .returnSubmitted(let version):
            guard let request = requests[version.request] else { return }
            requests[version.request]?.returnBytes = request.totalReturnBytes + ReturnLimits.encodedSize(of: version)
            requests[version.request]?.returns.append(version)
            markChanged(version.request, seq: seq)
        case .extensionGranted(let id, let until, let reason):
            requests[id]?.extendedUntil = until
            requests[id]?.extensionReason = reason
            markChanged(id, seq: seq)
        case .referralSubmitted(let referral):
            referrals = referrals ?? [:]
            referrals?[referral.id] = referral
        case .referralDecided(let id, let decision):
            guard referrals?[id] != nil else { return }
            referrals?[id]?.decision = decision
            referrals?[id]?.state = decision.state
            referrals?[id]?.case = decision.case
        case .caseListed(let id, let listing):
            guard let record = cases[id] else { return }
            cases[id]?.listings = record.allListings + [listing]
            reindex(case: id, was: record)
        case .fieldsCorrected(let id, let correction):
            guard var record = cases[id] else { return }
            for path in correction.remove { record.fields.removeValue(forKey: path) }
            for (path, value) in correction.set { record.fields[path] = value }
            record.version = correction.version
            cases[id] = record
            var all = corrections ?? [:]
            all[id, default: []].append(correction)
            corrections = all
        case .identifiersHashed(let subject, let hashes):
            setIdentifierHashes(hashes, of: subject)
        case .actionAgreed(let action):
            actions = actions ?? [:]
            actions?[action.id] = action
            markActionChanged(action.id)
        case .actionCompleted(let id, let at, let note):
            guard actions?[id]?.state == .open else { return }
            actions?[id]?.state = .completed
            actions?[id]?.completedAt = at
            actions?[id]?.note = note
            markActionChanged(id)
        case .actionCancelled(let id, let at, let reason):
            guard actions?[id]?.state == .open else { return }
            actions?[id]?.state = .cancelled
            actions?[id]?.cancelledAt = at
            actions?[id]?.cancelReason = reason
            markActionChanged(id)
        case .caseClosed(let id, let at, _):
            cases[id]?.state = .closed
            cases[id]?.closedAt = at
        case .meetingInvited(let meeting, let agencies):
            var all = invitations ?? [:]
            all[meeting] = Array(Set(all[meeting] ?? []).union(agencies)).sorted()
            invitations = all
        case .contentKeyAssigned(let subject, let key):
            var all = contentKeys ?? [:]
            all[subject] = key
            contentKeys = all
        case .contentErased(let subjects, let keys, let at):
            for key in keys { eraseContent(key: key) }
            erasedKeys = (erasedKeys ?? []).union(keys)
            for id in subjects {
                if let old = cases[id] {
                    cases[id]?.state = .erased
                    cases[id]?.erasedAt = at
                    reindex(case: id, was: old)
                }
                if referrals?[id] != nil { referrals?[id]?.erasedAt = at }
            }
            lastErasureSeq = seq
        }
    }

    /// Records a change to request `id` at journal position `seq`, and — once it is released —
    /// gives it the next position in its agency's own feed (the SPOC cursor's unit).
    private mutating func markChanged(_ id: String, seq: UInt64) {
        guard let request = requests[id] else { return }
        requests[id]?.changedSeq = seq
        guard request.releasedAt != nil else { return }
        var positions = feedPositions ?? [:]
        let next = max(positions[request.agency] ?? 0, 1) + 1   // 1 is every request from an older snapshot
        positions[request.agency] = next
        feedPositions = positions
        requests[id]?.feedPosition = next
    }

    // MARK: Indexes

    /// Lookups derived from `cases` and `identifierHashes`.
    struct Indexes: Sendable, Equatable {
        /// A meeting and a case reference.
        struct Listed: Hashable, Sendable {
            var meeting: String
            var reference: String
        }

        /// The ids of the cases (any state) with each reference listed at each meeting.
        var listed: [Listed: Set<String>] = [:]
        /// The subjects (`case:ID`, `referral:ID`) holding each identifier hash.
        var subjectsByHash: [String: Set<String>] = [:]
    }

    /// Whether a case (in any state) with `reference` is listed at `meeting`.
    func hasCase(reference: String, listedAt meeting: String) -> Bool {
        indexes.listed[Indexes.Listed(meeting: meeting, reference: reference)]?.isEmpty == false
    }

    /// The subjects holding any of `hashes`.
    func subjects(holdingAnyOf hashes: Set<String>) -> Set<String> {
        var result = Set<String>()
        for hash in hashes { result.formUnion(indexes.subjectsByHash[hash] ?? []) }
        return result
    }

    /// Replaces `subject`'s identifier hashes, and the index of them.
    mutating func setIdentifierHashes(_ hashes: [String], of subject: String) {
        var all = identifierHashes ?? [:]
        for hash in Set(all[subject] ?? []) {
            indexes.subjectsByHash[hash]?.remove(subject)
            if indexes.subjectsByHash[hash]?.isEmpty == true { indexes.subjectsByHash[hash] = nil }
        }
        all[subject] = hashes
        for hash in hashes { indexes.subjectsByHash[hash, default: []].insert(subject) }
        identifierHashes = all
    }

    /// Moves case `id` in the listing index from what it `was` to what it is now.
    private mutating func reindex(case id: String, was old: Case?) {
        if let old {
            for meeting in Set(old.allListings.map(\.meeting)) {
                let key = Indexes.Listed(meeting: meeting, reference: old.reference)
                indexes.listed[key]?.remove(id)
                if indexes.listed[key]?.isEmpty == true { indexes.listed[key] = nil }
            }
        }
        if let record = cases[id] {
            for listing in record.allListings {
                indexes.listed[Indexes.Listed(meeting: listing.meeting, reference: record.reference), default: []].insert(id)
            }
        }
    }

    /// Builds the indexes from `cases` and `identifierHashes` (after decoding).
    mutating func rebuildIndexes() {
        indexes = Indexes()
        for id in cases.keys { reindex(case: id, was: nil) }
        for (subject, hashes) in identifierHashes ?? [:] {
            for hash in hashes { indexes.subjectsByHash[hash, default: []].insert(subject) }
        }
    }

    // MARK: Queries for the API layer

    /// The earliest `releaseAt` of a request still scheduled, to arm the release
    /// timer; nil when nothing is scheduled.
    public var nextScheduledRelease: Date? {
        requests.values.filter { $0.releasedAt == nil && cases[$0.case]?.currentState == .open }.map(\.releaseAt).min()
    }

    /// Whether `agency` has a released request changed after `cursor` (the
    /// long-poll wake-up test).
    public func hasChanges(for agency: String, after cursor: RequestCursor) -> Bool {
        requests.values.contains { $0.agency == agency && $0.releasedAt != nil && ($0.feedPosition ?? 1) > cursor.position }
    }

    /// Gives action `id` the next position in its owner agency's action feed.
    private mutating func markActionChanged(_ id: String) {
        guard let agency = actions?[id]?.ownerAgency else { return }
        var feed = actionFeed ?? [:]
        let next = (feed[agency] ?? 0) + 1
        feed[agency] = next
        actionFeed = feed
        actions?[id]?.feedPosition = next
    }

    /// The case's fields as they were at `version` (the corrections after it undone, newest first).
    func fields(of caseID: String, at version: Int) -> [String: JSONValue] {
        guard let record = cases[caseID] else { return [:] }
        var fields = record.fields
        for correction in (corrections?[caseID] ?? []).reversed() where correction.version > version {
            for path in correction.added { fields.removeValue(forKey: path) }
            for (path, value) in correction.replaced { fields[path] = value }
        }
        return fields
    }

    /// Meetings the agency is invited to: those where it has a released request, and those the coordinator invited it to.
    func invitedMeetings(of agency: String) -> Set<String> {
        var meetings = Set(requests.values.filter { $0.agency == agency && $0.releasedAt != nil }.map(\.meeting))
        for (meeting, agencies) in invitations ?? [:] where agencies.contains(agency) { meetings.insert(meeting) }
        return meetings
    }
}

/// The SPOC's position in its agency's own stream of request changes: an opaque string
/// on the wire (`a` followed by a feed position in base 36). It counts only the agency's
/// own changes, so it says nothing of other agencies' activity or of the journal.
public struct RequestCursor: Sendable, Equatable, CustomStringConvertible {
    /// Changes at a feed position above this are new.
    public let position: UInt64

    /// A cursor after `position`.
    public init(position: UInt64) { self.position = position }

    /// The start of the stream.
    public static let start = RequestCursor(position: 0)

    /// Parses the wire form; nil if it is not a cursor this broker issued. A cursor from
    /// before feed positions (`c` + journal position) reads as the start: its holder is
    /// sent its agency's requests once more (`marac requests watch` never delivers one twice).
    public init?(_ text: String) {
        guard let kind = text.first, kind == "a" || kind == "c", text.count <= 16,
              let value = UInt64(text.dropFirst(), radix: 36), String(value, radix: 36) == text.dropFirst() else { return nil }
        position = kind == "a" ? value : 0
    }

    /// The wire form.
    public var description: String { "a" + String(position, radix: 36) }
}

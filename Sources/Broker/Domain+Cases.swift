import Foundation
import Wire

extension Domain {
    // MARK: Meetings

    /// `POST /v1/meetings` (coordinator): `startsAt` in the future; the panel's deadlines
    /// (research, returns, referrals, acceptance, agenda) computed now and journaled with the meeting.
    public func createMeeting(_ body: NewMeeting, by actor: Actor, env: Environment) -> Outcome<Meeting> {
        if let error = require(actor, [.coordinator], to: "create meetings") { return .failure(error) }
        var body = body
        if let error = TextHygiene.clean(&body.title, field: "title", multiline: false) { return .failure(error) }
        guard Validate.isText(body.title, limit: Limits.titleLength) else {
            return .failure(.invalidField("title", "must be non-empty, at most \(Limits.titleLength) characters"))
        }
        guard body.startsAt > env.now else {
            return .failure(.invalidField("startsAt", "must be in the future"))
        }
        let panelID = body.panel ?? panels.first.id
        guard let panel = panels[panelID] else {
            return .failure(.invalidField("panel", "no panel \(panelID.prefix(Limits.idLength)) (see GET /v1/panels)"))
        }
        let deadlines = panel.deadlineRules(calendar: rules.calendar).deadlines(startsAt: body.startsAt)
        // Referral and acceptance leads are calendar days, at the meeting's local wall-clock time.
        let meeting = Meeting(id: env.newID(), title: body.title, startsAt: body.startsAt,
                              dispatchDeadline: deadlines.dispatch, returnDeadline: deadlines.return, panel: panel.id,
                              referralDeadline: daysBefore(body.startsAt, panel.referralLeadDays),
                              acceptanceDeadline: daysBefore(body.startsAt, panel.acceptanceLeadDays),
                              agendaAt: body.startsAt.addingTimeInterval(-Double(panel.agendaLeadHours) * 3600))
        return .success(Decision(entry: entry(env, actor, AuditDetail(action: AuditDetail.Action.meetingCreate, object: meeting.id),
                                              [.meetingCreated(meeting: meeting)]), reply: meeting))
    }

    /// `GET /v1/meetings`: every meeting for the coordinator; for a SPOC, those
    /// its agency has a released request in. Admin and auditor: 403.
    public func listMeetings(by actor: Actor) -> Outcome<MeetingList> {
        if let error = require(actor, [.coordinator, .spoc], to: "see meetings") { return .failure(error) }
        var meetings = Array(state.meetings.values)
        if actor.role == .spoc {
            let invited = state.invitedMeetings(of: actor.agency)
            meetings = meetings.filter { invited.contains($0.id) }
        }
        meetings.sort { ($0.startsAt, $0.id) < ($1.startsAt, $1.id) }
        return .success(Decision(entry: nil, reply: MeetingList(meetings: meetings)))
    }

    /// `GET /v1/meetings/{id}`: as `listMeetings`; a meeting a SPOC is not invited to is 404.
    public func meeting(id: String, by actor: Actor) -> Outcome<Meeting> {
        if let error = require(actor, [.coordinator, .spoc], to: "see meetings") { return .failure(error) }
        guard let meeting = state.meetings[id],
              actor.role == .coordinator || state.invitedMeetings(of: actor.agency).contains(id) else {
            return .failure(.notFound("meeting"))
        }
        return .success(Decision(entry: nil, reply: meeting))
    }

    /// `GET /v1/meetings/{id}/status` (coordinator): every request of the
    /// meeting with its state at `env.now`, by case reference then agency.
    public func meetingStatus(id: String, by actor: Actor, env: Environment) -> Outcome<MeetingStatus> {
        if let error = require(actor, [.coordinator], to: "see meeting status") { return .failure(error) }
        guard state.meetings[id] != nil else { return .failure(.notFound("meeting")) }
        let rows = state.requests.values.filter { $0.meeting == id }.map { status($0, at: env.now) }
            .sorted { ($0.reference, $0.agency, $0.id) < ($1.reference, $1.agency, $1.id) }
        let actions = (state.actions ?? [:]).values.filter { $0.meeting == id }.map { ActionView($0, at: env.now) }
            .sorted { ($0.reference, $0.ownerAgency, $0.id) < ($1.reference, $1.ownerAgency, $1.id) }
        return .success(Decision(entry: nil, reply: MeetingStatus(requests: rows, actions: actions)))
    }

    // MARK: Cases

    /// `POST /v1/cases` (coordinator). Every field path must be classified by
    /// the policy (else 422 `unknown_field`, nothing stored); consent
    /// `not-obtained` needs a lawful basis; the meeting must not have started.
    public func createCase(_ body: NewCase, by actor: Actor, env: Environment) -> Outcome<Case> {
        if let error = require(actor, [.coordinator], to: "create cases") { return .failure(error) }
        var body = body
        if let error = TextHygiene.clean(&body.reference, field: "reference", multiline: false) { return .failure(error) }
        if var consent = body.consent {
            if let error = TextHygiene.clean(&consent.lawfulBasis, field: "consent.lawfulBasis") { return .failure(error) }
            body.consent = consent
        }
        for path in body.fields.keys.sorted() {
            if let error = TextHygiene.clean(&body.fields[path]!, field: "fields[\"\(path.prefix(Limits.fieldPathLength))\"]") {
                return .failure(error)
            }
        }
        guard let meeting = state.meetings[body.meeting] else {
            return .failure(.invalidField("meeting", "no such meeting"))
        }
        guard meeting.startsAt > env.now else {
            return .failure(DomainError(.conflict, "meeting \(meeting.id) has already started"))
        }
        guard Validate.isText(body.reference, limit: Limits.referenceLength) else {
            return .failure(.invalidField("reference", "must be non-empty, at most \(Limits.referenceLength) characters"))
        }
        if state.hasCase(reference: body.reference, listedAt: body.meeting) {
            return .failure(DomainError(.conflict, "the meeting already has a case \(body.reference)"))
        }
        if let consent = body.consent, let error = validate(consent) { return .failure(error) }
        if let error = validate(fields: body.fields) { return .failure(error) }
        let record = Case(id: env.newID(), meeting: body.meeting, reference: body.reference, fields: body.fields, consent: body.consent,
                          state: .open, listings: [Listing(meeting: body.meeting, kind: .new, slot: nil)], panel: panel(of: meeting).id)
        var reply = record
        reply.repeatOf = repeats(of: record.fields, panel: panel(of: meeting), at: env.now)
        return .success(Decision(
            entry: entry(env, actor, AuditDetail(action: AuditDetail.Action.caseCreate, object: record.id, fields: record.fields.keys.sorted()),
                         [.contentKeyAssigned(subject: record.id, key: env.newID()), .caseCreated(case: record)]
                            + [identifierEvent("case:\(record.id)", fields: record.fields)].compactMap { $0 }),
            reply: reply))
    }

    /// `GET /v1/cases/{id}` (coordinator): every field; audited with the field names.
    public func readCase(id: String, by actor: Actor, env: Environment) -> Outcome<Case> {
        if let error = require(actor, [.coordinator], to: "read cases") { return .failure(error) }
        guard var record = state.cases[id] else { return .failure(.notFound("case")) }
        record.repeatOf = repeats(of: record.fields, panel: panel(of: record), at: env.now, excluding: id)
        return .success(Decision(
            entry: entry(env, actor, AuditDetail(action: AuditDetail.Action.caseRead, object: id, fields: record.fields.keys.sorted()), []),
            reply: record))
    }

    /// Records (or replaces) a case's consent record (coordinator).
    public func recordConsent(caseID: String, _ consent: Consent, by actor: Actor, env: Environment) -> Outcome<Case> {
        if let error = require(actor, [.coordinator], to: "change cases") { return .failure(error) }
        var consent = consent
        if let error = TextHygiene.clean(&consent.lawfulBasis, field: "consent.lawfulBasis") { return .failure(error) }
        guard var record = state.cases[caseID] else { return .failure(.notFound("case")) }
        guard record.currentState == .open else { return .failure(DomainError(.conflict, "case \(record.reference) is \(record.currentState.rawValue)")) }
        if let error = validate(consent) { return .failure(error) }
        record.consent = consent
        return .success(Decision(
            entry: entry(env, actor, AuditDetail(action: AuditDetail.Action.consentRecord, object: caseID),
                         [.consentRecorded(case: caseID, consent: consent)]),
            reply: record))
    }

    /// `PATCH /v1/cases/{id}/fields` (coordinator, open case): sets and removes fields with a
    /// reason. The result is policy-checked like a new case; the case's version goes up by one;
    /// the audit trail names the paths, never the values. Requests released before keep the
    /// values they released. With `version`, a correction based on an older version is 409.
    public func correctFields(caseID: String, _ patch: FieldPatch, by actor: Actor, env: Environment) -> Outcome<Case> {
        if let error = require(actor, [.coordinator], to: "correct cases") { return .failure(error) }
        var patch = patch
        if let error = TextHygiene.clean(&patch.reason, field: "reason") { return .failure(error) }
        var set = patch.set ?? [:]
        for path in set.keys.sorted() {
            if let error = TextHygiene.clean(&set[path]!, field: "set[\"\(path.prefix(Limits.fieldPathLength))\"]") { return .failure(error) }
        }
        let remove = patch.remove ?? []
        guard var record = state.cases[caseID] else { return .failure(.notFound("case")) }
        guard record.currentState == .open else {
            return .failure(DomainError(.conflict, "case \(record.reference) is \(record.currentState.rawValue); its fields cannot change"))
        }
        if let expected = patch.version, expected != (record.version ?? 0) {
            return .failure(DomainError(.conflict, "case \(record.reference) is at version \(record.version ?? 0), not \(expected); read it again"))
        }
        guard !set.isEmpty || !remove.isEmpty else { return .failure(.invalidField("set", "set or remove at least one field")) }
        guard Validate.isText(patch.reason, limit: Limits.reasonLength, multiline: true) else {
            return .failure(.invalidField("reason", "must be non-empty, at most \(Limits.reasonLength) characters"))
        }
        for (index, path) in remove.enumerated() {
            guard record.fields[path] != nil else {
                return .failure(.invalidField("remove[\(index)]", "the case has no field \"\(path.prefix(Limits.fieldPathLength))\""))
            }
            guard set[path] == nil, !remove[..<index].contains(path) else {
                return .failure(.invalidField("remove[\(index)]", "\(path) is named twice"))
            }
        }
        var fields = record.fields
        for path in remove { fields.removeValue(forKey: path) }
        for (path, value) in set { fields[path] = value }
        if let error = validate(fields: fields) { return .failure(error) }
        let changed = Set(set.keys).union(remove)
        let correction = FieldCorrection(version: (record.version ?? 0) + 1, set: set, remove: remove, reason: patch.reason,
                                         replaced: record.fields.filter { changed.contains($0.key) },
                                         added: changed.filter { record.fields[$0] == nil }.sorted())
        record.fields = fields
        record.version = correction.version
        return .success(Decision(
            entry: entry(env, actor, AuditDetail(action: AuditDetail.Action.caseCorrect, object: caseID, fields: changed.sorted(), reason: patch.reason),
                         [.fieldsCorrected(case: caseID, correction: correction)] + rehash("case:\(caseID)", fields: fields)),
            reply: record))
    }

    func validate(_ consent: Consent) -> DomainError? {
        if let basis = consent.lawfulBasis, !Validate.isText(basis, limit: Limits.lawfulBasisLength, multiline: true) {
            return .invalidField("consent.lawfulBasis", "must be non-empty, at most \(Limits.lawfulBasisLength) characters")
        }
        if consent.status == .notObtained && consent.lawfulBasis == nil {
            return .invalidField("consent.lawfulBasis", "is required when consent was not obtained")
        }
        return nil
    }

    /// Paths well formed and classified, values within the limits.
    func validate(fields: [String: JSONValue]) -> DomainError? {
        guard fields.count <= Limits.caseFieldCount else {
            return .invalidField("fields", "at most \(Limits.caseFieldCount) fields")
        }
        var total = 0
        for (path, value) in fields.sorted(by: { $0.key < $1.key }) {
            guard SharingPolicy.isValidPath(path) else {
                return .invalidField("fields[\"\(path.prefix(Limits.fieldPathLength))\"]",
                                     "a field path is dotted segments of letters, digits, '_' and '-' (at most \(Limits.fieldPathSegments))")
            }
            guard policy.classify(path) != nil else {
                return DomainError(.unknownField, "field \"\(path)\" is not classified by the sharing policy")
            }
            let size = value.approximateSize
            guard size <= Limits.fieldValueBytes, value.depth <= Limits.fieldValueDepth else {
                return .invalidField("fields[\"\(path)\"]", "value larger than \(Limits.fieldValueBytes) bytes or nested deeper than \(Limits.fieldValueDepth)")
            }
            total += size
        }
        guard total <= Limits.caseBytes else {
            return .invalidField("fields", "larger than \(Limits.caseBytes) bytes in all")
        }
        return nil
    }
}

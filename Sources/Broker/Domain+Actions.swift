import Foundation
import Wire

extension Domain {
    // MARK: Actions (SPEC §11.5)

    /// `POST /v1/cases/{id}/actions` (coordinator): an action for one agency on an open case, at
    /// or after its meeting (the latest listing whose meeting has started, or the one named).
    public func agreeAction(caseID: String, _ body: NewAction, by actor: Actor, env: Environment) -> Outcome<ActionView> {
        if let error = require(actor, [.coordinator], to: "agree actions") { return .failure(error) }
        var body = body
        if let error = TextHygiene.clean(&body.text, field: "text") { return .failure(error) }
        guard let record = state.cases[caseID] else { return .failure(.notFound("case")) }
        guard record.currentState == .open else {
            return .failure(DomainError(.conflict, "case \(record.reference) is \(record.currentState.rawValue); it takes no actions"))
        }
        let heard = record.allListings.filter { listing in state.meetings[listing.meeting].map { $0.startsAt <= env.now } ?? false }
        let meetingID: String
        if let named = body.meeting {
            guard heard.contains(where: { $0.meeting == named }) else {
                return .failure(.invalidField("meeting", "the case is not listed at a meeting \(named.prefix(Limits.idLength)) that has started"))
            }
            meetingID = named
        } else {
            guard let latest = heard.last else {
                return .failure(DomainError(.conflict, "actions are agreed at or after the meeting; case \(record.reference) has not been heard yet"))
            }
            meetingID = latest.meeting
        }
        guard let agency = state.agencies[body.ownerAgency], agency.active else {
            return .failure(.invalidField("ownerAgency", "no active agency \(body.ownerAgency.prefix(Limits.idLength))"))
        }
        guard Validate.isText(body.text, limit: Limits.actionTextLength, multiline: true) else {
            return .failure(.invalidField("text", "must be non-empty, at most \(Limits.actionTextLength) characters"))
        }
        guard body.dueAt > env.now else { return .failure(.invalidField("dueAt", "must be in the future")) }
        let action = Action(id: env.newID(), case: caseID, reference: record.reference, meeting: meetingID, ownerAgency: agency.id,
                            text: body.text, dueAt: body.dueAt, rapid: body.rapid ?? false, state: .open, createdAt: env.now)
        return .success(Decision(
            entry: entry(env, actor, AuditDetail(action: AuditDetail.Action.actionAgree, object: action.id), [.actionAgreed(action: action)]),
            reply: ActionView(action, at: env.now)))
    }

    /// The action `id` if `actor` may see it: the coordinator any, a SPOC its agency's; else nil.
    func visibleAction(_ id: String, to actor: Actor) -> Action? {
        guard let action = state.actions?[id], actor.role == .coordinator || action.ownerAgency == actor.agency else { return nil }
        return action
    }

    /// `GET /v1/actions/{id}` (coordinator; SPOC of the owner agency, others' are 404).
    public func action(id: String, by actor: Actor, env: Environment) -> Outcome<ActionView> {
        if let error = require(actor, [.coordinator, .spoc], to: "see actions") { return .failure(error) }
        guard let action = visibleAction(id, to: actor) else { return .failure(.notFound("action")) }
        return .success(Decision(entry: nil, reply: ActionView(action, at: env.now)))
    }

    /// `GET /v1/actions?after=` (spoc): the agency's actions changed after the cursor, oldest first.
    public func actions(after cursorText: String?, limit: Int = Limits.pageSize, by actor: Actor, env: Environment) -> Outcome<ActionPage> {
        if let error = require(actor, [.spoc], to: "poll for actions") { return .failure(error) }
        var cursor = RequestCursor.start
        if let cursorText, !cursorText.isEmpty {
            guard let parsed = RequestCursor(cursorText) else { return .failure(DomainError(.invalid, "after: not a cursor from this broker")) }
            cursor = parsed
        }
        guard (1...Limits.pageSize).contains(limit) else { return .failure(DomainError(.invalid, "limit: must be 1…\(Limits.pageSize)")) }
        let own = (state.actions ?? [:]).values.filter { $0.ownerAgency == actor.agency }
        let changed = own.filter { ($0.feedPosition ?? 0) > cursor.position }.sorted { ($0.feedPosition ?? 0, $0.id) < ($1.feedPosition ?? 0, $1.id) }
        let page = changed.prefix(limit)
        let head = own.compactMap(\.feedPosition).max() ?? 0
        let next = RequestCursor(position: page.count < changed.count ? page.last!.feedPosition ?? 0 : max(cursor.position, head))
        return .success(Decision(entry: nil, reply: ActionPage(actions: page.map { ActionView($0, at: env.now) }, cursor: next.description)))
    }

    /// `POST /v1/actions/{id}/complete` (SPOC of the owner agency): an open action, with a note.
    public func completeAction(id: String, _ body: ActionCompletion, by actor: Actor, env: Environment) -> Outcome<ActionView> {
        if let error = require(actor, [.spoc], to: "complete actions") { return .failure(error) }
        var body = body
        if let error = TextHygiene.clean(&body.note, field: "note") { return .failure(error) }
        guard var action = visibleAction(id, to: actor) else { return .failure(.notFound("action")) }
        guard action.state == .open else { return .failure(DomainError(.conflict, "action \(id) is \(action.state.rawValue)")) }
        guard Validate.isText(body.note, limit: Limits.actionTextLength, multiline: true) else {
            return .failure(.invalidField("note", "must be non-empty, at most \(Limits.actionTextLength) characters"))
        }
        action.state = .completed
        action.completedAt = env.now
        action.note = body.note
        return .success(Decision(
            entry: entry(env, actor, AuditDetail(action: AuditDetail.Action.actionComplete, object: id),
                         [.actionCompleted(action: id, at: env.now, note: body.note)]),
            reply: ActionView(action, at: env.now)))
    }

    /// `POST /v1/actions/{id}/cancel` (coordinator): an open action, with a reason.
    public func cancelAction(id: String, _ body: Reasoned, by actor: Actor, env: Environment) -> Outcome<ActionView> {
        if let error = require(actor, [.coordinator], to: "cancel actions") { return .failure(error) }
        var body = body
        if let error = TextHygiene.clean(&body.reason, field: "reason") { return .failure(error) }
        guard var action = state.actions?[id] else { return .failure(.notFound("action")) }
        guard action.state == .open else { return .failure(DomainError(.conflict, "action \(id) is \(action.state.rawValue)")) }
        guard Validate.isText(body.reason, limit: Limits.reasonLength, multiline: true) else {
            return .failure(.invalidField("reason", "must be non-empty, at most \(Limits.reasonLength) characters"))
        }
        action.state = .cancelled
        action.cancelledAt = env.now
        action.cancelReason = body.reason
        return .success(Decision(
            entry: entry(env, actor, AuditDetail(action: AuditDetail.Action.actionCancel, object: id, reason: body.reason),
                         [.actionCancelled(action: id, at: env.now, reason: body.reason)]),
            reply: ActionView(action, at: env.now)))
    }

    /// Open actions of a case (for closure, the agenda and meeting status).
    func openActions(of caseID: String) -> [Action] {
        (state.actions ?? [:]).values.filter { $0.case == caseID && $0.state == .open }
    }

    /// `POST /v1/cases/{id}/close` (coordinator): refused with `409 actions_open` while any action
    /// is open. A closed case takes no research, returns, actions, listings or corrections.
    public func closeCase(caseID: String, _ body: Reasoned, by actor: Actor, env: Environment) -> Outcome<Case> {
        if let error = require(actor, [.coordinator], to: "close cases") { return .failure(error) }
        var body = body
        if let error = TextHygiene.clean(&body.reason, field: "reason") { return .failure(error) }
        guard var record = state.cases[caseID] else { return .failure(.notFound("case")) }
        guard record.currentState == .open else { return .failure(DomainError(.conflict, "case \(record.reference) is \(record.currentState.rawValue)")) }
        guard Validate.isText(body.reason, limit: Limits.reasonLength, multiline: true) else {
            return .failure(.invalidField("reason", "must be non-empty, at most \(Limits.reasonLength) characters"))
        }
        let open = openActions(of: caseID).sorted { $0.id < $1.id }
        guard open.isEmpty else {
            return .failure(DomainError(.actionsOpen, "case \(record.reference) has \(open.count) open action(s) "
                                        + "(\(open.map { "\($0.id) for \($0.ownerAgency)" }.joined(separator: ", "))); complete or cancel them first"))
        }
        record.state = .closed
        record.closedAt = env.now
        return .success(Decision(
            entry: entry(env, actor, AuditDetail(action: AuditDetail.Action.caseClose, object: caseID, reason: body.reason),
                         [.caseClosed(case: caseID, at: env.now, reason: body.reason)]),
            reply: record))
    }
}

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
        guard let action = state.actions?[id], !isErased(action.case), actor.role == .coordinator || action.ownerAgency == actor.agency else { return nil }
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
        let cursor: RequestCursor
        switch feedCursor(cursorText, limit: limit, actions: true) {
        case .failure(let error): return .failure(error)
        case .success(let parsed): cursor = parsed
        }
        let own = (state.actions ?? [:]).values.filter { $0.ownerAgency == actor.agency }
        let changed = own.filter { ($0.feedPosition ?? 0) > cursor.position && !isErased($0.case) }.sorted { ($0.feedPosition ?? 0, $0.id) < ($1.feedPosition ?? 0, $1.id) }
        let page = changed.prefix(limit)
        let head = own.compactMap(\.feedPosition).max() ?? 0
        let next = RequestCursor(position: page.count < changed.count ? page.last!.feedPosition ?? 0 : max(cursor.position, head))
        return .success(Decision(entry: nil, reply: ActionPage(actions: page.map { ActionView($0, at: env.now) },
                                                               cursor: "t" + String(next.position, radix: 36))))
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

extension Domain {
    // MARK: Statistics (SPEC §11.8)

    /// `GET /v1/panels/{id}/statistics?from=YYYY-MM-DD&to=YYYY-MM-DD` (coordinator, auditor, admin):
    /// counts for the panel's meetings held from `from` to `to` inclusive (local dates; default the
    /// twelve months to today), and its referrals made in that period. Never content or per-case rows.
    public func statistics(panelID: String, from fromText: String?, to toText: String?, by actor: Actor, env: Environment) -> Outcome<PanelStatistics> {
        if let error = require(actor, [.coordinator, .auditor, .admin], to: "see statistics") { return .failure(error) }
        guard let panel = panels[panelID] else { return .failure(.notFound("panel")) }
        let today = rules.calendar.localDate(of: env.now).date
        func day(_ text: String?, _ name: String, default fallback: CivilDate) -> Result<CivilDate, DomainError> {
            guard let text else { return .success(fallback) }
            guard let date = CivilDate(text) else { return .failure(DomainError(.invalid, "\(name): must be a date YYYY-MM-DD")) }
            return .success(date)
        }
        let from: CivilDate, to: CivilDate
        switch day(toText, "to", default: today) {
        case .failure(let error): return .failure(error)
        case .success(let end): to = end
        }
        // Without `from`, the twelve months up to `to`.
        switch day(fromText, "from", default: to.adding(months: -12)) {
        case .failure(let error): return .failure(error)
        case .success(let start): from = start
        }
        guard from <= to, to.dayNumber - from.dayNumber <= 3_660 else {
            return .failure(.invalidField("from", "must not be after to, and the period at most ten years"))
        }
        let start = rules.calendar.instant(on: from, secondsOfDay: 0), end = rules.calendar.instant(on: to.adding(days: 1), secondsOfDay: 0)
        let inPeriod = { (date: Date) in date >= start && date < end }
        let meetings = Set(state.meetings.values.filter { self.panel(of: $0).id == panel.id && inPeriod($0.startsAt) && $0.startsAt <= env.now }.map(\.id))

        var stats = PanelStatistics(panel: panel.id, from: from.description, to: to.description, meetings: meetings.count,
                                    referrals: .init(), casesHeard: .init(), returns: .init(), actions: .init())
        for referral in (state.referrals ?? [:]).values where referral.panel == panel.id && inPeriod(referral.createdAt) {
            switch referral.state {
            case .submitted: stats.referrals.submitted += 1
            case .accepted: stats.referrals.accepted += 1
            case .declined: stats.referrals.declined += 1
            case .redirected: stats.referrals.redirected += 1
            }
        }
        for record in state.cases.values {
            for listing in record.allListings where meetings.contains(listing.meeting) {
                guard listing.kind == .new else { stats.casesHeard.review += 1; continue }
                stats.casesHeard.new += 1
                if let heardAt = state.meetings[listing.meeting]?.startsAt,
                   repeats(of: record.fields, panel: panel, at: heardAt, excluding: record.id)?.isEmpty == false {
                    stats.casesHeard.repeats += 1
                }
            }
        }
        for request in state.requests.values where meetings.contains(request.meeting) && request.releasedAt != nil {
            stats.returns.requested += 1
            if let first = request.returns.first {
                if first.submittedAt <= request.effectiveReturnDeadline { stats.returns.onTime += 1 } else { stats.returns.late += 1 }
            } else {
                stats.returns.missing += 1
            }
        }
        for action in (state.actions ?? [:]).values where meetings.contains(action.meeting) {
            stats.actions.agreed += 1
            switch action.state {
            case .completed:
                if let done = action.completedAt, done <= action.dueAt { stats.actions.completedOnTime += 1 } else { stats.actions.completedLate += 1 }
            case .cancelled: stats.actions.cancelled += 1
            case .open:
                if env.now > action.dueAt {
                    stats.actions.overdue += 1
                    stats.actions.overdueByAgency[action.ownerAgency, default: 0] += 1
                } else {
                    stats.actions.open += 1
                }
            }
        }
        return .success(Decision(entry: nil, reply: stats))
    }
}

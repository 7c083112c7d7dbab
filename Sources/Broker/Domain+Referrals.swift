import Foundation
import Wire

extension Domain {
    // MARK: Panels

    /// The panel a meeting belongs to (the default panel for meetings journaled before panels,
    /// and for a panel since removed from the configuration).
    func panel(of meeting: Meeting) -> Panel {
        meeting.panel.flatMap { panels[$0] } ?? panels.first
    }

    /// The panel that hears a case: its own, else its first meeting's.
    func panel(of record: Case) -> Panel {
        if let id = record.panel, let panel = panels[id] { return panel }
        return state.meetings[record.meeting].map { panel(of: $0) } ?? panels.first
    }

    /// When referrals for the meeting close: journaled with it, or (a meeting journaled before
    /// panels) computed from its panel now.
    func referralDeadline(of meeting: Meeting) -> Date {
        meeting.referralDeadline ?? daysBefore(meeting.startsAt, panel(of: meeting).referralLeadDays)
    }

    /// When acceptance without `urgent` ends (journaled, or computed as `referralDeadline(of:)`).
    func acceptanceDeadline(of meeting: Meeting) -> Date {
        meeting.acceptanceDeadline ?? daysBefore(meeting.startsAt, panel(of: meeting).acceptanceLeadDays)
    }

    /// `days` calendar days before `instant`, at its local wall-clock time.
    func daysBefore(_ instant: Date, _ days: Int) -> Date {
        let local = rules.calendar.localDate(of: instant)
        return rules.calendar.instant(on: local.date.adding(days: -days), secondsOfDay: local.secondsOfDay)
    }

    /// When invited SPOCs may see the meeting's agenda.
    func agendaAt(_ meeting: Meeting) -> Date {
        meeting.agendaAt ?? meeting.startsAt.addingTimeInterval(-Double(panel(of: meeting).agendaLeadHours) * 3600)
    }

    /// `GET /v1/panels` (any role): the panels, their lead times, criteria and rules.
    public func listPanels(by actor: Actor) -> Outcome<PanelList> {
        .success(Decision(entry: nil, reply: PanelList(panels: panels.panels)))
    }

    // MARK: Referrals

    /// `POST /v1/referrals` (spoc, for its own agency). Refused, storing nothing: an unknown panel,
    /// meeting or criterion, a field the policy does not classify, consent without a lawful basis
    /// (422); a meeting of another panel or already started (422 / 409); after the meeting's
    /// referral deadline (409 `referral_deadline_passed`); a hard rule failed (422
    /// `screening_failed`, listing every rule's outcome). Soft rules are stored for the decision.
    public func submitReferral(_ body: NewReferral, by actor: Actor, env: Environment) -> Outcome<Referral> {
        if let error = require(actor, [.spoc], to: "make referrals") { return .failure(error) }
        var body = body
        if let error = TextHygiene.clean(&body.reason, field: "reason") { return .failure(error) }
        if let error = TextHygiene.clean(&body.consent.lawfulBasis, field: "consent.lawfulBasis") { return .failure(error) }
        for path in body.fields.keys.sorted() {
            if let error = TextHygiene.clean(&body.fields[path]!, field: "fields[\"\(path.prefix(Limits.fieldPathLength))\"]") {
                return .failure(error)
            }
        }
        let panelID = body.panel ?? panels.first.id
        guard let panel = panels[panelID] else {
            return .failure(.invalidField("panel", "no panel \(panelID.prefix(Limits.idLength)) (see GET /v1/panels)"))
        }
        let waiting = (state.referrals ?? [:]).values.filter { $0.agency == actor.agency && $0.state == .submitted }.count
        guard waiting < Limits.waitingReferralsPerAgency else {
            return .failure(DomainError(.conflict, "agency \(actor.agency) already has \(waiting) referrals awaiting a decision "
                                        + "(at most \(Limits.waitingReferralsPerAgency)); nothing was stored"))
        }
        var meeting: Meeting?
        if let id = body.meeting {
            guard let found = state.meetings[id], self.panel(of: found).id == panel.id else {
                return .failure(.invalidField("meeting", "no meeting \(id.prefix(Limits.idLength)) of panel \(panel.id)"))
            }
            guard env.now < found.startsAt else { return .failure(DomainError(.conflict, "meeting \(found.id) has already started")) }
            let deadline = referralDeadline(of: found)
            if env.now > deadline {
                return .failure(DomainError(.referralDeadlinePassed,
                                            "referrals for meeting \(found.id) closed at \(RFC3339.format(deadline, fraction: .milliseconds)); refer it for the next meeting"))
            }
            meeting = found
        }
        guard Validate.isSlug(body.caseType) else {
            return .failure(.invalidField("caseType", "must be a lower-case slug such as \"asb\""))
        }
        let claimed = body.criteria ?? []
        // Each claim must be a criterion of the panel, named once (so the loop ends by the panel's count).
        for (index, criterion) in claimed.enumerated() {
            guard panel.criteria.contains(where: { $0.id == criterion }) else {
                return .failure(.invalidField("criteria[\(index)]", "panel \(panel.id) has no criterion \(criterion.prefix(Limits.idLength)) "
                                              + "(its criteria: \(panel.criteria.map(\.id).joined(separator: ", ")))"))
            }
            guard !claimed[..<index].contains(criterion) else { return .failure(.invalidField("criteria[\(index)]", "names \(criterion) twice")) }
        }
        guard Validate.isText(body.reason, limit: Limits.reasonLength, multiline: true) else {
            return .failure(.invalidField("reason", "must be non-empty, at most \(Limits.reasonLength) characters"))
        }
        if let error = validate(body.consent) { return .failure(error) }
        if let error = validate(fields: body.fields) { return .failure(error) }
        let screening: [ScreeningOutcome]
        switch screen(caseType: body.caseType, fields: body.fields, criteria: claimed, panel: panel, meeting: meeting, now: env.now) {
        case .failure(let error): return .failure(error)
        case .success(let outcomes): screening = outcomes
        }
        let referral = Referral(id: env.newID(), panel: panel.id, meeting: meeting?.id, agency: actor.agency, referrer: actor.principal,
                                state: .submitted, caseType: body.caseType, criteria: claimed, reason: body.reason, consent: body.consent,
                                fields: body.fields, screening: screening, decision: nil, case: nil, redirectedFrom: nil, createdAt: env.now)
        // The referrer is not told whether it is a repeat (SPEC §11.6): its reply never carries repeatOf.
        return .success(Decision(
            entry: entry(env, actor, AuditDetail(action: AuditDetail.Action.referralSubmit, object: referral.id, fields: body.fields.keys.sorted()),
                         [.contentKeyAssigned(subject: referral.id, key: env.newID()), .referralSubmitted(referral: referral)]
                            + [identifierEvent("referral:\(referral.id)", fields: body.fields)].compactMap { $0 }),
            reply: referral))
    }

    /// Screens a referral against a panel: every rule's outcome, or 422 `screening_failed` when a
    /// hard rule (the panel's case types, `minimumAge`, `excludeCaseTypes`) fails, naming each
    /// outcome. Dates are the broker's local dates; ages are taken on the meeting's date, else today.
    func screen(caseType: String, fields: [String: JSONValue], criteria: [String], panel: Panel, meeting: Meeting?,
                now: Date) -> Result<[ScreeningOutcome], DomainError> {
        let today = rules.calendar.localDate(of: now).date
        let ageDate = meeting.map { rules.calendar.localDate(of: $0.startsAt).date } ?? today
        func date(at path: String) -> Result<CivilDate?, DomainError> {
            guard let value = fields[path] else { return .success(nil) }
            guard let text = value.string, let date = CivilDate(text) else {
                return .failure(.invalidField("fields[\"\(path)\"]", "must be a date YYYY-MM-DD (the panel's rules read it)"))
            }
            return .success(date)
        }
        var outcomes = [ScreeningOutcome(rule: "caseTypes", hard: true, passed: panel.caseTypes.contains(caseType),
                                         detail: "panel \(panel.id) hears \(panel.caseTypes.joined(separator: ", ")); this is \(caseType)")]
        for rule in panel.rules {
            let passed: Bool
            let detail: String
            switch rule {
            case .minimumAge(let field, let years):
                switch date(at: field) {
                case .failure(let error): return .failure(error)
                case .success(nil): (passed, detail) = (false, "no date of birth at \(field); at least \(years) years old is required")
                case .success(let birth?):
                    let age = birth.years(until: ageDate)
                    (passed, detail) = (age >= years, "aged \(age) on \(ageDate); at least \(years) is required")
                }
            case .excludeCaseTypes(let types):
                (passed, detail) = (!types.contains(caseType), "the panel does not hear \(types.joined(separator: ", ")); this is \(caseType)")
            case .countWithin(let field, let min, let months):
                let since = today.adding(months: -months)
                var count = 0
                for (index, item) in (fields[field]?.array ?? []).enumerated() {
                    guard let text = item["date"].string, let date = CivilDate(text), date <= today else {
                        return .failure(.invalidField("fields[\"\(field)\"][\(index)].date", "must be a date YYYY-MM-DD, not in the future"))
                    }
                    if date >= since { count += 1 }
                }
                if let value = fields[field], value.array.isEmpty, value != .array([]) {
                    return .failure(.invalidField("fields[\"\(field)\"]", "must be a list of incidents, each {\"date\": \"YYYY-MM-DD\", …}"))
                }
                (passed, detail) = (count >= min, "\(count) incident(s) at \(field) since \(since); at least \(min) in \(months) months is required")
            case .unresolvedFor(let field, let months):
                let by = today.adding(months: -months)
                switch date(at: field) {
                case .failure(let error): return .failure(error)
                case .success(nil): (passed, detail) = (false, "no start date at \(field); unresolved for \(months) months is required")
                case .success(let began?):
                    (passed, detail) = (began <= by, "unresolved since \(began); since \(by) or earlier (\(months) months) is required")
                }
            case .anyOf(let wanted):
                let matched = wanted.filter(criteria.contains)
                (passed, detail) = (!matched.isEmpty, matched.isEmpty ? "claims none of \(wanted.joined(separator: ", "))"
                                                                       : "claims \(matched.joined(separator: ", "))")
            }
            outcomes.append(ScreeningOutcome(rule: rule.kind, hard: rule.isHard, passed: passed, detail: detail))
        }
        let failedHard = outcomes.filter { $0.hard && !$0.passed }
        guard failedHard.isEmpty else {
            let listed = outcomes.map { "\($0.rule) \($0.passed ? "passed" : "failed")\($0.hard ? " (hard)" : ""): \($0.detail)" }
            return .failure(DomainError(.screeningFailed, "the referral does not meet panel \(panel.id)'s rules: " + listed.joined(separator: "; ")))
        }
        return .success(outcomes)
    }

    /// `GET /v1/referrals`: every referral for the coordinator; a SPOC its own agency's. Without
    /// case fields (those come with `referral(id:)`, audited). Others: 403.
    public func listReferrals(by actor: Actor) -> Outcome<ReferralList> {
        if let error = require(actor, [.coordinator, .spoc], to: "see referrals") { return .failure(error) }
        let visible = (state.referrals ?? [:]).values.filter { actor.role == .coordinator || $0.agency == actor.agency }
        let listed = visible.sorted { ($0.createdAt, $0.id) < ($1.createdAt, $1.id) }.map { referral in
            var summary = referral
            if actor.role == .coordinator, let panel = panels[referral.panel] {
                summary.repeatOf = repeats(of: referral.fields, panel: panel, at: referral.createdAt, excluding: referral.case)
            }
            summary.fields = [:]
            return summary
        }
        return .success(Decision(entry: nil, reply: ReferralList(referrals: listed)))
    }

    /// `GET /v1/referrals/{id}`: the coordinator any; a SPOC its own agency's (another agency's is 404).
    /// Audited with the field names, like a case read.
    public func referral(id: String, by actor: Actor, env: Environment) -> Outcome<Referral> {
        if let error = require(actor, [.coordinator, .spoc], to: "see referrals") { return .failure(error) }
        guard var referral = state.referrals?[id], actor.role == .coordinator || referral.agency == actor.agency else {
            return .failure(.notFound("referral"))
        }
        if actor.role == .coordinator, let panel = panels[referral.panel] {
            referral.repeatOf = repeats(of: referral.fields, panel: panel, at: referral.createdAt, excluding: referral.case)
        }
        return .success(Decision(
            entry: entry(env, actor, AuditDetail(action: AuditDetail.Action.referralRead, object: id, fields: referral.fields.keys.sorted()), []),
            reply: referral))
    }

    /// `POST /v1/referrals/{id}/decision` (coordinator), on a submitted referral:
    /// - `accepted` with a meeting of the referral's panel (not started), an optional `HH:MM`
    ///   slot and case reference: creates the case with its first listing. After the meeting's
    ///   acceptance deadline only with `urgent` and a reason (else 409).
    /// - `declined` with a reason and advice for the referrer.
    /// - `redirected` to another panel with a reason: a new referral there, screened by its rules.
    public func decideReferral(id: String, _ order: DecisionOrder, by actor: Actor, env: Environment) -> Outcome<DecisionReply> {
        if let error = require(actor, [.coordinator], to: "decide referrals") { return .failure(error) }
        var order = order
        if let error = TextHygiene.clean(&order.reason, field: "reason") { return .failure(error) }
        if let error = TextHygiene.clean(&order.advice, field: "advice") { return .failure(error) }
        if let error = TextHygiene.clean(&order.reference, field: "reference", multiline: false) { return .failure(error) }
        guard var referral = state.referrals?[id] else { return .failure(.notFound("referral")) }
        guard referral.state == .submitted else {
            return .failure(DomainError(.conflict, "referral \(id) was already \(referral.state.rawValue)"))
        }
        func text(_ value: String?, _ name: String) -> Result<String, DomainError> {
            guard let value, Validate.isText(value, limit: Limits.reasonLength, multiline: true) else {
                return .failure(.invalidField(name, "a \(order.decision.rawValue) referral needs a \(name) (at most \(Limits.reasonLength) characters)"))
            }
            return .success(value)
        }
        if order.caseType != nil, order.decision != .redirected {
            return .failure(.invalidField("caseType", "only a redirection changes the case type"))
        }
        var decision = ReferralDecision(decision: order.decision, by: actor.principal, at: env.now)
        var events: [Event] = []
        var created: Case?
        switch order.decision {
        case .accepted:
            guard let meetingID = order.meeting, let meeting = state.meetings[meetingID], panel(of: meeting).id == referral.panel else {
                return .failure(.invalidField("meeting", "an acceptance names a meeting of panel \(referral.panel)"))
            }
            guard env.now < meeting.startsAt else { return .failure(DomainError(.conflict, "meeting \(meeting.id) has already started")) }
            if let slot = order.slot, !Validate.isSlot(slot) { return .failure(.invalidField("slot", "must be a time HH:MM")) }
            let deadline = acceptanceDeadline(of: meeting)
            if env.now > deadline {
                guard order.urgent == true else {
                    return .failure(DomainError(.conflict, "acceptance for meeting \(meeting.id) closed at \(RFC3339.format(deadline, fraction: .milliseconds)); "
                                                + "accept it as urgent with a reason, or for a later meeting"))
                }
                switch text(order.reason, "reason") {
                case .failure(let error): return .failure(error)
                case .success(let reason): decision.reason = reason; decision.urgent = true
                }
            } else if order.urgent == true {
                return .failure(.invalidField("urgent", "only an acceptance after the acceptance deadline is urgent"))
            }
            let reference = order.reference ?? "REF-\(referral.id)"
            guard Validate.isText(reference, limit: Limits.referenceLength) else {
                return .failure(.invalidField("reference", "must be non-empty, at most \(Limits.referenceLength) characters"))
            }
            if state.hasCase(reference: reference, listedAt: meeting.id) {
                return .failure(DomainError(.conflict, "the meeting already has a case \(reference)"))
            }
            // The policy may have narrowed since the referral: nothing unclassified becomes a case.
            if let error = validate(fields: referral.fields) { return .failure(error) }
            let record = Case(id: env.newID(), meeting: meeting.id, reference: reference, fields: referral.fields, consent: referral.consent,
                              state: .open, listings: [Listing(meeting: meeting.id, kind: .new, slot: order.slot)],
                              panel: referral.panel, caseType: referral.caseType, referral: referral.id)
            decision.meeting = meeting.id
            decision.slot = order.slot
            decision.case = record.id
            // The case is sealed under the referral's key: erasing it erases what was referred, too.
            events.append(.contentKeyAssigned(subject: record.id, key: state.contentKey(of: referral.id) ?? env.newID()))
            events.append(.caseCreated(case: record))
            if let hashed = identifierEvent("case:\(record.id)", fields: record.fields) { events.append(hashed) }
            // The referrer represents the case at the meeting (the seeds): its agency is invited.
            events.append(.meetingInvited(meeting: meeting.id, agencies: [referral.agency]))
            created = record
            created?.repeatOf = repeats(of: record.fields, panel: panel(of: meeting), at: env.now)
        case .declined:
            switch (text(order.reason, "reason"), text(order.advice, "advice")) {
            case (.failure(let error), _), (_, .failure(let error)): return .failure(error)
            case (.success(let reason), .success(let advice)): decision.reason = reason; decision.advice = advice
            }
        case .redirected:
            guard let panelID = order.panel, let target = panels[panelID], target.id != referral.panel else {
                return .failure(.invalidField("panel", "a redirection names another panel (see GET /v1/panels)"))
            }
            switch text(order.reason, "reason") {
            case .failure(let error): return .failure(error)
            case .success(let reason): decision.reason = reason
            }
            let caseType = order.caseType ?? referral.caseType
            guard Validate.isSlug(caseType) else {
                return .failure(.invalidField("caseType", "must be a lower-case slug such as \"asb\""))
            }
            // The other panel's criteria and rules apply: claims it does not know are dropped.
            let claimed = referral.criteria.filter { id in target.criteria.contains { $0.id == id } }
            let screening: [ScreeningOutcome]
            switch screen(caseType: caseType, fields: referral.fields, criteria: claimed, panel: target, meeting: nil, now: env.now) {
            case .failure(let error): return .failure(error)
            case .success(let outcomes): screening = outcomes
            }
            let moved = Referral(id: env.newID(), panel: target.id, meeting: nil, agency: referral.agency, referrer: referral.referrer,
                                 state: .submitted, caseType: caseType, criteria: claimed, reason: referral.reason,
                                 consent: referral.consent, fields: referral.fields, screening: screening, decision: nil, case: nil,
                                 redirectedFrom: referral.id, createdAt: env.now)
            decision.panel = target.id
            decision.referral = moved.id
            events.append(.contentKeyAssigned(subject: moved.id, key: state.contentKey(of: referral.id) ?? env.newID()))
            events.append(.referralSubmitted(referral: moved))
            if let hashed = identifierEvent("referral:\(moved.id)", fields: moved.fields) { events.append(hashed) }
        }
        events.append(.referralDecided(referral: id, decision: decision))
        referral.decision = decision
        referral.state = decision.state
        referral.case = decision.case
        return .success(Decision(
            entry: entry(env, actor, AuditDetail(action: AuditDetail.Action.referralDecide, object: id,
                                                 fields: created.map { $0.fields.keys.sorted() }, reason: decision.reason), events),
            reply: DecisionReply(referral: referral, case: created)))
    }

    // MARK: Cases across meetings

    /// `POST /v1/cases/{id}/listings` (coordinator): lists an open case again, `review`, at a
    /// later meeting of its panel that has not started and where it is not yet listed.
    public func relistCase(caseID: String, _ body: NewListing, by actor: Actor, env: Environment) -> Outcome<Case> {
        if let error = require(actor, [.coordinator], to: "list cases") { return .failure(error) }
        guard var record = state.cases[caseID] else { return .failure(.notFound("case")) }
        guard record.currentState == .open else { return .failure(DomainError(.conflict, "case \(record.reference) is \(record.currentState.rawValue)")) }
        guard (body.kind ?? .review) == .review else {
            return .failure(.invalidField("kind", "a case already listed is listed again as \"review\""))
        }
        guard let meeting = state.meetings[body.meeting], panel(of: meeting).id == panel(of: record).id else {
            return .failure(.invalidField("meeting", "no meeting \(body.meeting.prefix(Limits.idLength)) of panel \(panel(of: record).id)"))
        }
        guard env.now < meeting.startsAt else { return .failure(DomainError(.conflict, "meeting \(meeting.id) has already started")) }
        guard !record.isListed(at: meeting.id) else { return .failure(DomainError(.conflict, "case \(record.reference) is already listed at meeting \(meeting.id)")) }
        let lastHearing = record.allListings.compactMap { state.meetings[$0.meeting]?.startsAt }.max() ?? .distantPast
        guard meeting.startsAt > lastHearing else {
            return .failure(.invalidField("meeting", "a review is at a later meeting than the case's last listing (\(RFC3339.format(lastHearing)))"))
        }
        if let slot = body.slot, !Validate.isSlot(slot) { return .failure(.invalidField("slot", "must be a time HH:MM")) }
        if state.hasCase(reference: record.reference, listedAt: meeting.id) {
            return .failure(DomainError(.conflict, "the meeting already has a case \(record.reference)"))
        }
        let listing = Listing(meeting: meeting.id, kind: .review, slot: body.slot)
        record.listings = record.allListings + [listing]
        return .success(Decision(
            entry: entry(env, actor, AuditDetail(action: AuditDetail.Action.caseList, object: caseID), [.caseListed(case: caseID, listing: listing)]),
            reply: record))
    }

    /// `GET /v1/cases?meeting=&state=` (coordinator): cases without their fields, by reference;
    /// `meeting` keeps those listed at it, `state` those in it.
    public func listCases(meeting: String?, state wanted: String?, by actor: Actor) -> Outcome<CaseList> {
        if let error = require(actor, [.coordinator], to: "list cases") { return .failure(error) }
        var stateFilter: CaseState?
        if let wanted {
            guard let parsed = CaseState(rawValue: wanted) else { return .failure(DomainError(.invalid, "state: must be open, closed or erased")) }
            stateFilter = parsed
        }
        let items = state.cases.values
            .filter { record in meeting.map { record.isListed(at: $0) } ?? true }
            .filter { record in stateFilter.map { record.currentState == $0 } ?? true }
            .sorted { ($0.reference, $0.id) < ($1.reference, $1.id) }
            .map { CaseList.Item(id: $0.id, reference: $0.reference, state: $0.currentState, panel: panel(of: $0).id, caseType: $0.caseType,
                                 listings: $0.allListings, version: $0.version) }
        return .success(Decision(entry: nil, reply: CaseList(cases: items)))
    }

    // MARK: Agenda

    /// `POST /v1/meetings/{id}/invitations` (coordinator): invites agencies (e.g. non-core ones)
    /// to a meeting; their SPOCs see the meeting and, from `agendaAt`, its agenda.
    public func invite(meetingID: String, _ body: Invitation, by actor: Actor, env: Environment) -> Outcome<Invitation> {
        if let error = require(actor, [.coordinator], to: "invite agencies") { return .failure(error) }
        guard state.meetings[meetingID] != nil else { return .failure(.notFound("meeting")) }
        guard !body.agencies.isEmpty, body.agencies.count <= Limits.dispatchAgencies else {
            return .failure(.invalidField("agencies", "name 1…\(Limits.dispatchAgencies) agencies"))
        }
        for (index, id) in body.agencies.enumerated() {
            guard let agency = state.agencies[id] else { return .failure(.invalidField("agencies[\(index)]", "no agency \(id.prefix(Limits.idLength))")) }
            guard agency.active else { return .failure(.invalidField("agencies[\(index)]", "agency \(id) is inactive")) }
        }
        let all = Set(state.invitations?[meetingID] ?? []).union(body.agencies).sorted()
        return .success(Decision(
            // Audited as a release of the meeting and its agenda (no field) to each agency invited.
            entry: entry(env, actor, AuditDetail(action: AuditDetail.Action.meetingInvite, object: meetingID,
                                                 releasedTo: Dictionary(uniqueKeysWithValues: Set(body.agencies).map { ($0, [String]()) })),
                         [.meetingInvited(meeting: meetingID, agencies: body.agencies)]),
            reply: Invitation(agencies: all)))
    }

    /// `GET /v1/meetings/{id}/agenda`: the meeting's listed cases in slot order (unslotted last,
    /// then by reference). The coordinator sees it at any time, with case ids and the agencies
    /// asked for research. SPOCs of invited agencies see it from `agendaAt`, with references,
    /// slots and kinds only; before then, and for other agencies, 404. Others: 403.
    public func agenda(meetingID: String, by actor: Actor, env: Environment) -> Outcome<Agenda> {
        if let error = require(actor, [.coordinator, .spoc], to: "see agendas") { return .failure(error) }
        guard let meeting = state.meetings[meetingID] else { return .failure(.notFound("agenda")) }
        let published = agendaAt(meeting)
        let coordinator = actor.role == .coordinator
        if !coordinator {
            guard env.now >= published, state.invitedMeetings(of: actor.agency).contains(meetingID) else {
                return .failure(.notFound("agenda"))
            }
        }
        var items: [Agenda.Item] = []
        for record in state.cases.values {
            guard let listing = record.allListings.first(where: { $0.meeting == meetingID }) else { continue }
            // Closed before this meeting: not heard there (a past meeting's agenda keeps it).
            if record.currentState != .open, let closedAt = record.closedAt, closedAt < meeting.startsAt { continue }
            let open = openActions(of: record.id).filter { coordinator || $0.ownerAgency == actor.agency }.count
            var item = Agenda.Item(slot: listing.slot, reference: record.reference, kind: listing.kind, openActions: open)
            if coordinator {
                item.case = record.id
                item.agencies = Set(state.requests.values.filter { $0.case == record.id && $0.meeting == meetingID }.map(\.agency)).sorted()
            }
            items.append(item)
        }
        items.sort { ($0.slot ?? "~", $0.reference, $0.case ?? "") < ($1.slot ?? "~", $1.reference, $1.case ?? "") }
        return .success(Decision(entry: nil, reply: Agenda(meeting: meeting, publishedAt: env.now >= published ? published : nil, items: items)))
    }
}

import Foundation
import Wire

extension Domain {
    // MARK: Dispatch

    /// `POST /v1/cases/{id}/research` (coordinator): one request per agency.
    ///
    /// Refused, creating nothing, when: the case has no consent record (422
    /// `consent_missing`); an agency is unknown, inactive or repeated, or already
    /// has a request for the case (422 / 409); a narrowing field is not on the
    /// case (422) or not visible to one of the agencies (403 `not_entitled`);
    /// it is after the dispatch deadline and not urgent with a reason (409
    /// `dispatch_deadline_passed`); `releaseAt` is after the dispatch deadline
    /// (non-urgent) or not before the meeting (422); the meeting has started (409).
    /// A `releaseAt` in the past means now. Requests released now are released
    /// in the same entry; later ones wait for `releaseDue`.
    public func dispatch(caseID: String, _ order: DispatchOrder, by actor: Actor, env: Environment) -> Outcome<RequestList> {
        if let error = require(actor, [.coordinator], to: "dispatch research") { return .failure(error) }
        var order = order
        if let error = TextHygiene.clean(&order.questions, field: "questions") { return .failure(error) }
        if let error = TextHygiene.clean(&order.reason, field: "reason") { return .failure(error) }
        guard let record = state.cases[caseID] else { return .failure(.notFound("case")) }
        guard record.currentState == .open else {
            return .failure(DomainError(.conflict, "case \(record.reference) is \(record.currentState.rawValue); it takes no research"))
        }
        // Research is for one listing: the meeting named, else the case's latest listing.
        let latest = record.allListings.max { (state.meetings[$0.meeting]?.startsAt ?? .distantPast) < (state.meetings[$1.meeting]?.startsAt ?? .distantPast) }
        let meetingID = order.meeting ?? latest?.meeting ?? record.meeting
        guard record.isListed(at: meetingID) else {
            return .failure(.invalidField("meeting", "case \(record.reference) is not listed at meeting \(meetingID.prefix(Limits.idLength))"))
        }
        guard let meeting = state.meetings[meetingID] else { return .failure(.notFound("case")) }
        guard record.consent != nil else {
            return .failure(DomainError(.consentMissing, "case \(record.reference) has no consent record; record consent or a lawful basis first"))
        }
        guard !order.agencies.isEmpty, order.agencies.count <= Limits.dispatchAgencies else {
            return .failure(.invalidField("agencies", "name 1…\(Limits.dispatchAgencies) agencies"))
        }
        for (index, id) in order.agencies.enumerated() {
            guard let agency = state.agencies[id] else { return .failure(.invalidField("agencies[\(index)]", "no agency \(id)")) }
            guard agency.active else { return .failure(.invalidField("agencies[\(index)]", "agency \(id) is inactive")) }
            guard !order.agencies[..<index].contains(id) else { return .failure(.invalidField("agencies[\(index)]", "\(id) is named twice")) }
        }
        guard !order.questions.isEmpty, order.questions.count <= Limits.questionCount else {
            return .failure(.invalidField("questions", "ask 1…\(Limits.questionCount) questions"))
        }
        for (index, question) in order.questions.enumerated()
        where !Validate.isText(question, limit: Limits.questionLength, multiline: true) {
            return .failure(.invalidField("questions[\(index)]", "must be non-empty, at most \(Limits.questionLength) characters"))
        }
        let urgent = order.urgent ?? false
        var reason: String?
        if urgent {
            guard let text = order.reason, Validate.isText(text, limit: Limits.reasonLength, multiline: true) else {
                return .failure(.invalidField("reason", "an urgent dispatch needs a reason (at most \(Limits.reasonLength) characters)"))
            }
            reason = text
        } else if order.reason != nil {
            return .failure(.invalidField("reason", "only an urgent dispatch has a reason"))
        }
        // Follow-up research: after the meeting has started, with its own return deadline.
        var followUp = false
        var dispatchDeadline = meeting.dispatchDeadline, returnDeadline = meeting.returnDeadline
        switch order.kind {
        case nil:
            if order.returnBy != nil { return .failure(.invalidField("returnBy", "only follow-up research has its own returnBy")) }
        case "follow-up":
            guard env.now >= meeting.startsAt else {
                return .failure(.invalidField("kind", "follow-up research is asked after the meeting; meeting \(meeting.id) has not started"))
            }
            guard let returnBy = order.returnBy, returnBy > env.now, returnBy <= env.now.addingTimeInterval(Double(Limits.followUpDays) * 86_400) else {
                return .failure(.invalidField("returnBy", "follow-up research needs a returnBy in the next \(Limits.followUpDays) days"))
            }
            guard order.releaseAt == nil, order.urgent == nil else {
                return .failure(.invalidField("kind", "follow-up research goes out at once; it has no releaseAt or urgent"))
            }
            followUp = true
            dispatchDeadline = env.now
            returnDeadline = returnBy
        case let other?:
            return .failure(.invalidField("kind", "must be \"follow-up\" or absent, not \(other.prefix(Limits.idLength))"))
        }
        guard followUp || env.now < meeting.startsAt else {
            return .failure(DomainError(.conflict, "meeting \(meeting.id) has already started; ask follow-up research (kind \"follow-up\" with returnBy)"))
        }
        if !followUp && env.now > meeting.dispatchDeadline && !urgent {
            return .failure(DomainError(.dispatchDeadlinePassed,
                                        "research for this meeting had to be dispatched by \(RFC3339.format(meeting.dispatchDeadline, fraction: .milliseconds)); mark it urgent with a reason to send it now"))
        }
        var releaseAt = env.now
        if let requested = order.releaseAt {
            // Urgent or not, a scheduled release is never later than the dispatch deadline:
            // after it, urgent research goes out at once.
            if requested > meeting.dispatchDeadline {
                return .failure(.invalidField("releaseAt", "must not be later than the dispatch deadline \(RFC3339.format(meeting.dispatchDeadline, fraction: .milliseconds))"))
            }
            releaseAt = max(requested, env.now)
        }
        let invited = Set(order.agencies)
        let entitledNames = { (agency: String) in
            record.fields.keys.filter { policy.isVisible($0, to: agency, invited: invited) }
        }
        var names: [String: [String]] = [:]
        if let narrowing = order.fields {
            for (index, path) in narrowing.enumerated() where record.fields[path] == nil {
                return .failure(.invalidField("fields[\(index)]", "the case has no field \"\(path.prefix(Limits.fieldPathLength))\""))
            }
            for agency in order.agencies {
                let entitled = Set(entitledNames(agency))
                if let refused = narrowing.first(where: { !entitled.contains($0) }) {
                    return .failure(DomainError(.notEntitled, "agency \(agency) is not entitled to field \"\(refused)\""))
                }
                names[agency] = Set(narrowing).sorted()
            }
        } else {
            for agency in order.agencies { names[agency] = entitledNames(agency).sorted() }
        }
        // One request per agency per listing; a follow-up while the agency's last follow-up is unanswered is refused too.
        if let existing = state.requests.values.first(where: {
            $0.case == caseID && $0.meeting == meeting.id && invited.contains($0.agency)
                && (($0.followUp ?? false) == followUp) && (!followUp || $0.returns.isEmpty)
        }) {
            return .failure(DomainError(.conflict, "agency \(existing.agency) already has request \(existing.id) for this case at this meeting"))
        }
        var events: [Event] = []
        var releases: [Event] = []
        var views: [RequestView] = []
        for agency in order.agencies {
            var request = ResearchRequest(
                id: env.newID(), case: caseID, meeting: meeting.id, agency: agency, questions: order.questions,
                fieldNames: names[agency] ?? [], invited: order.agencies, urgent: urgent, reason: reason, releaseAt: releaseAt,
                dispatchDeadline: dispatchDeadline, returnDeadline: returnDeadline,
                dispatchedAt: env.now, dispatchedBy: actor.principal, releasedAt: nil, acknowledgedAt: nil,
                extendedUntil: nil, extensionReason: nil, returns: [], createdSeq: 0, changedSeq: 0, followUp: followUp ? true : nil)
            events.append(.requestDispatched(request: request))
            if releaseAt <= env.now {
                releases.append(.requestReleased(request: request.id, at: env.now))
                request.releasedAt = env.now
                request.caseVersion = record.version
            }
            views.append(view(request, at: env.now))
        }
        // Audited per agency: what each one was sent now (scheduled requests are audited when released).
        var releasedTo: [String: [String]] = [:]
        for view in views where view.state != .scheduled { releasedTo[view.agency] = view.fields.keys.sorted() }
        let released = Set(releasedTo.values.joined()).sorted()
        return .success(Decision(
            entry: entry(env, actor, AuditDetail(action: AuditDetail.Action.dispatch, object: caseID, fields: released,
                                                 releasedTo: releasedTo, reason: reason),
                         events + releases),
            reply: RequestList(requests: views)))
    }

    /// The scheduled requests due at `env.now`, one system entry each (audited
    /// `research.release`). The API layer calls this from a timer armed with
    /// `state.nextScheduledRelease`, and once at start.
    public func releaseDue(env: Environment) -> [Entry] {
        state.requests.values
            // A closed case releases nothing more: research scheduled before the closure stays unreleased.
            .filter { $0.releasedAt == nil && $0.releaseAt <= env.now && state.cases[$0.case]?.currentState == .open }
            .sorted { ($0.releaseAt, $0.id) < ($1.releaseAt, $1.id) }
            .map { request in
                entry(env, nil, AuditDetail(action: AuditDetail.Action.release, object: request.id, fields: request.fieldNames,
                                            releasedTo: [request.agency: request.fieldNames]),
                      [.requestReleased(request: request.id, at: env.now)])
            }
    }

    // MARK: SPOC side

    /// A SPOC feed's `after=` cursor (the start when absent) and a page size in range, or 400 `invalid`.
    /// The action feed's cursors start with `t` instead of `a`, so one feed's cursor is refused by the other.
    func feedCursor(_ text: String?, limit: Int, actions: Bool = false) -> Result<RequestCursor, DomainError> {
        guard (1...Limits.pageSize).contains(limit) else { return .failure(DomainError(.invalid, "limit: must be 1…\(Limits.pageSize)")) }
        guard let text, !text.isEmpty else { return .success(.start) }
        let parsed = actions ? (text.first == "t" ? RequestCursor("a" + text.dropFirst()) : nil) : (text.first == "t" ? nil : RequestCursor(text))
        guard let parsed else { return .failure(DomainError(.invalid, "after: not a cursor of this feed from this broker")) }
        return .success(parsed)
    }

    /// `GET /v1/requests?after=` (spoc): the agency's released requests changed
    /// (released, returned, extended) after the cursor, oldest change first, at
    /// most `limit`; then the cursor to pass next. Reading a request is not a
    /// change, so a SPOC's own reads do not wake its long-poll. The list carries
    /// no case fields or questions: those come with `readRequest`, audited.
    /// - Returns: 400 `invalid` for a cursor this broker did not issue.
    public func requests(after cursorText: String?, limit: Int = Limits.pageSize, by actor: Actor, env: Environment) -> Outcome<RequestPage> {
        if let error = require(actor, [.spoc], to: "poll for requests") { return .failure(error) }
        let cursor: RequestCursor
        switch feedCursor(cursorText, limit: limit) {
        case .failure(let error): return .failure(error)
        case .success(let parsed): cursor = parsed
        }
        let released = state.requests.values.filter { $0.agency == actor.agency && $0.releasedAt != nil }
        let changed = released.filter { ($0.feedPosition ?? 1) > cursor.position && !isErased($0.case) }
            .sorted { ($0.feedPosition ?? 1, $0.id) < ($1.feedPosition ?? 1, $1.id) }
        let page = changed.prefix(limit)
        // The agency's own last position: the cursor never moves for anyone else's activity.
        let head = released.map { $0.feedPosition ?? 1 }.max() ?? 0
        let next = RequestCursor(position: page.count < changed.count ? page.last!.feedPosition ?? 1 : max(cursor.position, head))
        let summaries = page.map { request in
            RequestSummary(id: request.id, case: request.case, reference: state.cases[request.case]?.reference ?? "",
                           meeting: request.meeting, agency: request.agency, state: request.state(at: env.now),
                           urgent: request.urgent, reason: request.reason, releaseAt: request.releaseAt,
                           dispatchDeadline: request.dispatchDeadline, returnDeadline: request.returnDeadline,
                           extendedUntil: request.extendedUntil)
        }
        return .success(Decision(entry: nil, reply: RequestPage(requests: summaries, cursor: next.description)))
    }

    /// The request if `actor` may see it: its agency's SPOC once released, or a coordinator.
    func visibleRequest(_ id: String, to actor: Actor) -> ResearchRequest? {
        guard let request = state.requests[id], !isErased(request.case) else { return nil }
        switch actor.role {
        case .coordinator: return request
        case .spoc: return request.agency == actor.agency && request.releasedAt != nil ? request : nil
        case .admin, .auditor, .monitor: return nil
        }
    }

    /// `GET /v1/requests/{id}` (spoc of the agency, coordinator): the fields the
    /// agency may see, questions and deadlines. Audited with the field names;
    /// the agency's first read also acknowledges the request.
    public func readRequest(id: String, by actor: Actor, env: Environment) -> Outcome<RequestView> {
        if let error = require(actor, [.spoc, .coordinator], to: "read requests") { return .failure(error) }
        guard var request = visibleRequest(id, to: actor) else { return .failure(.notFound("request")) }
        var events: [Event] = []
        if actor.role == .spoc && request.acknowledgedAt == nil {
            events.append(.requestAcknowledged(request: id, at: env.now, principal: actor.principal))
            request.acknowledgedAt = env.now
        }
        let reply = view(request, at: env.now)
        return .success(Decision(
            entry: entry(env, actor, AuditDetail(action: AuditDetail.Action.requestRead, object: id, fields: reply.fields.keys.sorted()), events),
            reply: reply))
    }

    /// `PUT /v1/requests/{id}/return` (spoc of the agency): a new return version,
    /// until the (possibly extended) deadline inclusive; after it 409
    /// `return_deadline_passed` naming the deadline. One answer per question.
    public func submitReturn(requestID: String, _ body: ReturnSubmission, by actor: Actor, env: Environment) -> Outcome<ResearchReturn> {
        if let error = require(actor, [.spoc], to: "write returns") { return .failure(error) }
        var body = body
        if let error = TextHygiene.clean(&body.summary, field: "summary") { return .failure(error) }
        if let error = TextHygiene.clean(&body.answers, field: "answers") { return .failure(error) }
        if var withheld = body.withheld {
            for index in withheld.indices {
                if let error = TextHygiene.clean(&withheld[index].what, field: "withheld[\(index)].what") { return .failure(error) }
                if let error = TextHygiene.clean(&withheld[index].reason, field: "withheld[\(index)].reason") { return .failure(error) }
            }
            body.withheld = withheld
        }
        guard let request = visibleRequest(requestID, to: actor) else { return .failure(.notFound("request")) }
        if let record = state.cases[request.case], record.currentState != .open {
            return .failure(DomainError(.conflict, "case \(record.reference) is \(record.currentState.rawValue); it takes no returns"))
        }
        if env.now > request.effectiveReturnDeadline {
            return .failure(DomainError(.returnDeadlinePassed,
                                        "the return for this request was due by \(RFC3339.format(request.effectiveReturnDeadline, fraction: .milliseconds)); ask the coordinator for an extension"))
        }
        guard Validate.isText(body.summary, limit: Limits.summaryLength, multiline: true) else {
            return .failure(.invalidField("summary", "must be non-empty, at most \(Limits.summaryLength) characters"))
        }
        guard body.answers.count == request.questions.count else {
            return .failure(.invalidField("answers", "give one answer per question: \(request.questions.count) expected, \(body.answers.count) given"))
        }
        for (index, answer) in body.answers.enumerated() where !Validate.isText(answer, limit: Limits.answerLength, multiline: true) {
            return .failure(.invalidField("answers[\(index)]", "must be non-empty (write \"None known\" if your agency holds nothing), at most \(Limits.answerLength) characters"))
        }
        let withheld = body.withheld ?? []
        guard withheld.count <= Limits.withheldCount else {
            return .failure(.invalidField("withheld", "at most \(Limits.withheldCount) items"))
        }
        for (index, item) in withheld.enumerated() {
            guard Validate.isText(item.what, limit: Limits.withheldTextLength, multiline: true) else {
                return .failure(.invalidField("withheld[\(index)].what", "must be non-empty, at most \(Limits.withheldTextLength) characters"))
            }
            guard Validate.isText(item.reason, limit: Limits.withheldTextLength, multiline: true) else {
                return .failure(.invalidField("withheld[\(index)].reason", "must be non-empty, at most \(Limits.withheldTextLength) characters"))
            }
        }
        guard request.returns.count < returnLimits.maxVersions else {
            return .failure(DomainError(.returnLimitReached,
                                        "limits.maxReturnVersionsPerRequest: this request's return already has \(request.returns.count) versions, "
                                        + "the most allowed is \(returnLimits.maxVersions); nothing was stored"))
        }
        let version = ResearchReturn(request: requestID, agency: request.agency, version: request.returns.count + 1,
                                     submittedAt: env.now, knownToAgency: body.knownToAgency, summary: body.summary,
                                     answers: body.answers, withheld: withheld)
        let total = request.totalReturnBytes + ReturnLimits.encodedSize(of: version)
        guard total <= returnLimits.maxBytes else {
            return .failure(DomainError(.returnLimitReached,
                                        "limits.maxReturnBytesPerRequest: with this version the return would hold \(total) bytes, "
                                        + "the most allowed is \(returnLimits.maxBytes); nothing was stored"))
        }
        return .success(Decision(
            entry: entry(env, actor, AuditDetail(action: AuditDetail.Action.returnSubmit, object: requestID), [.returnSubmitted(return: version)]),
            reply: version))
    }

    /// `GET /v1/requests/{id}/return` (spoc of the agency, coordinator): latest
    /// and every version. No return yet, or not visible: 404, the same answer.
    public func readReturn(requestID: String, by actor: Actor, env: Environment) -> Outcome<ReturnHistory> {
        if let error = require(actor, [.spoc, .coordinator], to: "read returns") { return .failure(error) }
        guard let request = visibleRequest(requestID, to: actor), let latest = request.returns.last else {
            return .failure(.notFound("return"))
        }
        return .success(Decision(
            entry: entry(env, actor, AuditDetail(action: AuditDetail.Action.returnRead, object: requestID), []),
            reply: ReturnHistory(latest: latest, versions: request.returns)))
    }

    // MARK: Coordinator side

    /// `POST /v1/requests/{id}/extension` (coordinator): `until` after the
    /// request's return deadline and after now, not after the meeting start;
    /// `reason` required and audited. A later extension replaces an earlier one.
    public func grantExtension(requestID: String, _ body: ExtensionGrant, by actor: Actor, env: Environment) -> Outcome<RequestStatus> {
        if let error = require(actor, [.coordinator], to: "grant extensions") { return .failure(error) }
        var body = body
        if let error = TextHygiene.clean(&body.reason, field: "reason") { return .failure(error) }
        guard var request = state.requests[requestID], let meeting = state.meetings[request.meeting] else {
            return .failure(.notFound("request"))
        }
        if let record = state.cases[request.case], record.currentState != .open {
            return .failure(DomainError(.conflict, "case \(record.reference) is \(record.currentState.rawValue); its requests are not extended"))
        }
        guard Validate.isText(body.reason, limit: Limits.reasonLength, multiline: true) else {
            return .failure(.invalidField("reason", "an extension needs a reason (at most \(Limits.reasonLength) characters)"))
        }
        if request.followUp == true {
            // Follow-up research is after the meeting: its extension is bounded like its returnBy.
            let latest = env.now.addingTimeInterval(Double(Limits.followUpDays) * 86_400)
            guard body.until <= latest else {
                return .failure(.invalidField("until", "a follow-up's extension must be within \(Limits.followUpDays) days"))
            }
        } else if body.until > meeting.startsAt {
            return .failure(.invalidField("until", "must not be later than the meeting start \(RFC3339.format(meeting.startsAt, fraction: .milliseconds))"))
        }
        guard body.until > request.returnDeadline, body.until > env.now else {
            return .failure(.invalidField("until", "must be after the return deadline \(RFC3339.format(request.returnDeadline, fraction: .milliseconds)) and after now"))
        }
        request.extendedUntil = body.until
        request.extensionReason = body.reason
        return .success(Decision(
            entry: entry(env, actor, AuditDetail(action: AuditDetail.Action.requestExtend, object: requestID, reason: body.reason),
                         [.extensionGranted(request: requestID, until: body.until, reason: body.reason)]),
            reply: status(request, at: env.now)))
    }

    /// `GET /v1/cases/{id}/returns` (coordinator): every request of the case with
    /// its returns, ordered by agency id. Audited.
    public func collatedReturns(caseID: String, meeting: String? = nil, by actor: Actor, env: Environment) -> Outcome<CaseReturns> {
        if let error = require(actor, [.coordinator], to: "collate returns") { return .failure(error) }
        guard let record = state.cases[caseID] else { return .failure(.notFound("case")) }
        if let stub = record.erasedStub { return .failure(Self.erasedError(stub)) }
        guard let meetingID = packMeeting(record, named: meeting) else {
            return .failure(.invalidField("meeting", "case \(record.reference) is not listed at meeting \(meeting?.prefix(Limits.idLength) ?? "")"))
        }
        return .success(Decision(
            entry: entry(env, actor, AuditDetail(action: AuditDetail.Action.returnsCollate, object: caseID), []),
            reply: collate(record, meeting: meetingID, at: env.now)))
    }

    /// The listing a pack is for: the one named, else the case's latest by meeting start.
    func packMeeting(_ record: Case, named: String?) -> String? {
        if let named { return record.isListed(at: named) ? named : nil }
        return record.allListings.max { (state.meetings[$0.meeting]?.startsAt ?? .distantPast) < (state.meetings[$1.meeting]?.startsAt ?? .distantPast) }?.meeting
            ?? record.meeting
    }

    /// `GET /v1/cases/{id}/returns?format=text` (coordinator): the plain-text
    /// research pack for the chair, ordered by agency, with each agency's answers,
    /// withheld list and the time its return came in. Audited.
    public func researchPack(caseID: String, meeting meetingName: String? = nil, by actor: Actor, env: Environment) -> Outcome<String> {
        if let error = require(actor, [.coordinator], to: "collate returns") { return .failure(error) }
        guard let record = state.cases[caseID] else { return .failure(.notFound("case")) }
        if let stub = record.erasedStub { return .failure(Self.erasedError(stub)) }
        guard let meetingID = packMeeting(record, named: meetingName) else {
            return .failure(.invalidField("meeting", "case \(record.reference) is not listed at meeting \(meetingName?.prefix(Limits.idLength) ?? "")"))
        }
        let collated = collate(record, meeting: meetingID, at: env.now)
        let meeting = state.meetings[meetingID]
        let listing = record.allListings.first { $0.meeting == meetingID }
        var lines = [
            "MARAC RESEARCH PACK — OFFICIAL-SENSITIVE",
            "Case: \(record.reference)" + (listing?.kind == .review ? " (review)" : ""),
            "Meeting: \(meeting?.title ?? meetingID), starts \(meeting.map { RFC3339.format($0.startsAt, fraction: .milliseconds) } ?? "")",
            "Generated: \(RFC3339.format(env.now, fraction: .milliseconds))",
            "Returns in: \(collated.returns.filter { $0.latest != nil }.count) of \(collated.returns.count)",
        ]
        for item in collated.returns {
            lines.append("")
            lines.append("== \(item.agencyName) (\(item.agency))\(item.kind == "follow-up" ? ", follow-up" : "") ==")
            lines.append("Request: \(item.request) — \(item.state.rawValue)")
            guard let latest = item.latest else {
                lines.append("No return received.")
                continue
            }
            lines.append("Return received: \(RFC3339.format(latest.submittedAt, fraction: .milliseconds)) (version \(latest.version) of \(item.versions.count))")
            lines.append("Known to agency: \(latest.knownToAgency ? "yes" : "no")")
            lines.append("Summary:")
            lines.append(contentsOf: indented(latest.summary, by: "  "))
            for (index, question) in item.questions.enumerated() {
                lines.append("Q\(index + 1). \(question)")
                lines.append(contentsOf: indented(index < latest.answers.count ? latest.answers[index] : "", by: "  A: "))
            }
            if latest.withheld.isEmpty {
                lines.append("Withheld: nothing")
            } else {
                lines.append("Withheld:")
                for withheld in latest.withheld { lines.append("  - \(withheld.what) — reason: \(withheld.reason)") }
            }
        }
        return .success(Decision(
            entry: entry(env, actor, AuditDetail(action: AuditDetail.Action.researchPack, object: caseID), []),
            reply: lines.joined(separator: "\n") + "\n"))
    }

    // MARK: Views

    /// The fields of `request` its agency may see now: the names fixed at dispatch, still
    /// allowed by the current policy, with the values the case had when the request was released
    /// (a later correction does not change what was released; an unreleased one shows the case now).
    func releasedFields(_ request: ResearchRequest) -> [String: JSONValue] {
        guard let record = state.cases[request.case] else { return [:] }
        let values = request.releasedAt == nil ? record.fields : state.fields(of: request.case, at: request.caseVersion ?? 0)
        let invited = Set(request.invited)
        var fields: [String: JSONValue] = [:]
        for name in request.fieldNames where policy.isVisible(name, to: request.agency, invited: invited) {
            if let value = values[name] { fields[name] = value }
        }
        return fields
    }

    func view(_ request: ResearchRequest, at now: Date) -> RequestView {
        RequestView(id: request.id, case: request.case, reference: state.cases[request.case]?.reference ?? "",
                    meeting: request.meeting, agency: request.agency, state: request.state(at: now), urgent: request.urgent,
                    reason: request.reason, questions: request.questions, fields: releasedFields(request),
                    releaseAt: request.releaseAt, dispatchDeadline: request.dispatchDeadline,
                    returnDeadline: request.returnDeadline, extendedUntil: request.extendedUntil,
                    kind: request.followUp == true ? "follow-up" : nil)
    }

    func status(_ request: ResearchRequest, at now: Date) -> RequestStatus {
        RequestStatus(id: request.id, case: request.case, reference: state.cases[request.case]?.reference ?? "",
                      agency: request.agency, state: request.state(at: now), urgent: request.urgent,
                      releaseAt: request.releaseAt, releasedAt: request.releasedAt, acknowledgedAt: request.acknowledgedAt,
                      returnedAt: request.returns.last?.submittedAt, extendedUntil: request.extendedUntil)
    }

    /// The returns for one listing's meeting: its research, then its follow-ups, by agency and dispatch time.
    func collate(_ record: Case, meeting: String, at now: Date) -> CaseReturns {
        let items = state.requests.values.filter { $0.case == record.id && $0.meeting == meeting }
            .sorted { ($0.followUp ?? false ? 1 : 0, $0.agency, $0.dispatchedAt, $0.id) < ($1.followUp ?? false ? 1 : 0, $1.agency, $1.dispatchedAt, $1.id) }
            .map { request in
                CollatedReturn(request: request.id, agency: request.agency, agencyName: state.agencies[request.agency]?.name ?? request.agency,
                               state: request.state(at: now), questions: request.questions,
                               latest: request.returns.last, versions: request.returns, kind: request.followUp == true ? "follow-up" : nil)
            }
        return CaseReturns(id: record.id, reference: record.reference, meeting: meeting, returns: items)
    }

    private func indented(_ text: String, by prefix: String) -> [String] {
        let pad = String(repeating: " ", count: prefix.count)
        return text.split(separator: "\n", omittingEmptySubsequences: false).enumerated().map { index, line in
            (index == 0 ? prefix : pad) + line
        }
    }
}

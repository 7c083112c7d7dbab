import Broker
import Engine
import Foundation
import HTTPServer
import Wire

/// Server-rendered pages (SPEC §12) on the API's listener, authenticated by the same client
/// certificate. Every page calls the same domain operations as the API, through the same
/// `BrokerEngine.perform` (identity from the certificate serial, role checks, need-to-know,
/// audit): there is no second authorisation path, so a page shows a role exactly what the API
/// would. Forms post to `/ui/…` with the `PageGuard` checks; a refusal keeps what was typed.
struct PageRoutes: Sendable {
    let core: BrokerEngine
    let guardian: PageGuard
    let credentialUse: CredentialUse
    let issuer: CredentialIssuer

    typealias Handler = BrokerService.Handler
    static let stylesheetPath = "/ui/style.css"

    /// Runs one domain operation for the page's caller.
    func perform<R: Sendable>(_ request: APIRequest, allowPending: Bool = false,
                                      _ operation: (Domain, Actor, Environment) -> Outcome<R>) async throws -> (Actor, R) {
        try await core.perform(serial: request.serial, allowPending: allowPending, operation)
    }

    /// A page handler whose refusals become refusal pages (same status and code as the API's).
    func page(_ body: @escaping @Sendable (APIRequest) async throws -> HTTPResponse) -> Handler {
        { request in
            do { return try await body(request) } catch let error as APIError {
                let actor = try? core.identified(request.serial)
                return PageLayout.refusal(error, actor: actor)
            }
        }
    }

    /// A form post: parsed, checked against cross-site use (`PageGuard`), then `body`.
    func form(_ body: @escaping @Sendable (APIRequest, [String: String]) async throws -> HTTPResponse) -> Handler {
        page { request in
            // Identity first, as for the API: a revoked credential gets its own refusal.
            _ = try core.identified(request.serial)
            guard let fields = PageGuard.form(request) else {
                throw APIError(.invalid, "send the form as application/x-www-form-urlencoded")
            }
            if let refusal = guardian.refusal(of: request, form: fields) {
                throw APIError(.forbidden, "cross-site request refused: \(refusal)")
            }
            return try await body(request, fields)
        }
    }

    func register(in router: inout Router<Handler>) {
        router.add("GET", Self.stylesheetPath) { _ in
            var headers = HTTPHeaders(PageGuard.headers)
            headers.replaceOrAdd(name: "Content-Type", value: "text/css; charset=utf-8")
            return HTTPResponse(status: .ok, headers: headers, body: Array(PageStylesheet.css.utf8))
        }
        router.add("GET", "/", page { request in
            let (actor, _) = try await perform(request, allowPending: true) { broker, actor, _ in broker.whoami(by: actor) }
            if let first = PageLayout.navigation(for: actor.role).first { return PageLayout.seeOther(first.href) }
            return PageLayout.page("No pages for your role", actor: actor) { out in
                out.element("p", [:], "The \(actor.role.rawValue) role has no web pages yet; use marac or the API.")
            }
        })

        // SPOC: inbox, request, return (SPEC §12).
        router.add("GET", "/ui/inbox", page { request in
            let (actor, feed) = try await perform(request) { broker, actor, env in broker.requests(after: nil, by: actor, env: env) }
            let now = core.clock()
            return PageLayout.page("Research requests for \(actor.agency)", actor: actor) { out in
                guard !feed.requests.isEmpty else { return out.element("p", [:], "No research requests yet.") }
                out.wrap("table") { table in
                    table.element("caption", [:], "Newest deadline last; urgent requests are marked.")
                    PageLayout.head(&table, ["Case", "State", "Return by", "Time left"])
                    table.wrap("tbody") { body in
                        for item in feed.requests.sorted(by: { ($0.extendedUntil ?? $0.returnDeadline, $0.id) < ($1.extendedUntil ?? $1.returnDeadline, $1.id) }) {
                            let deadline = item.extendedUntil ?? item.returnDeadline
                            body.wrap("tr", ["class": deadline < now && item.state != .returned ? "overdue" : nil]) { row in
                                row.wrap("td") { cell in
                                    cell.element("a", ["href": "/ui/requests/\(item.id)"], item.reference)
                                    if item.urgent { cell.element("strong", ["class": "urgent"], " URGENT") }
                                }
                                row.element("td", [:], item.state.rawValue)
                                row.element("td", [:], PageLayout.time(deadline))
                                row.element("td", [:], item.state == .returned ? "returned" : PageLayout.countdown(to: deadline, now: now))
                            }
                        }
                    }
                }
            }
        })
        router.add("GET", "/ui/requests/{id}", page { request in
            try await requestPage(request, typed: nil, error: nil)
        })
        router.add("POST", "/ui/requests/{id}/return", form { request, fields in
            let id = request.parameter("id")
            let submission = ReturnForm(fields: fields)
            do {
                let body = try submission.body()
                _ = try await perform(request) { broker, actor, env in broker.submitReturn(requestID: id, body, by: actor, env: env) }
            } catch let error as APIError where ![403, 404].contains(error.status.code) {
                return try await requestPage(request, typed: submission, error: error)
            }
            return PageLayout.seeOther("/ui/requests/\(id)#history")
        })

        // Coordinator: meetings, status board, dispatch.
        router.add("GET", "/ui/meetings", page { request in
            let (actor, list) = try await perform(request) { broker, actor, _ in broker.listMeetings(by: actor) }
            let now = core.clock()
            return PageLayout.page("Meetings", actor: actor) { out in
                guard !list.meetings.isEmpty else { return out.element("p", [:], "No meetings yet.") }
                out.wrap("ul") { ul in
                    for meeting in list.meetings {
                        ul.wrap("li") { li in
                            // The meeting page (status board, dispatch) is the coordinator's; an invited SPOC has the agenda.
                            if actor.role == .coordinator {
                                li.element("a", ["href": "/ui/meetings/\(meeting.id)"], meeting.title)
                            } else {
                                li.text(meeting.title)
                            }
                            li.text(" — starts \(PageLayout.time(meeting.startsAt)), research by \(PageLayout.time(meeting.dispatchDeadline)), returns by \(PageLayout.time(meeting.returnDeadline)); ")
                            if actor.role == .coordinator || (meeting.agendaAt ?? .distantPast) <= now {
                                li.element("a", ["href": "/ui/meetings/\(meeting.id)/agenda"], "agenda")
                            } else {
                                li.text("agenda from \(PageLayout.time(meeting.agendaAt!))")
                            }
                        }
                    }
                }
            }
        })
        router.add("GET", "/ui/meetings/{id}", page { request in try await meetingPage(request, error: nil, typed: [:]) })
        router.add("POST", "/ui/meetings/{id}/cases", form { request, fields in
            let id = request.parameter("id")
            do {
                let body = try CaseForm.newCase(meeting: id, fields)
                _ = try await perform(request) { broker, actor, env in broker.createCase(body, by: actor, env: env) }
            } catch let error as APIError where ![403, 404].contains(error.status.code) {
                return try await meetingPage(request, error: error, typed: fields)
            }
            return PageLayout.seeOther("/ui/meetings/\(id)#dispatch")
        })

        registerFollowUp(in: &router)
        registerRegistry(in: &router)
        registerReferrals(in: &router)
        registerAgenda(in: &router)
        registerCredentials(in: &router)
        registerDispatch(in: &router)
    }

    /// The request, the fields this agency may see (exactly the API's), the return form and the history.
    private func requestPage(_ request: APIRequest, typed: ReturnForm?, error: APIError?) async throws -> HTTPResponse {
        let id = request.parameter("id")
        let (actor, view) = try await perform(request) { broker, actor, env in broker.readRequest(id: id, by: actor, env: env) }
        let history: ReturnHistory?
        do {
            history = try await perform(request) { broker, actor, env in broker.readReturn(requestID: id, by: actor, env: env) }.1
        } catch let refusal as APIError where refusal.status.code == 404 {
            history = nil
        }
        let now = core.clock()
        let deadline = view.extendedUntil ?? view.returnDeadline
        let form = typed ?? history.map { ReturnForm(latest: $0.latest) } ?? ReturnForm(questions: view.questions.count)
        let token = guardian.token(for: request.serial)
        return PageLayout.page("Research request \(view.reference)", actor: actor, status: error?.status ?? .ok) { out in
            if view.urgent {
                out.wrap("p", ["class": "urgent"]) { p in
                    p.element("strong", [:], "Urgent")
                    p.text(": \(view.reason ?? "")")
                }
            }
            out.wrap("dl") { dl in
                for (term, value) in [("Agency", view.agency), ("State", view.state.rawValue), ("Return by", PageLayout.time(deadline)),
                                      ("Time left", PageLayout.countdown(to: deadline, now: now))] {
                    dl.element("dt", [:], term)
                    dl.element("dd", ["class": term == "Time left" && deadline < now ? "overdue" : nil], value)
                }
            }
            out.element("h2", [:], "What your agency may see")
            out.wrap("dl", ["class": "fields"]) { dl in
                for key in view.fields.keys.sorted() {
                    dl.element("dt", [:], key)
                    dl.element("dd", [:], PageLayout.fieldText(view.fields[key]!))
                }
            }
            out.element("h2", ["id": "return"], history == nil ? "Your return" : "Amend your return")
            if let error {
                PageLayout.alert(&out, "Not saved", error, id: "form-error")
            }
            out.wrap("form", ["method": "post", "action": "/ui/requests/\(id)/return", "aria-describedby": error == nil ? nil : "form-error"]) { f in
                f.void("input", ["type": "hidden", "name": "csrf", "value": token])
                f.wrap("fieldset") { set in
                    set.element("legend", [:], "Are the subjects known to your agency?")
                    for (value, label) in [("true", "Yes, known"), ("false", "Not known")] {
                        set.wrap("label", ["class": "choice"]) { l in
                            l.void("input", ["type": "radio", "name": "knownToAgency", "value": value, "checked": form.knownToAgency == (value == "true") ? "" : nil])
                            l.text(" \(label)")
                        }
                    }
                }
                f.element("label", ["for": "summary"], "Summary")
                f.element("textarea", ["id": "summary", "name": "summary", "rows": "4"], form.summary)
                for (index, question) in view.questions.enumerated() {
                    f.element("label", ["for": "answer\(index)"], "Question \(index + 1): \(question)")
                    f.element("textarea", ["id": "answer\(index)", "name": "answer\(index)", "rows": "3"], index < form.answers.count ? form.answers[index] : "")
                }
                f.wrap("fieldset") { set in
                    set.element("legend", [:], "Information held but withheld (leave blank if none)")
                    for index in 0..<ReturnForm.withheldRows {
                        let item = index < form.withheld.count ? form.withheld[index] : WithheldItem(what: "", reason: "")
                        set.element("label", ["for": "withheld\(index)what"], "Withheld item \(index + 1): what")
                        set.void("input", ["id": "withheld\(index)what", "name": "withheld\(index)what", "value": item.what])
                        set.element("label", ["for": "withheld\(index)reason"], "Withheld item \(index + 1): why")
                        set.void("input", ["id": "withheld\(index)reason", "name": "withheld\(index)reason", "value": item.reason])
                    }
                }
                f.element("button", ["type": "submit"], history == nil ? "Send the return" : "Send the amended return")
            }
            out.element("h2", ["id": "history"], "Return history")
            guard let history else { return out.element("p", [:], "Nothing returned yet.") }
            out.wrap("ol", ["reversed": ""]) { ol in
                for version in history.versions.reversed() {
                    ol.wrap("li") { li in
                        li.element("p", [:], "Version \(version.version), \(PageLayout.time(version.submittedAt)): \(version.knownToAgency ? "known" : "not known")")
                        li.element("p", ["class": "summary"], version.summary)
                        li.wrap("ol") { answers in
                            for answer in version.answers { answers.element("li", [:], answer) }
                        }
                        for item in version.withheld { li.element("p", ["class": "withheld"], "Withheld: \(item.what) — \(item.reason)") }
                    }
                }
            }
        }
    }

    /// A meeting: its deadlines, the status board (overdue in red), the case creation form (with
    /// `error` and what was `typed` after a refusal) and a dispatch link per open case.
    private func meetingPage(_ request: APIRequest, error: APIError?, typed: [String: String]) async throws -> HTTPResponse {
        let id = request.parameter("id")
        let (actor, meeting) = try await perform(request) { broker, actor, _ in broker.meeting(id: id, by: actor) }
        let status = try await perform(request) { broker, actor, env in broker.meetingStatus(id: id, by: actor, env: env) }.1
        let cases = try await perform(request) { broker, actor, _ in broker.listCases(meeting: id, state: "open", by: actor) }.1
        let token = guardian.token(for: request.serial)
        let now = core.clock()
        let newCase = typed
        return PageLayout.page(meeting.title, actor: actor, status: error?.status ?? .ok) { out in
            out.element("p", [:], "Starts \(PageLayout.time(meeting.startsAt)); research by \(PageLayout.time(meeting.dispatchDeadline)) (\(PageLayout.countdown(to: meeting.dispatchDeadline, now: now))); returns by \(PageLayout.time(meeting.returnDeadline)).")
            out.element("h2", ["id": "status"], "Status board")
            if status.requests.isEmpty { out.element("p", [:], "No research dispatched yet.") } else {
                out.wrap("table") { table in
                    PageLayout.head(&table, ["Case", "Agency", "State", "Return by"])
                    table.wrap("tbody") { body in
                        for item in status.requests {
                            body.wrap("tr", ["class": item.state == .overdue ? "overdue" : nil]) { row in
                                row.element("td", [:], item.reference + (item.urgent ? " (urgent)" : ""))
                                row.element("td", [:], item.agency)
                                row.element("td", [:], item.state.rawValue)
                                row.element("td", [:], PageLayout.time(item.extendedUntil ?? meeting.returnDeadline))
                            }
                        }
                    }
                }
            }
            if !cases.cases.isEmpty {
                out.element("h2", [:], "Research packs")
                out.wrap("ul") { ul in
                    for item in cases.cases { ul.wrap("li") { li in li.element("a", ["href": "/ui/cases/\(item.id)/pack"], item.reference) } }
                }
            }
            out.element("h2", ["id": "new-case"], "New case")
            if let error {
                PageLayout.alert(&out, "Not created", error, id: "case-error")
            }
            out.wrap("form", ["method": "post", "action": "/ui/meetings/\(id)/cases", "aria-describedby": error != nil ? "case-error" : nil]) { f in
                f.void("input", ["type": "hidden", "name": "csrf", "value": token])
                f.element("label", ["for": "new-reference"], "Reference")
                f.void("input", ["id": "new-reference", "name": "reference", "value": newCase["reference"] ?? ""])
                f.wrap("fieldset") { set in
                    set.element("legend", [:], "Consent")
                    for (value, label) in [("obtained", "Obtained"), ("not-obtained", "Not obtained"), ("", "Not recorded yet (needed before dispatch)")] {
                        set.wrap("label", ["class": "choice"]) { l in
                            l.void("input", ["type": "radio", "name": "consent", "value": value, "checked": (newCase["consent"] ?? "") == value ? "" : nil])
                            l.text(" \(label)")
                        }
                    }
                    set.element("label", ["for": "new-lawful-basis"], "Lawful basis (when consent was not obtained)")
                    set.void("input", ["id": "new-lawful-basis", "name": "lawfulBasis", "value": newCase["lawfulBasis"] ?? ""])
                }
                f.wrap("fieldset") { set in
                    set.element("legend", [:], "Fields: a dotted path (e.g. victim.name) and its value; blank rows are left out")
                    for row in 0..<CaseForm.fieldRows {
                        set.element("label", ["for": "path\(row)"], "Field \(row + 1) path")
                        set.void("input", ["id": "path\(row)", "name": "path\(row)", "value": newCase["path\(row)"] ?? ""])
                        set.element("label", ["for": "value\(row)"], "Field \(row + 1) value")
                        set.void("input", ["id": "value\(row)", "name": "value\(row)", "value": newCase["value\(row)"] ?? ""])
                    }
                }
                f.element("button", ["type": "submit"], "Create the case")
            }
            out.element("h2", ["id": "dispatch"], "Dispatch research")
            guard !cases.cases.isEmpty else { return out.element("p", [:], "No open case is listed at this meeting.") }
            out.wrap("ul") { ul in
                for item in cases.cases {
                    ul.wrap("li") { li in li.element("a", ["href": "/ui/cases/\(item.id)/dispatch"], "Dispatch research for \(item.reference)") }
                }
            }
        }
    }
}

/// The case creation form's fields, turned into the API's `NewCase` unchanged (values as text),
/// so every check is the domain's; a row with a value but no path is refused, never dropped.
enum CaseForm {
    static let fieldRows = 6

    static func newCase(meeting: String, _ form: [String: String]) throws -> NewCase {
        var fields: [String: JSONValue] = [:]
        for row in 0..<fieldRows {
            let path = form["path\(row)"] ?? "", value = form["value\(row)"] ?? ""
            if path.isEmpty && value.isEmpty { continue }
            guard !path.isEmpty else { throw APIError(.validationFailed, "fields: row \(row + 1) has a value but no path") }
            guard fields[path] == nil else { throw APIError(.validationFailed, "fields[\"\(path.prefix(100))\"]: named in two rows") }
            fields[path] = .string(value)
        }
        var consent: Consent?
        if let status = form["consent"], !status.isEmpty {
            guard let parsed = Consent.Status(rawValue: status) else {
                throw APIError(.validationFailed, "consent.status: must be obtained or not-obtained")
            }
            consent = Consent(status: parsed, lawfulBasis: form["lawfulBasis"].flatMap { $0.isEmpty ? nil : $0 })
        }
        return NewCase(meeting: meeting, reference: form["reference"] ?? "", fields: fields, consent: consent)
    }
}

/// The return form's fields, as typed: turned into the API's `ReturnSubmission` unchanged, so
/// every check is the domain's; kept as typed to fill the form again after a refusal.
struct ReturnForm: Sendable {
    static let withheldRows = 3
    var knownToAgency: Bool?
    var summary = ""
    var answers: [String] = []
    var withheld: [WithheldItem] = []

    init(questions: Int) { answers = Array(repeating: "", count: questions) }

    init(latest: ResearchReturn) {
        knownToAgency = latest.knownToAgency
        summary = latest.summary
        answers = latest.answers
        withheld = latest.withheld
    }

    init(fields: [String: String]) {
        knownToAgency = fields["knownToAgency"].map { $0 == "true" }
        summary = fields["summary"] ?? ""
        var index = 0
        while let answer = fields["answer\(index)"] {
            answers.append(answer)
            index += 1
        }
        for row in 0..<Self.withheldRows {
            let what = fields["withheld\(row)what"] ?? "", reason = fields["withheld\(row)reason"] ?? ""
            if !what.isEmpty || !reason.isEmpty { withheld.append(WithheldItem(what: what, reason: reason)) }
        }
    }

    /// What the API would be sent; a form without the yes/no choice is refused as a JSON body
    /// without `knownToAgency` would be (422 naming it), never guessed.
    func body() throws -> ReturnSubmission {
        guard let knownToAgency else {
            throw APIError(.validationFailed, "knownToAgency: say whether the subjects are known to your agency")
        }
        return ReturnSubmission(knownToAgency: knownToAgency, summary: summary, answers: answers, withheld: withheld)
    }
}

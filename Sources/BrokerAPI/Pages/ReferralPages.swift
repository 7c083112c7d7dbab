import Broker
import Foundation
import HTTPServer
import Wire

/// The coordinator's referrals to screen and a SPOC's own referrals, through the same domain
/// operations as `GET /v1/referrals`, `GET /v1/referrals/{id}` and
/// `POST /v1/referrals/{id}/decision`: the coordinator sees every referral (with `repeatOf`)
/// and decides the submitted ones; a SPOC sees its own agency's, read-only; others get the
/// domain's `403`.
extension PageRoutes {
    func registerReferrals(in router: inout Router<Handler>) {
        router.add("GET", "/ui/referrals", page { request in
            let (actor, list) = try await perform(request) { broker, actor, _ in broker.listReferrals(by: actor) }
            let coordinator = actor.role == .coordinator
            return PageLayout.page(coordinator ? "Referrals to screen" : "Referrals from \(actor.agency)", actor: actor) { out in
                let waiting = list.referrals.filter { $0.state == .submitted }
                let decided = list.referrals.filter { $0.state != .submitted }
                for (heading, id, rows) in [(coordinator ? "To screen" : "Awaiting a decision", "waiting", waiting), ("Decided", "decided", decided)] {
                    out.element("h2", ["id": id], "\(heading) (\(rows.count))")
                    guard !rows.isEmpty else { out.element("p", [:], "None."); continue }
                    out.wrap("table", ["aria-labelledby": id]) { table in
                        PageLayout.head(&table, ["Made at", "Panel", "Agency", "Case type", "State", "Soft rules failed"])
                        table.wrap("tbody") { body in
                            for referral in rows {
                                let failed = referral.screening.filter { !$0.hard && !$0.passed }.map(\.rule)
                                body.wrap("tr") { row in
                                    row.wrap("td") { cell in
                                        cell.element("a", ["href": "/ui/referrals/\(referral.id)"], PageLayout.time(referral.createdAt))
                                        if !(referral.repeatOf ?? []).isEmpty { cell.element("strong", ["class": "urgent"], " REPEAT") }
                                    }
                                    row.element("td", [:], referral.panel)
                                    row.element("td", [:], referral.agency)
                                    row.element("td", [:], referral.caseType)
                                    row.element("td", [:], referral.state.rawValue)
                                    row.element("td", ["class": failed.isEmpty ? nil : "overdue"], failed.isEmpty ? "none" : failed.joined(separator: ", "))
                                }
                            }
                        }
                    }
                }
            }
        })
        router.add("GET", "/ui/referrals/{id}", page { request in try await referralPage(request, typed: [:], error: nil) })
        router.add("POST", "/ui/referrals/{id}/decision", form { request, fields in
            let id = request.parameter("id")
            do {
                let order = try DecisionForm.order(fields)
                _ = try await perform(request) { broker, actor, env in broker.decideReferral(id: id, order, by: actor, env: env) }
            } catch let error as APIError where ![403, 404].contains(error.status.code) {
                return try await referralPage(request, typed: fields, error: error)
            }
            return PageLayout.seeOther("/ui/referrals/\(id)#decision")
        })
    }

    /// A referral: screening, fields, consent, repeats (coordinator), the decision if any, and
    /// for a submitted one the coordinator's three decision forms; `typed` refills the one posted.
    private func referralPage(_ request: APIRequest, typed: [String: String], error: APIError?) async throws -> HTTPResponse {
        let id = request.parameter("id")
        let (actor, referral) = try await perform(request) { broker, actor, env in broker.referral(id: id, by: actor, env: env) }
        let coordinator = actor.role == .coordinator
        let deciding = coordinator && referral.state == .submitted
        var meetings: [Meeting] = [], panels: [Panel] = []
        if coordinator { meetings = try await perform(request) { broker, actor, _ in broker.listMeetings(by: actor) }.1.meetings }
        if deciding { panels = try await perform(request) { broker, actor, _ in broker.listPanels(by: actor) }.1.panels }
        let token = guardian.token(for: request.serial)
        let now = core.clock()
        // Meetings of the referral's panel not yet started (a meeting without a panel is the first panel's).
        let open = meetings.filter { ($0.panel ?? panels.first?.id) == referral.panel && $0.startsAt > now }
        let title = meetings.first { $0.id == referral.decision?.meeting }?.title
        return PageLayout.page("Referral to \(referral.panel) from \(referral.agency)", actor: actor, status: error?.status ?? .ok) { out in
            out.wrap("dl") { dl in
                let rows: [(String, String?)] = [
                    ("State", referral.state.rawValue), ("Panel", referral.panel), ("Agency", referral.agency), ("Referrer", referral.referrer),
                    ("Case type", referral.caseType), ("Made at", PageLayout.time(referral.createdAt)),
                    ("Meeting asked for", referral.meeting.map { id in meetings.first { $0.id == id }?.title ?? id }),
                    ("Criteria claimed", referral.criteria.isEmpty ? "none" : referral.criteria.joined(separator: ", ")),
                    ("Reason", referral.reason), ("Redirected from", referral.redirectedFrom),
                    ("Consent", referral.consent.status.rawValue + (referral.consent.lawfulBasis.map { "; lawful basis: \($0)" } ?? "")),
                ]
                for (term, value) in rows {
                    guard let value else { continue }
                    dl.element("dt", [:], term)
                    dl.element("dd", [:], value)
                }
            }
            if coordinator {
                out.element("h2", ["id": "repeats"], "Heard before (within the panel's repeat window)")
                let repeats = referral.repeatOf ?? []
                if repeats.isEmpty { out.element("p", [:], "No repeat found.") } else {
                    out.wrap("ul", ["class": "urgent"]) { ul in
                        for match in repeats {
                            ul.wrap("li") { li in
                                li.element("a", ["href": "/ui/cases/\(match.case)/pack"], match.reference)
                                li.text(", last heard \(PageLayout.time(match.listedAt))")
                            }
                        }
                    }
                }
            }
            out.element("h2", ["id": "screening"], "Screening")
            out.wrap("table", ["aria-labelledby": "screening"]) { table in
                PageLayout.head(&table, ["Rule", "Kind", "Outcome", "Detail"])
                table.wrap("tbody") { body in
                    for outcome in referral.screening {
                        body.wrap("tr", ["class": outcome.passed ? nil : "overdue"]) { row in
                            row.element("td", [:], outcome.rule)
                            row.element("td", [:], outcome.hard ? "hard" : "soft")
                            row.element("td", [:], outcome.passed ? "passed" : "failed")
                            row.element("td", [:], outcome.detail)
                        }
                    }
                }
            }
            out.element("h2", ["id": "fields"], "Fields")
            out.wrap("dl", ["class": "fields"]) { dl in
                for key in referral.fields.keys.sorted() {
                    dl.element("dt", [:], key)
                    dl.element("dd", [:], PageLayout.fieldText(referral.fields[key]!))
                }
            }
            out.element("h2", ["id": "decision"], "Decision")
            if let decision = referral.decision {
                out.wrap("dl") { dl in
                    let rows: [(String, String?)] = [
                        ("Decision", decision.decision.rawValue + (decision.urgent == true ? " (urgent)" : "")),
                        ("By", "\(decision.by), \(PageLayout.time(decision.at))"), ("Meeting", decision.meeting.map { title ?? $0 }),
                        ("Slot", decision.slot), ("Reason", decision.reason), ("Advice", decision.advice), ("Redirected to panel", decision.panel),
                    ]
                    for (term, value) in rows {
                        guard let value else { continue }
                        dl.element("dt", [:], term)
                        dl.element("dd", [:], value)
                    }
                }
                if coordinator, let meeting = decision.meeting {
                    out.wrap("p") { p in p.element("a", ["href": "/ui/meetings/\(meeting)/agenda"], "The meeting's agenda") }
                }
                if coordinator, let moved = decision.referral {
                    out.wrap("p") { p in p.element("a", ["href": "/ui/referrals/\(moved)"], "The referral made at panel \(decision.panel ?? "")") }
                }
            } else {
                out.element("p", [:], "Not decided yet.")
            }
            guard deciding else { return }
            if let error { PageLayout.alert(&out, "Not decided", error, id: "form-error") }
            let posted = typed["decision"]
            func value(_ form: String, _ name: String) -> String { posted == form ? typed[name] ?? "" : "" }
            func start(_ f: inout HTMLWriter, _ decision: String) {
                f.void("input", ["type": "hidden", "name": "csrf", "value": token])
                f.void("input", ["type": "hidden", "name": "decision", "value": decision])
            }
            let described = { (form: String) in error != nil && posted == form ? "form-error" : nil }
            out.element("h3", ["id": "accept"], "Accept into a meeting")
            if open.isEmpty { out.element("p", [:], "No meeting of panel \(referral.panel) is still to come.") } else {
                out.wrap("form", ["method": "post", "action": "/ui/referrals/\(id)/decision", "aria-labelledby": "accept", "aria-describedby": described("accepted")]) { f in
                    start(&f, "accepted")
                    f.element("label", ["for": "accept-meeting"], "Meeting")
                    f.wrap("select", ["id": "accept-meeting", "name": "meeting"]) { select in
                        for meeting in open {
                            select.element("option", ["value": meeting.id, "selected": value("accepted", "meeting") == meeting.id ? "" : nil],
                                           "\(meeting.title) — \(PageLayout.time(meeting.startsAt))")
                        }
                    }
                    f.element("label", ["for": "accept-slot"], "Slot (HH:MM, optional)")
                    f.void("input", ["id": "accept-slot", "name": "slot", "value": value("accepted", "slot")])
                    f.element("label", ["for": "accept-reference"], "Case reference (optional)")
                    f.void("input", ["id": "accept-reference", "name": "reference", "value": value("accepted", "reference")])
                    f.wrap("label", ["class": "choice"]) { l in
                        l.void("input", ["type": "checkbox", "name": "urgent", "value": "true", "checked": value("accepted", "urgent") == "true" ? "" : nil])
                        l.text(" Urgent (after the meeting's acceptance deadline)")
                    }
                    f.element("label", ["for": "accept-reason"], "Reason for urgency")
                    f.element("textarea", ["id": "accept-reason", "name": "reason", "rows": "2"], value("accepted", "reason"))
                    f.element("button", ["type": "submit"], "Accept")
                }
            }
            out.element("h3", ["id": "decline"], "Decline")
            out.wrap("form", ["method": "post", "action": "/ui/referrals/\(id)/decision", "aria-labelledby": "decline", "aria-describedby": described("declined")]) { f in
                start(&f, "declined")
                f.element("label", ["for": "decline-reason"], "Reason")
                f.element("textarea", ["id": "decline-reason", "name": "reason", "rows": "2"], value("declined", "reason"))
                f.element("label", ["for": "decline-advice"], "Advice for the referrer")
                f.element("textarea", ["id": "decline-advice", "name": "advice", "rows": "2"], value("declined", "advice"))
                f.element("button", ["type": "submit"], "Decline")
            }
            let others = panels.filter { $0.id != referral.panel }
            guard !others.isEmpty else { return }
            out.element("h3", ["id": "redirect"], "Redirect to another panel")
            out.wrap("form", ["method": "post", "action": "/ui/referrals/\(id)/decision", "aria-labelledby": "redirect", "aria-describedby": described("redirected")]) { f in
                start(&f, "redirected")
                f.element("label", ["for": "redirect-panel"], "Panel")
                f.wrap("select", ["id": "redirect-panel", "name": "panel"]) { select in
                    for panel in others {
                        select.element("option", ["value": panel.id, "selected": value("redirected", "panel") == panel.id ? "" : nil], panel.name)
                    }
                }
                let types = Set(others.flatMap(\.caseTypes)).sorted()
                Self.select(&f, id: "redirect-case-type", name: "caseType", label: "Case type under that panel",
                            options: [("", "unchanged (\(referral.caseType))")] + types.map { ($0, $0) }, selected: value("redirected", "caseType"))
                f.element("label", ["for": "redirect-reason"], "Reason")
                f.element("textarea", ["id": "redirect-reason", "name": "reason", "rows": "2"], value("redirected", "reason"))
                f.element("button", ["type": "submit"], "Redirect")
            }
        }
    }
}

/// A decision form as the API's `DecisionOrder`, unchanged, so every check is the domain's; an
/// empty optional box is an absent member, and an unknown decision is refused, never guessed.
enum DecisionForm {
    static func order(_ fields: [String: String]) throws -> DecisionOrder {
        guard let kind = fields["decision"].flatMap(ReferralDecision.Kind.init(rawValue:)) else {
            throw APIError(.validationFailed, "decision: must be accepted, declined or redirected")
        }
        func given(_ name: String) -> String? { fields[name].flatMap { $0.isEmpty ? nil : $0 } }
        return DecisionOrder(decision: kind, meeting: given("meeting"), slot: given("slot"), reference: given("reference"),
                             urgent: fields["urgent"] == "true" ? true : nil, reason: given("reason"), advice: given("advice"), panel: given("panel"),
                             caseType: given("caseType"))
    }
}

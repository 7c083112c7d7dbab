import Broker
import Foundation
import HTTPServer
import Wire

/// The coordinator's dispatch form for one case (SPEC §4, §12): the agencies to ask (each with
/// the fields its entitlement lets it see), the questions, an optional narrowing of the fields
/// sent (never a widening: the domain applies the policy whatever is ticked), urgency with a
/// reason, a scheduled release, and follow-up research after the meeting. The form becomes the
/// API's `DispatchOrder` unchanged, so every check is the domain's; a refusal keeps what was typed.
/// Opening it reads the case (audited as `case.read`, as `GET /v1/cases/{id}` is): it shows the field names.
extension PageRoutes {
    func registerDispatch(in router: inout Router<Handler>) {
        router.add("GET", "/ui/cases/{id}/dispatch", page { request in try await dispatchPage(request, error: nil, typed: [:]) })
        router.add("POST", "/ui/cases/{id}/dispatch", form { request, fields in
            let caseID = request.parameter("id")
            let meeting: String
            do {
                let order = try DispatchForm.order(fields)
                let (_, list) = try await perform(request) { broker, actor, env in broker.dispatch(caseID: caseID, order, by: actor, env: env) }
                meeting = list.requests.first?.meeting ?? ""
            } catch let error as APIError where error.status.code != 404 && error.code != "forbidden" {
                // A field the agency is not entitled to (403 not_entitled) is the form's error too.
                return try await dispatchPage(request, error: error, typed: fields)
            }
            return PageLayout.seeOther("/ui/meetings/\(meeting)#status")
        })
    }

    private func dispatchPage(_ request: APIRequest, error: APIError?, typed: [String: String]) async throws -> HTTPResponse {
        let id = request.parameter("id")
        let (actor, record) = try await perform(request) { broker, actor, env in broker.readCase(id: id, by: actor, env: env) }
        let (agencies, entitled) = try await perform(request) { broker, actor, _ -> Outcome<([Agency], [String: [String]])> in
            switch broker.listAgencies(by: actor) {
            case .failure(let refusal): return .failure(refusal)
            case .success(let list):
                let active = list.reply.agencies.filter(\.active)
                var entitled: [String: [String]] = [:]
                for agency in active {
                    entitled[agency.id] = record.fields.keys.sorted().filter { broker.policy.isVisible($0, to: agency.id, invited: [agency.id]) }
                }
                return .success(Decision(entry: nil, reply: (active, entitled)))
            }
        }.1
        let token = guardian.token(for: request.serial)
        let paths = record.fields.keys.sorted()
        return PageLayout.page("Dispatch research for \(record.reference)", actor: actor, status: error?.status ?? .ok) { out in
            out.wrap("p") { p in
                p.text("Case \(record.reference), listed at ")
                p.element("a", ["href": "/ui/meetings/\(record.meeting)"], "its meeting")
                p.text(record.consent == nil ? ". No consent record yet: research cannot be dispatched until one is recorded." : ".")
            }
            if let error { PageLayout.alert(&out, "Not dispatched", error, id: "form-error") }
            out.wrap("form", ["method": "post", "action": "/ui/cases/\(id)/dispatch", "aria-describedby": error == nil ? nil : "form-error"]) { f in
                f.void("input", ["type": "hidden", "name": "csrf", "value": token])
                f.wrap("fieldset") { set in
                    set.element("legend", [:], "Agencies to ask (each sees only the fields listed beside it)")
                    for agency in agencies {
                        let fields = entitled[agency.id] ?? []
                        Self.tickBox(&set, name: "agency.\(agency.id)", typed: typed) { l in
                            l.text(" \(agency.name) (\(agency.id)) — ")
                            l.element("span", ["class": "hint"], fields.isEmpty ? "sees no field of this case" : "sees " + fields.joined(separator: ", "))
                        }
                    }
                }
                f.element("label", ["for": "questions"], "Questions (one per line)")
                f.element("textarea", ["id": "questions", "name": "questions", "rows": "4"], typed["questions"] ?? "")
                if !paths.isEmpty {
                    f.wrap("fieldset") { set in
                        set.element("legend", [:], "Send only these fields (leave all unticked to send each agency everything it may see)")
                        for path in paths {
                            Self.tickBox(&set, name: "field.\(path)", typed: typed) { $0.text(" \(path)") }
                        }
                    }
                }
                f.wrap("fieldset") { set in
                    set.element("legend", [:], "Urgent (after the research deadline)")
                    Self.tickBox(&set, name: "urgent", typed: typed) { $0.text(" Dispatch as urgent") }
                    set.element("label", ["for": "reason"], "Why it is urgent")
                    set.element("textarea", ["id": "reason", "name": "reason", "rows": "2"], typed["reason"] ?? "")
                }
                f.element("label", ["for": "releaseAt"], "Release at (UTC, e.g. 2027-02-11T09:00; blank: now)")
                f.void("input", ["id": "releaseAt", "name": "releaseAt", "value": typed["releaseAt"] ?? ""])
                f.wrap("fieldset") { set in
                    set.element("legend", [:], "Follow-up research (after the meeting has started)")
                    Self.tickBox(&set, name: "followUp", typed: typed) { $0.text(" This is follow-up research") }
                    set.element("label", ["for": "returnBy"], "Return by (UTC, e.g. 2027-02-25T17:00)")
                    set.void("input", ["id": "returnBy", "name": "returnBy", "value": typed["returnBy"] ?? ""])
                }
                f.element("button", ["type": "submit"], "Dispatch")
            }
        }
    }
}

extension PageRoutes {
    /// A tick box (`NAME=on`), ticked again when the refused form had it ticked.
    static func tickBox(_ out: inout HTMLWriter, name: String, typed: [String: String], _ label: (inout HTMLWriter) -> Void) {
        out.wrap("label", ["class": "choice-row"]) { l in
            l.void("input", ["type": "checkbox", "name": name, "value": "on", "checked": typed[name] == "on" ? "" : nil])
            label(&l)
        }
    }
}

/// The dispatch form's fields as the API's `DispatchOrder`: ticked agencies and fields in
/// order, blank optional fields absent, times in UTC. A time that is not one is refused
/// naming the field, never dropped.
enum DispatchForm {
    static func order(_ form: [String: String]) throws -> DispatchOrder {
        // A tick box sends `on`; anything else under a tick box's name was not typed in this form,
        // and is refused rather than dropped (a narrowing dropped would send every entitled field).
        for name in ["agency.", "field.", "urgent", "followUp"] {
            if let (key, value) = form.first(where: { $0.key.hasPrefix(name) && $0.value != "on" }) {
                throw APIError(.validationFailed, "\(key.prefix(80)): a tick box is on or absent, got \(value.prefix(40))")
            }
        }
        func ticked(_ prefix: String) -> [String] {
            form.filter { $0.key.hasPrefix(prefix) && $0.value == "on" }.map { String($0.key.dropFirst(prefix.count)) }.sorted()
        }
        func given(_ name: String) -> String? { form[name].flatMap { $0.trimmingCharacters(in: .whitespaces).isEmpty ? nil : $0 } }
        func time(_ name: String) throws -> Date? {
            guard let text = given(name)?.trimmingCharacters(in: .whitespaces) else { return nil }
            // A browser's datetime-local has no zone and may have no seconds: the form says UTC.
            let full = text.count == 16 ? text + ":00Z" : text.hasSuffix("Z") ? text : text + "Z"
            guard let date = RFC3339.parse(full) else {
                throw APIError(.validationFailed, "\(name): must be a UTC time such as 2027-02-11T09:00, got \(text.prefix(40))")
            }
            return date
        }
        // A browser sends a textarea's line breaks as CR LF, which Swift counts as one Character
        // that is not "\n": made LF first, so that each line is a question (a lone CR stays, and
        // the domain refuses it as it would in JSON).
        let questions = (form["questions"] ?? "").replacingOccurrences(of: "\r\n", with: "\n").split(separator: "\n")
            .map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.filter { !$0.isEmpty }
        let fields = ticked("field.")
        let followUp = form["followUp"] == "on"
        return DispatchOrder(agencies: ticked("agency."), questions: questions, fields: fields.isEmpty ? nil : fields,
                             releaseAt: try time("releaseAt"), urgent: form["urgent"] == "on" ? true : nil, reason: given("reason"),
                             kind: followUp ? "follow-up" : nil, returnBy: try time("returnBy"))
    }
}

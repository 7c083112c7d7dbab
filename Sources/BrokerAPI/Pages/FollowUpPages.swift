import Broker
import Foundation
import HTTPServer
import Wire

/// The SPOC's actions, the coordinator's research pack and the audit log as pages, through the
/// same domain operations as `GET /v1/actions`, `GET /v1/cases/{id}/returns?format=text` and
/// `GET /v1/audit`.
extension PageRoutes {
    /// Records per audit page.
    static let auditPageSize = 50

    func registerFollowUp(in router: inout Router<Handler>) {
        router.add("GET", "/ui/actions", page { request in try await actionsPage(request, error: nil, typed: [:]) })
        router.add("POST", "/ui/actions/{id}/complete", form { request, fields in
            let id = request.parameter("id")
            let note = fields["note"] ?? ""
            do {
                _ = try await perform(request) { broker, actor, env in broker.completeAction(id: id, ActionCompletion(note: note), by: actor, env: env) }
            } catch let error as APIError where ![403, 404].contains(error.status.code) {
                return try await actionsPage(request, error: error, typed: [id: note])
            }
            return PageLayout.seeOther("/ui/actions")
        })
        router.add("GET", "/ui/cases/{id}/pack", page { request in
            let id = request.parameter("id")
            let (actor, pack) = try await perform(request) { broker, actor, env in broker.researchPack(caseID: id, by: actor, env: env) }
            return PageLayout.page("Research pack", actor: actor) { out in out.element("pre", ["class": "pack"], pack) }
        })
        router.add("GET", "/ui/audit", page { request in
            let after = try request.http.query["after"].map { try parseInteger($0, name: "after", in: 0...UInt64.max) } ?? 0
            let (actor, audit) = try await perform(request) { broker, actor, _ in
                broker.auditRecords(after: after, limit: Self.auditPageSize, by: actor)
            }
            return PageLayout.page("Audit log", actor: actor) { out in
                // Each record names its predecessor's hash: the links on this page are checked here;
                // `maracd audit verify` checks the whole journal offline.
                let broken = zip(audit.records, audit.records.dropFirst()).first { $0.hash != $1.prevHash }
                out.element("p", ["class": broken == nil ? "chain" : "chain overdue", "role": "status"],
                            broken.map { "Chain broken between records \($0.0.seq) and \($0.1.seq)." }
                                ?? "Chain intact on this page (\(audit.records.count) records, each naming its predecessor's hash).")
                out.wrap("table") { table in
                    PageLayout.head(&table, ["Seq", "When", "Who", "Action", "Object", "Fields", "Reason"])
                    table.wrap("tbody") { body in
                        for record in audit.records {
                            body.wrap("tr") { row in
                                row.element("td", [:], String(record.seq))
                                row.element("td", [:], PageLayout.time(record.at))
                                row.element("td", [:], "\(record.principal) (\(record.agency))")
                                row.element("td", [:], record.action)
                                row.element("td", ["class": "serial"], record.object)
                                row.element("td", [:], (record.fields ?? []).joined(separator: ", "))
                                row.element("td", [:], record.reason ?? "")
                            }
                        }
                    }
                }
                if let next = audit.next {
                    out.element("a", ["href": "/ui/audit?after=\(next)", "rel": "next"], "Later records")
                }
            }
        })
    }

    /// The agency's actions (overdue in red, rapid marked) with a completion form for the open ones.
    private func actionsPage(_ request: APIRequest, error: APIError?, typed: [String: String]) async throws -> HTTPResponse {
        let (actor, feed) = try await perform(request) { broker, actor, env in broker.actions(after: nil, by: actor, env: env) }
        let token = guardian.token(for: request.serial)
        return PageLayout.page("Actions for \(actor.agency)", actor: actor, status: error?.status ?? .ok) { out in
            if let error {
                PageLayout.alert(&out, "Not completed", error)
            }
            guard !feed.actions.isEmpty else { return out.element("p", [:], "No actions for your agency.") }
            for action in feed.actions.sorted(by: { ($0.dueAt, $0.id) < ($1.dueAt, $1.id) }) {
                out.wrap("section", ["class": action.state == .overdue ? "action overdue" : "action", "aria-labelledby": "action-\(action.id)"]) { section in
                    section.element("h2", ["id": "action-\(action.id)"], "\(action.reference): \(action.state.rawValue)\(action.rapid ? ", rapid" : "")")
                    section.element("p", [:], action.text)
                    section.element("p", [:], "Due \(PageLayout.time(action.dueAt))" + (action.note.map { "; completed: \($0)" } ?? ""))
                    guard action.state == .open || action.state == .overdue else { return }
                    section.wrap("form", ["method": "post", "action": "/ui/actions/\(action.id)/complete"]) { f in
                        f.void("input", ["type": "hidden", "name": "csrf", "value": token])
                        f.element("label", ["for": "note-\(action.id)"], "What was done")
                        f.element("textarea", ["id": "note-\(action.id)", "name": "note", "rows": "2"], typed[action.id] ?? "")
                        f.element("button", ["type": "submit"], "Mark done")
                    }
                }
            }
        }
    }
}

import Broker
import Foundation
import HTTPServer
import Wire

/// A meeting's agenda as `GET /v1/meetings/{id}/agenda` shows it to the caller: the coordinator
/// any time, with case ids (linked to the research pack) and the agencies asked for research;
/// an invited SPOC from `agendaAt`, references, slots, kinds and its own open actions only
/// (before then, or uninvited, the domain's `404`).
extension PageRoutes {
    func registerAgenda(in router: inout Router<Handler>) {
        router.add("GET", "/ui/meetings/{id}/agenda", page { request in
            let id = request.parameter("id")
            let (actor, agenda) = try await perform(request) { broker, actor, env in broker.agenda(meetingID: id, by: actor, env: env) }
            let coordinator = actor.role == .coordinator
            return PageLayout.page("Agenda: \(agenda.meeting.title)", actor: actor) { out in
                let published = agenda.publishedAt.map { "Published to invited agencies at \(PageLayout.time($0))." }
                    ?? agenda.meeting.agendaAt.map { "Invited agencies see it from \(PageLayout.time($0))." } ?? ""
                out.element("p", [:], "Starts \(PageLayout.time(agenda.meeting.startsAt)). \(published)")
                guard !agenda.items.isEmpty else { return out.element("p", [:], "No case is listed at this meeting.") }
                out.wrap("table") { table in
                    table.element("caption", [:], "In slot order; cases without a slot last.")
                    PageLayout.head(&table, ["Slot", "Reference", "Listing", "Open actions"] + (coordinator ? ["Research asked of", "Case id"] : []))
                    table.wrap("tbody") { body in
                        for item in agenda.items {
                            body.wrap("tr") { row in
                                row.element("td", [:], item.slot ?? "—")
                                row.wrap("td") { cell in
                                    if let caseID = item.case {
                                        cell.element("a", ["href": "/ui/cases/\(caseID)/pack"], item.reference)
                                    } else {
                                        cell.text(item.reference)
                                    }
                                }
                                row.element("td", [:], item.kind.rawValue)
                                row.element("td", [:], String(item.openActions))
                                if coordinator {
                                    row.element("td", [:], (item.agencies ?? []).joined(separator: ", "))
                                    row.element("td", ["class": "serial"], item.case ?? "")
                                }
                            }
                        }
                    }
                }
            }
        })
    }
}

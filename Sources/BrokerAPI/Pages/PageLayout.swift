import Broker
import Foundation
import HTTPServer
import Wire

/// The frame every page shares: document head, navigation for the caller's role, one `<h1>`,
/// and the security headers. All text passes through `HTMLWriter`.
enum PageLayout {
    /// Navigation links by role: each role sees only pages it may use.
    static func navigation(for role: Role?) -> [(href: String, label: String)] {
        switch role {
        case .spoc?: return [("/ui/inbox", "Inbox"), ("/ui/actions", "Actions"), ("/ui/referrals", "Referrals")]
        case .coordinator?: return [("/ui/meetings", "Meetings"), ("/ui/referrals", "Referrals to screen"), ("/ui/credentials", "Credentials to approve")]
        case .admin?: return [("/ui/credentials", "Credentials"), ("/ui/agencies", "Agencies"), ("/ui/principals", "Principals"), ("/ui/audit", "Audit log")]
        case .auditor?: return [("/ui/audit", "Audit log")]
        default: return []
        }
    }

    /// A whole page.
    static func page(_ title: String, actor: Actor?, status: HTTPStatus = .ok, _ body: (inout HTMLWriter) -> Void) -> HTTPResponse {
        var out = HTMLWriter()
        out.open("html", ["lang": "en"])
        out.wrap("head") { head in
            head.void("meta", ["charset": "utf-8"])
            head.void("meta", ["name": "viewport", "content": "width=device-width, initial-scale=1"])
            head.element("title", [:], "\(title) — marac-broker")
            head.void("link", ["rel": "stylesheet", "href": PageRoutes.stylesheetPath])
        }
        out.wrap("body") { page in
            page.wrap("header") { header in
                header.element("a", ["href": "#main", "class": "skip"], "Skip to content")
                header.wrap("nav", ["aria-label": "Main"]) { nav in
                    nav.element("a", ["href": "/", "class": "brand"], "MARAC broker")
                    for link in navigation(for: actor?.role) { nav.element("a", ["href": link.href], link.label) }
                }
                if let actor {
                    header.element("p", ["class": "who"], "Signed in by certificate as \(actor.principal) (\(actor.role.rawValue), \(actor.agency))")
                }
            }
            page.wrap("main", ["id": "main"]) { main in
                main.element("h1", [:], title)
                body(&main)
            }
        }
        out.close("html")
        var headers = HTTPHeaders(PageGuard.headers)
        headers.replaceOrAdd(name: "Content-Type", value: "text/html; charset=utf-8")
        return HTTPResponse(status: status, headers: headers, body: Array(("<!DOCTYPE html>\n" + out.html).utf8))
    }

    /// The page for a refusal: the API's status, code and message, and the connection closed
    /// where the API would close it (a revoked or disabled credential).
    static func refusal(_ error: APIError, actor: Actor?) -> HTTPResponse {
        var response = page(error.status.code == 404 ? "Not found" : "Refused", actor: actor, status: error.status) { out in
            alert(&out, String(error.status.code), error)
        }
        if error.closesConnection { response.headers.replaceOrAdd(name: "Connection", value: "close") }
        return response
    }

    /// A table's header row, each label a column header.
    static func head(_ table: inout HTMLWriter, _ labels: [String]) {
        table.wrap("thead") { head in
            head.wrap("tr") { row in for label in labels { row.element("th", ["scope": "col"], label) } }
        }
    }

    /// A refusal above a form: `what` (e.g. "Not saved") with the API's code and message.
    static func alert(_ out: inout HTMLWriter, _ what: String, _ error: APIError, id: String? = nil) {
        out.wrap("p", ["class": "error", "role": "alert", "id": id]) { p in
            p.element("strong", [:], "\(what) — \(error.code)")
            p.text(": \(error.message)")
        }
    }

    /// `303 See Other` to `location` (after a form post that changed something).
    static func seeOther(_ location: String) -> HTTPResponse {
        var headers = HTTPHeaders(PageGuard.headers)
        headers.replaceOrAdd(name: "Location", value: location)
        return HTTPResponse(status: HTTPStatus(code: 303, reasonPhrase: "See Other"), headers: headers)
    }

    /// `2027-02-11 10:00 UTC`.
    static func time(_ date: Date) -> String {
        let text = RFC3339.format(date)
        return String(text.prefix(10)) + " " + String(text.dropFirst(11).prefix(5)) + " UTC"
    }

    /// `3d 4h left`, `5h 10m left`, or `overdue by 2h 3m`.
    static func countdown(to deadline: Date, now: Date) -> String {
        let seconds = Int(deadline.timeIntervalSince(now))
        let span = abs(seconds)
        let text = span >= 86_400 ? "\(span / 86_400)d \(span % 86_400 / 3_600)h" : "\(span / 3_600)h \(span % 3_600 / 60)m"
        return seconds >= 0 ? "\(text) left" : "overdue by \(text)"
    }

    /// A case field's value as text: strings as they are, anything else as JSON.
    static func fieldText(_ value: JSONValue) -> String {
        if case .string(let text) = value { return text }
        return (try? String(decoding: JSON.encode(value), as: UTF8.self)) ?? ""
    }
}

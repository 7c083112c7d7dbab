import Broker
import HTTPServer

/// The administrator's agencies and principals: listed as `GET /v1/agencies` and
/// `GET /v1/principals` list them (coordinators may look), created as `POST` creates them and
/// enabled and disabled as `PATCH … {"active": …}` does (administrators only, by the domain's
/// own checks). A refused creation shows the list again with the refusal and what was typed.
extension PageRoutes {
    func registerRegistry(in router: inout Router<Handler>) {
        router.add("GET", "/ui/agencies", page { request in try await registryPage(request, error: nil, typed: [:]) })
        router.add("GET", "/ui/principals", page { request in try await registryPage(request, error: nil, typed: [:]) })
        router.add("POST", "/ui/agencies", form { request, fields in
            guard let kind = AgencyKind(rawValue: fields["kind"] ?? "") else {
                return try await registryPage(request, error: APIError(.validationFailed, "kind: must be core or non-core"), typed: fields)
            }
            let body = NewAgency(id: fields["id"] ?? "", name: fields["name"] ?? "", kind: kind)
            return try await change(request, back: "/ui/agencies", typed: fields) { broker, actor, env in broker.createAgency(body, by: actor, env: env) }
        })
        router.add("POST", "/ui/principals", form { request, fields in
            guard let role = Role(rawValue: fields["role"] ?? "") else {
                let roles = Role.allCases.map(\.rawValue).joined(separator: ", ")
                return try await registryPage(request, error: APIError(.validationFailed, "role: must be one of \(roles)"), typed: fields)
            }
            let body = NewPrincipal(id: fields["id"] ?? "", name: fields["name"] ?? "", agency: fields["agency"] ?? "", role: role)
            return try await change(request, back: "/ui/principals", typed: fields) { broker, actor, env in broker.createPrincipal(body, by: actor, env: env) }
        })
        router.add("POST", "/ui/agencies/{id}/active", form { request, fields in
            let id = request.parameter("id"), active = fields["active"] == "true"
            return try await change(request, back: "/ui/agencies", typed: [:]) { broker, actor, env in
                broker.updateAgency(id: id, AgencyPatch(active: active), by: actor, env: env)
            }
        })
        router.add("POST", "/ui/principals/{id}/active", form { request, fields in
            let id = request.parameter("id"), active = fields["active"] == "true"
            return try await change(request, back: "/ui/principals", typed: [:]) { broker, actor, env in
                broker.updatePrincipal(id: id, PrincipalPatch(active: active), by: actor, env: env)
            }
        })
    }

    /// Runs the change; back to the list, or the list again with the refusal (403 and 404 as pages).
    private func change<R: Sendable>(_ request: APIRequest, back: String, typed: [String: String],
                                     _ operation: (Domain, Actor, Environment) -> Outcome<R>) async throws -> HTTPResponse {
        do {
            _ = try await perform(request, operation)
        } catch let error as APIError where ![403, 404].contains(error.status.code) {
            return try await registryPage(request, error: error, typed: typed)
        }
        return PageLayout.seeOther(back)
    }

    /// `/ui/agencies` or `/ui/principals` (by the request's path), with an enable/disable button
    /// per row and, for administrators, the form that creates one.
    private func registryPage(_ request: APIRequest, error: APIError?, typed: [String: String]) async throws -> HTTPResponse {
        let isAgencies = request.http.path.hasPrefix("/ui/agencies")
        let token = guardian.token(for: request.serial)
        let (actor, agencies) = try await perform(request) { broker, actor, _ in broker.listAgencies(by: actor) }
        let rows: [(id: String, cells: [String], active: Bool)]
        if isAgencies {
            rows = agencies.agencies.map { ($0.id, [$0.id, $0.name, $0.kind.rawValue], $0.active) }
        } else {
            let list = try await perform(request) { broker, actor, _ in broker.listPrincipals(by: actor) }.1
            rows = list.principals.map { ($0.id, [$0.id, $0.name, $0.agency, $0.role.rawValue], $0.active) }
        }
        let kind = isAgencies ? "agencies" : "principals"
        return PageLayout.page(isAgencies ? "Agencies" : "Principals", actor: actor, status: error?.status ?? .ok) { out in
            if let error { PageLayout.alert(&out, "Not changed", error, id: "form-error") }
            out.wrap("table") { table in
                PageLayout.head(&table, (isAgencies ? ["Id", "Name", "Kind"] : ["Id", "Name", "Agency", "Role"]) + ["Active", "Change"])
                table.wrap("tbody") { body in
                    for row in rows {
                        body.wrap("tr") { tr in
                            for cell in row.cells { tr.element("td", [:], cell) }
                            tr.element("td", [:], row.active ? "active" : "disabled")
                            tr.wrap("td") { cell in
                                guard actor.role == .admin else { return }
                                cell.wrap("form", ["method": "post", "action": "/ui/\(kind)/\(row.id)/active", "class": "inline"]) { f in
                                    f.void("input", ["type": "hidden", "name": "csrf", "value": token])
                                    f.void("input", ["type": "hidden", "name": "active", "value": row.active ? "false" : "true"])
                                    f.element("button", ["type": "submit"], "\(row.active ? "Disable" : "Enable") \(row.id)")
                                }
                            }
                        }
                    }
                }
            }
            guard actor.role == .admin else { return }
            out.element("h2", ["id": "new"], isAgencies ? "New agency" : "New principal")
            out.wrap("form", ["method": "post", "action": "/ui/\(kind)", "aria-describedby": error == nil ? nil : "form-error"]) { f in
                f.void("input", ["type": "hidden", "name": "csrf", "value": token])
                f.element("label", ["for": "new-id"], "Id (lower-case letters, digits and hyphens, e.g. \(isAgencies ? "victim-support" : "jo-smith"))")
                f.void("input", ["id": "new-id", "name": "id", "value": typed["id"] ?? "", "required": ""])
                f.element("label", ["for": "new-name"], "Name")
                f.void("input", ["id": "new-name", "name": "name", "value": typed["name"] ?? "", "required": ""])
                if isAgencies {
                    Self.select(&f, id: "new-kind", name: "kind", label: "Kind",
                                options: AgencyKind.allCases.map { ($0.rawValue, $0.rawValue) }, selected: typed["kind"] ?? AgencyKind.core.rawValue)
                } else {
                    Self.select(&f, id: "new-agency", name: "agency", label: "Agency",
                                options: agencies.agencies.filter(\.active).map { ($0.id, "\($0.name) (\($0.id))") }, selected: typed["agency"])
                    Self.select(&f, id: "new-role", name: "role", label: "Role",
                                options: Role.allCases.map { ($0.rawValue, $0.rawValue) }, selected: typed["role"] ?? Role.spoc.rawValue)
                    f.element("p", ["class": "hint"], "A coordinator, SPOC or auditor can read case text only once another coordinator approves each of their certificates.")
                }
                f.element("button", ["type": "submit"], isAgencies ? "Create the agency" : "Create the principal")
            }
        }
    }

    /// A labelled `<select>`.
    static func select(_ out: inout HTMLWriter, id: String, name: String, label: String, options: [(value: String, text: String)], selected: String?) {
        out.element("label", ["for": id], label)
        out.wrap("select", ["id": id, "name": name]) { select in
            for option in options {
                select.element("option", ["value": option.value, "selected": option.value == selected ? "" : nil], option.text)
            }
        }
    }
}

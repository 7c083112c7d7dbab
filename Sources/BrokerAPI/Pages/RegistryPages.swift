import Broker
import HTTPServer

/// The administrator's agencies and principals: listed as `GET /v1/agencies` and
/// `GET /v1/principals` list them (coordinators may look), enabled and disabled as
/// `PATCH … {"active": …}` does (administrators only, by the domain's own check).
extension PageRoutes {
    func registerRegistry(in router: inout Router<Handler>) {
        router.add("GET", "/ui/agencies", page { request in try await registryPage(request, error: nil) })
        router.add("GET", "/ui/principals", page { request in try await registryPage(request, error: nil) })
        router.add("POST", "/ui/agencies/{id}/active", form { request, fields in
            let id = request.parameter("id"), active = fields["active"] == "true"
            return try await change(request, back: "/ui/agencies") { broker, actor, env in
                broker.updateAgency(id: id, AgencyPatch(active: active), by: actor, env: env)
            }
        })
        router.add("POST", "/ui/principals/{id}/active", form { request, fields in
            let id = request.parameter("id"), active = fields["active"] == "true"
            return try await change(request, back: "/ui/principals") { broker, actor, env in
                broker.updatePrincipal(id: id, PrincipalPatch(active: active), by: actor, env: env)
            }
        })
    }

    /// Runs the change; back to the list, or the list again with the refusal (403 and 404 as pages).
    private func change<R: Sendable>(_ request: APIRequest, back: String, _ operation: (Domain, Actor, Environment) -> Outcome<R>) async throws -> HTTPResponse {
        do {
            _ = try await perform(request, operation)
        } catch let error as APIError where ![403, 404].contains(error.status.code) {
            return try await registryPage(request, error: error)
        }
        return PageLayout.seeOther(back)
    }

    /// `/ui/agencies` or `/ui/principals` (by the request's path), with an enable/disable button per row.
    private func registryPage(_ request: APIRequest, error: APIError?) async throws -> HTTPResponse {
        let agencies = request.http.path.hasPrefix("/ui/agencies")
        let token = guardian.token(for: request.serial)
        let rows: [(id: String, cells: [String], active: Bool)]
        let actor: Actor
        if agencies {
            let (who, list) = try await perform(request) { broker, actor, _ in broker.listAgencies(by: actor) }
            (actor, rows) = (who, list.agencies.map { ($0.id, [$0.id, $0.name, $0.kind.rawValue], $0.active) })
        } else {
            let (who, list) = try await perform(request) { broker, actor, _ in broker.listPrincipals(by: actor) }
            (actor, rows) = (who, list.principals.map { ($0.id, [$0.id, $0.name, $0.agency, $0.role.rawValue], $0.active) })
        }
        let kind = agencies ? "agencies" : "principals"
        return PageLayout.page(agencies ? "Agencies" : "Principals", actor: actor, status: error?.status ?? .ok) { out in
            if let error { PageLayout.alert(&out, "Not changed", error) }
            out.wrap("table") { table in
                PageLayout.head(&table, (agencies ? ["Id", "Name", "Kind"] : ["Id", "Name", "Agency", "Role"]) + ["Active", "Change"])
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
        }
    }
}

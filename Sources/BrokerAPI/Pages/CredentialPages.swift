import Broker
import Engine
import HTTPServer

/// Credentials (SPEC §10, §12): every credential with its expiry, last use and approval.
/// An administrator revokes with a reason and signs a principal's CSR (`POST /v1/credentials`);
/// a coordinator approves a pending credential that is not their own
/// (`POST /v1/credentials/{serial}/approve`). Each through the domain's own checks.
extension PageRoutes {
    func registerCredentials(in router: inout Router<Handler>) {
        router.add("GET", "/ui/credentials", page { request in try await credentialsPage(request, error: nil, typed: [:]) })
        router.add("POST", "/ui/credentials/{serial}/revoke", form { request, fields in
            let serial = request.parameter("serial").uppercased()
            let reason = fields["reason"] ?? ""
            do {
                _ = try await perform(request) { broker, actor, env in broker.revokeCredential(serial: serial, reason: reason, by: actor, env: env) }
            } catch let error as APIError where ![403].contains(error.status.code) {
                return try await credentialsPage(request, error: error, typed: [:])
            }
            return PageLayout.seeOther("/ui/credentials")
        })
        router.add("POST", "/ui/credentials/{serial}/approve", form { request, _ in
            let serial = request.parameter("serial").uppercased()
            do {
                _ = try await perform(request) { broker, actor, env in broker.approveCredential(serial: serial, by: actor, env: env) }
            } catch let error as APIError where ![403].contains(error.status.code) {
                return try await credentialsPage(request, error: error, typed: [:])
            }
            return PageLayout.seeOther("/ui/credentials")
        })
        router.add("POST", "/ui/credentials", form { request, fields in
            let validity = fields["validityDays"] ?? ""
            let days = Int(validity)
            do {
                guard validity.isEmpty || days != nil else { throw APIError(.validationFailed, "validityDays: must be a whole number of days, or blank for the default") }
                let csr = fields["csr"] ?? "", principal = fields["principal"] ?? ""
                let (actor, issued) = try await perform(request) { broker, actor, env in
                    broker.issueCredential(principal: principal, by: actor, env: env) { principal in
                        issuer.sign(csrPEM: csr, validityDays: days, for: principal, now: env.now)
                    }
                }
                return issuedPage(issued, actor: actor)
            } catch let error as APIError where ![403].contains(error.status.code) {
                return try await credentialsPage(request, error: error, typed: fields)
            }
        })
    }

    /// The table; revocation forms (administrator), approval buttons (coordinator), the signing form (administrator).
    private func credentialsPage(_ request: APIRequest, error: APIError?, typed: [String: String]) async throws -> HTTPResponse {
        let (actor, list) = try await perform(request) { broker, actor, env in broker.listCredentials(by: actor, env: env) }
        let credentials = credentialUse.annotate(list.credentials)
        // Administrators and coordinators may both list principals: the coordinator approving a
        // credential must see whose it is and what it opens (name and role), not an id alone.
        let principals = try await perform(request) { broker, actor, _ in broker.listPrincipals(by: actor) }.1.principals
        let holders = Dictionary(principals.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        let token = guardian.token(for: request.serial)
        let change = actor.role == .admin ? "Revoke" : "Approve"
        return PageLayout.page("Credentials", actor: actor, status: error?.status ?? .ok) { out in
            if let error {
                PageLayout.alert(&out, "Not changed", error, id: "form-error")
            }
            if actor.role == .coordinator {
                out.element("p", [:], "A pending credential reads no case text until a coordinator other than its holder approves it. "
                    + "Approve only a certificate its holder told you they asked for: a coordinator's certificate opens every case.")
            }
            out.wrap("table") { table in
                PageLayout.head(&table, ["Principal", "Agency", "Role", "Serial", "Status", "Issued", "Expires", "Last used", "Approval", change])
                table.wrap("tbody") { body in
                    for credential in credentials {
                        body.wrap("tr", ["class": credential.expiresSoon ? "expiring" : nil]) { row in
                            let holder = holders[credential.principal]
                            row.element("td", [:], holder.map { "\($0.name) (\($0.id))" } ?? credential.principal)
                            row.element("td", [:], credential.agency)
                            row.element("td", [:], holder?.role.rawValue ?? "")
                            row.element("td", ["class": "serial"], credential.serial)
                            row.element("td", [:], credential.status + (credential.reason.map { ": \($0)" } ?? "")
                                            + (credential.renewedFrom.map { " (renews \($0))" } ?? ""))
                            row.element("td", [:], PageLayout.time(credential.issuedAt))
                            row.element("td", [:], PageLayout.time(credential.notAfter) + (credential.expiresSoon ? " (soon)" : ""))
                            row.element("td", [:], credential.lastUsedAt.map { PageLayout.time($0) } ?? "never")
                            row.element("td", [:], credential.approval + (credential.approvedBy.map { " by \($0)" } ?? ""))
                            row.wrap("td") { cell in
                                guard credential.status == "active" else { return }
                                if actor.role == .admin {
                                    cell.wrap("form", ["method": "post", "action": "/ui/credentials/\(credential.serial)/revoke", "class": "inline"]) { f in
                                        f.void("input", ["type": "hidden", "name": "csrf", "value": token])
                                        f.element("label", ["for": "reason-\(credential.serial)"], "Reason")
                                        f.void("input", ["id": "reason-\(credential.serial)", "name": "reason", "required": ""])
                                        f.element("button", ["type": "submit"], "Revoke \(credential.principal)")
                                    }
                                } else if credential.approval == "pending", credential.principal != actor.principal {
                                    cell.wrap("form", ["method": "post", "action": "/ui/credentials/\(credential.serial)/approve", "class": "inline"]) { f in
                                        f.void("input", ["type": "hidden", "name": "csrf", "value": token])
                                        f.element("button", ["type": "submit"], "Approve \(credential.principal) \(credential.serial) (\(holder?.role.rawValue ?? "unknown role"))")
                                    }
                                }
                            }
                        }
                    }
                }
            }
            guard actor.role == .admin else { return }
            out.element("h2", ["id": "issue"], "Sign a certificate request")
            out.element("p", [:], "The holder makes the key and request on their own machine (marac cert request) and sends you only the request (CSR). "
                + "A certificate for a coordinator, SPOC or auditor starts pending.")
            out.wrap("form", ["method": "post", "action": "/ui/credentials", "aria-describedby": error == nil ? nil : "form-error"]) { f in
                f.void("input", ["type": "hidden", "name": "csrf", "value": token])
                Self.select(&f, id: "issue-principal", name: "principal", label: "Principal",
                            options: principals.filter(\.active).map { ($0.id, "\($0.name) (\($0.id), \($0.role.rawValue), \($0.agency))") },
                            selected: typed["principal"])
                f.element("label", ["for": "issue-csr"], "Certificate request (PEM, -----BEGIN CERTIFICATE REQUEST-----)")
                f.element("textarea", ["id": "issue-csr", "name": "csr", "rows": "8", "required": ""], typed["csr"] ?? "")
                f.element("label", ["for": "issue-days"], "Validity in days (blank for the default)")
                f.void("input", ["id": "issue-days", "name": "validityDays", "inputmode": "numeric", "value": typed["validityDays"] ?? ""])
                f.element("button", ["type": "submit"], "Sign the certificate")
            }
        }
    }

    /// The signed certificate, to hand to its holder (it holds no secret: the key never left them).
    private func issuedPage(_ issued: IssuedCredential, actor: Actor) -> HTTPResponse {
        PageLayout.page("Certificate signed for \(issued.principal)", actor: actor, status: .created) { out in
            out.element("p", [:], "Serial \(issued.serial), agency \(issued.agency), valid until \(PageLayout.time(issued.notAfter)). "
                + "Send both texts below to \(issued.principal): save the first as \(issued.principal).pem beside their key, the second as ca.pem.")
            out.element("h2", [:], "Certificate")
            out.element("pre", ["class": "pem", "id": "certificate"], issued.certificate)
            out.element("h2", [:], "The broker's CA certificate")
            out.element("pre", ["class": "pem", "id": "ca-certificate"], issued.caCertificate)
            out.element("a", ["href": "/ui/credentials"], "Back to credentials")
        }
    }
}

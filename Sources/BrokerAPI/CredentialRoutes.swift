import Broker
import Engine
import Foundation
import Wire
import HTTPServer

/// Credential administration: sign CSRs, list, revoke (admin); approve (a coordinator
/// who is not the holder); renew (the holder); and the CRL. Signing is a domain
/// decision (`Domain.issueCredential`/`renewCredential`) with the `CredentialIssuer`'s
/// rules inside it, so the principal signed for is the one the entry is ordered against.

struct CredentialRoutes: Sendable {
    let core: BrokerEngine
    let issuer: CredentialIssuer
    let credentialUse: CredentialUse

    struct IssueRequest: Decodable, Sendable {
        let principal: String
        let csr: String
        let validityDays: Int?
    }

    struct RevokeRequest: Decodable, Sendable {
        let reason: String
    }

    struct RenewRequest: Decodable, Sendable {
        let csr: String
        let validityDays: Int?
    }

    func register(in router: inout Router<BrokerService.Handler>) {
        router.add("POST", "/v1/credentials") { request in
            let body = try request.decode(IssueRequest.self)
            let (_, issued) = try await core.perform(serial: request.serial) { broker, actor, env in
                broker.issueCredential(principal: body.principal, by: actor, env: env) { principal in
                    issuer.sign(csrPEM: body.csr, validityDays: body.validityDays, for: principal, now: env.now)
                }
            }
            return .json(.created, issued)
        }
        router.add("GET", "/v1/credentials") { request in
            let query = request.http.query
            if let status = query["status"], !["active", "expired", "revoked"].contains(status) {
                throw APIError(.invalid, "status: must be active, expired or revoked, got \(status)")
            }
            if let approval = query["approval"], !["pending", "approved", "not-needed"].contains(approval) {
                throw APIError(.invalid, "approval: must be pending, approved or not-needed, got \(approval)")
            }
            if let expiring = query["expiring"], !["true", "false"].contains(expiring) {
                throw APIError(.invalid, "expiring: must be true or false, got \(expiring.prefix(40))")
            }
            let (_, list) = try await core.perform(serial: request.serial) { broker, actor, env in broker.listCredentials(by: actor, env: env) }
            let expiringOnly = query["expiring"] == "true"
            let filtered = credentialUse.annotate(list.credentials).filter { credential in
                (query["principal"].map { $0 == credential.principal } ?? true)
                    && (query["agency"].map { $0 == credential.agency } ?? true)
                    && (query["status"].map { $0 == credential.status } ?? true)
                    && (query["approval"].map { $0 == credential.approval } ?? true)
                    && (!expiringOnly || credential.expiresSoon)
            }
            return .json(.ok, CredentialList(credentials: filtered))
        }
        router.add("POST", "/v1/credentials/{serial}/revoke") { request in
            let body = try request.decode(RevokeRequest.self)
            let serial = request.parameter("serial").uppercased()
            let (_, view) = try await core.perform(serial: request.serial) { broker, actor, env in
                broker.revokeCredential(serial: serial, reason: body.reason, by: actor, env: env)
            }
            return .json(.ok, view)
        }
        router.add("POST", "/v1/credentials/{serial}/approve") { request in
            try request.expectEmptyBody()
            let serial = request.parameter("serial")
            let (_, view) = try await core.perform(serial: request.serial) { broker, actor, env in
                broker.approveCredential(serial: serial, by: actor, env: env)
            }
            return .json(.ok, view)
        }
        router.add("POST", "/v1/credentials/renew") { request in
            let body = try request.decode(RenewRequest.self)
            let (_, issued) = try await core.perform(serial: request.serial) { broker, actor, env in
                broker.renewCredential(by: actor, env: env) { principal in
                    issuer.sign(csrPEM: body.csr, validityDays: body.validityDays, for: principal, now: env.now)
                }
            }
            return .json(.created, issued)
        }
        router.add("GET", "/v1/crl") { request in
            // The revocations are read like every read: refused once storage has failed, and answered only
            // when everything ordered before them is durable, so the CA never signs a revocation that could be lost.
            let (_, revoked) = try await core.perform(serial: request.serial) { domain, _, _ in
                .success(Decision(entry: nil, reply: BrokerEngine.revocations(in: domain)))
            }
            var response = HTTPResponse(status: .ok, body: try core.crl(of: revoked, signedBy: issuer.ca))
            response.headers.add(name: "Content-Type", value: "application/x-pem-file")
            return response
        }
    }
}

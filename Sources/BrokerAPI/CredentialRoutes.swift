import Broker
import Foundation
import HTTPServer
import TLS

/// Credential administration: sign CSRs, list, revoke (admin); approve (a coordinator
/// who is not the holder); renew (the holder); and the CRL.
///
/// The broker never sees a private key: `POST /v1/credentials` takes a CSR,
/// checks its own signature and key strength, and takes the subject from the
/// registry (`CN=<principal>, O=<agency>`), never from the CSR.
struct CredentialRoutes: Sendable {
    let core: BrokerCore
    let ca: CertificateAuthority
    let configuration: BrokerConfiguration

    struct IssueRequest: Decodable, Sendable {
        let principal: String
        let csr: String
        let validityDays: Int?
    }

    struct Issued: Encodable, Sendable {
        let serial: String
        let principal: String
        let agency: String
        let notAfter: Date
        let certificate: String
        let caCertificate: String
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
            let issuer = try core.identified(request.serial)
            guard issuer.role == .admin else {
                throw APIError(.forbidden, "forbidden", "role \(issuer.role.rawValue) may not issue credentials; only an administrator can")
            }
            let issued = try issue(body, now: core.clock())
            let (_, _) = try await core.perform(serial: request.serial) { broker, actor, env in
                broker.registerCredential(NewCredential(serial: issued.serial, principal: issued.principal,
                                                        issuedAt: env.now, notAfter: issued.notAfter), by: actor, env: env)
            }
            return .json(.created, issued)
        }
        router.add("GET", "/v1/credentials") { request in
            let query = request.http.query
            if let status = query["status"], !["active", "expired", "revoked"].contains(status) {
                throw APIError(.badRequest, "invalid", "status: must be active, expired or revoked, got \(status)")
            }
            if let approval = query["approval"], !["pending", "approved", "not-needed"].contains(approval) {
                throw APIError(.badRequest, "invalid", "approval: must be pending, approved or not-needed, got \(approval)")
            }
            let (_, list) = try await core.perform(serial: request.serial) { broker, actor, env in broker.listCredentials(by: actor, env: env) }
            let expiringOnly = query["expiring"] == "true"
            let filtered = list.credentials.filter { credential in
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
            let holder = try core.identified(request.serial)
            // Asked before anything is signed: outside the 60-day window, nothing is issued.
            if let refusal = core.read({ $0.renewalRefusal(serial: holder.serial, at: core.clock()) }) { throw APIError(refusal) }
            let issued = try issue(.init(principal: holder.principal, csr: body.csr, validityDays: body.validityDays), now: core.clock())
            _ = try await core.perform(serial: request.serial) { broker, actor, env in
                broker.renewCredential(NewCredential(serial: issued.serial, principal: issued.principal, issuedAt: env.now, notAfter: issued.notAfter),
                                       by: actor, env: env)
            }
            return .json(.created, issued)
        }
        router.add("GET", "/v1/crl") { request in
            _ = try core.identified(request.serial)
            var response = HTTPResponse(status: .ok, body: try core.crl(signedBy: ca))
            response.headers.add(name: "Content-Type", value: "application/x-pem-file")
            return response
        }
    }

    /// Checks the CSR and signs a client certificate for the registered principal.
    /// - Throws: `APIError` 404 for an unknown principal, 409 for a disabled one,
    ///   422 naming what is wrong with the CSR or the validity.
    func issue(_ body: IssueRequest, now: Date) throws -> Issued {
        let target: Principal? = core.read { $0.state.principals[body.principal] }
        guard let principal = target else { throw APIError(.notFound, "not_found", "principal \(body.principal) does not exist") }
        guard principal.active else {
            throw APIError(.conflict, "conflict", "principal \(principal.id) is disabled; enable it before issuing a credential")
        }
        let csr = try CredentialPolicy.check(csrPEM: body.csr, principal: principal.id, agency: principal.agency)
        let days = body.validityDays ?? configuration.credentialValidityDays
        guard (1...configuration.credentialMaxValidityDays).contains(days) else {
            throw APIError(.unprocessableContent, "validation_failed", "validityDays: must be 1…\(configuration.credentialMaxValidityDays), got \(days)")
        }
        let notAfter = min(now.addingTimeInterval(Double(days) * 86_400), ca.certificate.notAfter)
        let certificate: Certificate
        do {
            certificate = try ca.issue(for: csr, commonName: principal.id, organization: principal.agency, usage: .client,
                                       notBefore: now.addingTimeInterval(-300), notAfter: notAfter)
        } catch {
            throw APIError(.unprocessableContent, "invalid_csr", "csr: cannot be signed: \(error)")
        }
        return Issued(serial: certificate.serial, principal: principal.id, agency: principal.agency, notAfter: certificate.notAfter,
                      certificate: certificate.pem, caCertificate: ca.certificate.pem)
    }
}

/// What the broker accepts in a certificate signing request.
public enum CredentialPolicy {
    /// Parses and checks a PEM CSR: its own signature, an ECDSA P-256/P-384 or
    /// RSA ≥ 2048 key, and — if it names a subject — the registry's subject.
    /// - Throws: `APIError` 422 `invalid_csr`, `weak_key` or `subject_mismatch`, naming what is wrong.
    public static func check(csrPEM: String, principal: String, agency: String) throws -> CertificateSigningRequest {
        let csr: CertificateSigningRequest
        do { csr = try CertificateSigningRequest(pem: Array(csrPEM.utf8)) } catch {
            throw APIError(.unprocessableContent, "invalid_csr", "csr: not a PEM certificate signing request (\(error))")
        }
        guard csr.hasValidSignature else {
            throw APIError(.unprocessableContent, "invalid_csr", "csr: its signature does not verify with its own public key")
        }
        guard let key = csr.publicKey else { throw APIError(.unprocessableContent, "invalid_csr", "csr: carries no readable public key") }
        switch (key.algorithm, key.curve, key.bits) {
        case (.ecdsa, "P-256"?, _), (.ecdsa, "P-384"?, _): break
        case (.rsa, _, let bits) where bits >= 2048: break
        default:
            throw APIError(.unprocessableContent, "weak_key", "csr: key \(key) is not accepted; use ECDSA P-256, ECDSA P-384 or RSA of at least 2048 bits")
        }
        if let cn = csr.commonName, cn != principal {
            throw APIError(.unprocessableContent, "subject_mismatch", "csr: asks for CN=\(cn) but is being issued to principal \(principal)")
        }
        if let o = csr.organization, o != agency {
            throw APIError(.unprocessableContent, "subject_mismatch", "csr: asks for O=\(o) but principal \(principal) belongs to agency \(agency)")
        }
        return csr
    }
}

import Broker
import Foundation
import TLS

/// A client certificate just signed for a registered principal: the reply of
/// `POST /v1/credentials`, `POST /v1/credentials/renew` and `maracd cert sign`.
public struct IssuedCredential: SignedCredential, Encodable, Equatable {
    public let serial: String
    public let principal: String
    public let agency: String
    public let notAfter: Date
    /// The certificate, PEM.
    public let certificate: String
    /// The issuing CA's certificate, PEM.
    public let caCertificate: String
    /// SHA-256 of the certified key (registered with the credential; not part of the reply).
    public let keySHA256: String?

    private enum CodingKeys: String, CodingKey { case serial, principal, agency, notAfter, certificate, caCertificate }
}

/// The broker's rules for signing client certificates. The broker never sees a
/// private key: it takes a CSR, checks its own signature and key strength, and takes
/// the subject from the registry (`CN=<principal>, O=<agency>`), never from the CSR.
/// Used inside the domain's `issueCredential`/`renewCredential` decisions.
public struct CredentialIssuer: Sendable {
    public let ca: CertificateAuthority
    /// Validity when the request names none (`credentials.validityDays`).
    public let defaultValidityDays: Int
    /// The longest validity a request may ask for (`credentials.maxValidityDays`).
    public let maxValidityDays: Int

    public init(ca: CertificateAuthority, defaultValidityDays: Int, maxValidityDays: Int) {
        self.ca = ca
        self.defaultValidityDays = defaultValidityDays
        self.maxValidityDays = maxValidityDays
    }

    /// Checks `csrPEM` and signs a client certificate for `principal`, valid from five
    /// minutes before `now` (clock skew) for `validityDays`, never past the CA's own expiry.
    public func sign(csrPEM: String, validityDays: Int?, for principal: Principal, now: Date) -> Result<IssuedCredential, DomainError> {
        do { return .success(try signing(csrPEM: csrPEM, validityDays: validityDays, for: principal, now: now)) } catch { return .failure(error) }
    }

    private func signing(csrPEM: String, validityDays: Int?, for principal: Principal, now: Date) throws(DomainError) -> IssuedCredential {
        let csr = try Self.check(csrPEM: csrPEM, principal: principal.id, agency: principal.agency)
        let days = validityDays ?? defaultValidityDays
        guard (1...maxValidityDays).contains(days) else {
            throw DomainError(.validationFailed, "validityDays: must be 1…\(maxValidityDays), got \(days)")
        }
        let notAfter = min(now.addingTimeInterval(Double(days) * 86_400), ca.certificate.notAfter)
        let certificate: Certificate
        do {
            certificate = try ca.issue(for: csr, commonName: principal.id, organization: principal.agency, usage: .client,
                                       notBefore: now.addingTimeInterval(-300), notAfter: notAfter)
        } catch {
            throw DomainError(.invalidCSR, "csr: cannot be signed: \(error)")
        }
        return IssuedCredential(serial: certificate.serial, principal: principal.id, agency: principal.agency, notAfter: certificate.notAfter,
                                certificate: certificate.pem, caCertificate: ca.certificate.pem, keySHA256: certificate.publicKeySHA256)
    }

    /// Parses and checks a PEM CSR: its own signature, an ECDSA P-256/P-384 or
    /// RSA ≥ 2048 key, and — if it names a subject — the registry's subject.
    /// - Throws: `DomainError` `invalid_csr`, `weak_key` or `subject_mismatch`, naming what is wrong.
    public static func check(csrPEM: String, principal: String, agency: String) throws(DomainError) -> CertificateSigningRequest {
        let csr: CertificateSigningRequest
        do { csr = try CertificateSigningRequest(pem: Array(csrPEM.utf8)) } catch {
            throw DomainError(.invalidCSR, "csr: not a PEM certificate signing request (\(error))")
        }
        guard csr.hasValidSignature else { throw DomainError(.invalidCSR, "csr: its signature does not verify with its own public key") }
        guard let key = csr.publicKey else { throw DomainError(.invalidCSR, "csr: carries no readable public key") }
        switch (key.algorithm, key.curve, key.bits) {
        case (.ecdsa, "P-256"?, _), (.ecdsa, "P-384"?, _): break
        case (.rsa, _, let bits) where bits >= 2048: break
        default:
            throw DomainError(.weakKey, "csr: key \(key) is not accepted; use ECDSA P-256, ECDSA P-384 or RSA of at least 2048 bits")
        }
        if let cn = csr.commonName, cn != principal {
            throw DomainError(.subjectMismatch, "csr: asks for CN=\(cn) but is being issued to principal \(principal)")
        }
        if let o = csr.organization, o != agency {
            throw DomainError(.subjectMismatch, "csr: asks for O=\(o) but principal \(principal) belongs to agency \(agency)")
        }
        return csr
    }
}

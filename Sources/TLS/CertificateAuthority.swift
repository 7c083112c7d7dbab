internal import COpenSSL
internal import Crypto
internal import CShims
import Foundation

/// What a certificate may be used for; decides its extensions.
public enum CertificateUsage: Sendable, Equatable {
    /// A CA that signs certificates and CRLs.
    case authority
    /// A TLS server, with the DNS names and IP addresses it answers for.
    case server(dnsNames: [String], ipAddresses: [String])
    /// A TLS client (extendedKeyUsage=clientAuth).
    case client
    /// A leaf with no extended key usage at all (tests of refusal only).
    case noExtendedKeyUsage
}

/// The broker's certificate authority: a CA certificate and its private key.
///
/// Immutable, so it may be shared between threads.
public final class CertificateAuthority: @unchecked Sendable {
    public let certificate: Certificate
    let key: PrivateKey

    /// Pairs a CA certificate with its key.
    /// - Throws: `TLSError.invalidKey` if the key is not the certificate's.
    public init(certificate: Certificate, key: PrivateKey) throws {
        guard certificate.matches(key) else {
            throw TLSError(.invalidKey, "the CA key does not match the CA certificate \(certificate.serial)")
        }
        self.certificate = certificate
        self.key = key
    }

    /// Loads `ca.pem` and `ca-key.pem`-style files; errors name the files.
    public convenience init(certificateFile: String, keyFile: String) throws {
        try self.init(certificate: try Certificate(pemFile: certificateFile), key: try PrivateKey(pemFile: keyFile))
    }

    /// Creates a new self-signed ECDSA P-256 CA.
    public static func create(commonName: String, organization: String, validFor days: Int, now: Date = Date()) throws -> CertificateAuthority {
        let key = try PrivateKey.generateECDSA()
        let cert = try buildCertificate(
            subjectKey: key.pointer, commonName: commonName, organization: organization,
            usage: .authority, notBefore: now.addingTimeInterval(-300), notAfter: now.addingTimeInterval(Double(days) * 86_400),
            issuer: nil, signer: key)
        return try CertificateAuthority(certificate: cert, key: key)
    }

    /// Issues a certificate for `subjectKey` (the holder's key; only its public half is used).
    public func issue(for subjectKey: PrivateKey, commonName: String, organization: String?, usage: CertificateUsage,
                      notBefore: Date, notAfter: Date) throws -> Certificate {
        try Self.buildCertificate(subjectKey: subjectKey.pointer, commonName: commonName, organization: organization,
                                  usage: usage, notBefore: notBefore, notAfter: notAfter, issuer: certificate, signer: key)
    }

    /// Issues a certificate for the public key in `request`. Nothing else is taken from the CSR.
    /// - Throws: `TLSError.invalidCSR` if the CSR's own signature does not verify.
    public func issue(for request: CertificateSigningRequest, commonName: String, organization: String?, usage: CertificateUsage,
                      notBefore: Date, notAfter: Date) throws -> Certificate {
        guard request.hasValidSignature, let pkey = X509_REQ_get0_pubkey(request.pointer) else {
            throw TLSError(.invalidCSR, "the CSR's signature does not verify with its own public key")
        }
        return try Self.buildCertificate(subjectKey: pkey, commonName: commonName, organization: organization,
                                         usage: usage, notBefore: notBefore, notAfter: notAfter, issuer: certificate, signer: key)
    }

    /// A new random positive 128-bit serial number, as `(hex, BIGNUM)` owner.
    static func randomSerial() -> OpaquePointer {
        var bytes = SecureRandom.bytes(16)
        bytes[0] = (bytes[0] & 0x7F) | 0x40   // positive, and always a full 127-bit magnitude
        guard let bn = BN_bin2bn(bytes, Int32(bytes.count), nil) else { fatalError("BN_bin2bn: out of memory") }
        return bn
    }

    static func buildCertificate(subjectKey: OpaquePointer, commonName: String, organization: String?, usage: CertificateUsage,
                                 notBefore: Date, notAfter: Date, issuer: Certificate?, signer: PrivateKey) throws -> Certificate {
        OpenSSLErrorQueue.clear()
        guard let x509 = X509_new() else { fatalError("X509_new: out of memory") }
        let cert = Certificate(takingOwnershipOf: x509)
        let serial = randomSerial()
        defer { BN_free(serial) }
        guard X509_set_version(x509, 2) == 1,
              let serialInteger = BN_to_ASN1_INTEGER(serial, nil) else { throw TLSError.drain(.invalidCertificate, "could not set the serial") }
        defer { ASN1_INTEGER_free(serialInteger) }
        guard X509_set_serialNumber(x509, serialInteger) == 1,
              ASN1_TIME_set(X509_getm_notBefore(x509), time_t(notBefore.timeIntervalSince1970)) != nil,
              ASN1_TIME_set(X509_getm_notAfter(x509), time_t(notAfter.timeIntervalSince1970)) != nil,
              X509_set_pubkey(x509, subjectKey) == 1,
              let name = X509_NAME_new()
        else { throw TLSError.drain(.invalidCertificate, "could not fill in the certificate") }
        defer { X509_NAME_free(name) }
        try addNameEntry(name, "CN", commonName)
        if let organization { try addNameEntry(name, "O", organization) }
        guard X509_set_subject_name(x509, name) == 1,
              X509_set_issuer_name(x509, issuer.map { X509_get_subject_name($0.pointer) } ?? name) == 1
        else { throw TLSError.drain(.invalidCertificate, "could not set the certificate names") }

        var ctx = X509V3_CTX()
        shim_X509V3_set_ctx_nodb(&ctx)
        X509V3_set_ctx(&ctx, issuer?.pointer ?? x509, x509, nil, nil, 0)
        for (nid, value) in extensions(for: usage) {
            guard let ext = X509V3_EXT_nconf_nid(nil, &ctx, nid, value) else {
                throw TLSError.drain(.invalidCertificate, "could not build extension \(value)")
            }
            defer { X509_EXTENSION_free(ext) }
            guard X509_add_ext(x509, ext, -1) == 1 else { throw TLSError.drain(.invalidCertificate, "could not add extension \(value)") }
        }
        guard X509_sign(x509, signer.pointer, EVP_sha256()) > 0 else {
            throw TLSError.drain(.invalidCertificate, "could not sign the certificate")
        }
        return cert
    }

    static func extensions(for usage: CertificateUsage) -> [(Int32, String)] {
        let identifiers: [(Int32, String)] = [(NID_subject_key_identifier, "hash"), (NID_authority_key_identifier, "keyid:always")]
        switch usage {
        case .authority:
            return [(NID_basic_constraints, "critical,CA:TRUE,pathlen:0"), (NID_key_usage, "critical,keyCertSign,cRLSign"),
                    (NID_subject_key_identifier, "hash")]
        case .server(let dnsNames, let ips):
            let names = (dnsNames.map { "DNS:\($0)" } + ips.map { "IP:\($0)" }).joined(separator: ",")
            return [(NID_basic_constraints, "critical,CA:FALSE"), (NID_key_usage, "critical,digitalSignature"),
                    (NID_ext_key_usage, "serverAuth"), (NID_subject_alt_name, names)] + identifiers
        case .client:
            return [(NID_basic_constraints, "critical,CA:FALSE"), (NID_key_usage, "critical,digitalSignature"),
                    (NID_ext_key_usage, "clientAuth")] + identifiers
        case .noExtendedKeyUsage:
            return [(NID_basic_constraints, "critical,CA:FALSE"), (NID_key_usage, "critical,digitalSignature")] + identifiers
        }
    }

    /// A revoked certificate's entry in a CRL.
    public struct Revocation: Sendable {
        public let serial: String
        public let revokedAt: Date
        public init(serial: String, revokedAt: Date) { self.serial = serial; self.revokedAt = revokedAt }
    }

    /// A CRL (v2, with CRL number and authority key identifier) signed by this CA, as PEM.
    public func makeCRL(revoked: [Revocation], number: Int, now: Date = Date(), nextUpdate: Date) throws -> [UInt8] {
        OpenSSLErrorQueue.clear()
        guard let crl = X509_CRL_new() else { fatalError("X509_CRL_new: out of memory") }
        defer { X509_CRL_free(crl) }
        guard let lastTime = ASN1_TIME_set(nil, time_t(now.timeIntervalSince1970)) else { throw TLSError.drain(.openSSL, "time") }
        defer { ASN1_TIME_free(lastTime) }
        guard let nextTime = ASN1_TIME_set(nil, time_t(nextUpdate.timeIntervalSince1970)) else { throw TLSError.drain(.openSSL, "time") }
        defer { ASN1_TIME_free(nextTime) }
        guard X509_CRL_set_version(crl, 1) == 1,
              X509_CRL_set_issuer_name(crl, X509_get_subject_name(certificate.pointer)) == 1,
              X509_CRL_set1_lastUpdate(crl, lastTime) == 1,
              X509_CRL_set1_nextUpdate(crl, nextTime) == 1
        else { throw TLSError.drain(.openSSL, "could not fill in the CRL") }
        for entry in revoked {
            guard let revokedEntry = X509_REVOKED_new() else { fatalError("X509_REVOKED_new: out of memory") }
            var bn: OpaquePointer? = nil
            guard BN_hex2bn(&bn, entry.serial) > 0, let bn else {
                X509_REVOKED_free(revokedEntry)
                throw TLSError.drain(.invalidArgument, "serial \(entry.serial) is not hex")
            }
            defer { BN_free(bn) }
            guard let integer = BN_to_ASN1_INTEGER(bn, nil) else { fatalError("BN_to_ASN1_INTEGER: out of memory") }
            defer { ASN1_INTEGER_free(integer) }
            guard let when = ASN1_TIME_set(nil, time_t(entry.revokedAt.timeIntervalSince1970)) else { fatalError("ASN1_TIME_set") }
            defer { ASN1_TIME_free(when) }
            guard X509_REVOKED_set_serialNumber(revokedEntry, integer) == 1,
                  X509_REVOKED_set_revocationDate(revokedEntry, when) == 1,
                  X509_CRL_add0_revoked(crl, revokedEntry) == 1
            else {
                X509_REVOKED_free(revokedEntry)
                throw TLSError.drain(.openSSL, "could not add \(entry.serial) to the CRL")
            }
        }
        X509_CRL_sort(crl)
        guard let crlNumber = ASN1_INTEGER_new(), ASN1_INTEGER_set(crlNumber, number) == 1 else { fatalError("ASN1_INTEGER_new") }
        defer { ASN1_INTEGER_free(crlNumber) }
        var ctx = X509V3_CTX()
        shim_X509V3_set_ctx_nodb(&ctx)
        X509V3_set_ctx(&ctx, certificate.pointer, nil, nil, crl, 0)
        guard X509_CRL_add1_ext_i2d(crl, NID_crl_number, crlNumber, 0, 0) == 1,
              let aki = X509V3_EXT_nconf_nid(nil, &ctx, NID_authority_key_identifier, "keyid:always")
        else { throw TLSError.drain(.openSSL, "could not add CRL extensions") }
        defer { X509_EXTENSION_free(aki) }
        guard X509_CRL_add_ext(crl, aki, -1) == 1,
              X509_CRL_sign(crl, key.pointer, EVP_sha256()) > 0
        else { throw TLSError.drain(.openSSL, "could not sign the CRL") }
        return MemoryBIO.writing { _ = PEM_write_bio_X509_CRL($0, crl) }
    }
}

/// PKCS#12 export, so a user can load a client certificate into a browser.
public enum PKCS12 {
    /// A password-protected PKCS#12 (AES-256, PBKDF2: OpenSSL 3 defaults) holding `key`, `certificate` and the CA.
    public static func export(key: PrivateKey, certificate: Certificate, ca: Certificate?, friendlyName: String, password: String) throws -> [UInt8] {
        OpenSSLErrorQueue.clear()
        var stack: OpaquePointer? = nil
        if let ca {
            stack = OPENSSL_sk_new_null()
            _ = OPENSSL_sk_push(stack, UnsafeRawPointer(ca.pointer))
        }
        defer { if let stack { OPENSSL_sk_free(stack) } }
        guard let p12 = PKCS12_create(password, friendlyName, key.pointer, certificate.pointer, stack, 0, 0, 0, 0, 0) else {
            throw TLSError.drain(.openSSL, "could not build the PKCS#12 file")
        }
        defer { PKCS12_free(p12) }
        return MemoryBIO.writing { _ = i2d_PKCS12_bio($0, p12) }
    }
}

extension CertificateAuthority {
    /// The CA key as PEM, for writing `ca-key.pem` (mode 0600) at initialisation.
    public func privateKeyPEM() throws -> [UInt8] { try key.pemBytes() }
}

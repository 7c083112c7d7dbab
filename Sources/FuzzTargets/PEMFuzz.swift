import TLS

/// PEM text as the broker receives it: a CSR in `POST /v1/credentials` (parsed, signature and
/// key checked, names read), and certificates and keys as read from files and peers.
enum PEMFuzz {
    static func run(_ bytes: [UInt8]) {
        if let csr = try? CertificateSigningRequest(pem: bytes) {
            _ = csr.hasValidSignature
            if let key = csr.publicKey { _ = key.description }
            _ = csr.commonName
            _ = csr.organization
            checkDigest(csr.publicKeySHA256)
            precondition(!csr.pemBytes.isEmpty, "a parsed CSR that cannot be written back")
        }
        if let certificates = try? Certificate.all(pem: bytes) {
            for certificate in certificates { inspect(certificate) }
        }
        if let key = try? PrivateKey(pem: bytes) { _ = key.publicKey.description }
    }

    /// Every property the broker reads from a peer or registry certificate.
    static func inspect(_ certificate: Certificate) {
        _ = certificate.serial
        _ = certificate.commonName
        _ = certificate.organization
        _ = certificate.subject
        _ = certificate.issuer
        _ = certificate.notBefore
        _ = certificate.notAfter
        _ = certificate.allowsClientAuth
        _ = certificate.fingerprintSHA256
        let key = certificate.publicKey
        precondition(key.bits >= 0, "negative key size")
        _ = key.description
        checkDigest(certificate.publicKeySHA256)
    }

    /// A key digest (the registry's "a key is certified once") is nil or 64 upper-case hex digits.
    static func checkDigest(_ digest: String?) {
        guard let digest else { return }
        precondition(digest.utf8.count == 64 && digest.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x46) },
                     "a key digest that is not 64 upper-case hex digits: \(digest)")
    }
}

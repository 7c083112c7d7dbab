internal import COpenSSL
internal import Crypto
internal import CShims

/// A PKCS#10 certificate signing request, owning one `X509_REQ`.
///
/// The broker only ever takes the public key from a CSR (after checking the
/// CSR's own signature); subject and extensions come from the registry.
public final class CertificateSigningRequest: @unchecked Sendable {
    let pointer: OpaquePointer

    init(takingOwnershipOf pointer: OpaquePointer) { self.pointer = pointer }
    deinit { X509_REQ_free(pointer) }

    /// Largest PEM CSR accepted, far above any honest request.
    public static let maxPEMBytes = 16 * 1024

    /// Parses a PEM CSR.
    /// - Throws: `TLSError.invalidCSR` when the text is too large or not a CSR.
    public convenience init(pem: [UInt8]) throws {
        guard pem.count <= Self.maxPEMBytes else {
            throw TLSError(.invalidCSR, "CSR is \(pem.count) bytes; the limit is \(Self.maxPEMBytes)")
        }
        OpenSSLErrorQueue.clear()
        let request = MemoryBIO.reading(pem) { PEM_read_bio_X509_REQ($0, nil, nil, nil) }
        guard let request else { throw TLSError.drain(.invalidCSR, "not a PEM certificate signing request") }
        self.init(takingOwnershipOf: request)
    }

    /// Makes and signs a CSR for `key` on the user's side (the key never leaves it).
    public static func create(key: PrivateKey, commonName: String, organization: String?) throws -> CertificateSigningRequest {
        OpenSSLErrorQueue.clear()
        guard let request = X509_REQ_new() else { fatalError("X509_REQ_new: out of memory") }
        let csr = CertificateSigningRequest(takingOwnershipOf: request)
        guard X509_REQ_set_version(request, 0) == 1,
              let name = X509_NAME_new() else { throw TLSError.drain(.invalidCSR, "could not build the CSR") }
        defer { X509_NAME_free(name) }
        try addNameEntry(name, "CN", commonName)
        if let organization { try addNameEntry(name, "O", organization) }
        guard X509_REQ_set_subject_name(request, name) == 1,
              X509_REQ_set_pubkey(request, key.pointer) == 1,
              X509_REQ_sign(request, key.pointer, EVP_sha256()) > 0
        else { throw TLSError.drain(.invalidCSR, "could not sign the CSR") }
        return csr
    }

    /// Whether the CSR is signed by the key it carries (proof of possession).
    public var hasValidSignature: Bool {
        defer { OpenSSLErrorQueue.clear() }
        guard let key = X509_REQ_get0_pubkey(pointer) else { return false }
        return X509_REQ_verify(pointer, key) == 1
    }

    /// The public key the CSR asks to certify.
    public var publicKey: PublicKeyInfo? {
        guard let key = X509_REQ_get0_pubkey(pointer) else { OpenSSLErrorQueue.clear(); return nil }
        return PublicKeyInfo(pkey: key)
    }

    /// SHA-256 of the public key's DER SubjectPublicKeyInfo (upper-case hex), nil without a readable key.
    public var publicKeySHA256: String? {
        guard let key = X509_REQ_get0_pubkey(pointer) else { OpenSSLErrorQueue.clear(); return nil }
        let digest = subjectPublicKeySHA256(key)
        return digest.isEmpty ? nil : digest
    }

    /// Subject CN the requester asked for (informational; never copied into a certificate).
    public var commonName: String? { nameEntry(X509_REQ_get_subject_name(pointer), NID_commonName) }
    /// Subject O the requester asked for (informational; never copied into a certificate).
    public var organization: String? { nameEntry(X509_REQ_get_subject_name(pointer), NID_organizationName) }

    /// The CSR as PEM.
    public var pemBytes: [UInt8] { MemoryBIO.writing { _ = PEM_write_bio_X509_REQ($0, pointer) } }
}

func addNameEntry(_ name: OpaquePointer, _ field: String, _ value: String) throws {
    let ok = value.withCString { v in
        X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8, UnsafeRawPointer(v).assumingMemoryBound(to: UInt8.self), -1, -1, 0)
    }
    guard ok == 1 else { throw TLSError.drain(.invalidArgument, "cannot put \(field)=\(value) in a certificate name") }
}

internal import COpenSSL
internal import Crypto
internal import CShims
import Foundation

/// An X.509 certificate, owning one `X509`.
///
/// Immutable after parsing, so it is shared freely between connections
/// (OpenSSL's own reference counting is not relied upon).
public final class Certificate: @unchecked Sendable, CustomStringConvertible {
    let pointer: OpaquePointer

    /// Takes ownership of `pointer`; freed exactly once, in `deinit`.
    init(takingOwnershipOf pointer: OpaquePointer) { self.pointer = pointer }

    /// Adds a reference to a certificate OpenSSL owns (e.g. one inside a store context).
    init(retaining pointer: OpaquePointer) {
        X509_up_ref(pointer)
        self.pointer = pointer
    }

    deinit { X509_free(pointer) }

    /// Parses the first PEM certificate in `pem`.
    /// - Throws: `TLSError.invalidPEM` when there is none or it is malformed.
    public convenience init(pem: [UInt8]) throws {
        OpenSSLErrorQueue.clear()
        let cert = MemoryBIO.reading(pem) { PEM_read_bio_X509($0, nil, nil, nil) }
        guard let cert else { throw TLSError.drain(.invalidPEM, "not a PEM certificate") }
        self.init(takingOwnershipOf: cert)
    }

    /// Reads a PEM certificate file; errors name the file.
    public convenience init(pemFile path: String) throws {
        do { try self.init(pem: try readFileBytes(path)) } catch let error as TLSError {
            throw TLSError(error.code, "\(path): \(error.message)", openSSLReasons: error.openSSLReasons)
        }
    }

    /// The certificate as PEM text.
    public var pemBytes: [UInt8] {
        MemoryBIO.writing { bio in _ = PEM_write_bio_X509(bio, pointer) }
    }

    /// The certificate as a PEM string.
    public var pem: String { String(decoding: pemBytes, as: UTF8.self) }

    /// The DER encoding.
    public var derBytes: [UInt8] {
        var out: UnsafeMutablePointer<UInt8>? = nil
        let length = i2d_X509(pointer, &out)
        guard length > 0, let out else { return [] }
        defer { shim_OPENSSL_free(out) }
        return Array(UnsafeBufferPointer(start: out, count: Int(length)))
    }

    /// Serial number, upper-case hex without separators (the broker's canonical form).
    public var serial: String {
        guard let integer = X509_get0_serialNumber(pointer) else { return "" }
        return asn1IntegerHex(integer)
    }

    /// Subject common name (CN), if present.
    public var commonName: String? { nameEntry(X509_get_subject_name(pointer), NID_commonName) }
    /// Subject organisation (O), if present.
    public var organization: String? { nameEntry(X509_get_subject_name(pointer), NID_organizationName) }
    /// The subject in OpenSSL's one-line RFC 2253 form, for logs.
    public var subject: String { nameString(X509_get_subject_name(pointer)) }
    /// The issuer in RFC 2253 form, for logs.
    public var issuer: String { nameString(X509_get_issuer_name(pointer)) }

    /// Start of validity.
    public var notBefore: Date { asn1TimeToDate(X509_get0_notBefore(pointer)) }
    /// End of validity.
    public var notAfter: Date { asn1TimeToDate(X509_get0_notAfter(pointer)) }

    /// Whether the certificate's extended key usage allows TLS client authentication.
    public var allowsClientAuth: Bool {
        X509_get_extension_flags(pointer) & UInt32(EXFLAG_XKUSAGE) != 0
            && X509_get_extended_key_usage(pointer) & UInt32(XKU_SSL_CLIENT) != 0
    }

    /// SHA-256 over the DER, upper-case hex.
    public var fingerprintSHA256: String { SHA256.hash(derBytes).hexString.uppercased() }

    /// The certified public key; `.other` with 0 bits when OpenSSL cannot decode it
    /// (an unknown algorithm or damaged key bytes), so callers refuse it by its type.
    public var publicKey: PublicKeyInfo {
        guard let key = X509_get0_pubkey(pointer) else {
            OpenSSLErrorQueue.clear()
            return PublicKeyInfo(algorithm: .other, bits: 0, curve: nil)
        }
        return PublicKeyInfo(pkey: key)
    }

    /// SHA-256 of the certified key's DER SubjectPublicKeyInfo (upper-case hex), nil without a readable key.
    public var publicKeySHA256: String? {
        guard let key = X509_get0_pubkey(pointer) else { OpenSSLErrorQueue.clear(); return nil }
        let digest = subjectPublicKeySHA256(key)
        return digest.isEmpty ? nil : digest
    }

    /// Whether `key` is this certificate's private key.
    public func matches(_ key: PrivateKey) -> Bool {
        defer { OpenSSLErrorQueue.clear() }
        return X509_check_private_key(pointer, key.pointer) == 1
    }

    public var description: String { "Certificate(serial: \(serial), subject: \(subject))" }

    /// Reads every PEM certificate in `pem`, in order.
    public static func all(pem: [UInt8]) throws -> [Certificate] {
        var certs: [Certificate] = []
        MemoryBIO.reading(pem) { bio in
            while let cert = PEM_read_bio_X509(bio, nil, nil, nil) { certs.append(Certificate(takingOwnershipOf: cert)) }
        }
        OpenSSLErrorQueue.clear()
        guard !certs.isEmpty else { throw TLSError(.invalidPEM, "no PEM certificate found") }
        return certs
    }
}

// MARK: - ASN.1 helpers shared by the TLS module

func asn1IntegerHex(_ integer: UnsafePointer<ASN1_INTEGER>) -> String {
    guard let bn = ASN1_INTEGER_to_BN(integer, nil) else { return "" }
    defer { BN_free(bn) }
    guard let hex = BN_bn2hex(bn) else { return "" }
    defer { shim_OPENSSL_free(hex) }
    return String(cString: hex).uppercased()
}

func asn1TimeToDate(_ time: UnsafePointer<ASN1_TIME>?) -> Date {
    guard let time else { return .distantPast }
    var parts = tm()
    guard ASN1_TIME_to_tm(time, &parts) == 1 else { return .distantPast }
    return Date(timeIntervalSince1970: TimeInterval(timegm(&parts)))
}

func nameEntry(_ name: OpaquePointer?, _ nid: Int32) -> String? {
    guard let name else { return nil }
    let index = X509_NAME_get_index_by_NID(name, nid, -1)
    guard index >= 0, let entry = X509_NAME_get_entry(name, index), let data = X509_NAME_ENTRY_get_data(entry) else { return nil }
    var utf8: UnsafeMutablePointer<UInt8>? = nil
    let length = ASN1_STRING_to_UTF8(&utf8, data)
    guard length >= 0, let utf8 else { return nil }
    defer { shim_OPENSSL_free(utf8) }
    return String(decoding: UnsafeBufferPointer(start: utf8, count: Int(length)), as: UTF8.self)
}

func nameString(_ name: OpaquePointer?) -> String {
    guard let name else { return "" }
    let bytes = MemoryBIO.writing { bio in
        _ = X509_NAME_print_ex(bio, name, 0, shim_XN_FLAG_RFC2253())
    }
    return String(decoding: bytes, as: UTF8.self)
}

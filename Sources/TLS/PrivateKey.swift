internal import COpenSSL
internal import Crypto
internal import CShims
import Foundation

/// An asymmetric private key (ECDSA P-256/P-384 or RSA), owning one `EVP_PKEY`.
///
/// Immutable after creation, so it may be shared across threads.
public final class PrivateKey: @unchecked Sendable {
    let pointer: OpaquePointer

    /// Takes ownership of `pointer`; it is freed exactly once, in `deinit`.
    init(takingOwnershipOf pointer: OpaquePointer) { self.pointer = pointer }

    deinit { EVP_PKEY_free(pointer) }

    /// A new ECDSA key on `curve` (`"P-256"` or `"P-384"`).
    /// - Throws: `TLSError` if OpenSSL cannot generate it.
    public static func generateECDSA(curve: String = "P-256") throws -> PrivateKey {
        OpenSSLErrorQueue.clear()
        guard let key = shim_EVP_EC_gen(curve) else { throw TLSError.drain(.invalidKey, "could not generate an EC key on \(curve)") }
        return PrivateKey(takingOwnershipOf: key)
    }

    /// A new RSA key of `bits` bits (tests and interoperability only; the broker uses ECDSA).
    public static func generateRSA(bits: Int) throws -> PrivateKey {
        OpenSSLErrorQueue.clear()
        guard let key = shim_EVP_RSA_gen(UInt32(bits)) else { throw TLSError.drain(.invalidKey, "could not generate an RSA-\(bits) key") }
        return PrivateKey(takingOwnershipOf: key)
    }

    /// Parses a PEM private key (PKCS#8 or traditional, unencrypted).
    /// - Throws: `TLSError.invalidPEM` naming what could not be read.
    public convenience init(pem: [UInt8]) throws {
        OpenSSLErrorQueue.clear()
        let key = MemoryBIO.reading(pem) { PEM_read_bio_PrivateKey($0, nil, nil, nil) }
        guard let key else { throw TLSError.drain(.invalidPEM, "not a PEM private key") }
        self.init(takingOwnershipOf: key)
    }

    /// Reads a PEM private key file.
    public convenience init(pemFile path: String) throws {
        try self.init(pem: try readFileBytes(path))
    }

    /// The key as unencrypted PKCS#8 PEM. Callers write it with mode 0600.
    public func pemBytes() throws -> [UInt8] {
        OpenSSLErrorQueue.clear()
        var ok: Int32 = 0
        let out = MemoryBIO.writing { bio in
            ok = PEM_write_bio_PrivateKey(bio, pointer, nil, nil, 0, nil, nil)
        }
        guard ok == 1 else { throw TLSError.drain(.invalidKey, "could not encode the private key") }
        return out
    }

    /// The public half as a key description, for checks on CSRs.
    public var publicKey: PublicKeyInfo { PublicKeyInfo(pkey: pointer) }
}

/// What the broker needs to know about a public key to accept or refuse it.
/// SHA-256 over a key's DER SubjectPublicKeyInfo, upper-case hex: the same for a key in a CSR
/// and in the certificate made from it, whatever else differs. An EC point can be written
/// compressed or uncompressed, so an EC key is digested in its uncompressed form: one key, one
/// digest. Empty if OpenSSL cannot encode it.
func subjectPublicKeySHA256(_ pkey: OpaquePointer) -> String {
    defer { OpenSSLErrorQueue.clear() }
    var key = pkey
    var copy: OpaquePointer?
    defer { if let copy { EVP_PKEY_free(copy) } }
    if EVP_PKEY_get_base_id(pkey) == EVP_PKEY_EC {
        guard let duplicate = EVP_PKEY_dup(pkey) else { return "" }
        copy = duplicate
        guard EVP_PKEY_set_utf8_string_param(duplicate, OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT, "uncompressed") == 1 else { return "" }
        key = duplicate
    }
    var out: UnsafeMutablePointer<UInt8>? = nil
    let length = i2d_PUBKEY(key, &out)
    guard length > 0, let out else { return "" }
    defer { shim_OPENSSL_free(out) }
    return SHA256.hash(Array(UnsafeBufferPointer(start: out, count: Int(length)))).hexString.uppercased()
}

public struct PublicKeyInfo: Sendable, Equatable, CustomStringConvertible {
    public enum Algorithm: String, Sendable { case ecdsa = "EC", rsa = "RSA", other }
    public let algorithm: Algorithm
    public let bits: Int
    /// For EC keys, the curve's NIST name (`P-256`, `P-384`) or OpenSSL group name.
    public let curve: String?

    public init(algorithm: Algorithm, bits: Int, curve: String?) {
        self.algorithm = algorithm
        self.bits = bits
        self.curve = curve
    }

    init(pkey: OpaquePointer) {
        bits = Int(EVP_PKEY_get_bits(pkey))
        switch EVP_PKEY_get_base_id(pkey) {
        case EVP_PKEY_EC:
            algorithm = .ecdsa
            var name = [CChar](repeating: 0, count: 64)
            var length = 0
            if EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, &name, name.count, &length) == 1 {
                let group = String(decoding: name.prefix(length).map { UInt8(bitPattern: $0) }, as: UTF8.self)
                switch group {
                case "prime256v1", "P-256": curve = "P-256"
                case "secp384r1", "P-384": curve = "P-384"
                default: curve = group
                }
            } else {
                curve = nil
            }
        case EVP_PKEY_RSA:
            algorithm = .rsa
            curve = nil
        default:
            algorithm = .other
            curve = nil
        }
        OpenSSLErrorQueue.clear()
    }

    public var description: String {
        switch algorithm {
        case .ecdsa: return "ECDSA \(curve ?? "unknown curve")"
        case .rsa: return "RSA-\(bits)"
        case .other: return "unsupported key type (\(bits) bits)"
        }
    }
}

/// Reads a whole file; errors name the path.
func readFileBytes(_ path: String) throws -> [UInt8] {
    guard let data = FileManager.default.contents(atPath: path) else {
        throw TLSError(.io, "cannot read \(path)")
    }
    return [UInt8](data)
}

internal import COpenSSL
internal import Crypto
import Foundation

extension CertificateAuthority {
    /// Signs `message` with the CA key (ECDSA with SHA-256 for the broker's P-256 CA):
    /// a DER-encoded signature that `Certificate.isValidSignature(_:for:)` on the CA
    /// certificate (or `openssl dgst -sha256 -verify`) checks.
    /// - Throws: `TLSError.openSSL` if OpenSSL cannot sign.
    public func sign(_ message: [UInt8]) throws -> [UInt8] {
        OpenSSLErrorQueue.clear()
        guard let context = EVP_MD_CTX_new() else { throw TLSError.drain(.openSSL, "EVP_MD_CTX_new failed") }
        defer { EVP_MD_CTX_free(context) }
        guard EVP_DigestSignInit(context, nil, EVP_sha256(), nil, key.pointer) == 1 else {
            throw TLSError.drain(.openSSL, "cannot start a signature with the CA key")
        }
        var length = 0
        let sized = message.withUnsafeBufferPointer { EVP_DigestSign(context, nil, &length, $0.baseAddress, $0.count) }
        guard sized == 1 else { throw TLSError.drain(.openSSL, "cannot size the CA signature") }
        var signature = [UInt8](repeating: 0, count: length)
        let signed = signature.withUnsafeMutableBufferPointer { out in
            message.withUnsafeBufferPointer { EVP_DigestSign(context, out.baseAddress, &length, $0.baseAddress, $0.count) }
        }
        guard signed == 1 else { throw TLSError.drain(.openSSL, "cannot sign with the CA key") }
        return Array(signature.prefix(length))
    }
}

extension Certificate {
    /// Whether `signature` (DER, as `CertificateAuthority.sign` makes) is this
    /// certificate's key's SHA-256 signature of `message`. Any failure, a
    /// malformed signature included, is `false`.
    public func isValidSignature(_ signature: [UInt8], for message: [UInt8]) -> Bool {
        OpenSSLErrorQueue.clear()
        defer { OpenSSLErrorQueue.clear() }
        guard let key = X509_get0_pubkey(pointer), let context = EVP_MD_CTX_new() else { return false }
        defer { EVP_MD_CTX_free(context) }
        guard EVP_DigestVerifyInit(context, nil, EVP_sha256(), nil, key) == 1 else { return false }
        let result = signature.withUnsafeBufferPointer { sig in
            message.withUnsafeBufferPointer { EVP_DigestVerify(context, sig.baseAddress, sig.count, $0.baseAddress, $0.count) }
        }
        return result == 1
    }
}

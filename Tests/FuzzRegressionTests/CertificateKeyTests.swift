import Foundation
import Testing
import TLS

/// `Certificate.publicKey` on a certificate whose key OpenSSL cannot decode used to build a
/// `PublicKeyInfo` from the bogus pointer 0x1 (a crash on any use). It must say "unknown key
/// type, 0 bits", so callers refuse the certificate by its type.
@Suite struct CertificateKeyTests {
    /// id-ecPublicKey (1.2.840.10045.2.1), as DER.
    static let ecPublicKeyOID: [UInt8] = [0x06, 0x07, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01]

    /// A real certificate whose SubjectPublicKeyInfo algorithm is changed to an unknown OID.
    static func certificateWithUndecodableKey() throws -> Certificate {
        let key = try PrivateKey.generateECDSA()
        let ca = try CertificateAuthority.create(commonName: "Fuzz CA", organization: "fuzz", validFor: 1)
        let issued = try ca.issue(for: key, commonName: "x", organization: nil, usage: .client,
                                  notBefore: Date(), notAfter: Date().addingTimeInterval(3600))
        var der = issued.derBytes
        let index = try #require(firstIndex(of: ecPublicKeyOID, in: der))
        der[index + ecPublicKeyOID.count - 1] = 0x7F
        let pem = "-----BEGIN CERTIFICATE-----\n" + Data(der).base64EncodedString(options: [.lineLength64Characters, .endLineWithLineFeed])
            + "\n-----END CERTIFICATE-----\n"
        return try Certificate(pem: Array(pem.utf8))
    }

    static func firstIndex(of needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        return (0...(haystack.count - needle.count)).first { Array(haystack[$0..<($0 + needle.count)]) == needle }
    }

    @Test func undecodableKeyIsReportedAsUnknownWithZeroBits() throws {
        let certificate = try Self.certificateWithUndecodableKey()
        let key = certificate.publicKey
        #expect(key.algorithm == .other)
        #expect(key.bits == 0)
        #expect(key.curve == nil)
        #expect(key.description.contains("unsupported"))
        #expect(!certificate.serial.isEmpty)
    }
}

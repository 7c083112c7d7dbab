import Foundation
import Testing
import Crypto
import TestSupport
@testable import TLS

/// A CA, a server certificate and a client certificate minted for one test.
struct TestPKI {
    let ca: CertificateAuthority
    let serverKey: PrivateKey
    let server: Certificate
    let clientKey: PrivateKey
    let client: Certificate

    init() throws {
        ca = try CertificateAuthority.create(commonName: "Test CA", organization: "marac-tests", validFor: 30)
        let now = Date()
        serverKey = try PrivateKey.generateECDSA()
        server = try ca.issue(for: serverKey, commonName: "localhost", organization: nil,
                              usage: .server(dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"]),
                              notBefore: now.addingTimeInterval(-60), notAfter: now.addingTimeInterval(86_400))
        clientKey = try PrivateKey.generateECDSA()
        client = try ca.issue(for: clientKey, commonName: "alice", organization: "police", usage: .client,
                              notBefore: now.addingTimeInterval(-60), notAfter: now.addingTimeInterval(86_400))
    }

    func serverContext(verifier: (@Sendable (PeerCertificate) -> PeerRefusal?)? = nil) throws -> TLSContext {
        var config = TLSConfiguration.server(certificate: server, privateKey: serverKey, clientCA: ca.certificate)
        config.peerVerifier = verifier
        return try TLSContext(configuration: config)
    }

    func clientContext(certificate: Certificate?, key: PrivateKey?, serverName: String = "localhost") throws -> TLSContext {
        try TLSContext(configuration: .client(trustRoots: [ca.certificate], certificate: certificate, privateKey: key, serverName: serverName))
    }
}

/// Shuttles ciphertext between two sessions until neither makes progress.
func pump(_ client: TLSSession, _ server: TLSSession) throws -> (clientDone: Bool, serverDone: Bool) {
    var clientDone = false, serverDone = false
    for _ in 0..<20 {
        if !clientDone { clientDone = try client.handshake() }
        var wire: [UInt8] = []
        client.drainOutput(into: &wire)
        server.receive(wire)
        if !serverDone { serverDone = try server.handshake() }
        wire.removeAll()
        server.drainOutput(into: &wire)
        client.receive(wire)
        if clientDone && serverDone { break }
    }
    return (clientDone, serverDone)
}

@Suite struct TLSSessionTests {
    @Test func mutualTLSInMemoryCarriesIdentityAndData() throws {
        let pki = try TestPKI()
        let server = try TLSSession(context: try pki.serverContext())
        let client = try TLSSession(context: try pki.clientContext(certificate: pki.client, key: pki.clientKey))
        let done = try pump(client, server)
        #expect(done.clientDone && done.serverDone)
        #expect(server.protocolVersion == "TLSv1.3")
        let peer = try #require(server.peerCertificate)
        #expect(peer.serial == pki.client.serial)
        #expect(peer.commonName == "alice")
        #expect(peer.organization == "police")

        try client.write(Array("hello".utf8))
        var wire: [UInt8] = []
        client.drainOutput(into: &wire)
        server.receive(wire)
        var plain: [UInt8] = []
        #expect(try server.read(into: &plain) == .bytes(5))
        #expect(String(decoding: plain, as: UTF8.self) == "hello")
        #expect(try server.read(into: &plain) == .wantRead)
    }

    @Test func serverRefusesClientWithoutCertificate() throws {
        let pki = try TestPKI()
        let server = try TLSSession(context: try pki.serverContext())
        let client = try TLSSession(context: try pki.clientContext(certificate: nil, key: nil))
        #expect(throws: TLSError.self) { _ = try pump(client, server) }
    }

    @Test func serverRefusesForeignExpiredAndNonClientCertificates() throws {
        let pki = try TestPKI()
        let other = try TestPKI()
        let now = Date()
        let expiredKey = try PrivateKey.generateECDSA()
        let expired = try pki.ca.issue(for: expiredKey, commonName: "old", organization: "police", usage: .client,
                                       notBefore: now.addingTimeInterval(-86_400 * 10), notAfter: now.addingTimeInterval(-86_400))
        let serverOnlyKey = try PrivateKey.generateECDSA()
        let serverOnly = try pki.ca.issue(for: serverOnlyKey, commonName: "srv", organization: "police",
                                          usage: .server(dnsNames: ["x"], ipAddresses: []),
                                          notBefore: now.addingTimeInterval(-60), notAfter: now.addingTimeInterval(86_400))
        let noEKUKey = try PrivateKey.generateECDSA()
        let noEKU = try pki.ca.issue(for: noEKUKey, commonName: "plain", organization: "police", usage: .noExtendedKeyUsage,
                                     notBefore: now.addingTimeInterval(-60), notAfter: now.addingTimeInterval(86_400))
        let cases: [(Certificate, PrivateKey, String)] = [
            (other.client, other.clientKey, "unable to get local issuer certificate"),
            (expired, expiredKey, "certificate has expired"),
            (serverOnly, serverOnlyKey, "unsuitable certificate purpose"),
            (noEKU, noEKUKey, "unsuitable certificate purpose"),
        ]
        for (cert, key, reason) in cases {
            let server = try TLSSession(context: try pki.serverContext())
            let client = try TLSSession(context: try pki.clientContext(certificate: cert, key: key))
            let error = #expect(throws: TLSError.self) { _ = try pump(client, server) }
            #expect(error?.description.contains(reason) == true, "\(String(describing: error))")
        }
    }

    @Test func verifierHookRefusesRevokedSerial() throws {
        let pki = try TestPKI()
        let revokedSerial = pki.client.serial
        let server = try TLSSession(context: try pki.serverContext { $0.serial == revokedSerial ? .revoked : nil })
        let client = try TLSSession(context: try pki.clientContext(certificate: pki.client, key: pki.clientKey))
        let error = #expect(throws: TLSError.self) { _ = try pump(client, server) }
        #expect(error?.description.contains("certificate revoked") == true, "\(String(describing: error))")
    }

    @Test func clientRefusesServerWithWrongName() throws {
        let pki = try TestPKI()
        let server = try TLSSession(context: try pki.serverContext())
        let client = try TLSSession(context: try pki.clientContext(certificate: pki.client, key: pki.clientKey, serverName: "evil.example"))
        let error = #expect(throws: TLSError.self) { _ = try pump(client, server) }
        #expect(error?.description.contains("hostname mismatch") == true, "\(String(describing: error))")
    }
}

@Suite struct PKITests {
    @Test func issuedCertificatesCarryRegistrySubjectAndUsage() throws {
        let pki = try TestPKI()
        #expect(pki.client.allowsClientAuth)
        #expect(!pki.server.allowsClientAuth)
        #expect(pki.client.serial.count >= 30)
        #expect(pki.client.serial == pki.client.serial.uppercased())
        #expect(pki.client.publicKey == PublicKeyInfo(algorithm: .ecdsa, bits: 256, curve: "P-256"))
        let reparsed = try Certificate(pem: pki.client.pemBytes)
        #expect(reparsed.serial == pki.client.serial)
        #expect(reparsed.derBytes == pki.client.derBytes)
    }

    @Test func csrSignatureAndKeyChecks() throws {
        let key = try PrivateKey.generateECDSA()
        let csr = try CertificateSigningRequest.create(key: key, commonName: "bob", organization: "housing")
        #expect(csr.hasValidSignature)
        let parsed = try CertificateSigningRequest(pem: csr.pemBytes)
        #expect(parsed.hasValidSignature)
        #expect(parsed.commonName == "bob")
        #expect(parsed.publicKey?.curve == "P-256")
        let rsa = try PrivateKey.generateRSA(bits: 1024)
        let weak = try CertificateSigningRequest.create(key: rsa, commonName: "weak", organization: nil)
        #expect(weak.publicKey == PublicKeyInfo(algorithm: .rsa, bits: 1024, curve: nil))
        #expect(throws: TLSError.self) { try CertificateSigningRequest(pem: Array("garbage".utf8)) }
    }

    /// The key digest the registry keeps: the same for a key in any CSR and in the certificate
    /// made from it, different for another key; checked against openssl's own SPKI DER.
    @Test func publicKeyDigestIsTheSubjectPublicKeyInfos() async throws {
        let key = try PrivateKey.generateECDSA()
        let csr = try CertificateSigningRequest(pem: try CertificateSigningRequest.create(key: key, commonName: "bob", organization: "housing").pemBytes)
        let other = try CertificateSigningRequest.create(key: key, commonName: "ann", organization: nil)
        let digest = try #require(csr.publicKeySHA256)
        #expect(digest.count == 64 && digest == other.publicKeySHA256)
        let pki = try TestPKI()
        let certificate = try pki.ca.issue(for: csr, commonName: "bob", organization: "housing", usage: .client,
                                           notBefore: Date(), notAfter: Date().addingTimeInterval(3600))
        #expect(certificate.publicKeySHA256 == digest)
        #expect(try CertificateSigningRequest.create(key: try PrivateKey.generateECDSA(), commonName: "bob", organization: nil).publicKeySHA256 != digest)
        let directory = try TemporaryDirectory()
        let pemPath = directory.path("key.pem")
        try Data(try key.pemBytes()).write(to: URL(fileURLWithPath: pemPath))
        let spki = try await Tool.runAsync("openssl", ["pkey", "-in", pemPath, "-pubout", "-outform", "DER", "-out", directory.path("spki.der")])
        #expect(spki.status == 0, "\(spki.stderr)")
        let der = try [UInt8](Data(contentsOf: URL(fileURLWithPath: directory.path("spki.der"))))
        #expect(SHA256.hash(der).hexString.uppercased() == digest)
        // The same key with its point written compressed (another SubjectPublicKeyInfo) has the same digest.
        let compressed = try await Tool.runAsync("openssl", ["ec", "-in", pemPath, "-conv_form", "compressed", "-out", directory.path("compressed.pem")])
        #expect(compressed.status == 0, "\(compressed.stderr)")
        let request = try await Tool.runAsync("openssl", ["req", "-new", "-key", directory.path("compressed.pem"), "-subj", "/CN=bob"])
        let compressedCSR = try CertificateSigningRequest(pem: Array(request.stdout.utf8))
        let text = try await Tool.runAsync("openssl", ["req", "-noout", "-text"], input: request.stdout)
        #expect(text.stdout.contains("pub:\n                    02:") || text.stdout.contains("pub:\n                    03:"), "a compressed point: \(text.stdout)")
        #expect(compressedCSR.publicKeySHA256 == digest)
    }

    @Test func privateKeyPEMRoundTrip() throws {
        let key = try PrivateKey.generateECDSA()
        let again = try PrivateKey(pem: try key.pemBytes())
        let pki = try TestPKI()
        let cert = try pki.ca.issue(for: key, commonName: "k", organization: nil, usage: .client,
                                    notBefore: Date(), notAfter: Date().addingTimeInterval(60))
        #expect(cert.matches(again))
        #expect(!cert.matches(pki.clientKey))
    }
}

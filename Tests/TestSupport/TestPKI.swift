import Foundation
import TLS

/// A CA, a server certificate and client certificates minted for one test,
/// also written as PEM files so that curl, openssl and Python can use them.
public final class TestPKI: @unchecked Sendable {
    public let directory: TemporaryDirectory
    public let ca: CertificateAuthority
    public let serverKey: PrivateKey
    public let server: Certificate

    public init() throws {
        directory = try TemporaryDirectory()
        ca = try CertificateAuthority.create(commonName: "Test CA", organization: "marac-tests", validFor: 30)
        let now = Date()
        serverKey = try PrivateKey.generateECDSA()
        server = try ca.issue(for: serverKey, commonName: "localhost", organization: nil,
                              usage: .server(dnsNames: ["localhost"], ipAddresses: ["127.0.0.1", "::1"]),
                              notBefore: now.addingTimeInterval(-60), notAfter: now.addingTimeInterval(86_400))
        try directory.write("ca.pem", ca.certificate.pemBytes)
    }

    /// A client credential; `usage` and validity can be bent for refusal tests.
    public func client(_ name: String, agency: String = "police", usage: CertificateUsage = .client,
                       notBefore: Date = Date().addingTimeInterval(-60), notAfter: Date = Date().addingTimeInterval(86_400)) throws -> TestCredential {
        let key = try PrivateKey.generateECDSA()
        let cert = try ca.issue(for: key, commonName: name, organization: agency, usage: usage, notBefore: notBefore, notAfter: notAfter)
        let certPath = try directory.write("\(name).pem", cert.pemBytes)
        let keyPath = try directory.write("\(name)-key.pem", try key.pemBytes())
        return TestCredential(certificate: cert, key: key, certificatePath: certPath, keyPath: keyPath)
    }

    public var caPath: String { directory.path("ca.pem") }

    public func serverContext(minimumVersion: TLSConfiguration.ProtocolVersion = .tls13,
                              verifier: (@Sendable (PeerCertificate) -> PeerRefusal?)? = nil) throws -> TLSContext {
        var config = TLSConfiguration.server(certificate: server, privateKey: serverKey, clientCA: ca.certificate, minimumVersion: minimumVersion)
        config.peerVerifier = verifier
        return try TLSContext(configuration: config)
    }

    public func clientContext(_ credential: TestCredential?, serverName: String = "127.0.0.1") throws -> TLSContext {
        try TLSContext(configuration: .client(trustRoots: [ca.certificate], certificate: credential?.certificate,
                                              privateKey: credential?.key, serverName: serverName))
    }
}

/// A client certificate, its key and their files.
public struct TestCredential: Sendable {
    public let certificate: Certificate
    public let key: PrivateKey
    public let certificatePath: String
    public let keyPath: String
}

/// A directory under /tmp removed when the object goes away.
public final class TemporaryDirectory: @unchecked Sendable {
    public let url: URL

    public init() throws {
        url = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("marac-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: url) }

    public func path(_ name: String) -> String { url.appendingPathComponent(name).path }

    @discardableResult
    public func write(_ name: String, _ bytes: [UInt8], mode: Int = 0o600) throws -> String {
        let path = path(name)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: path)
        return path
    }
}

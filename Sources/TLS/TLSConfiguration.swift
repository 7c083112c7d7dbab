import Foundation

/// Everything needed to build a `TLSContext`. A value type with secure defaults:
/// TLS 1.3 only, a client certificate required and verified on the server side.
public struct TLSConfiguration: Sendable {
    /// Lowest protocol version the context accepts.
    public enum ProtocolVersion: String, Sendable, Codable {
        case tls12 = "1.2"
        case tls13 = "1.3"
    }

    /// Which end of a connection the context is for.
    public enum Role: Sendable { case server, client }

    public var role: Role
    public var minimumVersion: ProtocolVersion = .tls13
    /// Our own certificate and key (the server's, or a client's for mutual TLS).
    public var certificate: Certificate?
    public var privateKey: PrivateKey?
    /// CAs trusted to have issued the peer's certificate.
    public var trustRoots: [Certificate]
    /// Server only: refuse handshakes without a valid client certificate.
    public var requireClientCertificate: Bool
    /// Client only: the name to verify in the server's certificate (DNS name or IP literal) and send as SNI.
    public var serverName: String?
    /// Server only: called during each handshake with the verified client certificate;
    /// a non-nil answer refuses the handshake. The registry's revocation check plugs in here.
    public var peerVerifier: (@Sendable (PeerCertificate) -> PeerRefusal?)?

    /// A server that requires a client certificate issued by `clientCA`.
    public static func server(certificate: Certificate, privateKey: PrivateKey, clientCA: Certificate,
                              minimumVersion: ProtocolVersion = .tls13) -> TLSConfiguration {
        TLSConfiguration(role: .server, minimumVersion: minimumVersion, certificate: certificate, privateKey: privateKey,
                         trustRoots: [clientCA], requireClientCertificate: true, serverName: nil, peerVerifier: nil)
    }

    /// A client that trusts `trustRoots`, optionally presenting a certificate, and checks the server's name.
    public static func client(trustRoots: [Certificate], certificate: Certificate? = nil, privateKey: PrivateKey? = nil,
                              serverName: String?, minimumVersion: ProtocolVersion = .tls13) -> TLSConfiguration {
        TLSConfiguration(role: .client, minimumVersion: minimumVersion, certificate: certificate, privateKey: privateKey,
                         trustRoots: trustRoots, requireClientCertificate: false, serverName: serverName, peerVerifier: nil)
    }
}

/// The identity a verified peer certificate carries, copied out of OpenSSL.
public struct PeerCertificate: Sendable, Equatable {
    /// Upper-case hex serial, the key into the broker's registry.
    public let serial: String
    public let commonName: String?
    public let organization: String?
    public let subject: String
    public let notAfter: Date

    public init(serial: String, commonName: String?, organization: String?, subject: String, notAfter: Date) {
        self.serial = serial
        self.commonName = commonName
        self.organization = organization
        self.subject = subject
        self.notAfter = notAfter
    }

    init(_ certificate: Certificate) {
        self.init(serial: certificate.serial, commonName: certificate.commonName, organization: certificate.organization,
                  subject: certificate.subject, notAfter: certificate.notAfter)
    }
}

/// Why a peer verifier refused a certificate; decides the TLS alert the peer receives.
public enum PeerRefusal: Sendable, Equatable {
    /// The certificate was revoked (alert `certificate_revoked`).
    case revoked
    /// The certificate is not registered or its holder is disabled (alert `certificate_unknown`/access denied).
    case unknown
}

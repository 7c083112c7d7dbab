import Foundation
import TLS

/// What the application sees of the connection a request arrived on.
public struct RequestContext: Sendable {
    /// The client certificate verified in the handshake.
    public let peer: PeerCertificate
    /// A per-process connection number, for logs.
    public let connectionID: UInt64
    /// The client's address, `ip:port`.
    public let remoteAddress: String
    /// When the request's last byte was parsed.
    public let receivedAt: ContinuousClock.Instant
    /// Where a `ParkedRequest` made from this context waits (nil for a context made by a test).
    let connection: Connection?

    public init(peer: PeerCertificate, connectionID: UInt64, remoteAddress: String, receivedAt: ContinuousClock.Instant) {
        self.init(peer: peer, connectionID: connectionID, remoteAddress: remoteAddress, receivedAt: receivedAt, connection: nil)
    }

    init(peer: PeerCertificate, connectionID: UInt64, remoteAddress: String, receivedAt: ContinuousClock.Instant, connection: Connection?) {
        self.peer = peer
        self.connectionID = connectionID
        self.remoteAddress = remoteAddress
        self.receivedAt = receivedAt
        self.connection = connection
    }
}

/// The application behind the server. Called once per request, in order per
/// connection; may suspend (a long-poll waits without holding a thread).
///
/// A response carrying `Connection: close` closes the connection after it is sent; one made
/// with `HTTPResponse.parked(_:)` is no answer yet: the request waits on its connection.
public protocol HTTPResponder: Sendable {
    func respond(to request: HTTPRequest, context: RequestContext) async -> HTTPResponse

    /// Whose share a connection counts against once its handshake has verified `peer`
    /// (e.g. `principal alice`): at most `ServerConfiguration.maxConnectionsPerGroup` open
    /// connections per group. `nil` (the default): the connection counts only against `maxConnections`.
    func connectionGroup(for peer: PeerCertificate) -> String?
}

extension HTTPResponder {
    public func connectionGroup(for peer: PeerCertificate) -> String? { nil }
}

import Foundation

/// Why a call to the broker failed, split the way the CLI's exit codes are:
/// the broker refused (`refused`), or we never got an answer (`connection`, `tls`).
public struct ClientError: Error, CustomStringConvertible, Sendable {
    public enum Kind: Sendable, Equatable {
        /// The broker answered with an error envelope.
        case refused(status: Int, code: String)
        /// TCP could not connect, or the connection broke.
        case connection
        /// The TLS handshake or record layer failed.
        case tls
        /// The broker's answer was not what the protocol promises.
        case protocolViolation
    }

    public let kind: Kind
    public let message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String {
        switch kind {
        case .refused(let status, let code): return "\(status) \(code): \(message)"
        default: return message
        }
    }
}

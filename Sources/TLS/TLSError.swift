internal import Crypto

/// An error from the TLS layer, carrying OpenSSL's own reason text.
///
/// `code` is extensible (new codes can be added without breaking callers);
/// `message` says what we were doing; `openSSLReasons` is the drained OpenSSL
/// error queue, most specific last, so a log line names the real cause.
public struct TLSError: Error, CustomStringConvertible, Sendable, Equatable {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(_ rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        public static let openSSL = Code("openssl")
        public static let invalidPEM = Code("invalid_pem")
        public static let invalidKey = Code("invalid_key")
        public static let invalidCertificate = Code("invalid_certificate")
        public static let invalidCSR = Code("invalid_csr")
        public static let handshakeFailed = Code("handshake_failed")
        public static let protocolError = Code("protocol_error")
        public static let authenticationFailed = Code("authentication_failed")
        public static let invalidArgument = Code("invalid_argument")
        public static let io = Code("io")
    }

    public let code: Code
    public let message: String
    public let openSSLReasons: [String]

    public init(_ code: Code, _ message: String, openSSLReasons: [String] = []) {
        self.code = code
        self.message = message
        self.openSSLReasons = openSSLReasons
    }

    public var description: String {
        openSSLReasons.isEmpty ? "\(message)" : "\(message): \(openSSLReasons.joined(separator: "; "))"
    }

    /// Builds an error from OpenSSL's thread-local error queue, draining it.
    /// Call in the same work item as the failing OpenSSL call.
    static func drain(_ code: Code = .openSSL, _ message: String) -> TLSError {
        TLSError(code, message, openSSLReasons: OpenSSLErrorQueue.drain())
    }
}

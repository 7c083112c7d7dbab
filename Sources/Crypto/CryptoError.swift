/// An error from the Crypto module: a key of the wrong length, or a sealed
/// message that fails authentication.
///
/// Shaped like TLS's `TLSError` (an extensible `code` and a `message` saying what we
/// were doing), with the same code strings the two cases had when these
/// primitives lived in TLS.
public struct CryptoError: Error, CustomStringConvertible, Sendable, Equatable {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(_ rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        public static let invalidKey = Code("invalid_key")
        public static let authenticationFailed = Code("authentication_failed")
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}

/// The SPEC §7 error envelope `{"error":{"code":"…","message":"…"}}`, for clients and tests
/// that decode errors (the server writes it with ``HTTPResponse/error(_:code:message:headers:)``).
public struct ErrorBody: Codable, Sendable, Hashable {
    /// The inner object.
    public struct Detail: Codable, Sendable, Hashable {
        /// Stable snake_case code, e.g. `dispatch_deadline_passed`.
        public var code: String
        /// Human-readable explanation.
        public var message: String

        /// Creates the inner object.
        public init(code: String, message: String) {
            self.code = code
            self.message = message
        }
    }

    /// The error.
    public var error: Detail

    /// Creates an envelope.
    public init(code: String, message: String) {
        self.error = Detail(code: code, message: message)
    }
}

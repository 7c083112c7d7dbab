import Broker
import HTTPServer
import Wire

/// An API refusal: a stable snake_case code, its HTTP status and a message
/// that names what was wrong. Every code is registered, with its status, in `Wire.ErrorCode`.
public struct APIError: Error, Sendable, CustomStringConvertible {
    public let status: HTTPStatus
    public let code: String
    public let message: String
    /// Close the connection after this answer (a revoked or disabled credential).
    public let closesConnection: Bool

    /// A refusal with a registered code; its status comes from the registry (`Wire.ErrorCode`).
    public init(_ code: ErrorCode, _ message: String, closesConnection: Bool = false) {
        self.status = HTTPStatus.from(code: code.status)
        self.code = code.rawValue
        self.message = message
        self.closesConnection = closesConnection
    }

    public var description: String { "\(status.code) \(code): \(message)" }

    var response: HTTPResponse {
        .error(status, code: code, message: message, headers: closesConnection ? ["Connection": "close"] : HTTPHeaders())
    }

    static func notFound(_ what: String) -> APIError { APIError(.notFound, "\(what) does not exist") }
    static func forbidden(_ message: String) -> APIError { APIError(.forbidden, message) }
    static func badRequest(_ message: String) -> APIError { APIError(.invalidRequest, message) }
    static func storageUnavailable(_ message: String) -> APIError { APIError(.storageUnavailable, message) }
}

extension APIError {
    /// The domain's refusal, with the status from the domain's one code table.
    /// Identity refusals (revoked, expired, unknown, disabled, inactive, not approved) also close the connection.
    init(_ error: DomainError) {
        let identityCodes: Set<DomainError.Code> = [.credentialRevoked, .credentialExpired, .credentialUnknown, .principalDisabled, .agencyInactive, .credentialNotApproved]
        self.init(ErrorCode(rawValue: error.code.rawValue), error.message, closesConnection: identityCodes.contains(error.code))
    }
}

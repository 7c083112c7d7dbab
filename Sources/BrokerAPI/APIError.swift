import Broker
import HTTPServer

/// An API refusal: a stable snake_case code, its HTTP status and a message
/// that names what was wrong. The one table of codes lives in `APIError.Code`.
public struct APIError: Error, Sendable, CustomStringConvertible {
    public let status: HTTPStatus
    public let code: String
    public let message: String
    /// Close the connection after this answer (a revoked or disabled credential).
    public let closesConnection: Bool

    public init(_ status: HTTPStatus, _ code: String, _ message: String, closesConnection: Bool = false) {
        self.status = status
        self.code = code
        self.message = message
        self.closesConnection = closesConnection
    }

    public var description: String { "\(status.code) \(code): \(message)" }

    var response: HTTPResponse {
        .error(status, code: code, message: message, headers: closesConnection ? ["Connection": "close"] : HTTPHeaders())
    }

    static func notFound(_ what: String) -> APIError { APIError(.notFound, "not_found", "\(what) does not exist") }
    static func forbidden(_ message: String) -> APIError { APIError(.forbidden, "forbidden", message) }
    static func badRequest(_ message: String) -> APIError { APIError(.badRequest, "invalid_request", message) }
    static func storageUnavailable(_ message: String) -> APIError { APIError(.serviceUnavailable, "storage_unavailable", message) }
}

extension APIError {
    /// The domain's refusal, with the status from the domain's one code table.
    /// Identity refusals (revoked, expired, unknown, disabled, inactive, not approved) also close the connection.
    init(_ error: DomainError) {
        let identityCodes: Set<DomainError.Code> = [.credentialRevoked, .credentialExpired, .credentialUnknown, .principalDisabled, .agencyInactive, .credentialNotApproved]
        self.init(HTTPStatus.from(code: error.code.httpStatus),
                  error.code.rawValue, error.message, closesConnection: identityCodes.contains(error.code))
    }
}

import HTTPServer

/// An API refusal: a stable snake_case code, its HTTP status and a message
/// that names what was wrong. The one table of codes lives in `APIError.Code`.
public struct APIError: Error, Sendable, CustomStringConvertible {
    public let status: HTTPStatus
    public let code: String
    public let message: String

    public init(_ status: HTTPStatus, _ code: String, _ message: String) {
        self.status = status
        self.code = code
        self.message = message
    }

    public var description: String { "\(status.code) \(code): \(message)" }

    var response: HTTPResponse { .error(status, code: code, message: message) }

    static func notFound(_ what: String) -> APIError { APIError(.notFound, "not_found", "\(what) does not exist") }
    static func forbidden(_ message: String) -> APIError { APIError(.forbidden, "forbidden", message) }
    static func badRequest(_ message: String) -> APIError { APIError(.badRequest, "invalid_request", message) }
    static func storageUnavailable(_ message: String) -> APIError { APIError(.serviceUnavailable, "storage_unavailable", message) }
}

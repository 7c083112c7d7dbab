/// An HTTP status code with the reason phrase written on the status line.
///
/// A struct rather than an enum so a handler can answer a code this file does not name, with
/// the named ones as static lets for the codes the broker uses (RFC 9110 §15 phrases).
/// Two statuses are equal when their codes are: the phrase is cosmetic.
public struct HTTPStatus: Sendable, Hashable, CustomStringConvertible {
    /// The three-digit status code.
    public let code: Int
    /// The reason phrase; informational only, clients must not depend on it.
    public let reasonPhrase: String

    /// Creates a status. `code` should be in 100...599 and `reasonPhrase` must not contain CR or
    /// LF (it is written verbatim on the status line); violating either is a programming error.
    public init(code: Int, reasonPhrase: String) {
        precondition((100...599).contains(code), "HTTP status code \(code) out of range")
        precondition(!reasonPhrase.utf8.contains(where: { $0 == 0x0D || $0 == 0x0A }),
                     "reason phrase must not contain CR or LF")
        self.code = code
        self.reasonPhrase = reasonPhrase
    }

    /// "100 Continue".
    public static let `continue` = HTTPStatus(code: 100, reasonPhrase: "Continue")
    /// "200 OK".
    public static let ok = HTTPStatus(code: 200, reasonPhrase: "OK")
    /// "201 Created".
    public static let created = HTTPStatus(code: 201, reasonPhrase: "Created")
    /// "204 No Content".
    public static let noContent = HTTPStatus(code: 204, reasonPhrase: "No Content")
    /// "304 Not Modified".
    public static let notModified = HTTPStatus(code: 304, reasonPhrase: "Not Modified")
    /// "400 Bad Request".
    public static let badRequest = HTTPStatus(code: 400, reasonPhrase: "Bad Request")
    /// "403 Forbidden".
    public static let forbidden = HTTPStatus(code: 403, reasonPhrase: "Forbidden")
    /// "404 Not Found".
    public static let notFound = HTTPStatus(code: 404, reasonPhrase: "Not Found")
    /// "405 Method Not Allowed"; send an `Allow` header with it.
    public static let methodNotAllowed = HTTPStatus(code: 405, reasonPhrase: "Method Not Allowed")
    /// "408 Request Timeout".
    public static let requestTimeout = HTTPStatus(code: 408, reasonPhrase: "Request Timeout")
    /// "409 Conflict".
    public static let conflict = HTTPStatus(code: 409, reasonPhrase: "Conflict")
    /// "411 Length Required".
    public static let lengthRequired = HTTPStatus(code: 411, reasonPhrase: "Length Required")
    /// "413 Content Too Large".
    public static let contentTooLarge = HTTPStatus(code: 413, reasonPhrase: "Content Too Large")
    /// "417 Expectation Failed".
    public static let expectationFailed = HTTPStatus(code: 417, reasonPhrase: "Expectation Failed")
    /// "422 Unprocessable Content".
    public static let unprocessableContent = HTTPStatus(code: 422, reasonPhrase: "Unprocessable Content")
    /// "431 Request Header Fields Too Large".
    /// 429: a caller over its fair share (e.g. too many parked long-polls).
    public static let tooManyRequests = HTTPStatus(code: 429, reasonPhrase: "Too Many Requests")
    public static let requestHeaderFieldsTooLarge = HTTPStatus(code: 431, reasonPhrase: "Request Header Fields Too Large")
    /// "500 Internal Server Error".
    public static let internalServerError = HTTPStatus(code: 500, reasonPhrase: "Internal Server Error")
    /// "501 Not Implemented".
    public static let notImplemented = HTTPStatus(code: 501, reasonPhrase: "Not Implemented")
    /// "503 Service Unavailable".
    public static let serviceUnavailable = HTTPStatus(code: 503, reasonPhrase: "Service Unavailable")
    /// "505 HTTP Version Not Supported".
    public static let httpVersionNotSupported = HTTPStatus(code: 505, reasonPhrase: "HTTP Version Not Supported")

    /// The status with this code: a named one, or one with a generic phrase.
    public static func from(code: Int) -> HTTPStatus {
        let named: [HTTPStatus] = [.ok, .created, .noContent, .badRequest, .forbidden, .notFound, .methodNotAllowed, .requestTimeout,
                                   .conflict, .lengthRequired, .contentTooLarge, .expectationFailed, .unprocessableContent,
                                   .tooManyRequests, .requestHeaderFieldsTooLarge, .internalServerError, .notImplemented, .serviceUnavailable,
                                   .httpVersionNotSupported]
        return named.first { $0.code == code } ?? HTTPStatus(code: code, reasonPhrase: "Status \(code)")
    }

    /// Compares codes only.
    public static func == (lhs: HTTPStatus, rhs: HTTPStatus) -> Bool { lhs.code == rhs.code }

    /// Hashes the code only, consistently with `==`.
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }

    /// True for 1xx, 204 and 304: responses that never carry a body (RFC 9110 §6.4.1).
    public var forbidsBody: Bool {
        (100...199).contains(code) || code == 204 || code == 304
    }

    /// True for 1xx and 204, which must not carry a `Content-Length` header (RFC 9110 §8.6).
    public var forbidsContentLength: Bool {
        (100...199).contains(code) || code == 204
    }

    /// "404 Not Found".
    public var description: String { "\(code) \(reasonPhrase)" }
}

import Wire

/// Why a request could not be parsed, with the status to answer and a message for the client.
///
/// After any parse error the connection answers with ``status`` in the SPEC error envelope
/// (see ``HTTPResponse/error(_:)``) and closes, because the framing of whatever follows can no
/// longer be trusted.
public struct HTTPParseError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The status to answer: 400, 411, 413, 417, 431 or 505.
    public let status: HTTPStatus
    /// A stable snake_case code for the error envelope; one of the constants in ``Code``.
    public let code: String
    /// A human message naming what was wrong, e.g. "header section exceeds 16384 bytes".
    public let message: String

    /// An error with `code`'s status from the registry of wire codes (`Wire.ErrorCode`).
    init(_ code: ErrorCode, message: String) {
        self.init(status: HTTPStatus.from(code: code.status), code: code.rawValue, message: message)
    }

    /// Creates an error; the parser uses the factories below.
    public init(status: HTTPStatus, code: String, message: String) {
        self.status = status
        self.code = code
        self.message = message
    }

    /// "431 header_too_large: header section exceeds 16384 bytes".
    public var description: String { "\(status.code) \(code): \(message)" }

    /// The stable codes the parser produces, as text; each is registered (status and meaning) in `Wire.ErrorCode`.
    public enum Code {
        /// 431: request line plus header lines exceed ``HTTPLimits/maxHeaderBytes``.
        public static let headerTooLarge = ErrorCode.headerTooLarge.rawValue
        /// 431: more than ``HTTPLimits/maxHeaderCount`` header fields.
        public static let tooManyHeaders = ErrorCode.tooManyHeaders.rawValue
        /// 413: `Content-Length` exceeds ``HTTPLimits/maxBodyBytes``.
        public static let bodyTooLarge = ErrorCode.bodyTooLarge.rawValue
        /// 411: `Transfer-Encoding` (chunked uploads) is not supported.
        public static let lengthRequired = ErrorCode.lengthRequired.rawValue
        /// 400: both `Content-Length` and `Transfer-Encoding`.
        public static let conflictingFraming = ErrorCode.conflictingFraming.rawValue
        /// 400: more than one `Content-Length` field.
        public static let duplicateContentLength = ErrorCode.duplicateContentLength.rawValue
        /// 400: `Content-Length` is not a plain decimal number that fits.
        public static let invalidContentLength = ErrorCode.invalidContentLength.rawValue
        /// 400: a header line starts with SP or HTAB (obsolete line folding).
        public static let obsoleteLineFolding = ErrorCode.obsoleteLineFolding.rawValue
        /// 400: a line ends in LF without CR.
        public static let bareLineFeed = ErrorCode.bareLineFeed.rawValue
        /// 400: the request line is not `method SP target SP version` of visible ASCII.
        public static let invalidRequestLine = ErrorCode.invalidRequestLine.rawValue
        /// 400: the method is not a token.
        public static let invalidMethod = ErrorCode.invalidMethod.rawValue
        /// 400: the target is not in origin form (or `*`), or its query is badly encoded.
        public static let invalidTarget = ErrorCode.invalidTarget.rawValue
        /// 400: the version is not of the form `HTTP/d.d`.
        public static let invalidVersion = ErrorCode.invalidVersion.rawValue
        /// 505: a well-formed version other than HTTP/1.0 or HTTP/1.1.
        public static let versionNotSupported = ErrorCode.versionNotSupported.rawValue
        /// 400: a header line without a colon, or with an empty or non-token name.
        public static let invalidHeaderName = ErrorCode.invalidHeaderName.rawValue
        /// 400: whitespace between a header name and its colon.
        public static let whitespaceBeforeColon = ErrorCode.whitespaceBeforeColon.rawValue
        /// 400: a control character in a header value.
        public static let invalidHeaderValue = ErrorCode.invalidHeaderValue.rawValue
        /// 417: an `Expect` value other than `100-continue`.
        public static let expectationFailed = ErrorCode.expectationFailed.rawValue
        /// 400: an HTTP/1.1 request without a `Host` header.
        public static let missingHost = ErrorCode.missingHost.rawValue
        /// 400: more than one `Host` header.
        public static let duplicateHost = ErrorCode.duplicateHost.rawValue
        /// 400: too many empty lines before the request line.
        public static let tooManyEmptyLines = ErrorCode.tooManyEmptyLines.rawValue
    }

    static func headerTooLarge(limit: Int) -> HTTPParseError {
        HTTPParseError(.headerTooLarge, message: "header section exceeds \(limit) bytes")
    }

    static func tooManyHeaders(limit: Int) -> HTTPParseError {
        HTTPParseError(.tooManyHeaders, message: "more than \(limit) header fields")
    }

    static func bodyTooLarge(length: Int, limit: Int) -> HTTPParseError {
        HTTPParseError(.bodyTooLarge, message: "request body of \(length) bytes exceeds the limit of \(limit) bytes")
    }

    static let lengthRequired = HTTPParseError(.lengthRequired, message: "Transfer-Encoding is not supported; send the body with a Content-Length header")

    static let conflictingFraming = HTTPParseError(.conflictingFraming, message: "both Content-Length and Transfer-Encoding headers are present")

    static let duplicateContentLength = HTTPParseError(.duplicateContentLength, message: "duplicate Content-Length header")

    static let invalidContentLength = HTTPParseError(.invalidContentLength, message: "Content-Length must be a decimal number of bytes")

    static let obsoleteLineFolding = HTTPParseError(.obsoleteLineFolding, message: "header line starts with whitespace (obsolete line folding is not accepted)")

    static let bareLineFeed = HTTPParseError(.bareLineFeed, message: "line ends with LF without CR; lines must end with CRLF")

    static func invalidRequestLine(_ reason: String) -> HTTPParseError {
        HTTPParseError(.invalidRequestLine, message: "invalid request line: \(reason)")
    }

    static let invalidMethod = HTTPParseError(.invalidMethod, message: "method contains a character that is not allowed in a token")

    static func invalidTarget(_ reason: String) -> HTTPParseError {
        HTTPParseError(.invalidTarget, message: "invalid request target: \(reason)")
    }

    static let invalidVersion = HTTPParseError(.invalidVersion, message: "malformed HTTP version; expected HTTP/1.1 or HTTP/1.0")

    static func versionNotSupported(_ version: String) -> HTTPParseError {
        HTTPParseError(.versionNotSupported, message: "\(version) is not supported; use HTTP/1.1 or HTTP/1.0")
    }

    static let invalidHeaderName = HTTPParseError(.invalidHeaderName, message: "header line has no colon or its name contains a character that is not allowed in a token")

    static let whitespaceBeforeColon = HTTPParseError(.whitespaceBeforeColon, message: "whitespace between header name and colon")

    static func invalidHeaderValue(name: String) -> HTTPParseError {
        HTTPParseError(.invalidHeaderValue, message: "value of header \(name) contains a control character")
    }

    static func expectationFailed(_ value: String) -> HTTPParseError {
        HTTPParseError(.expectationFailed, message: "unsupported expectation \"\(value)\"; only 100-continue is supported")
    }

    static let missingHost = HTTPParseError(.missingHost, message: "HTTP/1.1 request without Host header")

    static let duplicateHost = HTTPParseError(.duplicateHost, message: "duplicate Host header")

    static func tooManyEmptyLines(limit: Int) -> HTTPParseError {
        HTTPParseError(.tooManyEmptyLines, message: "more than \(limit) empty lines before the request line")
    }
}

/// One code of the error envelope `{"error":{"code":"…","message":"…"}}` (SPEC §7):
/// the stable snake_case text, the HTTP status it is always answered with, and one
/// line saying what it means. `ErrorCode.all` is the one registry: the server answers
/// only these, the OpenAPI document and the README list exactly these (tests keep them
/// equal), and the client explains them from here.
///
/// Codes never change meaning; new ones are added here. A code this build does not know
/// (from a newer broker) still decodes, with status 400 and no meaning.
public struct ErrorCode: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible {
    /// The snake_case code as it appears on the wire.
    public let rawValue: String

    public init(rawValue: String) { self.rawValue = rawValue }

    public init(from decoder: any Decoder) throws {
        rawValue = try decoder.singleValueContainer().decode(String.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }

    public var description: String { rawValue }

    /// The HTTP status this code is answered with (400 for a code this build does not know).
    public var status: Int { Self.registry[self]?.status ?? 400 }

    /// What the code means, in one line (nil for a code this build does not know).
    public var meaning: String? { Self.registry[self]?.meaning }

    private init(_ rawValue: String) { self.rawValue = rawValue }

    /// One registry entry.
    public struct Entry: Sendable, Hashable {
        public let code: ErrorCode
        public let status: Int
        public let meaning: String
    }

    /// Every code, grouped as the README lists them.
    public static let all: [Entry] = [
        // Identity: answered 403 and the connection closed.
        Entry(code: .credentialUnknown, status: 403, meaning: "the client certificate's serial is not registered"),
        Entry(code: .credentialRevoked, status: 403, meaning: "the client certificate was revoked"),
        Entry(code: .credentialExpired, status: 403, meaning: "the client certificate has expired"),
        Entry(code: .credentialNotApproved, status: 403, meaning: "the client certificate awaits a coordinator's approval; only GET /v1/whoami answers"),
        Entry(code: .principalDisabled, status: 403, meaning: "the certificate's principal is disabled"),
        Entry(code: .agencyInactive, status: 403, meaning: "the principal's agency is inactive"),
        // Authorisation and visibility.
        Entry(code: .forbidden, status: 403, meaning: "the caller's role may not use this operation"),
        Entry(code: .notEntitled, status: 403, meaning: "a dispatch asked to send a field the agency may not see"),
        Entry(code: .notFound, status: 404, meaning: "no such object or endpoint, or the caller may not see it (the two look the same)"),
        Entry(code: .methodNotAllowed, status: 405, meaning: "the endpoint exists but not with this method (Allow lists those it has)"),
        // Input.
        Entry(code: .invalid, status: 400, meaning: "malformed input: a query parameter or body that cannot be understood"),
        Entry(code: .invalidRequest, status: 400, meaning: "a request the endpoint cannot take (e.g. a body where none is allowed)"),
        Entry(code: .invalidJSON, status: 400, meaning: "the body is not the JSON the endpoint expects; the message names the key"),
        Entry(code: .validationFailed, status: 422, meaning: "well-formed input with a bad value; the message names the field"),
        Entry(code: .invalidText, status: 422, meaning: "a free-text field holds a control or bidirectional formatting character; the message names the field"),
        Entry(code: .unknownField, status: 422, meaning: "a case field path the sharing policy does not classify"),
        Entry(code: .consentMissing, status: 422, meaning: "research dispatched for a case without a consent record"),
        Entry(code: .invalidCSR, status: 422, meaning: "the certificate signing request is not one, or its signature does not verify"),
        Entry(code: .weakKey, status: 422, meaning: "the certificate signing request's key is not ECDSA P-256/P-384 or RSA of at least 2048 bits"),
        Entry(code: .subjectMismatch, status: 422, meaning: "the certificate signing request names another subject than the registry's"),
        // State and deadlines.
        Entry(code: .conflict, status: 409, meaning: "the command conflicts with the current state (a duplicate id, the wrong state)"),
        Entry(code: .dispatchDeadlinePassed, status: 409, meaning: "a non-urgent dispatch after the meeting's dispatch deadline"),
        Entry(code: .returnDeadlinePassed, status: 409, meaning: "a return after its (possibly extended) deadline"),
        Entry(code: .returnLimitReached, status: 409, meaning: "a return past limits.maxReturnVersionsPerRequest or limits.maxReturnBytesPerRequest"),
        Entry(code: .referralDeadlinePassed, status: 409, meaning: "a referral for a meeting after the meeting's referral deadline; refer it for the next meeting"),
        Entry(code: .actionsOpen, status: 409, meaning: "a case closed while any of its actions is open; the message names them"),
        Entry(code: .screeningFailed, status: 422, meaning: "a referral that fails a hard rule of its panel (case type, age); the message lists every rule's outcome"),
        // Fair shares.
        Entry(code: .tooManyWaiters, status: 429, meaning: "the principal already has limits.maxLongPollsPerPrincipal long-polls parked"),
        Entry(code: .tooManyConnections, status: 429, meaning: "the principal already holds limits.maxConnectionsPerPrincipal connections; this one is closed"),
        // The broker.
        Entry(code: .storageUnavailable, status: 503, meaning: "storage has failed; nothing is acknowledged until an administrator fixes it and restarts"),
        Entry(code: .internalError, status: 500, meaning: "the broker could not complete the request (a bug; logged)"),
        // HTTP framing: answered, then the connection is closed.
        Entry(code: .requestTimeout, status: 408, meaning: "the request did not arrive within limits.headerTimeoutSeconds (plus bodyTimeoutSeconds for a body)"),
        Entry(code: .headerTooLarge, status: 431, meaning: "the request line and headers exceed limits.maxHeaderBytes"),
        Entry(code: .tooManyHeaders, status: 431, meaning: "more header fields than limits.maxHeaderCount"),
        Entry(code: .bodyTooLarge, status: 413, meaning: "Content-Length exceeds limits.maxBodyBytes"),
        Entry(code: .lengthRequired, status: 411, meaning: "Transfer-Encoding is not supported; send a Content-Length"),
        Entry(code: .conflictingFraming, status: 400, meaning: "both Content-Length and Transfer-Encoding"),
        Entry(code: .duplicateContentLength, status: 400, meaning: "more than one Content-Length"),
        Entry(code: .invalidContentLength, status: 400, meaning: "Content-Length is not a plain decimal number that fits"),
        Entry(code: .obsoleteLineFolding, status: 400, meaning: "a header line starts with whitespace (obsolete line folding)"),
        Entry(code: .bareLineFeed, status: 400, meaning: "a line ends in LF without CR"),
        Entry(code: .invalidRequestLine, status: 400, meaning: "the request line is not method SP target SP version"),
        Entry(code: .invalidMethod, status: 400, meaning: "the method is not a token"),
        Entry(code: .invalidTarget, status: 400, meaning: "the target is not in origin form, or its query is badly encoded"),
        Entry(code: .invalidVersion, status: 400, meaning: "the version is not HTTP/d.d"),
        Entry(code: .versionNotSupported, status: 505, meaning: "an HTTP version other than 1.0 or 1.1"),
        Entry(code: .invalidHeaderName, status: 400, meaning: "a header line without a colon, or with an empty or non-token name"),
        Entry(code: .whitespaceBeforeColon, status: 400, meaning: "whitespace between a header name and its colon"),
        Entry(code: .invalidHeaderValue, status: 400, meaning: "a control character in a header value"),
        Entry(code: .expectationFailed, status: 417, meaning: "an Expect value other than 100-continue"),
        Entry(code: .missingHost, status: 400, meaning: "an HTTP/1.1 request without Host"),
        Entry(code: .duplicateHost, status: 400, meaning: "more than one Host"),
        Entry(code: .tooManyEmptyLines, status: 400, meaning: "too many empty lines before the request line"),
    ]

    private static let registry: [ErrorCode: Entry] = Dictionary(uniqueKeysWithValues: all.map { ($0.code, $0) })

    /// The registered code with this text, if any.
    public static func named(_ text: String) -> ErrorCode? {
        let code = ErrorCode(text)
        return registry[code] == nil ? nil : code
    }

    public static let credentialUnknown = ErrorCode("credential_unknown")
    public static let credentialRevoked = ErrorCode("credential_revoked")
    public static let credentialExpired = ErrorCode("credential_expired")
    public static let credentialNotApproved = ErrorCode("credential_not_approved")
    public static let principalDisabled = ErrorCode("principal_disabled")
    public static let agencyInactive = ErrorCode("agency_inactive")
    public static let forbidden = ErrorCode("forbidden")
    public static let notEntitled = ErrorCode("not_entitled")
    public static let notFound = ErrorCode("not_found")
    public static let methodNotAllowed = ErrorCode("method_not_allowed")
    public static let invalid = ErrorCode("invalid")
    public static let invalidRequest = ErrorCode("invalid_request")
    public static let invalidJSON = ErrorCode("invalid_json")
    public static let validationFailed = ErrorCode("validation_failed")
    public static let invalidText = ErrorCode("invalid_text")
    public static let unknownField = ErrorCode("unknown_field")
    public static let consentMissing = ErrorCode("consent_missing")
    public static let invalidCSR = ErrorCode("invalid_csr")
    public static let weakKey = ErrorCode("weak_key")
    public static let subjectMismatch = ErrorCode("subject_mismatch")
    public static let conflict = ErrorCode("conflict")
    public static let dispatchDeadlinePassed = ErrorCode("dispatch_deadline_passed")
    public static let returnDeadlinePassed = ErrorCode("return_deadline_passed")
    public static let returnLimitReached = ErrorCode("return_limit_reached")
    public static let referralDeadlinePassed = ErrorCode("referral_deadline_passed")
    public static let screeningFailed = ErrorCode("screening_failed")
    public static let actionsOpen = ErrorCode("actions_open")
    public static let tooManyWaiters = ErrorCode("too_many_waiters")
    public static let tooManyConnections = ErrorCode("too_many_connections")
    public static let storageUnavailable = ErrorCode("storage_unavailable")
    public static let internalError = ErrorCode("internal_error")
    public static let requestTimeout = ErrorCode("request_timeout")
    public static let headerTooLarge = ErrorCode("header_too_large")
    public static let tooManyHeaders = ErrorCode("too_many_headers")
    public static let bodyTooLarge = ErrorCode("body_too_large")
    public static let lengthRequired = ErrorCode("length_required")
    public static let conflictingFraming = ErrorCode("conflicting_framing")
    public static let duplicateContentLength = ErrorCode("duplicate_content_length")
    public static let invalidContentLength = ErrorCode("invalid_content_length")
    public static let obsoleteLineFolding = ErrorCode("obsolete_line_folding")
    public static let bareLineFeed = ErrorCode("bare_line_feed")
    public static let invalidRequestLine = ErrorCode("invalid_request_line")
    public static let invalidMethod = ErrorCode("invalid_method")
    public static let invalidTarget = ErrorCode("invalid_target")
    public static let invalidVersion = ErrorCode("invalid_version")
    public static let versionNotSupported = ErrorCode("version_not_supported")
    public static let invalidHeaderName = ErrorCode("invalid_header_name")
    public static let whitespaceBeforeColon = ErrorCode("whitespace_before_colon")
    public static let invalidHeaderValue = ErrorCode("invalid_header_value")
    public static let expectationFailed = ErrorCode("expectation_failed")
    public static let missingHost = ErrorCode("missing_host")
    public static let duplicateHost = ErrorCode("duplicate_host")
    public static let tooManyEmptyLines = ErrorCode("too_many_empty_lines")
}

/// The size limits and timeouts that bound what one client can make the server buffer or wait for.
///
/// Every limit the HTTP layer enforces is named here, in one place, so an administrator's
/// configuration and the tests refer to the same numbers. The parser enforces the byte and count
/// limits; the connection enforces the timeouts (the parser never reads a clock).
///
/// The defaults are deliberately small for an API that only exchanges JSON documents: a broker
/// that handles safeguarding data should refuse a slow or oversized client early rather than
/// hold memory for it.
public struct HTTPLimits: Sendable, Hashable {
    /// Default for ``maxHeaderBytes``: 16 KiB.
    public static let defaultMaxHeaderBytes = 16 * 1024
    /// Default for ``maxHeaderCount``.
    public static let defaultMaxHeaderCount = 100
    /// Default for ``maxBodyBytes``: 10 MiB.
    public static let defaultMaxBodyBytes = 10 * 1024 * 1024
    /// Default for ``maxLeadingEmptyLines``.
    public static let defaultMaxLeadingEmptyLines = 8
    /// Default for ``headerTimeout``.
    public static let defaultHeaderTimeout: Duration = .seconds(10)
    /// Default for ``idleTimeout``.
    public static let defaultIdleTimeout: Duration = .seconds(60)
    /// Default for ``bodyTimeout``.
    public static let defaultBodyTimeout: Duration = .seconds(30)

    /// The largest header section accepted, in bytes: the request line, every header line and
    /// the empty line that ends the section, each counted with its CRLF.
    ///
    /// A section that grows past this answers `431`, as soon as the buffered unfinished section
    /// is longer than the limit, without waiting for its end.
    public var maxHeaderBytes: Int
    /// The largest number of header fields in one request; one more answers `431`.
    public var maxHeaderCount: Int
    /// The largest `Content-Length` accepted; a larger one answers `413` as soon as the header
    /// section is complete, before any of the body is buffered.
    public var maxBodyBytes: Int
    /// How many empty lines (CRLF) may precede a request line and are skipped (RFC 9112 §2.2);
    /// one more answers `400`.
    public var maxLeadingEmptyLines: Int
    /// How long a client may take to send a whole header section once its first byte arrived.
    /// Applied by the connection while ``HTTPParser/isMidRequest`` is true and the parser is not
    /// reading a body; on expiry the connection answers `408` and closes.
    public var headerTimeout: Duration
    /// How long a keep-alive connection may stay silent between requests before it is closed
    /// without an answer.
    public var idleTimeout: Duration
    /// How long a client may take to send a whole body once its header section is complete.
    /// Applied while ``HTTPParser/isReadingBody`` is true; on expiry the connection answers
    /// `408` and closes.
    public var bodyTimeout: Duration

    /// Creates limits; every parameter defaults to the named default constant.
    ///
    /// Nothing traps on odd values: a limit of 0 makes the parser refuse everything that needs
    /// it (`maxBodyBytes: 0` refuses every body with `413`, `maxHeaderCount: 0` every header
    /// with `431`), which is how a configuration mistake shows up in tests.
    public init(
        maxHeaderBytes: Int = HTTPLimits.defaultMaxHeaderBytes,
        maxHeaderCount: Int = HTTPLimits.defaultMaxHeaderCount,
        maxBodyBytes: Int = HTTPLimits.defaultMaxBodyBytes,
        maxLeadingEmptyLines: Int = HTTPLimits.defaultMaxLeadingEmptyLines,
        headerTimeout: Duration = HTTPLimits.defaultHeaderTimeout,
        idleTimeout: Duration = HTTPLimits.defaultIdleTimeout,
        bodyTimeout: Duration = HTTPLimits.defaultBodyTimeout
    ) {
        self.maxHeaderBytes = maxHeaderBytes
        self.maxHeaderCount = maxHeaderCount
        self.maxBodyBytes = maxBodyBytes
        self.maxLeadingEmptyLines = maxLeadingEmptyLines
        self.headerTimeout = headerTimeout
        self.idleTimeout = idleTimeout
        self.bodyTimeout = bodyTimeout
    }

    /// The limits a server uses unless its configuration says otherwise.
    public static let `default` = HTTPLimits()
}

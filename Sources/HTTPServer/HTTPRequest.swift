/// One complete, validated request as produced by ``HTTPParser``.
///
/// Everything here has passed the parser's rules: the method is a token, the target is in
/// origin form (or `*`), names and values contain no control characters, and the body is
/// exactly `Content-Length` bytes.
public struct HTTPRequest: Sendable, Equatable {
    /// The method exactly as sent (methods are case-sensitive: `get` is not `GET`).
    public var method: String
    /// The request-target exactly as sent, query included.
    public var target: String
    /// The target up to (not including) the first `?`. Percent-decoding is not applied, so
    /// `%2F` stays distinguishable from `/`; the router decodes single segments.
    public var path: String
    /// The query's `name=value` pairs, percent-decoded with `+` as space; the last value wins
    /// for a repeated name, and a name without `=` maps to the empty string.
    public var query: [String: String]
    /// HTTP/1.0 or HTTP/1.1.
    public var version: HTTPVersion
    /// The header fields in the order received.
    public var headers: HTTPHeaders
    /// The body, exactly `Content-Length` bytes (empty without one).
    public var body: [UInt8]
    /// Whether the connection may carry another request after this one: for HTTP/1.1 unless a
    /// `Connection` header lists `close`; for HTTP/1.0 only if it lists `keep-alive` (and not
    /// `close`).
    public var keepAlive: Bool

    /// Creates a request; used by the parser and by tests that call handlers directly.
    ///
    /// `path` and `query` are derived from `target` when not given.
    public init(
        method: String,
        target: String,
        path: String? = nil,
        query: [String: String]? = nil,
        version: HTTPVersion = .http1_1,
        headers: HTTPHeaders = HTTPHeaders(),
        body: [UInt8] = [],
        keepAlive: Bool = true
    ) {
        self.method = method
        self.target = target
        if let path, let query {
            self.path = path
            self.query = query
        } else {
            let questionMark = target.utf8.firstIndex(of: UInt8(ascii: "?"))
            self.path = path ?? String(target[..<(questionMark ?? target.endIndex)])
            if let query {
                self.query = query
            } else if let questionMark {
                self.query = PercentDecoding.parseQuery(Array(target.utf8[target.utf8.index(after: questionMark)...])) ?? [:]
            } else {
                self.query = [:]
            }
        }
        self.version = version
        self.headers = headers
        self.body = body
        self.keepAlive = keepAlive
    }

    /// True for `HEAD`, whose response carries headers (and `Content-Length`) but no body.
    public var isHEAD: Bool { method == "HEAD" }
}

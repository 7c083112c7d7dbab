import Wire

/// A response to write: status, headers and a body already encoded to bytes.
///
/// ``serialize(isHEAD:keepAlive:)`` owns the framing headers: it always writes the
/// `Content-Length` it computes (ignoring any set by a handler) and decides `Connection`
/// from the connection's keep-alive decision, so a handler cannot produce a response whose
/// framing disagrees with its body.
public struct HTTPResponse: Sendable, Equatable {
    /// The status line's code and phrase.
    public var status: HTTPStatus
    /// Headers other than `Content-Length` and `Connection`, which are written by
    /// ``serialize(isHEAD:keepAlive:)``.
    public var headers: HTTPHeaders
    /// The body; not written for HEAD, 1xx, 204 and 304.
    public var body: [UInt8]
    /// Set by ``parked(_:)``: not an answer yet, the request waits on its connection.
    public private(set) var parked: ParkedRequest?

    /// Creates a response.
    public init(status: HTTPStatus, headers: HTTPHeaders = HTTPHeaders(), body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// No answer yet: `request` waits on its connection, without a task, until it is woken or
    /// its deadline passes, and is then answered by its `resume` (see ``ParkedRequest``).
    public static func parked(_ request: ParkedRequest) -> HTTPResponse {
        var response = HTTPResponse(status: .ok)
        response.parked = request
        return response
    }

    /// The interim response a connection writes on ``HTTPParser/Event/continueExpected``.
    public static let continueBytes: [UInt8] = Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)

    /// `Content-Type` of JSON answers.
    public static let jsonContentType = "application/json"
    /// `Content-Type` of plain-text answers.
    public static let textContentType = "text/plain; charset=utf-8"

    /// A JSON response encoded with ``JSON/encode(_:)``.
    ///
    /// If the value cannot be encoded (a non-finite `Double`, a throwing `encode(to:)`), the
    /// result is a `500 internal_error` envelope instead, so a handler cannot send half a
    /// document.
    public static func json(_ status: HTTPStatus, _ value: some Encodable, headers: HTTPHeaders = HTTPHeaders()) -> HTTPResponse {
        do {
            var headers = headers
            headers.replaceOrAdd(name: "Content-Type", value: jsonContentType)
            return HTTPResponse(status: status, headers: headers, body: try JSON.encode(value))
        } catch {
            return .error(ErrorCode.internalError, message: "the response could not be encoded")
        }
    }

    /// A JSON response written by the value itself (``JSONWritable``): the same bytes as the
    /// `Encodable` overload, without its dynamic check for the conformance.
    public static func json(_ status: HTTPStatus, _ value: some JSONWritable, headers: HTTPHeaders = HTTPHeaders()) -> HTTPResponse {
        var headers = headers
        headers.replaceOrAdd(name: "Content-Type", value: jsonContentType)
        return HTTPResponse(status: status, headers: headers, body: value.jsonBytes())
    }

    /// The SPEC §7 error envelope `{"error":{"code":"…","message":"…"}}`.
    ///
    /// Written without an encoder, so building an error never fails.
    public static func error(_ status: HTTPStatus, code: String, message: String, headers: HTTPHeaders = HTTPHeaders()) -> HTTPResponse {
        var body: [UInt8] = []
        body.reserveCapacity(32 + code.utf8.count + message.utf8.count)
        body.append(contentsOf: #"{"error":{"code":"#.utf8)
        JSONString.appendQuoted(code, to: &body)
        body.append(contentsOf: #","message":"#.utf8)
        JSONString.appendQuoted(message, to: &body)
        body.append(contentsOf: "}}".utf8)
        var headers = headers
        headers.replaceOrAdd(name: "Content-Type", value: jsonContentType)
        return HTTPResponse(status: status, headers: headers, body: body)
    }

    /// The envelope for a registered code, with the status the registry (`Wire.ErrorCode`) gives it.
    public static func error(_ code: ErrorCode, message: String, headers: HTTPHeaders = HTTPHeaders()) -> HTTPResponse {
        .error(HTTPStatus.from(code: code.status), code: code.rawValue, message: message, headers: headers)
    }

    /// The answer to a request the parser refused; the connection must close after it.
    public static func error(_ parseError: HTTPParseError) -> HTTPResponse {
        .error(parseError.status, code: parseError.code, message: parseError.message)
    }

    /// The answer to a request the parser refused because of a JSON body.
    public static func error(_ bodyError: JSONBodyError) -> HTTPResponse {
        .error(bodyError.status, code: bodyError.code, message: bodyError.message)
    }

    /// `405` with the `Allow` header listing `allowed` (as returned by ``Router/match(method:path:)``).
    public static func methodNotAllowed(allowed: [String], method: String) -> HTTPResponse {
        .error(ErrorCode.methodNotAllowed,
               message: "method \(method) is not allowed here; allowed: \(allowed.joined(separator: ", "))",
               headers: ["Allow": allowed.joined(separator: ", ")])
    }

    /// `408 request_timeout`, for a client that did not finish a request within
    /// ``HTTPLimits/headerTimeout`` or ``HTTPLimits/bodyTimeout``; the connection closes after it.
    public static func requestTimeout(after timeout: Duration) -> HTTPResponse {
        .error(ErrorCode.requestTimeout,
               message: "the request was not received completely within \(timeout.components.seconds) seconds")
    }

    /// A plain-text response (UTF-8).
    public static func text(_ status: HTTPStatus, _ text: String, contentType: String = textContentType) -> HTTPResponse {
        HTTPResponse(status: status, headers: ["Content-Type": contentType], body: Array(text.utf8))
    }

    /// The response's bytes, ready to write.
    ///
    /// - Parameters:
    ///   - isHEAD: the request was HEAD: headers (with the `Content-Length` the GET body has)
    ///     but no body.
    ///   - keepAlive: false adds `Connection: close`; the caller then closes after writing.
    ///     True, for an HTTP/1.0 request, adds `Connection: keep-alive`: an HTTP/1.0
    ///     client (ApacheBench `-k`) otherwise takes the response to end at the close.
    ///   - requestVersion: the version of the request answered.
    ///   - dateLine: the `Date` header line (RFC 9110 §6.6.1), the current second's by default.
    public func serialize(isHEAD: Bool, keepAlive: Bool, requestVersion: HTTPVersion = .http1_1,
                          dateLine: [UInt8] = HTTPDate.headerLine()) -> [UInt8] {
        var out: [UInt8] = []
        write(into: &out, isHEAD: isHEAD, keepAlive: keepAlive, requestVersion: requestVersion, dateLine: dateLine)
        return out
    }

    /// Appends the response's bytes to `out`, so pipelined answers can share one write.
    public func write(into out: inout [UInt8], isHEAD: Bool, keepAlive: Bool, requestVersion: HTTPVersion = .http1_1,
                      dateLine: [UInt8] = HTTPDate.headerLine()) {
        let sendsBody = !isHEAD && !status.forbidsBody
        var estimate = 64 + status.reasonPhrase.utf8.count + (sendsBody ? body.count : 0)
        for (name, value) in headers {
            estimate += name.utf8.count + value.utf8.count + 4
        }
        out.reserveCapacity(out.count + estimate)

        out.append(contentsOf: "HTTP/1.1 ".utf8)
        out.appendDecimal(status.code)
        out.append(0x20)
        out.append(contentsOf: status.reasonPhrase.utf8)
        out.append(contentsOf: Self.crlf)
        if headers["Date"] == nil { out.append(contentsOf: dateLine) }
        for (name, value) in headers
        where !HTTPHeaders.namesEqual(name, "content-length") && !HTTPHeaders.namesEqual(name, "connection") {
            out.append(contentsOf: name.utf8)
            out.append(contentsOf: Self.colonSpace)
            out.append(contentsOf: value.utf8)
            out.append(contentsOf: Self.crlf)
        }
        if !status.forbidsContentLength {
            out.append(contentsOf: Self.contentLengthPrefix)
            out.appendDecimal(body.count)
            out.append(contentsOf: Self.crlf)
        }
        if !keepAlive {
            out.append(contentsOf: Self.connectionClose)
        } else if requestVersion == .http1_0 {
            out.append(contentsOf: Self.connectionKeepAlive)
        }
        out.append(contentsOf: Self.crlf)
        if sendsBody {
            out.append(contentsOf: body)
        }
    }

    private static let crlf: StaticString = "\r\n"
    private static let colonSpace: StaticString = ": "
    private static let contentLengthPrefix: StaticString = "Content-Length: "
    private static let connectionClose: StaticString = "Connection: close\r\n"
    private static let connectionKeepAlive: StaticString = "Connection: keep-alive\r\n"
}

extension Array where Element == UInt8 {
    @inline(__always)
    fileprivate mutating func append(contentsOf string: StaticString) {
        append(contentsOf: UnsafeBufferPointer(start: string.utf8Start, count: string.utf8CodeUnitCount))
    }
}

/// An incremental HTTP/1.1 request parser: bytes in, requests or one error out.
///
/// The parser is a pure state machine with no I/O and no clock, so tests and fuzzers drive it
/// directly and the connection owns sockets and timers. Feed it whatever the socket delivered
/// with ``append(_:)-(UnsafeRawBufferPointer)``, then call ``next()`` until it returns nil
/// ("need more bytes"). Bytes after a complete request stay buffered for the following
/// ``next()`` call, so pipelined requests come out one by one.
///
/// The parser is strict where leniency has caused request-smuggling bugs elsewhere: it accepts
/// bodies framed only by `Content-Length`, refuses `Transfer-Encoding` with `411` instead of
/// guessing, and refuses bare LF, obsolete line folding, whitespace before a colon, duplicate
/// `Content-Length` and control characters with `400`. Size limits come from ``HTTPLimits``
/// and are checked as bytes arrive, so a client cannot make it buffer more than
/// ``HTTPLimits/maxHeaderBytes`` of header or announce more than ``HTTPLimits/maxBodyBytes``
/// of body.
///
/// After an error the parser stays failed: every later ``next()`` returns the same error and
/// appended bytes are discarded. The connection should answer the error's status and close.
public struct HTTPParser: Sendable {
    /// What ``next()`` found in the buffered bytes.
    public enum Event: Sendable, Equatable {
        /// A complete request, body included.
        case request(HTTPRequest)
        /// The header section of a request with `Expect: 100-continue` and a permitted non-empty
        /// body is complete and none of the body has arrived: write
        /// ``HTTPResponse/continueBytes`` and keep reading. Emitted at most once per request,
        /// never for HTTP/1.0 (RFC 9110 §10.1.1).
        case continueExpected
        /// The request is malformed or over a limit; answer ``HTTPParseError/status`` and close.
        case error(HTTPParseError)
    }

    /// The limits this parser enforces.
    public let limits: HTTPLimits

    private enum Phase: Sendable {
        case head
        case body
        case failed
    }

    private var buffer: [UInt8] = []
    /// Start of the unconsumed bytes; the head being parsed always starts here.
    private var readIndex = 0
    private var phase = Phase.head
    private var head = HeadProgress()
    private var pending: HTTPRequest?
    private var bodyLength = 0
    private var failure: HTTPParseError?

    /// Creates a parser with empty buffers.
    public init(limits: HTTPLimits = .default) {
        self.limits = limits
    }

    /// Buffers bytes received from the client; parsing happens in ``next()``.
    /// Ignored once the parser has failed.
    public mutating func append(_ bytes: UnsafeRawBufferPointer) {
        guard phase != .failed else { return }
        compact()
        buffer.append(contentsOf: bytes)
    }

    /// Buffers bytes received from the client; see ``append(_:)-(UnsafeRawBufferPointer)``.
    public mutating func append(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { append($0) }
    }

    /// Bytes buffered and not yet returned as part of a request.
    public var bufferedByteCount: Int { phase == .failed ? 0 : buffer.count - readIndex }

    /// True while part of a request is buffered (a header section or body in progress), so the
    /// connection applies ``HTTPLimits/headerTimeout`` or ``HTTPLimits/bodyTimeout`` rather
    /// than ``HTTPLimits/idleTimeout``. False once failed.
    public var isMidRequest: Bool {
        switch phase {
        case .head: return buffer.count > readIndex
        case .body: return true
        case .failed: return false
        }
    }

    /// True while the header section of a request is complete and its body is still arriving;
    /// the connection applies ``HTTPLimits/bodyTimeout`` then.
    public var isReadingBody: Bool { phase == .body }

    /// Parses as far as the buffered bytes allow.
    ///
    /// - Returns: the next event, or nil when more bytes are needed. After an
    ///   ``Event/error(_:)`` every call returns that same error.
    public mutating func next() -> Event? {
        switch phase {
        case .failed:
            return failure.map(Event.error)
        case .head:
            return parseHead()
        case .body:
            return parseBody()
        }
    }

    // MARK: - Head

    private struct HeadProgress: Sendable {
        var emptyLines = 0
        /// Where the current line starts, relative to `readIndex`.
        var lineStart = 0
        /// How far the current line has been searched for LF, relative to `readIndex`, so bytes
        /// delivered one at a time are not rescanned (which would be quadratic).
        var scanned = 0
        var requestLine: RequestLine?
        var fields: [HTTPHeaders.Element] = []
        var contentLengthValues: [String] = []
        var hasTransferEncoding = false
        var hostCount = 0
        var expectContinue = false
        var unsupportedExpectation: String?
        var connectionClose = false
        var connectionKeepAlive = false
    }

    struct RequestLine: Sendable {
        var method: String
        var target: String
        var path: String
        var query: [String: String]
        var version: HTTPVersion
    }

    private static let cr: UInt8 = 0x0D
    private static let lf: UInt8 = 0x0A

    private mutating func parseHead() -> Event? {
        while true {
            let scanStart = readIndex + head.lineStart
            let searchFrom = readIndex + head.scanned
            let newline: Int? = buffer.withUnsafeBufferPointer { bytes in
                bytes[searchFrom..<bytes.count].firstIndex(of: Self.lf)
            }
            guard let newline else {
                head.scanned = buffer.count - readIndex
                // Checked before the section ends, so a client cannot make us buffer more.
                if buffer.count - readIndex > limits.maxHeaderBytes {
                    return fail(.headerTooLarge(limit: limits.maxHeaderBytes))
                }
                return nil
            }
            let lineEndOffset = newline + 1 - readIndex
            if lineEndOffset > limits.maxHeaderBytes {
                return fail(.headerTooLarge(limit: limits.maxHeaderBytes))
            }
            guard newline > scanStart, buffer[newline - 1] == Self.cr else {
                return fail(.bareLineFeed)
            }
            let contentEnd = newline - 1
            head.lineStart = lineEndOffset
            head.scanned = lineEndOffset

            if contentEnd == scanStart {
                if head.requestLine == nil {
                    head.emptyLines += 1
                    if head.emptyLines > limits.maxLeadingEmptyLines {
                        return fail(.tooManyEmptyLines(limit: limits.maxLeadingEmptyLines))
                    }
                    readIndex += lineEndOffset
                    head.lineStart = 0
                    head.scanned = 0
                    continue
                }
                return finishHead(length: lineEndOffset)
            }

            if head.requestLine == nil {
                do {
                    head.requestLine = try buffer.withUnsafeBufferPointer { bytes throws(HTTPParseError) in
                        try Self.parseRequestLine(UnsafeBufferPointer(rebasing: bytes[scanStart..<contentEnd]))
                    }
                } catch {
                    return fail(error)
                }
            } else {
                if head.fields.count >= limits.maxHeaderCount {
                    return fail(.tooManyHeaders(limit: limits.maxHeaderCount))
                }
                do {
                    let field = try buffer.withUnsafeBufferPointer { bytes throws(HTTPParseError) in
                        try Self.parseHeaderLine(UnsafeBufferPointer(rebasing: bytes[scanStart..<contentEnd]))
                    }
                    record(field)
                } catch {
                    return fail(error)
                }
            }
        }
    }

    private mutating func record(_ field: ParsedField) {
        head.fields.append((field.name, field.value))
        switch field.kind {
        case .other:
            break
        case .contentLength:
            head.contentLengthValues.append(field.value)
        case .transferEncoding:
            head.hasTransferEncoding = true
        case .host:
            head.hostCount += 1
        case .expect(let isContinue):
            if isContinue {
                head.expectContinue = true
            } else if head.unsupportedExpectation == nil {
                head.unsupportedExpectation = field.value
            }
        case .connection(let close, let keepAlive):
            head.connectionClose = head.connectionClose || close
            head.connectionKeepAlive = head.connectionKeepAlive || keepAlive
        }
    }

    private mutating func finishHead(length: Int) -> Event? {
        let progress = head
        head = HeadProgress()
        readIndex += length
        guard let line = progress.requestLine else {
            preconditionFailure("header section ended before a request line")
        }

        if line.version == .http1_1 && progress.hostCount == 0 {
            return fail(.missingHost)
        }
        if progress.hostCount > 1 {
            return fail(.duplicateHost)
        }
        if progress.hasTransferEncoding {
            return fail(progress.contentLengthValues.isEmpty ? .lengthRequired : .conflictingFraming)
        }
        if progress.contentLengthValues.count > 1 {
            return fail(.duplicateContentLength)
        }
        var contentLength = 0
        if let value = progress.contentLengthValues.first {
            guard let parsed = Self.parseContentLength(value) else {
                return fail(.invalidContentLength)
            }
            contentLength = parsed
        }
        if let expectation = progress.unsupportedExpectation {
            return fail(.expectationFailed(String(expectation.prefix(64))))
        }
        if contentLength > limits.maxBodyBytes {
            return fail(.bodyTooLarge(length: contentLength, limit: limits.maxBodyBytes))
        }

        let keepAlive: Bool
        if line.version == .http1_1 {
            keepAlive = !progress.connectionClose
        } else {
            keepAlive = progress.connectionKeepAlive && !progress.connectionClose
        }
        let request = HTTPRequest(
            method: line.method, target: line.target, path: line.path, query: line.query,
            version: line.version, headers: HTTPHeaders(validated: progress.fields),
            body: [], keepAlive: keepAlive)

        if contentLength == 0 {
            compactIfDrained()
            return .request(request)
        }
        pending = request
        bodyLength = contentLength
        phase = .body
        if progress.expectContinue && line.version == .http1_1 && buffer.count == readIndex {
            return .continueExpected
        }
        return parseBody()
    }

    // MARK: - Body

    private mutating func parseBody() -> Event? {
        guard buffer.count - readIndex >= bodyLength, var request = pending else { return nil }
        request.body = Array(buffer[readIndex..<(readIndex + bodyLength)])
        readIndex += bodyLength
        pending = nil
        bodyLength = 0
        phase = .head
        compactIfDrained()
        return .request(request)
    }

    // MARK: - Buffer and failure

    private mutating func fail(_ error: HTTPParseError) -> Event {
        phase = .failed
        failure = error
        pending = nil
        head = HeadProgress()
        buffer = []
        readIndex = 0
        return .error(error)
    }

    private mutating func compactIfDrained() {
        if readIndex == buffer.count {
            buffer.removeAll(keepingCapacity: buffer.capacity <= Self.retainedCapacity)
            readIndex = 0
        }
    }

    /// Buffer capacity kept across requests; a larger buffer (after a big body) is released.
    private static let retainedCapacity = 64 * 1024

    private mutating func compact() {
        if readIndex == buffer.count {
            compactIfDrained()
        } else if readIndex > 0 && (readIndex >= 4096 || readIndex * 2 >= buffer.count) {
            buffer.removeSubrange(0..<readIndex)
            readIndex = 0
        }
    }

    // MARK: - Line parsing (pure)

    static func parseRequestLine(_ line: UnsafeBufferPointer<UInt8>) throws(HTTPParseError) -> RequestLine {
        for byte in line where byte < 0x20 || byte > 0x7E {
            throw HTTPParseError.invalidRequestLine("contains a byte outside visible ASCII (0x\(String(byte, radix: 16)))")
        }
        guard let firstSpace = line.firstIndex(of: 0x20),
              let secondSpace = line[(firstSpace + 1)...].firstIndex(of: 0x20),
              !line[(secondSpace + 1)...].contains(0x20),
              firstSpace > 0, secondSpace > firstSpace + 1, secondSpace + 1 < line.count else {
            throw HTTPParseError.invalidRequestLine("expected method, target and version separated by single spaces")
        }
        let method = line[0..<firstSpace]
        let target = line[(firstSpace + 1)..<secondSpace]
        let version = line[(secondSpace + 1)...]

        guard method.allSatisfy(isTokenByte) else { throw HTTPParseError.invalidMethod }

        let parsedVersion: HTTPVersion
        guard version.count == 8,
              version.starts(with: "HTTP/".utf8),
              let major = digitValue(version[version.startIndex + 5]),
              version[version.startIndex + 6] == UInt8(ascii: "."),
              let minor = digitValue(version[version.startIndex + 7]) else {
            throw HTTPParseError.invalidVersion
        }
        parsedVersion = HTTPVersion(major: major, minor: minor)
        guard parsedVersion == .http1_1 || parsedVersion == .http1_0 else {
            throw HTTPParseError.versionNotSupported(String(decoding: version, as: UTF8.self))
        }

        let targetString = String(decoding: target, as: UTF8.self)
        if target.count == 1 && target.first == UInt8(ascii: "*") {
            return (RequestLine(method: String(decoding: method, as: UTF8.self), target: targetString,
                                        path: targetString, query: [:], version: parsedVersion))
        }
        guard target.first == UInt8(ascii: "/") else {
            throw HTTPParseError.invalidTarget("must start with / (origin form)")
        }
        guard !target.contains(UInt8(ascii: "#")) else {
            throw HTTPParseError.invalidTarget("must not contain a fragment (#)")
        }
        var path = targetString
        var query: [String: String] = [:]
        if let questionMark = target.firstIndex(of: UInt8(ascii: "?")) {
            path = String(decoding: target[target.startIndex..<questionMark], as: UTF8.self)
            guard let parsed = PercentDecoding.parseQuery(Array(target[(questionMark + 1)...])) else {
                throw HTTPParseError.invalidTarget("query is not correctly percent-encoded UTF-8")
            }
            query = parsed
        }
        return (RequestLine(method: String(decoding: method, as: UTF8.self), target: targetString,
                                    path: path, query: query, version: parsedVersion))
    }

    /// The header fields whose meaning the parser needs, recognised from the raw bytes so the
    /// common case costs no string comparisons.
    enum FieldKind: Sendable, Equatable {
        case other
        case contentLength
        case transferEncoding
        case host
        case expect(isContinue: Bool)
        case connection(close: Bool, keepAlive: Bool)
    }

    struct ParsedField: Sendable {
        var name: String
        var value: String
        var kind: FieldKind
    }

    static func parseHeaderLine(_ line: UnsafeBufferPointer<UInt8>) throws(HTTPParseError) -> ParsedField {
        guard let first = line.first else { throw HTTPParseError.invalidHeaderName }
        if first == 0x20 || first == 0x09 {
            throw HTTPParseError.obsoleteLineFolding
        }
        guard let colon = line.firstIndex(of: UInt8(ascii: ":")), colon > 0 else {
            throw HTTPParseError.invalidHeaderName
        }
        let nameBytes = UnsafeBufferPointer(rebasing: line[0..<colon])
        if let last = nameBytes.last, last == 0x20 || last == 0x09 {
            throw HTTPParseError.whitespaceBeforeColon
        }
        guard nameBytes.allSatisfy(isTokenByte) else { throw HTTPParseError.invalidHeaderName }
        let name = String(decoding: nameBytes, as: UTF8.self)

        let valueBytes = trimmed(line[(colon + 1)...])
        for byte in valueBytes where (byte < 0x20 && byte != 0x09) || byte == 0x7F {
            throw HTTPParseError.invalidHeaderValue(name: name)
        }
        let kind = classify(name: nameBytes, value: valueBytes)
        return (ParsedField(name: name, value: String(decoding: valueBytes, as: UTF8.self), kind: kind))
    }

    private static func classify(name: UnsafeBufferPointer<UInt8>, value: Slice<UnsafeBufferPointer<UInt8>>) -> FieldKind {
        switch name.count {
        case 4 where bytesEqualIgnoringCase(name, "host"):
            return .host
        case 6 where bytesEqualIgnoringCase(name, "expect"):
            return .expect(isContinue: bytesEqualIgnoringCase(value, "100-continue"))
        case 10 where bytesEqualIgnoringCase(name, "connection"):
            var close = false, keepAlive = false
            for token in value.split(separator: UInt8(ascii: ","), omittingEmptySubsequences: true) {
                let trimmedToken = trimmed(token)
                if bytesEqualIgnoringCase(trimmedToken, "close") {
                    close = true
                } else if bytesEqualIgnoringCase(trimmedToken, "keep-alive") {
                    keepAlive = true
                }
            }
            return .connection(close: close, keepAlive: keepAlive)
        case 14 where bytesEqualIgnoringCase(name, "content-length"):
            return .contentLength
        case 17 where bytesEqualIgnoringCase(name, "transfer-encoding"):
            return .transferEncoding
        default:
            return .other
        }
    }

    /// Digits only, no sign or spaces, and it must fit in an `Int`.
    static func parseContentLength(_ value: String) -> Int? {
        guard !value.isEmpty else { return nil }
        var result = 0
        for byte in value.utf8 {
            guard let digit = digitValue(byte) else { return nil }
            let (shifted, overflow1) = result.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = shifted.addingReportingOverflow(digit)
            guard !overflow1, !overflow2 else { return nil }
            result = sum
        }
        return result
    }

    @inline(__always)
    static func digitValue(_ byte: UInt8) -> Int? {
        (0x30...0x39).contains(byte) ? Int(byte - 0x30) : nil
    }

    /// `tchar` of RFC 9110 §5.6.2.
    @inline(__always)
    static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"),
             UInt8(ascii: "'"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."),
             UInt8(ascii: "^"), UInt8(ascii: "_"), UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
            return true
        default:
            return false
        }
    }

    /// Strips optional whitespace (SP and HTAB) from both ends.
    static func trimmed<C: BidirectionalCollection>(_ bytes: C) -> C.SubSequence where C.Element == UInt8 {
        let isOWS: (UInt8) -> Bool = { $0 == 0x20 || $0 == 0x09 }
        guard let start = bytes.firstIndex(where: { !isOWS($0) }),
              let last = bytes.lastIndex(where: { !isOWS($0) }) else {
            return bytes[bytes.endIndex...]
        }
        return bytes[start...last]
    }

    static func bytesEqualIgnoringCase<C: Collection>(_ bytes: C, _ lowercase: StaticString) -> Bool where C.Element == UInt8 {
        let expected = UnsafeBufferPointer(start: lowercase.utf8Start, count: lowercase.utf8CodeUnitCount)
        guard bytes.count == expected.count else { return false }
        return zip(bytes, expected).allSatisfy { HTTPHeaders.asciiLower($0) == $1 }
    }
}

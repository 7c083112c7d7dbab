import HTTPServer

/// Drives `HTTPParser` the way a connection does: bytes arrive in chunks whose sizes come from
/// the input's first byte, `next()` is called until it needs more, and small limits make the
/// 413/431 paths reachable with short inputs.
enum HTTPParserFuzz {
    static let limits = HTTPLimits(maxHeaderBytes: 2048, maxHeaderCount: 16, maxBodyBytes: 4096)

    static func run(_ input: [UInt8]) {
        guard let first = input.first else { return }
        let bytes = input.dropFirst()
        let chunk = Int(first % 64) + 1
        var parser = HTTPParser(limits: limits)
        var offset = bytes.startIndex
        var requests = 0
        while offset < bytes.endIndex {
            let end = min(offset + chunk, bytes.endIndex)
            parser.append(Array(bytes[offset..<end]))
            offset = end
            while let event = parser.next() {
                switch event {
                case .request(let request):
                    check(request)
                    requests += 1
                case .continueExpected:
                    continue
                case .error(let error):
                    checkFailed(&parser, error)
                    return
                }
            }
        }
        precondition(requests <= bytes.count, "more requests than bytes")
    }

    /// What a parsed request promises its handler.
    static func check(_ request: HTTPRequest) {
        precondition(request.body.count <= limits.maxBodyBytes, "body over the limit")
        precondition(request.headers.count <= limits.maxHeaderCount, "more headers than the limit")
        precondition(!request.method.isEmpty && !request.target.isEmpty, "empty method or target")
        precondition(request.target.hasPrefix(request.path), "path is not a prefix of the target")
        if let length = request.headers["Content-Length"] {
            precondition(Int(length) == request.body.count, "body length differs from Content-Length")
        } else {
            precondition(request.body.isEmpty, "a body without Content-Length")
        }
        for (name, value) in request.headers {
            precondition(!name.utf8.contains(where: { $0 < 0x21 || $0 == 0x7F || $0 == UInt8(ascii: ":") }), "bad byte in a header name")
            precondition(!value.utf8.contains(where: { ($0 < 0x20 && $0 != 0x09) || $0 == 0x7F }), "control byte in a header value")
        }
    }

    /// A failed parser stays failed with the same error and ignores further bytes.
    static func checkFailed(_ parser: inout HTTPParser, _ error: HTTPParseError) {
        precondition([400, 411, 413, 417, 431, 505].contains(error.status.code), "unexpected status \(error.status.code)")
        parser.append(Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
        precondition(parser.next() == .error(error), "a failed parser recovered")
        precondition(parser.bufferedByteCount == 0 && !parser.isMidRequest, "a failed parser buffers bytes")
    }
}

import Testing
@testable import HTTPServer

/// Each limit exactly at its value and one over.
@Suite struct HTTPParserLimitTests {
    /// A complete header section of exactly `total` bytes (request line to final CRLF).
    static func head(total: Int, extraHeaders: String = "") -> String {
        let skeleton = "GET / HTTP/1.1\r\nHost: h\r\n\(extraHeaders)X-Pad: \r\n\r\n"
        precondition(total >= skeleton.utf8.count)
        return "GET / HTTP/1.1\r\nHost: h\r\n\(extraHeaders)X-Pad: "
            + String(repeating: "a", count: total - skeleton.utf8.count) + "\r\n\r\n"
    }

    @Test func defaultsAreTheDocumentedValues() {
        let limits = HTTPLimits.default
        #expect(limits.maxHeaderBytes == 16_384)
        #expect(limits.maxHeaderCount == 100)
        #expect(limits.maxBodyBytes == 10_485_760)
        #expect(limits.headerTimeout == .seconds(10))
        #expect(limits.idleTimeout == .seconds(60))
        #expect(limits.bodyTimeout == .seconds(30))
        #expect(HTTPParser().limits == limits)
    }

    @Test(arguments: [Feed.whole, .byteAtATime])
    func headerSectionExactlyAtDefaultLimitIsAccepted(feed: Feed) throws {
        let input = Self.head(total: HTTPLimits.defaultMaxHeaderBytes)
        #expect(input.utf8.count == 16_384)
        let events = parseEvents(input, feed: feed)
        #expect(events.count == 1)
        let request = try #require(requests(events).first)
        #expect(request.headers["x-pad"]?.count == 16_384 - 36)
    }

    @Test(arguments: [Feed.whole, .byteAtATime])
    func headerSectionOneByteOverDefaultLimitIs431(feed: Feed) {
        let events = parseEvents(Self.head(total: HTTPLimits.defaultMaxHeaderBytes + 1), feed: feed)
        #expect(events == [.error(.headerTooLarge(limit: 16_384))])
        #expect(parseError(events)?.status.code == 431)
        #expect(parseError(events)?.message == "header section exceeds 16384 bytes")
    }

    @Test func unfinishedHeaderSectionIsRefusedAsSoonAsItExceedsTheLimit() {
        let limits = HTTPLimits(maxHeaderBytes: 64)
        var parser = HTTPParser(limits: limits)
        let unfinished = [UInt8]("GET / HTTP/1.1\r\nHost: h\r\nX-Pad: " + String(repeating: "a", count: 200))
        parser.append(Array(unfinished.prefix(64)))
        #expect(parser.next() == nil)
        #expect(parser.isMidRequest)
        parser.append([unfinished[64]])
        #expect(parser.next() == .error(.headerTooLarge(limit: 64)))

        // A request line alone that never ends is caught the same way.
        var lineParser = HTTPParser(limits: limits)
        lineParser.append([UInt8]("GET /" + String(repeating: "x", count: 60)))
        #expect(lineParser.next() == .error(.headerTooLarge(limit: 64)))
    }

    @Test func bodyAfterAHeadAtTheLimitDoesNotCountAgainstIt() throws {
        let limits = HTTPLimits(maxHeaderBytes: 80)
        let head = Self.head(total: 80, extraHeaders: "Content-Length: 10\r\n")
        #expect(head.utf8.count == 80)
        let events = parseEvents(head + "0123456789" + "GET /next HTTP/1.1\r\nHost: h\r\n\r\n", limits: limits)
        #expect(requests(events).map(\.body.count) == [10, 0])
    }

    static func withHeaders(_ count: Int) -> String {
        var input = "GET / HTTP/1.1\r\nHost: h\r\n"
        for index in 1..<count { input += "X-\(index): v\r\n" }
        return input + "\r\n"
    }

    @Test(arguments: [Feed.whole, .byteAtATime])
    func headerCountAtLimitIsAccepted(feed: Feed) throws {
        let events = parseEvents(Self.withHeaders(100), feed: feed)
        let request = try #require(requests(events).first)
        #expect(request.headers.count == 100)
    }

    @Test(arguments: [Feed.whole, .byteAtATime])
    func headerCountOneOverLimitIs431(feed: Feed) {
        let events = parseEvents(Self.withHeaders(101), feed: feed)
        #expect(events == [.error(.tooManyHeaders(limit: 100))])
        #expect(parseError(events)?.status == .requestHeaderFieldsTooLarge)
        #expect(parseError(events)?.code == "too_many_headers")
    }

    @Test func customHeaderCountLimit() {
        let limits = HTTPLimits(maxHeaderCount: 3)
        #expect(requests(parseEvents(Self.withHeaders(3), limits: limits)).count == 1)
        #expect(parseError(parseEvents(Self.withHeaders(4), limits: limits))?.code == "too_many_headers")
    }

    @Test func bodyExactlyAtDefaultLimitIsAccepted() throws {
        let size = HTTPLimits.defaultMaxBodyBytes
        var input = [UInt8]("PUT / HTTP/1.1\r\nHost: h\r\nContent-Length: \(size)\r\n\r\n")
        var body = [UInt8](repeating: 0x61, count: size)
        body[size - 1] = 0x7A
        input += body
        let events = parseEvents(input, feed: .chunks(64 * 1024))
        #expect(events.count == 1)
        let request = try #require(requests(events).first)
        #expect(request.body.count == size)
        #expect(request.body.last == 0x7A)
    }

    @Test func bodyOneByteOverDefaultLimitIs413() {
        let size = HTTPLimits.defaultMaxBodyBytes + 1
        let events = parseEvents("PUT / HTTP/1.1\r\nHost: h\r\nContent-Length: \(size)\r\n\r\n")
        #expect(events == [.error(.bodyTooLarge(length: size, limit: HTTPLimits.defaultMaxBodyBytes))])
        #expect(parseError(events)?.status.code == 413)
    }

    @Test(arguments: [Feed.whole, .byteAtATime])
    func smallBodyLimitAtAndOver(feed: Feed) {
        let limits = HTTPLimits(maxBodyBytes: 64)
        let body = String(repeating: "b", count: 64)
        let atLimit = parseEvents("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 64\r\n\r\n" + body, limits: limits, feed: feed)
        #expect(requests(atLimit).first?.body.count == 64)
        let over = parseEvents("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 65\r\n\r\n" + body + "b", limits: limits, feed: feed)
        #expect(parseError(over)?.code == "body_too_large")
        #expect(requests(over).isEmpty)
    }

    @Test func leadingEmptyLinesAtAndOverDefaultLimit() {
        let request = "GET / HTTP/1.1\r\nHost: h\r\n\r\n"
        let atLimit = parseEvents(String(repeating: "\r\n", count: HTTPLimits.defaultMaxLeadingEmptyLines) + request)
        #expect(requests(atLimit).count == 1)
        let over = parseEvents(String(repeating: "\r\n", count: HTTPLimits.defaultMaxLeadingEmptyLines + 1) + request)
        #expect(parseError(over)?.status == .badRequest)
        #expect(parseError(over)?.code == "too_many_empty_lines")
    }

    /// Regression: each `next()` rescanned the current line from its start, so a long line sent
    /// one byte at a time cost quadratic time (about 3·10¹⁰ byte comparisons here).
    @Test func longLineFedByteAtATimeIsLinear() throws {
        let limits = HTTPLimits(maxHeaderBytes: 256 * 1024)
        let input = Self.head(total: 256 * 1024)
        let clock = ContinuousClock()
        var events: [HTTPParser.Event] = []
        let elapsed = clock.measure { events = parseEvents(input, limits: limits, feed: .byteAtATime) }
        #expect(requests(events).count == 1)
        #expect(elapsed < .seconds(10), "took \(elapsed)")
    }
}

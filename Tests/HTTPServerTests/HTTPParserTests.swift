import Testing
@testable import HTTPServer

@Suite struct HTTPParserTests {
    @Test func parsesSimpleGETWithQueryAndHeaders() throws {
        let events = parseEvents("GET /v1/requests?after=abc%20d&wait=5&x=1&x=2&name=a+b&flag&&e=%C3%A9 HTTP/1.1\r\nHost: broker.test\r\nX-Trace:  \tvalue with  spaces\t \r\nx-trace: second\r\n\r\n")
        #expect(events.count == 1)
        let request = try #require(requests(events).first)
        #expect(request.method == "GET")
        #expect(request.target == "/v1/requests?after=abc%20d&wait=5&x=1&x=2&name=a+b&flag&&e=%C3%A9")
        #expect(request.path == "/v1/requests")
        #expect(request.query == ["after": "abc d", "wait": "5", "x": "2", "name": "a b", "flag": "", "e": "é"])
        #expect(request.version == .http1_1)
        #expect(request.headers["host"] == "broker.test")
        #expect(request.headers["X-TRACE"] == "value with  spaces")
        #expect(request.headers.values(for: "x-trace") == ["value with  spaces", "second"])
        #expect(Array(request.headers).map(\.name) == ["Host", "X-Trace", "x-trace"])
        #expect(request.body.isEmpty)
        #expect(request.keepAlive)
    }

    @Test func pathIsNotPercentDecoded() throws {
        let request = try #require(requests(parseEvents("GET /v1/a%2Fb/c HTTP/1.1\r\nHost: h\r\n\r\n")).first)
        #expect(request.path == "/v1/a%2Fb/c")
        #expect(request.query.isEmpty)
    }

    @Test func asteriskTargetIsAccepted() throws {
        let request = try #require(requests(parseEvents("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n")).first)
        #expect(request.target == "*")
        #expect(request.path == "*")
    }

    @Test func headerValueMayContainTabAndObsText() throws {
        let input = [UInt8]("GET / HTTP/1.1\r\nHost: h\r\nX: a\tb ") + [0xC3, 0xA9] + [UInt8]("\r\n\r\n")
        let request = try #require(requests(parseEvents(input)).first)
        #expect(request.headers["x"] == "a\tb é")
    }

    @Test func emptyHeaderValueIsAllowed() throws {
        let request = try #require(requests(parseEvents("GET / HTTP/1.1\r\nHost: h\r\nX-Empty:\r\n\r\n")).first)
        #expect(request.headers["x-empty"] == "")
    }

    @Test func bodyIsReadByContentLength() throws {
        let events = parseEvents("POST /v1/cases HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\n{\"a\":\"b\"}\r\nGET")
        let request = try #require(requests(events).first)
        #expect(events.count == 1)
        #expect(request.body == [UInt8]("{\"a\":\"b\"}\r\n"))
        #expect(request.headers["content-length"] == "11")
    }

    @Test func contentLengthZeroAndLeadingZerosAreAccepted() throws {
        let zero = try #require(requests(parseEvents("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n")).first)
        #expect(zero.body.isEmpty)
        let padded = try #require(requests(parseEvents("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 003\r\n\r\nabc")).first)
        #expect(padded.body == [UInt8]("abc"))
    }

    static let pipeline = "GET /one HTTP/1.1\r\nHost: h\r\n\r\n"
        + "POST /two HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello"
        + "GET /three?x=1 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"

    @Test(arguments: [Feed.whole, .byteAtATime, .chunks(2), .chunks(7), .chunks(50)])
    func pipelinedRequestsComeOutInOrder(feed: Feed) throws {
        let events = parseEvents(Self.pipeline, feed: feed)
        let parsed = requests(events)
        #expect(events.count == 3)
        #expect(parsed.map(\.path) == ["/one", "/two", "/three"])
        #expect(parsed.map(\.body) == [[], [UInt8]("hello"), []])
        #expect(parsed.map(\.keepAlive) == [true, true, false])
        #expect(parsed[2].query == ["x": "1"])
        #expect(events == parseEvents(Self.pipeline, feed: .whole))
    }

    @Test func pipelinedBytesStayBufferedUntilNextCall() throws {
        var parser = HTTPParser()
        parser.append([UInt8](Self.pipeline))
        guard case .request(let first) = parser.next() else { Issue.record("expected a request"); return }
        #expect(first.path == "/one")
        #expect(parser.bufferedByteCount == Self.pipeline.utf8.count - 30)
        #expect(parser.isMidRequest)
        guard case .request(let second) = parser.next() else { Issue.record("expected a request"); return }
        #expect(second.path == "/two")
        guard case .request(let third) = parser.next() else { Issue.record("expected a request"); return }
        #expect(third.path == "/three")
        #expect(parser.next() == nil)
        #expect(parser.bufferedByteCount == 0)
        #expect(!parser.isMidRequest)
    }

    struct KeepAliveCase: Sendable, CustomTestStringConvertible {
        var version: String
        var connection: String?
        var expected: Bool
        var testDescription: String { "\(version) Connection: \(connection ?? "-") → \(expected)" }
    }

    @Test(arguments: [
        KeepAliveCase(version: "HTTP/1.1", connection: nil, expected: true),
        KeepAliveCase(version: "HTTP/1.1", connection: "close", expected: false),
        KeepAliveCase(version: "HTTP/1.1", connection: "Close", expected: false),
        KeepAliveCase(version: "HTTP/1.1", connection: "keep-alive", expected: true),
        KeepAliveCase(version: "HTTP/1.1", connection: "upgrade, close", expected: false),
        KeepAliveCase(version: "HTTP/1.0", connection: nil, expected: false),
        KeepAliveCase(version: "HTTP/1.0", connection: "keep-alive", expected: true),
        KeepAliveCase(version: "HTTP/1.0", connection: "Keep-Alive", expected: true),
        KeepAliveCase(version: "HTTP/1.0", connection: "keep-alive, close", expected: false),
        KeepAliveCase(version: "HTTP/1.0", connection: "close", expected: false),
    ])
    func keepAliveFollowsVersionAndConnectionHeader(_ testCase: KeepAliveCase) throws {
        var input = "GET / \(testCase.version)\r\nHost: h\r\n"
        if let connection = testCase.connection { input += "Connection: \(connection)\r\n" }
        input += "\r\n"
        let request = try #require(requests(parseEvents(input)).first)
        #expect(request.keepAlive == testCase.expected)
        #expect(request.version == (testCase.version == "HTTP/1.0" ? .http1_0 : .http1_1))
    }

    @Test func keepAliveCombinesRepeatedConnectionHeaders() throws {
        let request = try #require(requests(parseEvents("GET / HTTP/1.1\r\nHost: h\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n")).first)
        #expect(!request.keepAlive)
    }

    @Test func http10WithoutHostIsAccepted() throws {
        let request = try #require(requests(parseEvents("GET / HTTP/1.0\r\n\r\n")).first)
        #expect(request.version == .http1_0)
        #expect(!request.keepAlive)
    }

    // MARK: Expect: 100-continue

    @Test func continueExpectedIsEmittedOnceBeforeTheBody() throws {
        var parser = HTTPParser()
        parser.append([UInt8]("PUT /v1/requests/r1/return HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\nContent-Length: 4\r\n\r\n"))
        #expect(parser.next() == .continueExpected)
        #expect(parser.next() == nil)
        #expect(parser.isReadingBody)
        #expect(parser.isMidRequest)
        parser.append([UInt8]("ab"))
        #expect(parser.next() == nil)
        parser.append([UInt8]("cd"))
        guard case .request(let request) = parser.next() else { Issue.record("expected a request"); return }
        #expect(request.body == [UInt8]("abcd"))
        #expect(!parser.isReadingBody)
        #expect(!parser.isMidRequest)
        #expect(parser.next() == nil)
    }

    @Test func continueExpectedIsNotEmittedWhenBodyAlreadyArrived() {
        let events = parseEvents("POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nok")
        #expect(events.count == 1)
        #expect(requests(events).first?.body == [UInt8]("ok"))
    }

    @Test func continueExpectedIsNotEmittedWithoutBodyOrForHTTP10() {
        let noBody = parseEvents("POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 0\r\n\r\n")
        #expect(noBody.count == 1 && requests(noBody).count == 1)
        let http10 = parseEvents("POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n")
        #expect(http10.isEmpty)
    }

    @Test func oversizedBodyWithExpectAnswers413InsteadOfContinue() {
        let limits = HTTPLimits(maxBodyBytes: 10)
        let events = parseEvents("POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 11\r\n\r\n", limits: limits)
        #expect(events == [.error(.bodyTooLarge(length: 11, limit: 10))])
        #expect(parseError(events)?.status == .contentTooLarge)
    }

    // MARK: Failure is sticky

    @Test func errorIsStickyAndLaterBytesAreIgnored() {
        var parser = HTTPParser()
        parser.append([UInt8]("GET / HTTP/1.1\r\nHost: h\r\nBad Header: x\r\n\r\n"))
        let first = parser.next()
        guard case .error(let error) = first else { Issue.record("expected an error, got \(String(describing: first))"); return }
        #expect(error.code == HTTPParseError.Code.invalidHeaderName)
        parser.append([UInt8]("GET / HTTP/1.1\r\nHost: h\r\n\r\n"))
        #expect(parser.next() == first)
        #expect(parser.next() == first)
        #expect(parser.bufferedByteCount == 0)
        #expect(!parser.isMidRequest)
    }

    @Test func midRequestTracksPartialHead() {
        var parser = HTTPParser()
        #expect(!parser.isMidRequest)
        parser.append([UInt8]("GE"))
        #expect(parser.next() == nil)
        #expect(parser.isMidRequest)
        #expect(!parser.isReadingBody)
        #expect(parser.bufferedByteCount == 2)
        parser.append([UInt8]("T / HTTP/1.1\r\nHost: h\r\n\r\n"))
        #expect(requests([parser.next()!]).count == 1)
        #expect(!parser.isMidRequest)
        #expect(parser.bufferedByteCount == 0)
    }

    @Test func chunkedBodyIsRefusedAndNeverParsedAsRequests() {
        let input = "POST /v1/cases HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
            + "2d\r\nGET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n\r\n0\r\n\r\n"
        for feed in [Feed.whole, .byteAtATime] {
            let events = parseEvents(input, feed: feed)
            #expect(events == [.error(.lengthRequired)])
            #expect(parseError(events)?.status.code == 411)
            #expect(parseError(events)?.code == "length_required")
        }
    }

    @Test func leadingEmptyLinesAreSkippedUpToTheLimit() throws {
        let limits = HTTPLimits(maxLeadingEmptyLines: 3)
        let atLimit = parseEvents(String(repeating: "\r\n", count: 3) + "GET / HTTP/1.1\r\nHost: h\r\n\r\n", limits: limits)
        #expect(requests(atLimit).first?.path == "/")
        let overLimit = parseEvents(String(repeating: "\r\n", count: 4) + "GET / HTTP/1.1\r\nHost: h\r\n\r\n", limits: limits)
        #expect(parseError(overLimit)?.code == HTTPParseError.Code.tooManyEmptyLines)
        #expect(parseError(overLimit)?.status == .badRequest)
        // The count restarts for each request on a connection.
        let pipelined = parseEvents("GET /a HTTP/1.1\r\nHost: h\r\n\r\n\r\n\r\n\r\nGET /b HTTP/1.1\r\nHost: h\r\n\r\n", limits: limits)
        #expect(requests(pipelined).map(\.path) == ["/a", "/b"])
    }

    @Test func requestInitialiserDerivesPathAndQuery() {
        let request = HTTPRequest(method: "GET", target: "/v1/requests?after=a%2Bb&wait=5")
        #expect(request.path == "/v1/requests")
        #expect(request.query == ["after": "a+b", "wait": "5"])
        #expect(request.keepAlive && request.version == .http1_1 && request.body.isEmpty)
        let plain = HTTPRequest(method: "HEAD", target: "/v1/health")
        #expect(plain.path == "/v1/health" && plain.query.isEmpty && plain.isHEAD)
    }

    @Test func parsedRequestEqualsTheHandBuiltOne() throws {
        let parsed = try #require(requests(parseEvents("PUT /v1/x?a=1 HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nhi")).first)
        let built = HTTPRequest(method: "PUT", target: "/v1/x?a=1",
                                headers: ["Host": "h", "Content-Length": "2"], body: [UInt8]("hi"))
        #expect(parsed == built)
    }

    @Test func errorMessagesNameTheProblem() {
        #expect(HTTPParseError.headerTooLarge(limit: 16384).message == "header section exceeds 16384 bytes")
        #expect(HTTPParseError.duplicateContentLength.message == "duplicate Content-Length header")
        #expect(HTTPParseError.bodyTooLarge(length: 11, limit: 10).message == "request body of 11 bytes exceeds the limit of 10 bytes")
        #expect(HTTPParseError.invalidHeaderValue(name: "X-Thing").message.contains("X-Thing"))
    }
}

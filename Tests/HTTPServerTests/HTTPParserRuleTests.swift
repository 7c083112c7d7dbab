import Testing
@testable import HTTPServer

/// One malformed input and the error the parser must answer.
struct RejectCase: Sendable, CustomTestStringConvertible {
    var name: String
    var input: [UInt8]
    var status: Int
    var code: String

    init(_ name: String, _ input: String, _ status: Int, _ code: String) {
        self.init(name, [UInt8](input), status, code)
    }

    init(_ name: String, _ input: [UInt8], _ status: Int, _ code: String) {
        self.name = name
        self.input = input
        self.status = status
        self.code = code
    }

    var testDescription: String { name }
}

private typealias C = HTTPParseError.Code
private let ok = "GET / HTTP/1.1\r\nHost: h\r\n"

@Suite struct HTTPParserRuleTests {
    static let cases: [RejectCase] = [
        // Framing
        RejectCase("Transfer-Encoding without Content-Length", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n", 411, C.lengthRequired),
        RejectCase("Transfer-Encoding identity", "POST / HTTP/1.1\r\nHost: h\r\ntransfer-encoding: identity\r\n\r\n", 411, C.lengthRequired),
        RejectCase("Content-Length and Transfer-Encoding", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\nhello", 400, C.conflictingFraming),
        RejectCase("Transfer-Encoding then Content-Length", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\nhello", 400, C.conflictingFraming),
        RejectCase("duplicate equal Content-Length", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello", 400, C.duplicateContentLength),
        RejectCase("duplicate different Content-Length", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\ncontent-length: 6\r\n\r\nhello!", 400, C.duplicateContentLength),
        RejectCase("Content-Length list", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 5\r\n\r\nhello", 400, C.invalidContentLength),
        RejectCase("Content-Length letters", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: abc\r\n\r\n", 400, C.invalidContentLength),
        RejectCase("Content-Length negative", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n", 400, C.invalidContentLength),
        RejectCase("Content-Length plus sign", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +5\r\n\r\nhello", 400, C.invalidContentLength),
        RejectCase("Content-Length hex", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0x5\r\n\r\nhello", 400, C.invalidContentLength),
        RejectCase("Content-Length inner space", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1 2\r\n\r\n", 400, C.invalidContentLength),
        RejectCase("Content-Length empty", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length:\r\n\r\n", 400, C.invalidContentLength),
        RejectCase("Content-Length overflow", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999\r\n\r\n", 400, C.invalidContentLength),
        RejectCase("Content-Length just over Int.max", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 9223372036854775808\r\n\r\n", 400, C.invalidContentLength),
        RejectCase("Content-Length Int.max is too large, not invalid", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 9223372036854775807\r\n\r\n", 413, C.bodyTooLarge),
        RejectCase("body over limit", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10485761\r\n\r\n", 413, C.bodyTooLarge),

        // Line endings and folding
        RejectCase("bare LF after request line", "GET / HTTP/1.1\nHost: h\r\n\r\n", 400, C.bareLineFeed),
        RejectCase("bare LF after header", "GET / HTTP/1.1\r\nHost: h\n\r\n", 400, C.bareLineFeed),
        RejectCase("bare LF ending the head", "GET / HTTP/1.1\r\nHost: h\r\n\n", 400, C.bareLineFeed),
        RejectCase("bare LF only", "GET / HTTP/1.1\nHost: h\n\n", 400, C.bareLineFeed),
        RejectCase("bare LF as leading empty line", "\nGET / HTTP/1.1\r\nHost: h\r\n\r\n", 400, C.bareLineFeed),
        RejectCase("obs-fold with space", ok + "X-Long: part one\r\n part two\r\n\r\n", 400, C.obsoleteLineFolding),
        RejectCase("obs-fold with tab", ok + "X-Long: part one\r\n\tpart two\r\n\r\n", 400, C.obsoleteLineFolding),
        RejectCase("whitespace before first header", "GET / HTTP/1.1\r\n Host: h\r\n\r\n", 400, C.obsoleteLineFolding),

        // Request line
        RejectCase("tab in request line", "GET /a\tb HTTP/1.1\r\nHost: h\r\n\r\n", 400, C.invalidRequestLine),
        RejectCase("UTF-8 in target", [UInt8]("GET /caf") + [0xC3, 0xA9] + [UInt8](" HTTP/1.1\r\nHost: h\r\n\r\n"), 400, C.invalidRequestLine),
        RejectCase("NUL in target", "GET /a\u{0}b HTTP/1.1\r\nHost: h\r\n\r\n", 400, C.invalidRequestLine),
        RejectCase("DEL in target", "GET /a\u{7F} HTTP/1.1\r\nHost: h\r\n\r\n", 400, C.invalidRequestLine),
        RejectCase("bare CR in request line", "GET /\rx HTTP/1.1\r\nHost: h\r\n\r\n", 400, C.invalidRequestLine),
        RejectCase("double space", "GET  / HTTP/1.1\r\nHost: h\r\n\r\n", 400, C.invalidRequestLine),
        RejectCase("trailing space", "GET / HTTP/1.1 \r\nHost: h\r\n\r\n", 400, C.invalidRequestLine),
        RejectCase("leading space", " GET / HTTP/1.1\r\nHost: h\r\n\r\n", 400, C.invalidRequestLine),
        RejectCase("missing version", "GET /\r\nHost: h\r\n\r\n", 400, C.invalidRequestLine),
        RejectCase("method only", "GET\r\n\r\n", 400, C.invalidRequestLine),
        RejectCase("four parts", "GET / x HTTP/1.1\r\nHost: h\r\n\r\n", 400, C.invalidRequestLine),
        RejectCase("method with parenthesis", "G(T / HTTP/1.1\r\nHost: h\r\n\r\n", 400, C.invalidMethod),
        RejectCase("method with quote", "GE\"T / HTTP/1.1\r\nHost: h\r\n\r\n", 400, C.invalidMethod),
        RejectCase("method with slash", "GET/ / HTTP/1.1\r\nHost: h\r\n\r\n", 400, C.invalidMethod),
        RejectCase("absolute-form target", "GET http://example.com/ HTTP/1.1\r\nHost: h\r\n\r\n", 400, C.invalidTarget),
        RejectCase("authority-form target", "CONNECT example.com:443 HTTP/1.1\r\nHost: h\r\n\r\n", 400, C.invalidTarget),
        RejectCase("relative target", "GET v1/whoami HTTP/1.1\r\nHost: h\r\n\r\n", 400, C.invalidTarget),
        RejectCase("fragment in target", "GET /a#b HTTP/1.1\r\nHost: h\r\n\r\n", 400, C.invalidTarget),
        RejectCase("bad percent escape in query", "GET /a?x=%zz HTTP/1.1\r\nHost: h\r\n\r\n", 400, C.invalidTarget),
        RejectCase("truncated percent escape in query", "GET /a?x=%4 HTTP/1.1\r\nHost: h\r\n\r\n", 400, C.invalidTarget),
        RejectCase("invalid UTF-8 in query", "GET /a?x=%C3%28 HTTP/1.1\r\nHost: h\r\n\r\n", 400, C.invalidTarget),

        // Version
        RejectCase("HTTP/2.0", "GET / HTTP/2.0\r\nHost: h\r\n\r\n", 505, C.versionNotSupported),
        RejectCase("HTTP/1.2", "GET / HTTP/1.2\r\nHost: h\r\n\r\n", 505, C.versionNotSupported),
        RejectCase("HTTP/0.9", "GET / HTTP/0.9\r\nHost: h\r\n\r\n", 505, C.versionNotSupported),
        RejectCase("HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505, C.versionNotSupported),
        RejectCase("lower-case version", "GET / http/1.1\r\nHost: h\r\n\r\n", 400, C.invalidVersion),
        RejectCase("version without minor", "GET / HTTP/1\r\nHost: h\r\n\r\n", 400, C.invalidVersion),
        RejectCase("version with two digits", "GET / HTTP/11\r\nHost: h\r\n\r\n", 400, C.invalidVersion),
        RejectCase("version with extra part", "GET / HTTP/1.1.1\r\nHost: h\r\n\r\n", 400, C.invalidVersion),
        RejectCase("HTTPS scheme as version", "GET / HTTPS/1.1\r\nHost: h\r\n\r\n", 400, C.invalidVersion),

        // Header names and values
        RejectCase("space before colon", ok + "X-Thing : v\r\n\r\n", 400, C.whitespaceBeforeColon),
        RejectCase("tab before colon", ok + "X-Thing\t: v\r\n\r\n", 400, C.whitespaceBeforeColon),
        RejectCase("Host with space before colon", "GET / HTTP/1.1\r\nHost : h\r\n\r\n", 400, C.whitespaceBeforeColon),
        RejectCase("space inside name", ok + "X Thing: v\r\n\r\n", 400, C.invalidHeaderName),
        RejectCase("parenthesis in name", ok + "X(Thing): v\r\n\r\n", 400, C.invalidHeaderName),
        RejectCase("UTF-8 in name", [UInt8](ok) + [0xC3, 0xA9] + [UInt8](": v\r\n\r\n"), 400, C.invalidHeaderName),
        RejectCase("empty name", ok + ": v\r\n\r\n", 400, C.invalidHeaderName),
        RejectCase("no colon", ok + "JustText\r\n\r\n", 400, C.invalidHeaderName),
        RejectCase("NUL in value", ok + "X: a\u{0}b\r\n\r\n", 400, C.invalidHeaderValue),
        RejectCase("SOH in value", ok + "X: a\u{1}b\r\n\r\n", 400, C.invalidHeaderValue),
        RejectCase("DEL in value", ok + "X: a\u{7F}\r\n\r\n", 400, C.invalidHeaderValue),
        RejectCase("bare CR in value", ok + "X: a\rb\r\n\r\n", 400, C.invalidHeaderValue),
        RejectCase("ESC in value", ok + "X: \u{1B}[31m\r\n\r\n", 400, C.invalidHeaderValue),

        // Semantics
        RejectCase("unsupported expectation", "POST / HTTP/1.1\r\nHost: h\r\nExpect: 200-ok\r\nContent-Length: 1\r\n\r\nx", 417, C.expectationFailed),
        RejectCase("second expectation unsupported", "POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nExpect: magic\r\n\r\n", 417, C.expectationFailed),
        RejectCase("HTTP/1.1 without Host", "GET / HTTP/1.1\r\nAccept: */*\r\n\r\n", 400, C.missingHost),
        RejectCase("duplicate Host", "GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n", 400, C.duplicateHost),
    ]

    @Test(arguments: cases)
    func rejects(_ testCase: RejectCase) {
        for feed in [Feed.whole, .byteAtATime] {
            let events = parseEvents(testCase.input, feed: feed)
            #expect(requests(events).isEmpty, "\(feed)")
            let error = parseError(events)
            #expect(error?.status.code == testCase.status, "\(feed): \(String(describing: error))")
            #expect(error?.code == testCase.code, "\(feed): \(String(describing: error))")
            #expect(error.map { !$0.message.isEmpty } == true)
        }
    }

    @Test func bodyOverLimitIsRefusedBeforeTheBodyArrives() {
        var parser = HTTPParser(limits: HTTPLimits(maxBodyBytes: 100))
        parser.append([UInt8]("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 101\r\n\r\n"))
        #expect(parser.next() == .error(.bodyTooLarge(length: 101, limit: 100)))
    }

    @Test func tabInsideValueAndExpectContinueAreAccepted() {
        let events = parseEvents("POST / HTTP/1.1\r\nHost: h\r\nX: a\tb\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nx")
        #expect(requests(events).count == 1)
    }
}

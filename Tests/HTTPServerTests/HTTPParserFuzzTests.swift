import Testing
import TestSupport
@testable import HTTPServer

/// Random and mutated inputs: the parser must never crash, must only produce requests, interim
/// continues or 4xx/5xx errors, and must give the same answer however the bytes are chunked.
@Suite struct HTTPParserFuzzTests {
    static let seeds: [String] = [
        "GET /v1/whoami HTTP/1.1\r\nHost: localhost\r\n\r\n",
        "POST /v1/cases HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\nContent-Length: 13\r\n\r\n{\"a\":[1,2,3]}",
        "PUT /v1/requests/r1/return HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\nbody",
        "GET /v1/requests?after=c%20d&wait=30 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
        "\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\nGET /two HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        "OPTIONS * HTTP/1.1\r\nHost: h\r\nX: a\tb\r\n\r\n",
    ]

    static let interesting: [UInt8] = Array(" \t\r\n:/?%#+=&0123456789\u{0}\u{7F}".utf8) + [0x80, 0xC3, 0xFF]

    static func mutate(_ input: [UInt8], using rng: inout SplitMix64) -> [UInt8] {
        var bytes = input
        for _ in 0..<Int.random(in: 1...4, using: &rng) {
            switch Int.random(in: 0..<7, using: &rng) {
            case 0 where !bytes.isEmpty:
                bytes[Int.random(in: 0..<bytes.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
            case 1:
                bytes.insert(interesting.randomElement(using: &rng)!, at: Int.random(in: 0...bytes.count, using: &rng))
            case 2 where !bytes.isEmpty:
                bytes.remove(at: Int.random(in: 0..<bytes.count, using: &rng))
            case 3 where !bytes.isEmpty:
                bytes = Array(bytes.prefix(Int.random(in: 0..<bytes.count, using: &rng)))
            case 4 where !bytes.isEmpty:
                let start = Int.random(in: 0..<bytes.count, using: &rng)
                let end = Int.random(in: start...bytes.count, using: &rng)
                bytes.insert(contentsOf: bytes[start..<end], at: Int.random(in: 0...bytes.count, using: &rng))
            case 5:
                bytes += seeds.randomElement(using: &rng)!.utf8
            default:
                let index = Int.random(in: 0...bytes.count, using: &rng)
                bytes.insert(contentsOf: Array(repeating: Self.interesting.randomElement(using: &rng)!,
                                               count: Int.random(in: 1...40, using: &rng)), at: index)
            }
        }
        return bytes
    }

    static func randomChunks(_ input: [UInt8], parser: inout HTTPParser, using rng: inout SplitMix64) -> [HTTPParser.Event] {
        var events: [HTTPParser.Event] = []
        var start = 0
        repeat {
            let end = Swift.min(input.count, start + Int.random(in: 1...16, using: &rng))
            input[start..<end].withUnsafeBytes { parser.append($0) }
            start = end
            while let event = parser.next() {
                events.append(event)
                if case .error = event { return events }
            }
        } while start < input.count
        return events
    }

    @Test func twentyThousandRandomAndMutatedInputs() {
        var rng = SplitMix64(seed: 0x4D41_5241_4321)
        let limits = HTTPLimits(maxHeaderBytes: 160, maxHeaderCount: 6, maxBodyBytes: 24, maxLeadingEmptyLines: 2)
        var requestCount = 0, errorCount = 0, statuses = Set<Int>(), failures: [String] = []
        for iteration in 0..<20_000 {
            let input: [UInt8]
            if iteration % 5 == 0 {
                input = (0..<Int.random(in: 0...200, using: &rng)).map { _ in
                    Bool.random(using: &rng) ? UInt8.random(in: 0...255, using: &rng) : Self.interesting.randomElement(using: &rng)!
                }
            } else {
                input = Self.mutate([UInt8](Self.seeds.randomElement(using: &rng)!), using: &rng)
            }

            let whole = parseEvents(input, limits: limits, feed: .whole)
            var parser = HTTPParser(limits: limits)
            let chunked = Self.randomChunks(input, parser: &parser, using: &rng)
            for event in chunked {
                switch event {
                case .request(let request):
                    requestCount += 1
                    if !(request.path.hasPrefix("/") || request.path == "*") || request.body.count > limits.maxBodyBytes
                        || request.headers.count > limits.maxHeaderCount {
                        failures.append("request out of bounds for \(input): \(request)")
                    }
                case .continueExpected:
                    break
                case .error(let error):
                    errorCount += 1
                    statuses.insert(error.status.code)
                    if !(400...599).contains(error.status.code) { failures.append("status \(error) for \(input)") }
                    if parser.next() != event { failures.append("error not sticky for \(input)") }
                }
            }
            if withoutContinue(whole) != withoutContinue(chunked) {
                failures.append("chunking changed the result for \(input): \(whole) vs \(chunked)")
            }
            if iteration % 10 == 0, withoutContinue(parseEvents(input, limits: limits, feed: .byteAtATime)) != withoutContinue(whole) {
                failures.append("byte-at-a-time changed the result for \(input)")
            }
        }
        #expect(failures.isEmpty, "\(failures.count) failures, first: \(failures.prefix(3))")
        // The corpus must reach both outcomes and many rules, or it tests nothing.
        #expect(requestCount > 1_000)
        #expect(errorCount > 1_000)
        #expect(statuses.isSuperset(of: [400, 411, 413, 431]))
    }
}

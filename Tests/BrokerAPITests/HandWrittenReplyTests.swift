@testable import Broker
@testable import BrokerAPI
import Foundation
import Testing
import TestSupport
@testable import Wire

/// The replies written by hand (`JSONWritable`) are the bytes their `Encodable` form gives,
/// through the API's encoder and through Foundation's `JSONEncoder` in the API's configuration,
/// whatever the strings hold; and the literal-route shortcut answers what the router would.
@Suite struct HandWrittenReplyTests {
    static let hostile: [String] = [
        "", "plain", "quote \" backslash \\ slash / end", "\u{0}\u{1}\u{8}\u{9}\u{A}\u{B}\u{C}\u{D}\u{1F}\u{7F}",
        "line\u{2028}para\u{2029}", "é e\u{301} 日本 🦆 \u{10FFFF}", "</script><!--", "\\u0041", String(repeating: "x\"", count: 300),
    ]

    static let dates: [Date] = [
        Date(timeIntervalSince1970: 1_826_000_000), Date(timeIntervalSince1970: 1_826_000_000.999),
        Date(timeIntervalSince1970: -1.5), Date(timeIntervalSince1970: 0), Date.distantFuture, Date.distantPast,
        Date(timeIntervalSinceReferenceDate: .nan),
    ]

    /// The `Encodable` path of the API's encoder (not the hand-written one `JSON.encode` takes).
    static func viaEncoder(_ value: some Encodable) throws -> [UInt8] { try JSONWriter.encode(value) }

    static func viaFoundation(_ value: some Encodable) throws -> String {
        String(decoding: try JSON.makeEncoder().encode(value), as: UTF8.self)
    }

    @Test func whoamiIsTheEncodableFormByteForByte() throws {
        var count = 0
        for (index, text) in Self.hostile.enumerated() {
            // Not NaN: `daysToExpiry` is computed from the date (a certificate's notAfter is never NaN).
            for date in Self.dates where !date.timeIntervalSince1970.isNaN {
                let other = Self.hostile[(index + 3) % Self.hostile.count]
                for role in Role.allCases {
                    let whoami = WhoAmI(principal: text, name: other, agency: text + other, role: role,
                                        certificate: .init(serial: other, notAfter: date, approval: text))
                    let reply = WhoAmIReply(whoami, now: Date(timeIntervalSince1970: 1_800_000_000))
                    let written = reply.jsonBytes()
                    #expect(written == (try Self.viaEncoder(reply)), "\(String(decoding: written, as: UTF8.self))")
                    #expect(try JSON.encode(reply) == written)
                    #expect(String(decoding: written, as: UTF8.self) == (try Self.viaFoundation(reply)))
                    count += 1
                }
            }
        }
        #expect(count == Self.hostile.count * (Self.dates.count - 1) * Role.allCases.count)
    }

    @Test func aReturnIsTheEncodableFormByteForByte() throws {
        for (index, text) in Self.hostile.enumerated() {
            for date in Self.dates {
                let other = Self.hostile[(index + 5) % Self.hostile.count]
                for withheld in [[], [WithheldItem(what: text, reason: other)], [WithheldItem(what: other, reason: ""), WithheldItem(what: "", reason: text)]] {
                    for answers in [[], [text], [other, text, ""]] {
                        let version = ResearchReturn(request: text, agency: other, version: index - 2, submittedAt: date,
                                                     knownToAgency: index % 2 == 0, summary: other + text, answers: answers, withheld: withheld)
                        let written = version.jsonBytes()
                        #expect(written == (try Self.viaEncoder(version)), "\(String(decoding: written, as: UTF8.self))")
                        #expect(try JSON.encode(version) == written)
                        #expect(ReturnLimits.encodedSize(of: version) == (try Self.viaEncoder(version)).count)
                        if date.timeIntervalSince1970.isFinite {
                            #expect(String(decoding: written, as: UTF8.self) == (try Self.viaFoundation(version)))
                        }
                    }
                }
            }
        }
    }

    /// A return inside another reply (the history) is still written by its `Encodable` form,
    /// with the same bytes as on its own.
    @Test func aReturnInsideAnotherReplyKeepsItsBytes() throws {
        let version = ResearchReturn(request: "r\"1", agency: "a/b", version: 2, submittedAt: Self.dates[1], knownToAgency: false,
                                     summary: "s\u{1}", answers: ["x\\"], withheld: [WithheldItem(what: "w", reason: "r")])
        let history = try JSON.encode([version, version])
        let one = version.jsonBytes()
        #expect(history == [UInt8(ascii: "[")] + one + [UInt8(ascii: ",")] + one + [UInt8(ascii: "]")])
    }

    /// `GET /v1/whoami` takes the literal-route shortcut; HEAD, other methods and query
    /// parameters are answered as the router answers them.
    @Test func literalRoutesAnswerAsTheRouterDoes() async throws {
        try await withTestBroker { broker in
            let admin = try broker.adminClient()
            let whoami = try await admin.json("GET", "/v1/whoami")
            #expect(whoami.status == 200 && whoami.text.hasPrefix(#"{"agency":"#), "\(whoami.text)")
            let post = try await admin.json("POST", "/v1/whoami")
            #expect(post.status == 405 && post.text.contains("allowed: GET, HEAD"), "\(post.text)")
            let query = try await admin.json("GET", "/v1/whoami?debug=1")
            #expect(query.status == 400 && query.text.contains("takes no query parameters"), "\(query.text)")
            let trailing = try await admin.json("GET", "/v1/whoami/")
            #expect(trailing.status == 404, "\(trailing.text)")
        }
    }
}

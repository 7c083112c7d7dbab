import Foundation
import Testing
@testable import Wire

@Suite struct JSONTests {
    struct Meeting: Codable, Equatable {
        var id: String
        var title: String
        var startsAt: Date
    }

    struct Consent: Codable, Equatable {
        enum Status: String, Codable { case obtained, notObtained = "not-obtained" }
        var status: Status
        var lawfulBasis: String?
    }

    struct Case: Codable, Equatable {
        var reference: String
        var consent: Consent
        var answers: [String]
        var count: Int
    }

    static let march23 = Date(timeIntervalSince1970: 1_805_796_000)  // 2027-03-23T10:00:00Z

    @Test func datesAreWrittenInUTCWithoutFraction() throws {
        let meeting = Meeting(id: "m1", title: "April", startsAt: Self.march23.addingTimeInterval(0.75))
        let text = String(decoding: try JSON.encode(meeting), as: UTF8.self)
        #expect(text == #"{"id":"m1","startsAt":"2027-03-23T10:00:00Z","title":"April"}"#)
    }

    @Test(arguments: [
        ("2027-03-23T10:00:00Z", 0.0),
        ("2027-03-23T10:00:00z", 0.0),
        ("2027-03-23t10:00:00Z", 0.0),
        ("2027-03-23T11:00:00+01:00", 0.0),
        ("2027-03-23T04:30:00-05:30", 0.0),
        ("2027-03-23T10:00:00+00:00", 0.0),
        ("2027-03-23T10:00:00-00:00", 0.0),
        ("2027-03-23T10:00:00.5Z", 0.5),
        ("2027-03-23T11:00:00.250+01:00", 0.25),
        ("2027-03-24T09:59:59.999999+23:59", 59.999999),
    ])
    func decoderAcceptsAnyOffset(_ text: String, _ delta: Double) throws {
        let body = Array(#"{"id":"m1","title":"t","startsAt":"\#(text)"}"#.utf8)
        let meeting = try JSON.decode(Meeting.self, from: body)
        #expect(abs(meeting.startsAt.timeIntervalSince(Self.march23) - delta) < 1e-6)
    }

    @Test(arguments: ["2027-02-29T10:00:00Z", "2027-13-01T10:00:00Z", "2027-03-23T24:00:00Z", "2027-03-23T10:60:00Z",
                      "2027-03-23T10:00:60Z", "2027-03-23T10:00:00", "2027-03-23 10:00:00Z", "2027-03-23T10:00Z",
                      "2027-03-23T10:00:00.Z", "2027-03-23T10:00:00+0100", "2027-03-23T10:00:00+24:00", "27-03-23T10:00:00Z",
                      "2027-03-23T10:00:00Zjunk", "", "2027-03-23"])
    func decoderRejectsMalformedDates(_ text: String) {
        #expect(RFC3339.parse(text) == nil)
        let body = Array(#"{"id":"m1","title":"t","startsAt":"\#(text)"}"#.utf8)
        #expect(throws: JSONBodyError(message: "\"startsAt\": expected an RFC 3339 date-time such as 2027-03-23T10:00:00Z", keyPath: "startsAt")) {
            try JSON.decode(Meeting.self, from: body)
        }
    }

    @Test func roundTripKeepsWholeSeconds() throws {
        let meeting = Meeting(id: "m", title: "t", startsAt: Date(timeIntervalSince1970: 1_806_000_123))
        #expect(try JSON.decode(Meeting.self, from: JSON.encode(meeting)) == meeting)
    }

    static func decodeError<T: Decodable>(_ type: T.Type, _ body: String) -> JSONBodyError? {
        do {
            _ = try JSON.decode(type, from: Array(body.utf8))
            return nil
        } catch {
            return error
        }
    }

    @Test(arguments: ["", "   \r\n\t"])
    func emptyBodyIsRefused(_ body: String) {
        let error = Self.decodeError(Case.self, body)
        #expect(error?.message == "request body is empty; expected a JSON object")
        #expect(error?.code == "invalid_json")
    }

    @Test func malformedJSON() {
        #expect(Self.decodeError(Case.self, "{\"reference\": ")?.message == "request body is not valid JSON")
        #expect(Self.decodeError(Case.self, "not json")?.message == "request body is not valid JSON")
    }

    @Test func messagesNameTheKeyPath() {
        let valid = #"{"reference":"MARAC-1","consent":{"status":"obtained"},"answers":["a","b"],"count":1}"#
        #expect(Self.decodeError(Case.self, valid) == nil)

        let missing = Self.decodeError(Case.self, #"{"reference":"MARAC-1","consent":{},"answers":[],"count":1}"#)
        #expect(missing?.message == #"missing key "consent.status""#)
        #expect(missing?.keyPath == "consent.status")

        let missingTop = Self.decodeError(Case.self, #"{"consent":{"status":"obtained"},"answers":[],"count":1}"#)
        #expect(missingTop?.message == #"missing key "reference""#)

        let wrongType = Self.decodeError(Case.self, #"{"reference":42,"consent":{"status":"obtained"},"answers":[],"count":1}"#)
        #expect(wrongType?.message.hasPrefix(#""reference" must be a string"#) == true)
        #expect(wrongType?.keyPath == "reference")

        let inArray = Self.decodeError(Case.self, #"{"reference":"r","consent":{"status":"obtained"},"answers":["a",true],"count":1}"#)
        #expect(inArray?.message.hasPrefix(#""answers[1]" must be a string"#) == true)

        let notArray = Self.decodeError(Case.self, #"{"reference":"r","consent":{"status":"obtained"},"answers":"a","count":1}"#)
        #expect(notArray?.message.hasPrefix(#""answers" must be an array"#) == true)

        let null = Self.decodeError(Case.self, #"{"reference":null,"consent":{"status":"obtained"},"answers":[],"count":1}"#)
        #expect(null?.message.contains(#""reference""#) == true)

        let badEnum = Self.decodeError(Case.self, #"{"reference":"r","consent":{"status":"maybe"},"answers":[],"count":1}"#)
        #expect(badEnum?.message == #""consent.status" has a value that is not allowed"#)

        let fraction = Self.decodeError(Case.self, #"{"reference":"r","consent":{"status":"obtained"},"answers":[],"count":1.5}"#)
        #expect(fraction?.message == "request body contains a number that does not fit the expected type, such as a fraction where a whole number is expected")

        let root = Self.decodeError(Case.self, "[1,2]")
        #expect(root?.message.hasPrefix("request body must be an object") == true)
        #expect(root?.keyPath == nil)

        for error in [missing, wrongType, inArray, notArray, null, badEnum, fraction, root].compactMap({ $0 }) {
            #expect(!error.message.contains("CodingKeys"), "\(error.message)")
            #expect(!error.message.contains("debugDescription"), "\(error.message)")
        }
    }

    @Test func slashesAreNotEscaped() throws {
        #expect(String(decoding: try JSON.encode(["url": "/v1/crl"]), as: UTF8.self) == #"{"url":"/v1/crl"}"#)
    }
}

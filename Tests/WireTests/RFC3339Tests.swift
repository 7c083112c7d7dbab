import Foundation
import Testing
import TestSupport
@testable import Wire

/// The one RFC 3339: whole seconds on the wire, milliseconds where a person reads a time,
/// always UTC `Z` on output, any offset and fraction on input.
@Suite struct RFC3339Tests {
    static let march23 = Date(timeIntervalSince1970: 1_805_796_000)  // 2027-03-23T10:00:00Z

    @Test func leapDayOfALeapYearIsAccepted() {
        #expect(RFC3339.parse("2028-02-29T00:00:00Z") != nil)
        #expect(RFC3339.parse("2000-02-29T00:00:00Z") != nil)
        #expect(RFC3339.parse("1900-02-29T00:00:00Z") == nil)
    }

    @Test func formatMatchesFoundationAcrossCenturies() {
        var rng = SplitMix64(seed: 7)
        let formatter = ISO8601DateFormatter()
        formatter.timeZone = TimeZone(identifier: "UTC")
        for _ in 0..<2_000 {
            let seconds = Double(Int64.random(in: -2_208_988_800...32_503_680_000, using: &rng))  // 1900...3000
            let date = Date(timeIntervalSince1970: seconds)
            let ours = RFC3339.format(date)
            #expect(ours == formatter.string(from: date))
            #expect(RFC3339.parse(ours) == date)
        }
        #expect(RFC3339.format(Date(timeIntervalSince1970: -0.5)) == "1969-12-31T23:59:59Z")
        #expect(RFC3339.format(Date(timeIntervalSince1970: 0)) == "1970-01-01T00:00:00Z")
        // Foundation calls this 0001-01-01 in the Julian calendar; RFC 3339 is proleptic Gregorian.
        #expect(RFC3339.format(.distantPast) == "0000-12-30T00:00:00Z")
        #expect(RFC3339.format(Date(timeIntervalSince1970: -1e15)) == "0000-01-01T00:00:00Z")
        #expect(RFC3339.format(Date(timeIntervalSince1970: .infinity)) == "9999-12-31T23:59:59Z")
        #expect(RFC3339.format(Date(timeIntervalSince1970: .nan)) == "1970-01-01T00:00:00Z")
        #expect(RFC3339.parse("0000-01-01T00:00:00Z") == Date(timeIntervalSince1970: -62_167_219_200))
        #expect(RFC3339.parse("9999-12-31T23:59:59Z") == Date(timeIntervalSince1970: 253_402_300_799))
    }

    @Test("RFC 3339 formatting with milliseconds (messages and the research pack)")
    func formatting() {
        #expect(RFC3339.format(Self.march23, fraction: .milliseconds) == "2027-03-23T10:00:00Z")
        #expect(RFC3339.format(Date(timeIntervalSince1970: 1.25), fraction: .milliseconds) == "1970-01-01T00:00:01.250Z")
        #expect(RFC3339.format(Date(timeIntervalSince1970: -1), fraction: .milliseconds) == "1969-12-31T23:59:59Z")
    }

    @Test(arguments: [
        ("2027-03-23T11:00:00+01:00", "2027-03-23T10:00:00Z"),
        ("2027-03-23T04:30:00-05:30", "2027-03-23T10:00:00Z"),
        ("2027-03-24T09:59:00+23:59", "2027-03-23T10:00:00Z"),
        ("2027-03-23t10:00:00z", "2027-03-23T10:00:00Z"),
        ("2027-01-01T00:30:00+01:00", "2026-12-31T23:30:00Z"),
        ("2027-03-23T10:00:00.999+00:00", "2027-03-23T10:00:00Z"),
    ])
    func outputIsAlwaysUTCWithZ(_ input: String, _ expected: String) throws {
        let date = try #require(RFC3339.parse(input))
        #expect(RFC3339.format(date) == expected)
        #expect(RFC3339.format(date, fraction: .milliseconds).hasSuffix("Z"))
        #expect(!RFC3339.format(date, fraction: .milliseconds).contains("+"))
    }

    @Test func wholeSecondsRoundTripExactlyAndFractionsAreTruncatedOnTheWire() throws {
        var rng = SplitMix64(seed: 3339)
        for _ in 0..<1_000 {
            let whole = Date(timeIntervalSince1970: Double(Int64.random(in: 0...4_102_444_800, using: &rng)))  // 1970...2100
            #expect(RFC3339.parse(RFC3339.format(whole)) == whole)
            #expect(RFC3339.parse(RFC3339.format(whole, fraction: .milliseconds)) == whole)
            let milliseconds = Int.random(in: 1...999, using: &rng)
            let fractional = whole.addingTimeInterval(Double(milliseconds) / 1000)
            // On the wire: the same second, never a later one.
            #expect(RFC3339.format(fractional) == RFC3339.format(whole))
            // For people: the milliseconds, and reading them back lands within a microsecond.
            let text = RFC3339.format(fractional, fraction: .milliseconds)
            #expect(text.hasSuffix("." + String(milliseconds + 1000).dropFirst() + "Z"), "\(text)")
            let back = try #require(RFC3339.parse(text))
            #expect(abs(back.timeIntervalSince(fractional)) < 1e-6, "\(text)")
        }
    }

    @Test func fractionsOfAnyLengthAreRead() throws {
        #expect(RFC3339.parse("2027-03-23T10:00:00.5Z") == Self.march23.addingTimeInterval(0.5))
        let long = try #require(RFC3339.parse("2027-03-23T10:00:00.123456789Z"))
        #expect(abs(long.timeIntervalSince(Self.march23) - 0.123456789) < 1e-6)
        #expect(RFC3339.parse("2027-03-23T10:00:00.Z") == nil)
    }

    @Test func logLinesCarryMillisecondsAlways() {
        var out: [UInt8] = []
        RFC3339.append(unixSeconds: 1_805_796_000, milliseconds: 7, to: &out)
        #expect(String(decoding: out, as: UTF8.self) == "2027-03-23T10:00:00.007Z")
        out = []
        RFC3339.append(unixSeconds: 1_805_796_000, milliseconds: 0, to: &out)
        #expect(String(decoding: out, as: UTF8.self) == "2027-03-23T10:00:00.000Z")
        out = []
        RFC3339.append(unixSeconds: -1, milliseconds: nil, to: &out)
        #expect(String(decoding: out, as: UTF8.self) == "1969-12-31T23:59:59Z")
    }
}

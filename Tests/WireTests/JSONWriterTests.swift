import Foundation
import Testing
@testable import Wire

/// `JSONWriter` must write what Foundation's `JSONEncoder` in the API's
/// configuration writes, byte for byte, and refuse what it refuses.
@Suite struct JSONWriterTests {
    enum Colour: String, Codable { case red, green }

    struct Inner: Codable {
        let serial: String
        let notAfter: Date
        let days: Int
    }

    struct Outer: Codable {
        let principal: String
        let optionalPresent: String?
        let optionalAbsent: String?
        let colour: Colour
        let inner: Inner
        let list: [Inner]
        let counts: [String: Int]
        let flags: [Bool]
        let big: UInt64
        let small: Int64
        let tiny: Int8
        let ratio: Double
        let whole: Double
        let fields: [String: JSONValue]
        let nested: [[String]]
    }

    class Base: Codable { var base = 1 }
    final class Derived: Base {
        var derived = "d"
        override init() { super.init() }
        required init(from decoder: any Decoder) throws { fatalError("not decoded") }
        private enum Keys: String, CodingKey { case derived }
        override func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: Keys.self)
            try container.encode(derived, forKey: .derived)
            try super.encode(to: container.superEncoder())
        }
    }

    static func foundation(_ value: some Encodable) throws -> String {
        String(decoding: try JSON.makeEncoder().encode(value), as: UTF8.self)
    }

    static func ours(_ value: some Encodable) throws -> String {
        String(decoding: try JSONWriter.encode(value), as: UTF8.self)
    }

    static let sample = Outer(
        principal: "pc-smith/\"quoted\"\\ \u{1} tab\t nl\n cr\r bs\u{8} ff\u{c} é 中文 🚓",
        optionalPresent: "here", optionalAbsent: nil, colour: .green,
        inner: Inner(serial: "74D8", notAfter: Date(timeIntervalSince1970: 1_795_824_000), days: 364),
        list: [Inner(serial: "A", notAfter: Date(timeIntervalSince1970: 0), days: -1), Inner(serial: "B", notAfter: Date(timeIntervalSince1970: 1.9), days: 0)],
        counts: ["zeta": 1, "alpha": 2, "Beta": 3, "beta": 4, "a": 5, "aa": 6, "_": 7, "10": 8, "9": 9],
        flags: [true, false], big: .max, small: .min, tiny: -128, ratio: 0.1, whole: 42,
        fields: ["victim.name": .string("Jane"), "victim.age": .number(34), "notes": .array([.null, .bool(true), .number(-2.5)]),
                 "address": .object(["line1": .string("1 High St"), "postcode": .string("AB1 2CD")])],
        nested: [[], ["x", "y"]])

    @Test func writesWhatFoundationWritesByteForByte() throws {
        #expect(try Self.ours(Self.sample) == Self.foundation(Self.sample))
        #expect(try Self.ours([String: Int]()) == Self.foundation([String: Int]()))
        #expect(try Self.ours([Int]()) == Self.foundation([Int]()))
        #expect(try Self.ours("top-level string") == Self.foundation("top-level string"))
        #expect(try Self.ours(Optional<Int>.none) == Self.foundation(Optional<Int>.none))
        #expect(try Self.ours([Date(timeIntervalSince1970: 1_700_000_000)]) == Self.foundation([Date(timeIntervalSince1970: 1_700_000_000)]))
        #expect(try Self.ours(Derived()) == Self.foundation(Derived()))
        // Objects past the in-place sort's size go the other way; the bytes are the same.
        let large = Dictionary(uniqueKeysWithValues: (0..<100).map { ("key-\(($0 * 37) % 100)-\($0 % 7)", $0) })
        #expect(try Self.ours(large) == Self.foundation(large))
        #expect(try Self.ours(["b": [String: Int](), "a": ["z": 1, "y": 2]]) == Self.foundation(["b": [String: Int](), "a": ["z": 1, "y": 2]]))
    }

    @Test(arguments: [0.0, -0.0, 1, -1, 0.5, 1e15, 9_007_199_254_740_991, 123.456, -7.25])
    func numbersMatchFoundation(value: Double) throws {
        #expect(try Self.ours([value]) == Self.foundation([value]))
    }

    @Test func numbersFoundationSpellsDifferentlyStillMeanTheSameValue() throws {
        for value in [1e21, 1e-7, Double.leastNonzeroMagnitude, Double.greatestFiniteMagnitude, 0.1 + 0.2] {
            let decoded = try JSONDecoder().decode([Double].self, from: Data(try JSONWriter.encode([value])))
            #expect(decoded == [value], "\(value)")
        }
    }

    /// The stored style: what Foundation's default `JSONEncoder()` writes, as JSON values
    /// (key order aside), and `JSONDecoder()` gives back every field, dates to the bit.
    @Test func storedStyleIsFoundationsDefaultFormat() throws {
        struct Record: Codable, Equatable {
            let name: String
            let at: Date
            let maybe: Date?
            let none: String?
            let ratio: Double
            let counts: [String: Int]
            let dates: [Date]
            let big: UInt64
            let small: Int64
        }
        let odd = Date(timeIntervalSinceReferenceDate: 786_012_345.678_901_2)
        let value = Record(name: Self.sample.principal, at: odd, maybe: Date(timeIntervalSince1970: 1.9), none: nil, ratio: 1e-7,
                           counts: Self.sample.counts, dates: [Date(timeIntervalSince1970: 0), odd.addingTimeInterval(-1e9)],
                           big: .max, small: .min)
        let stored = try JSON.encodeStored(value)
        let foundation = try JSONEncoder().encode(value)
        let ours = try #require(try JSONSerialization.jsonObject(with: Data(stored)) as? NSDictionary)
        let theirs = try #require(try JSONSerialization.jsonObject(with: foundation) as? NSDictionary)
        #expect(ours == theirs)
        let decoded = try JSONDecoder().decode(Record.self, from: Data(stored))
        #expect(decoded == value)
        // Keys stay in encoding order, and a key encoded twice is written once, with its last value.
        struct Twice: Encodable {
            enum Keys: String, CodingKey { case b, a }
            func encode(to encoder: any Encoder) throws {
                var container = encoder.container(keyedBy: Keys.self)
                try container.encode(1, forKey: .b)
                try container.encode(2, forKey: .a)
                try container.encode(3, forKey: .b)
            }
        }
        #expect(String(decoding: try JSON.encodeStored(Twice()), as: UTF8.self) == #"{"a":2,"b":3}"#)
        #expect(try Self.ours(Twice()) == #"{"a":2,"b":3}"#)
    }

    /// The types `JSONEncoder` special-cases: `Data` (base64), `URL` (absolute string), `Decimal` (a number).
    @Test func foundationsSpecialTypesAreWrittenAsFoundationWritesThem() throws {
        struct Special: Codable, Equatable {
            let data: Data
            let empty: Data
            let url: URL
            let amount: Decimal
            let small: Decimal
        }
        let value = Special(data: Data([0, 1, 2, 250, 255]), empty: Data(), url: URL(string: "https://example.org/a/b?c=d")!,
                            amount: Decimal(string: "1234.5678")!, small: Decimal(string: "-0.001")!)
        #expect(try Self.ours(value) == Self.foundation(value))
        let stored = try JSON.encodeStored(value)
        #expect(try JSONDecoder().decode(Special.self, from: Data(stored)) == value)
        let ours = try #require(try JSONSerialization.jsonObject(with: Data(stored)) as? NSDictionary)
        let theirs = try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(value)) as? NSDictionary)
        #expect(ours == theirs)
    }

    @Test func refusesNonFiniteNumbersAsFoundationDoes() {
        for value in [Double.nan, .infinity, -.infinity] {
            #expect(throws: EncodingError.self) { _ = try JSONWriter.encode(["x": value]) }
            #expect(throws: EncodingError.self) { _ = try JSON.makeEncoder().encode(["x": value]) }
        }
    }

    @Test func randomValuesMatchFoundation() throws {
        var generator = SystemRandomNumberGenerator()
        func random(_ depth: Int) -> JSONValue {
            switch Int.random(in: 0..<(depth > 3 ? 4 : 6), using: &generator) {
            case 0: return .null
            case 1: return .bool(Bool.random(using: &generator))
            case 2: return .number(Double(Int.random(in: -1_000_000...1_000_000, using: &generator)))
            case 3: return .string(String((0..<Int.random(in: 0..<12, using: &generator)).map { _ in
                Character(Unicode.Scalar(UInt8.random(in: 0...127, using: &generator)))
            }))
            case 4: return .array((0..<Int.random(in: 0..<5, using: &generator)).map { _ in random(depth + 1) })
            default:
                var object: [String: JSONValue] = [:]
                for index in 0..<Int.random(in: 0..<6, using: &generator) { object["k\(Int.random(in: 0..<50, using: &generator))-\(index)"] = random(depth + 1) }
                return .object(object)
            }
        }
        for _ in 0..<300 {
            let value = random(0)
            #expect(try Self.ours(value) == Self.foundation(value))
        }
    }
}

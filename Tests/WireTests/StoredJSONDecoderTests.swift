import Foundation
import Testing
@testable import Wire

/// `JSON.decodeStored` must read what `JSONDecoder()` reads from what the broker stores, to
/// equal values, and refuse what is not JSON (or is too deep or too large) with an error, never
/// a crash. The broker's own types are compared in `StoredDecoderEquivalenceTests` (BrokerTests).
@Suite struct StoredJSONDecoderTests {
    enum Colour: String, Codable, Equatable { case red, green }

    enum Shape: Codable, Equatable {
        case point
        case circle(radius: Double)
        case labelled(String, at: Date)
        case nested(inner: Inner?, list: [Shape])
    }

    struct Inner: Codable, Equatable {
        let serial: String
        let notAfter: Date
        let days: Int
    }

    struct Outer: Codable, Equatable {
        let principal: String
        let optionalPresent: String?
        let optionalAbsent: String?
        let optionalNull: Int?
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
        let shapes: [Shape]
        let set: Set<String>
        let data: Data
        let url: URL
        let float: Float
        let unsigned: [UInt8]
    }

    static let sample = Outer(
        principal: "pc-smith/\"quoted\"\\ \u{1} tab\t nl\n cr\r bs\u{8} ff\u{c} é 中文 🚓",
        optionalPresent: "here", optionalAbsent: nil, optionalNull: nil, colour: .green,
        inner: Inner(serial: "74D8", notAfter: Date(timeIntervalSince1970: 1_795_824_000.123456), days: 364),
        list: [Inner(serial: "A", notAfter: Date(timeIntervalSince1970: 0), days: -1), Inner(serial: "B", notAfter: Date(timeIntervalSince1970: 1.9), days: 0)],
        counts: ["zeta": 1, "alpha": 2, "Beta": 3, "beta": 4, "a": 5, "aa": 6, "_": 7, "10": 8, "9": 9, "": 10, "é\"\\": 11],
        flags: [true, false], big: .max, small: .min, tiny: -128, ratio: 0.1, whole: 42,
        fields: ["victim.name": .string("Jane"), "victim.age": .number(34), "notes": .array([.null, .bool(true), .number(-2.5)]),
                 "address": .object(["line1": .string("1 High St"), "postcode": .string("AB1 2CD")]), "empty": .object([:]), "none": .array([])],
        nested: [[], ["x", "y"]],
        shapes: [.point, .circle(radius: 1.5e-7), .labelled("l", at: Date(timeIntervalSinceReferenceDate: -1e9)),
                 .nested(inner: nil, list: [.point, .nested(inner: Inner(serial: "C", notAfter: Date(timeIntervalSinceReferenceDate: 0), days: 1), list: [])])],
        set: ["b", "a"], data: Data([0, 1, 2, 250, 255]), url: URL(string: "https://example.org/a?b=c")!, float: 0.25, unsigned: [0, 255])

    /// Decodes `bytes` with both decoders: both must succeed with equal values, or both refuse.
    func same<T: Decodable & Equatable>(_ type: T.Type, _ bytes: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) {
        let foundation = Result { try JSONDecoder().decode(T.self, from: Data(bytes)) }
        let ours = Result { try JSON.decodeStored(T.self, from: bytes) }
        switch (foundation, ours) {
        case (.success(let a), .success(let b)):
            #expect(a == b, "\(String(decoding: bytes, as: UTF8.self))", sourceLocation: sourceLocation)
        case (.failure, .failure): break
        case (.success(let a), .failure(let error)):
            Issue.record("JSONDecoder read \(a) from \(String(decoding: bytes, as: UTF8.self)), decodeStored refused: \(error)", sourceLocation: sourceLocation)
        case (.failure(let error), .success(let b)):
            Issue.record("decodeStored read \(b) from \(String(decoding: bytes, as: UTF8.self)), JSONDecoder refused: \(error)", sourceLocation: sourceLocation)
        }
    }

    func same<T: Decodable & Equatable>(_ type: T.Type, _ text: String, sourceLocation: SourceLocation = #_sourceLocation) {
        same(T.self, Array(text.utf8), sourceLocation: sourceLocation)
    }

    @Test func readsWhatBothEncodersWriteAsJSONDecoderDoes() throws {
        let stored = try JSON.encodeStored(Self.sample)
        #expect(try JSON.decodeStored(Outer.self, from: stored) == Self.sample)
        same(Outer.self, stored)
        let foundation = Array(try JSONEncoder().encode(Self.sample))
        #expect(try JSON.decodeStored(Outer.self, from: foundation) == Self.sample)
        same(Outer.self, foundation)
        let pretty = JSONEncoder()
        pretty.outputFormatting = [.prettyPrinted, .sortedKeys]
        same(Outer.self, Array(try pretty.encode(Self.sample)))
    }

    @Test(arguments: [0.0, -0.0, 1, -1, 0.1, 0.5, 1e-5, 1.5e-7, 5e-324, 1e300, -1.7976931348623157e308, 123.456, .pi, 9_007_199_254_740_993,
                      1_795_824_000.123456, 826_000_000.987654321])
    func doublesRoundTripExactly(value: Double) throws {
        let decoded = try JSON.decodeStored([Double].self, from: try JSON.encodeStored([value]))
        #expect(decoded[0].bitPattern == value.bitPattern)
        same([Double].self, try JSON.encodeStored([value]))
        same([Double].self, Array(try JSONEncoder().encode([value])))
    }

    @Test func numbersAsJSONDecoderReadsThem() throws {
        for text in ["[1]", "[-0]", "[1.0]", "[1e2]", "[1.5]", "[1E+2]", "[9223372036854775807]", "[9223372036854775808]", "[-9223372036854775808]",
                     "[-9223372036854775809]", "[1e400]", "[0.000000000000000000001]", "[123456789012345678901234567890]"] {
            same([Int].self, text)
            same([Double].self, text)
            same([Int8].self, text)
            same([UInt64].self, text)
        }
        // A number that is not zero but rounds to zero is refused, as JSONDecoder refuses it (found by
        // the stored-json fuzz target: `1e-55555555555555555555550`); zero with any exponent is zero.
        for text in ["[1e-400]", "[-1e-400]", "[2e-324]", "[1.0e-330]", "[0.000001e-400]", "[1e-55555555555555555555550]", "[0e-400]", "[-0e-400]",
                     "[0.0e-999]", "[1e-310]", "[4.9e-324]"] {
            same([Double].self, text)
            same([Int].self, text)
        }
        #expect(throws: (any Error).self) { try JSON.decodeStored([Double].self, from: Array("[1e-400]".utf8)) }
        #expect(try JSON.decodeStored([Double].self, from: Array("[0e-400]".utf8)) == [0])
        same([UInt64].self, "[18446744073709551615]")
        same([UInt64].self, "[18446744073709551616]")
        same([UInt8].self, "[255, 256]")
        same([UInt8].self, "[-1]")
        same([Int16].self, "[-32768]")
    }

    @Test func shapesAsJSONDecoderReadsThem() {
        same(Inner.self, #"{"serial":"A","notAfter":0,"days":1,"unknown":{"deep":[1,2,{"x":null}]}}"#)
        same(Inner.self, #"{"days":1,"notAfter":0,"serial":"A"}"#)
        same(Inner.self, #"{"serial":"A","notAfter":0}"#)
        same(Inner.self, #"{"serial":null,"notAfter":0,"days":1}"#)
        same(Inner.self, #"{"serial":1,"notAfter":0,"days":1}"#)
        same(Inner.self, #"{"serial":"A","notAfter":"2027-01-01","days":1}"#)
        same(Inner.self, #"["A",0,1]"#)
        same(Outer?.self, "null")
        same([String?].self, #"["a",null,"b"]"#)
        same([String: String?].self, #"{"a":null,"b":"c"}"#)
        same(Colour.self, #""blue""#)
        same(Colour.self, #""red""#)
        same(Shape.self, #"{"point":{}}"#)
        same(Shape.self, #"{"circle":{"radius":2}}"#)
        same(Shape.self, #"{"circle":{"radius":2},"point":{}}"#)
        same(Shape.self, #"{"labelled":{"_0":"x","at":5}}"#)
        same(Shape.self, #"{"square":{}}"#)
        same(Shape.self, #"{}"#)
        same(Bool.self, "true")
        same(Bool.self, "1")
        same(String.self, #""\u00e9\ud83d\ude93\n\/""#)
        same(Data.self, #""AAEC""#)
        same(Data.self, #""not base64!""#)
        same(JSONValue.self, #"{"a":[1,"b",null,true,{"c":-0.5}]}"#)
    }

    /// The one known difference: of two members with one name (which neither stored encoder writes),
    /// `decodeStored` reads the first. `JSON.repeatsKey` finds such input (the fuzz target skips the comparison on it).
    @Test func aRepeatedKeyReadsTheFirstMemberAndIsFound() throws {
        let twice = Array(#"{"serial":"A","notAfter":0,"days":1,"days":2}"#.utf8)
        #expect(try JSON.decodeStored(Inner.self, from: twice).days == 1)
        #expect(JSON.repeatsKey(twice))
        #expect(JSON.repeatsKey(Array(#"[{"a":{"b":1,"b":2}}]"#.utf8)))
        #expect(!JSON.repeatsKey(try JSON.encodeStored(Self.sample)))
        #expect(!JSON.repeatsKey(Array(#"{"a":{"a":1},"b":[{"a":2},{"a":3}]}"#.utf8)))
    }

    /// `0e3` is JSON (RFC 8259) and reads as 0; this toolchain's `JSONDecoder` refuses it (and reads `-0e3`),
    /// which the fuzz target allows for. No encoder writes a zero with an exponent.
    @Test func aZeroWithAnExponentIsANumber() throws {
        #expect(try JSON.decodeStored([Double].self, from: Array("[0e3, 0E3, -0e3, 0e-3, 0.0e3]".utf8)).allSatisfy { $0 == 0 })
    }

    /// Inputs that are not JSON: refused with an error (which names what was wrong), never a crash.
    static let malformed: [String] = [
        "", " ", "{", "}", "[", "[1,]", "[,1]", #"{"a":1,}"#, #"{"a" 1}"#, #"{"a":}"#, #"{a:1}"#, "{'a':1}", "01", "-01", "1.", ".5", "-", "+1", "1e", "1e+",
        "tru", "nul", "nulll", "True", "NaN", "Infinity", #""abc"#, #""\x""#, #""\u12""#, #""\ud800""#, #""\ud800\u0041""#, #""\udc00""#,
        "\"a\u{1}b\"", "\"tab\there\"", "{} x", "[1] [2]", "[1 2]", #"{"a":1 "b":2}"#, "[1]]", "[[1]", "\u{FEFF}[1]",
    ]

    @Test func refusesWhatIsNotJSON() {
        for text in Self.malformed {
            #expect(throws: (any Error).self, "\(text)") { try JSON.decodeStored(JSONValue.self, from: Array(text.utf8)) }
            #expect(throws: (any Error).self, "\(text)") { try JSON.decodeStored([String: Int].self, from: Array(text.utf8)) }
            // A member no type reads is still checked.
            #expect(throws: (any Error).self, "\(text)") {
                try JSON.decodeStored(Inner.self, from: Array(#"{"serial":"A","notAfter":0,"days":1,"x":\#(text)}"#.utf8))
            }
        }
        let invalidUTF8: [[UInt8]] = [[0x22, 0xFF, 0x22], [0x22, 0xC3, 0x22], [0x22, 0xED, 0xA0, 0x80, 0x22], [0x22, 0xE2, 0x82, 0x22]]
        for bytes in invalidUTF8 {
            #expect(throws: JSONReadError.self) { try JSON.decodeStored(String.self, from: bytes) }
            #expect(throws: JSONReadError.self) { try JSON.decodeStored(Inner.self, from: Array(#"{"serial":"A","notAfter":0,"days":1,"x":"#.utf8) + bytes + [0x7D]) }
        }
    }

    @Test func refusalsNameWhatWasWrongAndWhere() throws {
        let error = try #require(throws: JSONReadError.self) { try JSON.decodeStored([Int].self, from: Array("[1, 2 3]".utf8)) }
        #expect(error.code == .syntax)
        #expect(error.offset == 6)
        #expect(error.description == "expected ',' or ']' in an array, found '3' (at byte 6)")
        let trailing = try #require(throws: JSONReadError.self) { try JSON.decodeStored([Int].self, from: Array("[1] x".utf8)) }
        #expect(trailing.code == .trailingBytes)
        let truncated = try #require(throws: JSONReadError.self) { try JSON.decodeStored(String.self, from: Array(#""abc"#.utf8)) }
        #expect(truncated.code == .truncated)
    }

    @Test func everyTruncationOfAStoredValueIsRefused() throws {
        let stored = try JSON.encodeStored(Self.sample)
        for length in 0..<stored.count {
            #expect(throws: (any Error).self) { try JSON.decodeStored(Outer.self, from: Array(stored[..<length])) }
            #expect(throws: (any Error).self) { try JSON.decodeStored(JSONValue.self, from: Array(stored[..<length])) }
        }
    }

    /// A type that nests as deep as its input, and lets every error through (`JSONValue` tries each kind in turn).
    struct Nest: Decodable, Equatable {
        let a: [Nest]
    }

    @Test func nestingBeyondTheLimitIsRefusedWithoutExhaustingTheStack() throws {
        let limit = JSONReadLimits.stored.maxDepth
        let fits = String(repeating: "[", count: limit) + String(repeating: "]", count: limit)
        #expect(try JSON.decodeStored(JSONValue.self, from: Array(fits.utf8)).depth == limit)
        for count in [limit + 1, 100_000] {
            let deep = Array((String(repeating: "[", count: count) + String(repeating: "]", count: count)).utf8)
            #expect(throws: (any Error).self) { try JSON.decodeStored(JSONValue.self, from: deep) }
            // Where no type reads it, the scan that checks it has the same limit.
            let ignored = Array(#"{"serial":"A","notAfter":0,"days":1,"x":"#.utf8) + deep + [0x7D]
            let error = try #require(throws: JSONReadError.self) { try JSON.decodeStored(Inner.self, from: ignored) }
            #expect(error.code == .tooDeep)
            let nests = Array((String(repeating: #"{"a":["#, count: count) + String(repeating: "]}", count: count)).utf8)
            let nested = try #require(throws: JSONReadError.self) { try JSON.decodeStored(Nest.self, from: nests) }
            #expect(nested.code == .tooDeep)
        }
    }

    @Test func inputLargerThanTheLimitIsRefused() throws {
        let limits = JSONReadLimits(maxDepth: 10, maxBytes: 8)
        #expect(try JSON.decodeStored([Int].self, from: Array("[1,2,3]".utf8), limits: limits) == [1, 2, 3])
        let error = try #require(throws: JSONReadError.self) { try JSON.decodeStored([Int].self, from: Array("[1,2,3,4]".utf8), limits: limits) }
        #expect(error.code == .tooLarge)
    }

    @Test func randomValuesDecodeAsJSONDecoderDecodesThem() throws {
        var generator = SystemRandomNumberGenerator()
        func random(_ depth: Int) -> JSONValue {
            switch Int.random(in: 0..<(depth > 3 ? 4 : 6), using: &generator) {
            case 0: return .null
            case 1: return .bool(Bool.random(using: &generator))
            case 2: return .number(Bool.random(using: &generator) ? Double(Int.random(in: -1_000_000...1_000_000, using: &generator))
                                                                  : Double.random(in: -1e6...1e6, using: &generator))
            case 3: return .string(String((0..<Int.random(in: 0..<12, using: &generator)).map { _ in
                Character(Unicode.Scalar(UInt32.random(in: 0...0x2FF, using: &generator))!)
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
            #expect(try JSON.decodeStored(JSONValue.self, from: JSON.encodeStored(value)) == value)
            same(JSONValue.self, try JSON.encodeStored(value))
            same(JSONValue.self, Array(try JSONEncoder().encode(value)))
        }
    }
}

import Foundation
import Testing
@testable import Wire

/// `StoredJSONStream` must write what the tree writer's `.stored` style writes, and give the value
/// back to it (answer nil) whenever containers are not filled in the order they were opened.
@Suite struct StoredJSONStreamTests {
    struct Inner: Codable, Equatable {
        var name: String
        var at: Date
        var tags: [String]
        var score: Double?
    }

    struct Outer: Codable, Equatable {
        var id: Int
        var flag: Bool
        var inner: Inner
        var list: [Inner]
        var map: [String: Int]
        var big: [String: Int]
        var blob: Data
        var url: URL
        var amount: Decimal
        var small: Int8
        var ratio: Float
        var nothing: String?
        var nested: [[Int]]
    }

    enum Kind: Codable, Equatable {
        case plain
        case labelled(name: String, count: Int)
        case unlabelled(String, Inner)
    }

    static let inner = Inner(name: "pc \"smith\" \\ \u{1} é 🚓", at: Date(timeIntervalSinceReferenceDate: 12_345.678), tags: ["a", ""], score: -0.0)
    static let sample = Outer(
        id: -42, flag: true, inner: inner, list: [inner, Inner(name: "", at: Date(timeIntervalSince1970: 0), tags: [], score: nil)],
        map: ["b": 1, "a": 2], big: Dictionary(uniqueKeysWithValues: (0..<100).map { ("k\($0)", $0) }),
        blob: Data([0, 1, 250]), url: URL(string: "https://example.org/a?b=c")!, amount: Decimal(string: "-12.5")!,
        small: -8, ratio: 0.25, nothing: nil, nested: [[], [1, 2], [3]])

    static func tree(_ value: some Encodable) throws -> [UInt8] { try JSONWriter.encode(value, style: .stored) }

    @Test func writesWhatTheTreeWrites() throws {
        let values: [any Encodable] = [Self.sample, Self.inner, [Kind.plain, .labelled(name: "x", count: 3), .unlabelled("y", Self.inner)],
                                       "top", 7, 1.5, true, Date(timeIntervalSinceReferenceDate: -1), [String: [Int]](), [Int]()]
        func check(_ value: some Encodable) throws {
            let streamed = try #require(StoredJSONStream.encode(value), "gave up on \(type(of: value))")
            #expect(streamed == (try Self.tree(value)), "\(type(of: value))")
        }
        for value in values { try check(value) }
        #expect(try JSONDecoder().decode(Outer.self, from: Data(try JSON.encodeStored(Self.sample))) == Self.sample)
    }

    /// Encoders that synthesized `Codable` never writes: each must be handed to the tree, whose bytes
    /// (or error) `encodeStored` then gives.
    struct OutOfOrder: Encodable {
        enum Keys: String, CodingKey { case a, b, c }
        let variant: Int
        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: Keys.self)
            switch variant {
            case 0:  // a nested container written after a sibling was
                var first = container.nestedUnkeyedContainer(forKey: .a)
                try container.encode(1, forKey: .b)
                try first.encode(2)
            case 1:  // a key twice (the tree keeps the last)
                try container.encode(1, forKey: .a)
                try container.encode(2, forKey: .a)
            case 2:  // a super encoder
                try container.encode(1, forKey: .a)
                var single = container.superEncoder(forKey: .b).singleValueContainer()
                try single.encode("s")
            case 3:  // a keyed container asked again after it was closed by its parent's next member
                try container.encode(Twice(), forKey: .a)
                try container.encode(3, forKey: .c)
            default:  // two values into one single-value container
                var single = container.superEncoder(forKey: .a).singleValueContainer()
                try single.encode(1)
            }
        }
    }

    struct Twice: Encodable {
        enum Keys: String, CodingKey { case x, y }
        func encode(to encoder: any Encoder) throws {
            var first = encoder.container(keyedBy: Keys.self)
            try first.encode(1, forKey: .x)
            var again = encoder.container(keyedBy: Keys.self)
            try again.encode(2, forKey: .y)
        }
    }

    struct TwoSingles: Encodable {
        func encode(to encoder: any Encoder) throws {
            var single = encoder.singleValueContainer()
            try single.encode(1)
            try single.encode(2)
        }
    }

    struct Nothing: Encodable { func encode(to encoder: any Encoder) throws {} }

    @Test func givesTheTreeWhatItCannotStream() throws {
        for variant in [0, 1, 2] {
            #expect(StoredJSONStream.encode(OutOfOrder(variant: variant)) == nil, "variant \(variant)")
            #expect(try JSON.encodeStored(OutOfOrder(variant: variant)) == (try Self.tree(OutOfOrder(variant: variant))))
        }
        #expect(StoredJSONStream.encode(TwoSingles()) == nil)
        #expect(try JSON.encodeStored(TwoSingles()) == Array("2".utf8))
        #expect(String(decoding: try JSON.encodeStored(OutOfOrder(variant: 1)), as: UTF8.self) == #"{"a":2}"#)
        #expect(String(decoding: try JSON.encodeStored(OutOfOrder(variant: 0)), as: UTF8.self) == #"{"a":[2],"b":1}"#)
        // A container asked twice while open is the same container, streamed.
        #expect(String(decoding: try #require(StoredJSONStream.encode(OutOfOrder(variant: 3))), as: UTF8.self) == #"{"a":{"x":1,"y":2},"c":3}"#)
    }

    @Test func errorsAreTheTreesWithTheirCodingPath() throws {
        #expect(StoredJSONStream.encode(["x": Double.nan]) == nil)
        #expect(StoredJSONStream.encode(Nothing()) == nil)
        do {
            _ = try JSON.encodeStored(["outer": ["x": Double.infinity]])
            Issue.record("an infinity was written")
        } catch let EncodingError.invalidValue(_, context) {
            #expect(context.codingPath.map(\.stringValue) == ["outer", "x"])
        }
        #expect(throws: EncodingError.self) { _ = try JSON.encodeStored(Nothing()) }
    }

    @Test func largeObjectsStillRefuseARepeatedKey() throws {
        struct Many: Encodable {
            struct Key: CodingKey {
                let stringValue: String
                init(stringValue: String) { self.stringValue = stringValue }
                var intValue: Int? { nil }
                init?(intValue: Int) { nil }
            }
            let repeatAt: Int?
            func encode(to encoder: any Encoder) throws {
                var container = encoder.container(keyedBy: Key.self)
                for index in 0..<40 { try container.encode(index, forKey: Key(stringValue: "k\(index)")) }
                if let repeatAt { try container.encode(-1, forKey: Key(stringValue: "k\(repeatAt)")) }
            }
        }
        #expect(StoredJSONStream.encode(Many(repeatAt: nil)) == (try Self.tree(Many(repeatAt: nil))))
        for index in [0, 15, 16, 17, 39] {
            #expect(StoredJSONStream.encode(Many(repeatAt: index)) == nil, "k\(index)")
            #expect(try JSON.encodeStored(Many(repeatAt: index)) == (try Self.tree(Many(repeatAt: index))))
        }
    }
}

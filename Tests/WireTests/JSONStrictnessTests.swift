import Foundation
import Testing
@testable import Wire

/// A body that decodes is still refused when a key is unknown or repeated.
@Suite struct JSONStrictnessTests {
    struct Item: Codable { var what: String; var reason: String }
    struct Order: Codable {
        var agencies: [String]
        var fields: [String]?
        var releaseAt: Date?
        var withheld: [Item]?
        var extra: [String: Int]?
    }

    static func refusal(_ text: String) -> JSONBodyError? {
        do { _ = try JSON.decode(Order.self, from: Array(text.utf8)); return nil } catch { return error }
    }

    @Test(arguments: [
        (#"{"agencies":["police"],"releaseAT":"2027-01-01T10:00:00Z"}"#, "releaseAT"),
        (#"{"agencies":["police"],"field":["victim.name"]}"#, "field"),
        (#"{"agencies":[],"withheld":[{"what":"a","reason":"b"},{"what":"a","reason":"b","reson":"c"}]}"#, "withheld[1].reson"),
    ])
    func unknownKeysAreRefusedByPath(body: String, path: String) throws {
        let error = try #require(Self.refusal(body))
        #expect(error.code == "invalid_json" && error.keyPath == path)
        #expect(error.message.contains("unknown key \"\(path)\"") && error.message.contains("allowed here"), "\(error.message)")
    }

    @Test(arguments: [
        (#"{"agencies":["police"],"agencies":["housing"]}"#, "agencies"),
        (#"{"agencies":[],"withheld":[{"what":"a","what":"b","reason":"c"}]}"#, "what"),
        (#"{"agencies":[],"\u0061gencies":[]}"#, "agencies"),
    ])
    func repeatedKeysAreRefused(body: String, key: String) throws {
        let error = try #require(Self.refusal(body))
        #expect(error.message.contains("\"\(key)\" appears more than once"), "\(error.message)")
    }

    @Test func openDictionariesAndNullsAndStringsThatLookLikeKeysPass() throws {
        #expect(Self.refusal(#"{"agencies":["a","b"],"extra":{"anything":1,"else":2},"fields":null}"#) == nil)
        #expect(Self.refusal(#"{"agencies":["agencies","agencies"],"withheld":[{"what":"\"x\",\"what\":1","reason":"r"}]}"#) == nil)
        #expect(JSONStrictness.duplicateKey(in: Array(#"{"a":{"b":1},"c":{"b":2},"d":[{"b":1},{"b":1}]}"#.utf8)) == nil)
    }
}

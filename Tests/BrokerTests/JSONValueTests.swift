import Foundation
import Testing
@testable import Broker

@Suite("JSONValue")
struct JSONValueTests {
    @Test("Decodes and re-encodes every kind of JSON value", arguments: [
        "null", "true", "false", "0", "1", "-2.5", "1e3", "\"text\"", "[]", "[1,\"a\",null]", "{}",
        "{\"a\":{\"b\":[true,false]}}",
    ])
    func roundTrip(text: String) throws {
        let value = try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
        let again = try JSONDecoder().decode(JSONValue.self, from: JSONEncoder().encode(value))
        #expect(again == value)
    }

    @Test("Booleans stay booleans and numbers stay numbers")
    func kinds() throws {
        #expect(try JSONDecoder().decode(JSONValue.self, from: Data("1".utf8)) == .number(1))
        #expect(try JSONDecoder().decode(JSONValue.self, from: Data("true".utf8)) == .bool(true))
        #expect(try JSONDecoder().decode(JSONValue.self, from: Data("0".utf8)) == .number(0))
        let nested = JSONValue.object(["a": .array([.string("x"), .object(["k": .string("y")])])])
        #expect(nested.depth == 3)
        #expect(Set(nested.allStrings) == ["a", "x", "k", "y"])
    }
}

import Foundation
import Testing
@testable import Wire

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

    @Test("The client's reading: members by key, typed accessors, text as the broker writes it")
    func readingByKey() throws {
        let value = try JSONValue(parsing: Array(#"{"id":"r1","n":2,"half":0.5,"ok":true,"list":["a",1],"url":"/v1/x","at":"2027-03-23T11:00:00+01:00"}"#.utf8))
        #expect(value["id"].string == "r1")
        #expect(value["n"].int == 2)
        #expect(value["half"].int == nil)
        #expect(value["ok"].bool == true)
        #expect(value["list"].array.count == 2)
        #expect(value["missing"].isNull)
        #expect(value["id"]["nested"].isNull, "a member of a non-object is null")
        #expect(value["at"].date == Date(timeIntervalSince1970: 1_805_796_000))
        #expect(value["list"].displayText == #"["a",1]"#)
        #expect(value["id"].displayText == "r1")
        #expect(value.object?.count == 7)
        #expect(value.description == #"{"at":"2027-03-23T11:00:00+01:00","half":0.5,"id":"r1","list":["a",1],"n":2,"ok":true,"url":"/v1/x"}"#)
    }

    @Test("Text that is not JSON is refused with the reader's reason")
    func notJSON() {
        #expect(throws: JSONValue.NotJSON.self) { try JSONValue(parsing: Array("{\"a\":".utf8)) }
        do {
            _ = try JSONValue(parsing: Array("nope".utf8))
            Issue.record("parsed text that is not JSON")
        } catch {
            #expect(error.message.hasPrefix("not valid JSON: "), "\(error.message)")
        }
    }

    @Test("Encoded the same by the API writer and by Foundation")
    func encodersAgree() throws {
        let value = JSONValue.object(["b": .array([.number(1), .number(-2.5), .null, .bool(false)]), "a": .string("x/y")])
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        #expect(try JSON.encode(value) == Array(try encoder.encode(value)))
        #expect(value.description == #"{"a":"x/y","b":[1,-2.5,null,false]}"#)
    }
}

import Broker
import Foundation
import Testing
import Wire

/// One registry of wire error codes (issue 14): `Wire.ErrorCode` is what the server answers
/// with, and the OpenAPI document and the README list exactly its codes, with the same statuses.
@Suite struct ErrorRegistryTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test func codesAreUniqueSnakeCaseWithAStatusAndAMeaning() {
        let codes = ErrorCode.all.map(\.code.rawValue)
        #expect(Set(codes).count == codes.count, "a code is registered twice")
        for entry in ErrorCode.all {
            #expect(entry.code.rawValue.allSatisfy { $0.isLowercase || $0 == "_" }, "\(entry.code)")
            #expect((400...599).contains(entry.status), "\(entry.code): \(entry.status)")
            #expect(!entry.meaning.isEmpty && ErrorCode.named(entry.code.rawValue) == entry.code)
        }
        #expect(ErrorCode.named("something_new") == nil && ErrorCode(rawValue: "something_new").status == 400)
    }

    @Test func everyDomainCodeIsRegistered() {
        for code in DomainError.Code.all {
            #expect(ErrorCode.named(code.rawValue) != nil, "\(code) is not in Wire.ErrorCode")
        }
    }

    @Test func theOpenAPIDocumentListsExactlyTheRegistry() throws {
        let data = try Data(contentsOf: Self.root.appendingPathComponent("docs/openapi.json"))
        let document = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let error = try #require(((document["components"] as? [String: Any])?["schemas"] as? [String: Any])?["Error"] as? [String: Any])
        let code = try #require((((error["properties"] as? [String: Any])?["error"] as? [String: Any])?["properties"] as? [String: Any])?["code"] as? [String: Any])
        #expect(code["enum"] as? [String] == ErrorCode.all.map(\.code.rawValue))
        let described = try #require(error["x-error-codes"] as? [String: [String: Any]])
        #expect(Set(described.keys) == Set(ErrorCode.all.map(\.code.rawValue)))
        for entry in ErrorCode.all {
            #expect(described[entry.code.rawValue]?["status"] as? Int == entry.status, "\(entry.code)")
            #expect(described[entry.code.rawValue]?["meaning"] as? String == entry.meaning, "\(entry.code)")
        }
    }

    @Test func theReadmeListsExactlyTheRegistry() throws {
        let readme = try String(contentsOf: Self.root.appendingPathComponent("README.md"), encoding: .utf8)
        let section = try #require(readme.components(separatedBy: "## Error codes\n").dropFirst().first?.components(separatedBy: "\n## ").first)
        let rows = section.split(separator: "\n").filter { $0.hasPrefix("| `") }.map { line -> (String, Int) in
            let cells = line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            return (cells[0].trimmingCharacters(in: CharacterSet(charactersIn: "`")), Int(cells[1]) ?? 0)
        }
        #expect(rows.map(\.0) == ErrorCode.all.map(\.code.rawValue))
        #expect(rows.map(\.1) == ErrorCode.all.map(\.status))
    }
}

@testable import BrokerAPI
import Foundation
import Testing
import TestSupport

/// Unknown query parameters are refused like unknown JSON keys, and the server's list of the
/// parameters each route reads is the one `docs/openapi.json` documents.
@Suite struct QueryParameterTests {
    @Test func theDocumentListsExactlyTheQueryParametersEachRouteReads() async throws {
        let document = try OpenAPIDocument.load()
        var documented: [String: Set<String>] = [:]
        for (path, operations) in document.root["paths"] as? [String: [String: Any]] ?? [:] {
            for (method, operation) in operations {
                let names = ((operation as? [String: Any])?["parameters"] as? [[String: Any]] ?? [])
                    .filter { $0["in"] as? String == "query" }.compactMap { $0["name"] as? String }
                if !names.isEmpty { documented["\(method.uppercased()) \(path)"] = Set(names) }
            }
        }
        #expect(documented == QueryParameters.allowed)
    }

    @Test func aMisspeltQueryParameterIsRefusedNamingIt() async throws {
        try await withTestBroker { broker in
            let admin = try broker.adminClient()
            let misspelt = try await admin.json("GET", "/v1/credentials?expring=true")
            #expect(misspelt.status == 400 && misspelt.errorCode == "invalid", "\(misspelt.text)")
            #expect(misspelt.text.contains("unknown query parameter \\\"expring\\\"") && misspelt.text.contains("expiring"), "\(misspelt.text)")
            let none = try await admin.json("GET", "/v1/whoami?debug=1")
            #expect(none.status == 400 && none.text.contains("takes no query parameters"), "\(none.text)")
            #expect(try await admin.json("GET", "/v1/credentials?expiring=true&status=active").status == 200)
            let badValue = try await admin.json("GET", "/v1/credentials?expiring=yes")
            #expect(badValue.status == 400 && badValue.text.contains("expiring: must be true or false"), "\(badValue.text)")
        }
    }
}

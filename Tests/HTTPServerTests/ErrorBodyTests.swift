import Foundation
import Testing
@testable import HTTPServer
import Wire

/// How the server answers a JSON problem: the error envelope's shape, and the status of a
/// request body the JSON reader refused.
@Suite struct ErrorBodyTests {
    @Test func errorBodyShape() throws {
        let text = String(decoding: try JSON.encode(ErrorBody(code: "not_entitled", message: "no")), as: UTF8.self)
        #expect(text == #"{"error":{"code":"not_entitled","message":"no"}}"#)
    }

    @Test(arguments: ["", "   \r\n\t"])
    func emptyBodyIsRefusedWithBadRequest(_ body: String) {
        var refusal: JSONBodyError?
        do { _ = try JSON.decode([String: String].self, from: [UInt8](body.utf8)) } catch { refusal = error }
        #expect(refusal?.code == "invalid_json")
        #expect(refusal?.status == .badRequest)
    }
}

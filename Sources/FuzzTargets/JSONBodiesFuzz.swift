import Broker
import Foundation
import HTTPServer
import Wire

/// Every JSON request body the API decodes, through the same strict decoder the routes use
/// (`JSON.decode`: Codable plus the unknown-key and repeated-key checks).
enum JSONBodiesFuzz {
    /// `POST /v1/credentials` (mirrors `CredentialRoutes.IssueRequest`, internal to BrokerAPI).
    struct IssueRequest: Decodable { let principal: String; let csr: String; let validityDays: Int? }
    /// `POST /v1/credentials/{serial}/revoke`.
    struct RevokeRequest: Decodable { let reason: String }

    /// How many endpoint bodies `decode(_:as:)` knows.
    static let bodyCount = 12

    /// Decodes `bytes` as endpoint body number `index`, as its route does.
    static func decode(_ bytes: [UInt8], as index: Int) throws(JSONBodyError) {
        switch index {
        case 0: _ = try JSON.decode(NewAgency.self, from: bytes)
        case 1: _ = try JSON.decode(AgencyPatch.self, from: bytes)
        case 2: _ = try JSON.decode(NewPrincipal.self, from: bytes)
        case 3: _ = try JSON.decode(PrincipalPatch.self, from: bytes)
        case 4: _ = try JSON.decode(NewMeeting.self, from: bytes)
        case 5:
            let value = try JSON.decode(NewCase.self, from: bytes)
            _ = try? JSON.encode(value.fields)  // the case fields are stored re-encoded
        case 6: _ = try JSON.decode(Consent.self, from: bytes)
        case 7: _ = try JSON.decode(DispatchOrder.self, from: bytes)
        case 8: _ = try JSON.decode(ReturnSubmission.self, from: bytes)
        case 9: _ = try JSON.decode(ExtensionGrant.self, from: bytes)
        case 10: _ = try JSON.decode(IssueRequest.self, from: bytes)
        default: _ = try JSON.decode(RevokeRequest.self, from: bytes)
        }
    }

    static func run(_ bytes: [UInt8]) {
        guard bytes.count <= 64 * 1024 else { return }
        for index in 0..<bodyCount {
            do { try decode(bytes, as: index) } catch {
                precondition(!error.message.isEmpty, "a refusal without a message")
            }
        }
    }
}

import Foundation
import MaracClient
import Testing
import TestSupport
import Wire

/// A decoded JSON answer, read by key path, so tests check the wire shape the
/// SPEC promises rather than the server's own Swift types.
struct JSONBody: CustomStringConvertible {
    let value: Any?

    init(_ response: ClientResponse) { value = try? JSONSerialization.jsonObject(with: Data(response.body), options: [.fragmentsAllowed]) }
    init(value: Any?) { self.value = value }

    subscript(_ key: String) -> JSONBody { JSONBody(value: (value as? [String: Any])?[key]) }
    subscript(_ index: Int) -> JSONBody {
        guard let array = value as? [Any], array.indices.contains(index) else { return JSONBody(value: nil) }
        return JSONBody(value: array[index])
    }
    var string: String? { value as? String }
    var bool: Bool? { value as? Bool }
    var int: Int? { value as? Int }
    var array: [JSONBody] { (value as? [Any])?.map { JSONBody(value: $0) } ?? [] }
    var keys: Set<String> { Set((value as? [String: Any])?.keys.map { $0 } ?? []) }
    var exists: Bool { value != nil && !(value is NSNull) }
    var description: String {
        guard let value, JSONSerialization.isValidJSONObject(value),
              let data = try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys]) else { return "\(value ?? "nil")" }
        return String(decoding: data, as: UTF8.self)
    }
}

extension ClientResponse {
    var json: JSONBody { JSONBody(self) }
    /// The error envelope's code, if this is an error answer.
    var errorCode: String? { json["error"]["code"].string }
}

extension BrokerClient {
    /// Sends a JSON object (any `JSONSerialization`-able value) and returns the raw answer.
    func json(_ method: String, _ path: String, _ body: [String: Any]? = nil) async throws -> ClientResponse {
        let bytes = try body.map { [UInt8](try JSONSerialization.data(withJSONObject: $0, options: [.sortedKeys])) }
        return try await send(method, path, body: bytes, headers: bytes == nil ? [] : [("Content-Type", "application/json")])
    }
}

/// RFC 3339 UTC without fractions, as the broker prints it.
func rfc3339(_ date: Date) -> String { RFC3339.format(date) }

/// A broker with a coordinator and SPOCs enrolled through the API.
struct Cast {
    let broker: TestBroker
    let admin: BrokerClient
    let coordinator: Enrolled
    let spocs: [String: Enrolled]

    /// Enrols `coordinator` (community-safety) and one SPOC per agency in `agencies`.
    static func make(_ broker: TestBroker, agencies: [String]) async throws -> Cast {
        let admin = try broker.adminClient()
        let coordinator = try await broker.enrol("coord", agency: "community-safety", role: "coordinator", admin: admin)
        var spocs: [String: Enrolled] = [:]
        for agency in agencies {
            spocs[agency] = try await broker.enrol("\(agency)-spoc", agency: agency, role: "spoc", admin: admin)
        }
        return Cast(broker: broker, admin: admin, coordinator: coordinator, spocs: spocs)
    }

    /// Creates a meeting at `startsAt` and answers its JSON.
    func meeting(at startsAt: Date, title: String = "MARAC Northtown") async throws -> JSONBody {
        let response = try await coordinator.client.json("POST", "/v1/meetings", ["title": title, "startsAt": rfc3339(startsAt)])
        #expect(response.status == 201, "\(response.text)")
        return response.json
    }

    /// Creates a case with consent obtained and answers its JSON.
    func `case`(meeting: String, reference: String = "MARAC-2027-0042", fields: [String: Any]) async throws -> JSONBody {
        let response = try await coordinator.client.json("POST", "/v1/cases", [
            "meeting": meeting, "reference": reference, "fields": fields,
            "consent": ["status": "not-obtained", "lawfulBasis": "high risk of serious harm"],
        ])
        #expect(response.status == 201, "\(response.text)")
        return response.json
    }
}

extension BrokerClient {
    /// Every audit record, following the `next` cursor page by page; also the raw text of every page.
    func auditTrail() async throws -> (records: [JSONBody], text: String) {
        var records: [JSONBody] = []
        var text = ""
        var after = 0
        for _ in 0..<1000 {
            let page = try await json("GET", "/v1/audit?after=\(after)&limit=200")
            #expect(page.status == 200, "\(page.text)")
            records += page.json["records"].array
            text += page.text
            guard let next = page.json["next"].int, next > after else { break }
            after = next
        }
        return (records, text)
    }
}

extension Cast {
    /// The same principals and credentials, with clients for the broker's current port (a restart listens on a new one).
    func reconnected() throws -> Cast {
        Cast(broker: broker, admin: try broker.adminClient(), coordinator: try coordinator.reconnected(to: broker),
             spocs: try spocs.mapValues { try $0.reconnected(to: broker) })
    }
}

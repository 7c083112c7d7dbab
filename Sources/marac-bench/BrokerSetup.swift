import Foundation
import MaracClient
import TLS
import Wire

import POSIX

/// The broker-side fixtures the durable and long-poll loads need, made through the API like
/// any client would: a bench agency, its SPOC and a coordinator (`enrol`), then meetings, cases
/// and dispatches (SPEC §7).
struct BrokerSetup {
    let host: String
    let port: Int
    let caFile: String

    /// A blocking keep-alive connection as the principal whose files are given.
    func connection(certificate: String, key: String) throws -> HTTPSConnection {
        let identity = try ClientIdentity(certificateFile: certificate, keyFile: key, caFile: caFile)
        let context = try TLSContext(configuration: .client(trustRoots: identity.trustRoots, certificate: identity.certificate,
                                                            privateKey: identity.privateKey, serverName: host))
        return try HTTPSConnection(host: host, port: port, context: context, timeout: 90)
    }

    /// Sends JSON and answers the decoded JSON object; anything but `expect` is an error naming the call.
    @discardableResult
    static func call(_ connection: HTTPSConnection, _ method: String, _ path: String, _ body: [String: Any]? = nil,
                     expect: Int) throws -> [String: Any] {
        let bytes = try body.map { [UInt8](try JSONSerialization.data(withJSONObject: $0)) }
        let response = try connection.send(method: method, path: path, body: bytes)
        guard response.status == expect else {
            throw BenchError("\(method) \(path) answered \(response.status), expected \(expect): \(response.text.prefix(400))")
        }
        return (try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any]) ?? [:]
    }

    /// Creates agency `bench-<suffix>`, its SPOC and a coordinator, and writes their
    /// credentials into `directory` (`spoc.pem`, `spoc-key.pem`, `coordinator.pem`, …) and
    /// their ids (`spoc.id`, `coordinator.id`): both must then be approved by the server
    /// operator (`maracd principal approve ID`, broker stopped) before their certificates work.
    func enrol(adminCertificate: String, adminKey: String, directory: String) throws {
        let admin = try connection(certificate: adminCertificate, key: adminKey)
        let suffix = String(UInt32.random(in: 0..<UInt32.max), radix: 36)
        let agency = "bench-\(suffix)"
        try Self.call(admin, "POST", "/v1/agencies", ["id": agency, "name": "Bench agency \(suffix)", "kind": "non-core"], expect: 201)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        for (role, principalAgency) in [("spoc", agency), ("coordinator", "community-safety")] {
            let id = "bench-\(role)-\(suffix)"
            try Data(id.utf8).write(to: URL(fileURLWithPath: "\(directory)/\(role).id"))
            try Self.call(admin, "POST", "/v1/principals", ["id": id, "name": "Bench \(role)", "agency": principalAgency, "role": role], expect: 201)
            let key = try PrivateKey.generateECDSA()
            let csr = try CertificateSigningRequest.create(key: key, commonName: id, organization: principalAgency)
            let issued = try Self.call(admin, "POST", "/v1/credentials",
                                       ["principal": id, "csr": String(decoding: csr.pemBytes, as: UTF8.self)], expect: 201)
            guard let certificate = issued["certificate"] as? String else { throw BenchError("no certificate in \(issued)") }
            try Data(certificate.utf8).write(to: URL(fileURLWithPath: "\(directory)/\(role).pem"))
            let keyPath = "\(directory)/\(role)-key.pem"
            try AtomicFile.write(try key.pemBytes(), to: keyPath, mode: 0o600)
        }
        try Data(agency.utf8).write(to: URL(fileURLWithPath: "\(directory)/agency"))
        admin.close()
    }

    /// Files written by `enrol`.
    struct Cast {
        let directory: String
        var agency: String { (try? String(contentsOfFile: "\(directory)/agency", encoding: .utf8)) ?? "" }
        func certificate(_ role: String) -> String { "\(directory)/\(role).pem" }
        func key(_ role: String) -> String { "\(directory)/\(role)-key.pem" }
    }

    /// A meeting 60 days ahead, `count` cases with consent, each dispatched to the bench agency:
    /// answers the request ids, one per case.
    func dispatchRequests(cast: Cast, count: Int) throws -> [String] {
        let coordinator = try connection(certificate: cast.certificate("coordinator"), key: cast.key("coordinator"))
        defer { coordinator.close() }
        let meeting = try Self.call(coordinator, "POST", "/v1/meetings",
                                    ["title": "Bench meeting", "startsAt": RFC3339.format(Date().addingTimeInterval(60 * 86_400))], expect: 201)
        guard let meetingID = meeting["id"] as? String else { throw BenchError("no meeting id") }
        var ids: [String] = []
        for index in 0..<count {
            ids.append(try dispatch(coordinator, meeting: meetingID, reference: "BENCH-\(index)", agency: cast.agency))
        }
        return ids
    }

    /// Creates one case in `meeting` and dispatches research for it to `agency`; answers the request id.
    func dispatch(_ coordinator: HTTPSConnection, meeting: String, reference: String, agency: String) throws -> String {
        let created = try Self.call(coordinator, "POST", "/v1/cases", [
            "meeting": meeting, "reference": reference, "fields": ["victim.name": "Bench Victim"],
            "consent": ["status": "not-obtained", "lawfulBasis": "high risk of serious harm"],
        ], expect: 201)
        guard let caseID = created["id"] as? String else { throw BenchError("no case id") }
        let dispatched = try Self.call(coordinator, "POST", "/v1/cases/\(caseID)/research",
                                       ["agencies": [agency], "questions": ["Is the victim known to you?"]], expect: 201)
        guard let requests = dispatched["requests"] as? [[String: Any]], let id = requests.first?["id"] as? String else {
            throw BenchError("no request in \(dispatched)")
        }
        return id
    }
}

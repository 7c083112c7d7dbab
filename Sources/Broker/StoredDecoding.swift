import Foundation
import Wire

// The types a start reads a million of — an entry's actor and audit detail, the snapshot's audit
// records — are read by hand from stored JSON (`StoredJSONDecodable`) rather than through
// `Codable`'s generic containers. Each reads exactly what its synthesized `init(from:)` reads:
// `decode` for a required member, `decodeIfPresent` for an optional one
// (`StoredDecoderEquivalenceTests` compares the two).

extension Actor: StoredJSONDecodable {
    /// Reads an actor as `init(from:)` does.
    /// - Throws: `DecodingError` for a missing member, a value of the wrong kind or an unknown role.
    public init(storedJSON object: StoredJSONObject) throws {
        let principal = try object.string("principal"), agency = try object.string("agency")
        let raw = try object.string("role")
        guard let role = Role(rawValue: raw) else {
            throw DecodingError.dataCorrupted(DecodingError.Context(codingPath: object.codingPath,
                                                                    debugDescription: "Cannot initialize Role from invalid String value \(raw)"))
        }
        self.init(principal: principal, agency: agency, role: role, serial: try object.string("serial"))
    }
}

extension AuditDetail: StoredJSONDecodable {
    /// Reads an audit detail as `init(from:)` does.
    /// - Throws: `DecodingError` for a missing member or a value of the wrong kind.
    public init(storedJSON object: StoredJSONObject) throws {
        self.init(action: try object.string("action"), object: try object.string("object"), fields: try object.stringsIfPresent("fields"),
                  releasedTo: try object.decodeIfPresent([String: [String]].self, forKey: "releasedTo"), reason: try object.stringIfPresent("reason"))
    }
}

extension AuditRecord: StoredJSONDecodable {
    /// Reads an audit record as `init(from:)` does.
    /// - Throws: `DecodingError` for a missing member or a value of the wrong kind.
    public init(storedJSON object: StoredJSONObject) throws {
        self.init(seq: try object.uint64("seq"), at: try object.date("at"), principal: try object.string("principal"),
                  agency: try object.string("agency"), serial: try object.string("serial"), action: try object.string("action"),
                  object: try object.string("object"), fields: try object.stringsIfPresent("fields"),
                  releasedTo: try object.decodeIfPresent([String: [String]].self, forKey: "releasedTo"), reason: try object.stringIfPresent("reason"),
                  hash: try object.string("hash"), prevHash: try object.string("prevHash"))
    }
}

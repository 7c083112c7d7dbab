import Broker
import Crypto
import Foundation
import Wire
import Journal

/// How entries and snapshots are stored: Foundation's default JSON format, written by
/// `JSON.encodeStored` and read by `JSON.decodeStored` (unchanged since the first journal, so
/// old data directories open).
///
/// An entry with content (SPEC §11.7) is stored as its redacted events plus `sealed`: per
/// content key, the full events it replaces (by index) and the audit reason, sealed with
/// AES-256-GCM under that key (the key id authenticated). An entry without content is stored
/// exactly as before content keys. Decoding opens each box whose key exists; a box whose key
/// was destroyed leaves the redacted events, which is what erasure means.
public enum EntryCodec {
    /// The stored form of an entry. Read by hand (every record of a replay is one), exactly as
    /// its synthesized `init(from:)` reads it.
    struct Stored: Codable, StoredJSONDecodable {
        var at: Date
        var actor: Actor?
        var audit: AuditDetail?
        var events: [Event]
        var sealed: [Box]?

        init(at: Date, actor: Actor?, audit: AuditDetail?, events: [Event], sealed: [Box]?) {
            self.at = at
            self.actor = actor
            self.audit = audit
            self.events = events
            self.sealed = sealed
        }

        init(storedJSON object: StoredJSONObject) throws {
            self.init(at: try object.date("at"), actor: try object.decodeIfPresent(Actor.self, forKey: "actor"),
                      audit: try object.decodeIfPresent(AuditDetail.self, forKey: "audit"), events: try object.decode([Event].self, forKey: "events"),
                      sealed: try object.decodeIfPresent([Box].self, forKey: "sealed"))
        }
    }

    /// One content key's part of an entry.
    struct Box: Codable {
        var key: String
        var box: String
    }

    /// What a box holds.
    struct Content: Codable {
        struct Indexed: Codable {
            var index: Int
            var event: Event
        }
        var events: [Indexed]
        var reason: String?
    }

    /// Encodes `value` (an entry without content, or a snapshot's state) as stored.
    /// - Throws: `EncodingError` for a value JSON cannot hold (a bug, not bad input).
    public static func encode(_ value: some Encodable) throws -> [UInt8] {
        try JSON.encodeStored(value)
    }

    /// Encodes `entry`, sealing what `plan` names under the keys from `keys` (made when new).
    /// - Throws: when a key was destroyed or the key store cannot be written.
    public static func encode(_ entry: Entry, plan: SealingPlan, keys: ContentKeyStore) throws -> [UInt8] {
        if plan.isEmpty { return try encode(entry) }
        var stored = Stored(at: entry.at, actor: entry.actor, audit: entry.audit, events: entry.events, sealed: [])
        var contents: [String: Content] = [:]
        for (index, key) in plan.events.enumerated() {
            guard let key else { continue }
            contents[key, default: Content(events: [])].events.append(.init(index: index, event: entry.events[index]))
            stored.events[index] = entry.events[index].redacted
        }
        if let key = plan.reason {
            contents[key, default: Content(events: [])].reason = entry.audit?.reason
            stored.audit?.reason = nil
        }
        for key in contents.keys.sorted() {
            let sealed = AES.GCM.seal(try encode(contents[key]!), using: try keys.keyCreatingIfNeeded(key), authenticating: Array(key.utf8))
            stored.sealed?.append(Box(key: key, box: Data(sealed).base64EncodedString()))
        }
        return try encode(stored)
    }

    /// Decodes a record, opening every box whose key is in `keys`.
    /// - Throws: `BrokerSetupError` when the record cannot be decoded, a box fails authentication, or a
    ///   box's key is missing without having been destroyed (a key store that lost keys: fail closed).
    public static func decode(_ record: JournalRecord, keys: ContentKeyStore) throws -> Entry {
        let stored: Stored
        do { stored = try JSON.decodeStored(Stored.self, from: record.payload) } catch {
            throw BrokerSetupError(file: "journal", key: "seq \(record.seq)", message: "entry cannot be decoded: \(error)")
        }
        var entry = Entry(at: stored.at, actor: stored.actor, audit: stored.audit, events: stored.events)
        for box in stored.sealed ?? [] {
            guard let key = keys.key(box.key) else {
                if keys.isDestroyed(box.key) { continue }
                throw BrokerSetupError(file: keys.path ?? "content keys", key: box.key,
                                       message: "the journal's record seq \(record.seq) is sealed under content key \(box.key), which the key store "
                                           + "neither holds nor records as destroyed; restore the key store from the backup taken with data/")
            }
            let content: Content
            do {
                guard let sealed = Data(base64Encoded: box.box) else { throw CryptoError(.authenticationFailed, "the box is not base64") }
                let plain = try AES.GCM.open(Array(sealed), using: key, authenticating: Array(box.key.utf8))
                content = try JSON.decodeStored(Content.self, from: plain)
            } catch {
                throw BrokerSetupError(file: "journal", key: "seq \(record.seq)", message: "content sealed under key \(box.key) cannot be opened: \(error)")
            }
            for item in content.events where entry.events.indices.contains(item.index) { entry.events[item.index] = item.event }
            if let reason = content.reason { entry.audit?.reason = reason }
        }
        return entry
    }

    /// Decodes a snapshot's state.
    /// - Throws: `JSONReadError` or `DecodingError` naming what is wrong.
    public static func decodeState(_ bytes: [UInt8]) throws -> BrokerState {
        try JSON.decodeStored(BrokerState.self, from: bytes)
    }

    /// The record's place in the hash chain, as the audit trail shows it.
    public static func chainPosition(_ record: JournalRecord) -> ChainPosition {
        ChainPosition(seq: record.seq, hash: record.hash.hexString, prevHash: record.prevHash.hexString)
    }
}

/// Written by hand (one per entry with content): what the synthesized `Encodable` writes.
extension EntryCodec.Stored: StoredJSONWritable {
    func writeStoredJSON(to out: inout JSONOutput) throws {
        out.beginObject()
        out.storedKey("at"); try out.storedDate(at)
        if let actor { out.storedKey("actor"); actor.writeStoredJSON(to: &out) }
        if let audit { out.storedKey("audit"); try audit.writeStoredJSON(to: &out) }
        out.storedKey("events"); try Event.writeStored(events, to: &out)
        if let sealed {
            out.storedKey("sealed")
            out.array(sealed) { out, box in
                out.beginObject()
                out.storedKey("key"); out.string(box.key)
                out.storedKey("box"); out.string(box.box)
                out.endObject()
            }
        }
        out.endObject()
    }
}

extension EntryCodec.Content: StoredJSONWritable {
    func writeStoredJSON(to out: inout JSONOutput) throws {
        out.beginObject()
        out.storedKey("events")
        try out.array(events) { out, item in
            out.beginObject()
            out.storedKey("index"); out.integer(item.index)
            out.storedKey("event"); try item.event.writeStoredJSON(to: &out)
            out.endObject()
        }
        if let reason { out.storedKey("reason"); out.string(reason) }
        out.endObject()
    }
}

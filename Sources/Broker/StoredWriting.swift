import Foundation
import Wire

// The stored form of what is journaled on every request, written by hand: the entry's
// envelope, the actor, the audit detail, and the events of a return, a first read and a
// release; and of what most of a snapshot is: audit records and research requests with their
// returns. Each writes what its synthesized `Encodable` writes through `encodeStored`
// (declaration order, nil optionals left out, dates as numbers); every other event goes
// through `Encodable`. `StoredDecoderEquivalenceTests` compares the bytes for every event,
// entry, request and audit record, and for a whole state.

extension Entry: StoredJSONWritable {
    public func writeStoredJSON(to out: inout JSONOutput) throws {
        out.beginObject()
        out.storedKey("at"); try out.storedDate(at)
        if let actor { out.storedKey("actor"); actor.writeStoredJSON(to: &out) }
        if let audit { out.storedKey("audit"); try audit.writeStoredJSON(to: &out) }
        out.storedKey("events"); try Event.writeStored(events, to: &out)
        out.endObject()
    }
}

extension Actor: StoredJSONWritable {
    public func writeStoredJSON(to out: inout JSONOutput) {
        out.beginObject()
        out.storedKey("principal"); out.string(principal)
        out.storedKey("agency"); out.string(agency)
        out.storedKey("role"); out.string(role.rawValue)
        out.storedKey("serial"); out.string(serial)
        out.endObject()
    }
}

extension AuditDetail: StoredJSONWritable {
    public func writeStoredJSON(to out: inout JSONOutput) throws {
        out.beginObject()
        try Self.writeStoredMembers(action: action, object: object, fields: fields, releasedTo: releasedTo, reason: reason, to: &out)
        out.endObject()
    }

    /// The members an audit detail and an audit record share, in their declaration order.
    static func writeStoredMembers(action: String, object: String, fields: [String]?, releasedTo: [String: [String]]?, reason: String?,
                                   to out: inout JSONOutput) throws {
        out.storedKey("action"); out.string(action)
        out.storedKey("object"); out.string(object)
        if let fields { out.storedKey("fields"); out.storedStrings(fields) }
        if let releasedTo { out.storedKey("releasedTo"); try out.storedValue(releasedTo) }
        if let reason { out.storedKey("reason"); out.string(reason) }
    }
}

extension Event: StoredJSONWritable {
    public func writeStoredJSON(to out: inout JSONOutput) throws {
        switch self {
        case .returnSubmitted(let version):
            out.beginObject()
            out.storedKey("returnSubmitted")
            out.beginObject()
            out.storedKey("return"); try version.writeStoredJSON(to: &out)
            out.endObject()
            out.endObject()
        case .requestAcknowledged(let request, let at, let principal):
            out.beginObject()
            out.storedKey("requestAcknowledged")
            out.beginObject()
            out.storedKey("request"); out.string(request)
            out.storedKey("at"); try out.storedDate(at)
            out.storedKey("principal"); out.string(principal)
            out.endObject()
            out.endObject()
        case .requestReleased(let request, let at):
            out.beginObject()
            out.storedKey("requestReleased")
            out.beginObject()
            out.storedKey("request"); out.string(request)
            out.storedKey("at"); try out.storedDate(at)
            out.endObject()
            out.endObject()
        default:
            try out.storedValue(self)
        }
    }

    /// `events` as a stored array.
    public static func writeStored(_ events: [Event], to out: inout JSONOutput) throws {
        try out.array(events) { out, event in try event.writeStoredJSON(to: &out) }
    }
}

extension ResearchReturn: StoredJSONWritable {
    public func writeStoredJSON(to out: inout JSONOutput) throws {
        out.beginObject()
        out.storedKey("request"); out.string(request)
        out.storedKey("agency"); out.string(agency)
        out.storedKey("version"); out.integer(version)
        out.storedKey("submittedAt"); try out.storedDate(submittedAt)
        out.storedKey("knownToAgency"); out.bool(knownToAgency)
        out.storedKey("summary"); out.string(summary)
        out.storedKey("answers"); out.storedStrings(answers)
        out.storedKey("withheld")
        out.array(withheld) { out, item in
            out.beginObject()
            out.storedKey("what"); out.string(item.what)
            out.storedKey("reason"); out.string(item.reason)
            out.endObject()
        }
        out.endObject()
    }
}

extension AuditRecord: StoredJSONWritable {
    public func writeStoredJSON(to out: inout JSONOutput) throws {
        out.beginObject()
        out.storedKey("seq"); out.integer(seq)
        out.storedKey("at"); try out.storedDate(at)
        out.storedKey("principal"); out.string(principal)
        out.storedKey("agency"); out.string(agency)
        out.storedKey("serial"); out.string(serial)
        try AuditDetail.writeStoredMembers(action: action, object: object, fields: fields, releasedTo: releasedTo, reason: reason, to: &out)
        out.storedKey("hash"); out.string(hash)
        out.storedKey("prevHash"); out.string(prevHash)
        out.endObject()
    }
}

extension ResearchRequest: StoredJSONWritable {
    public func writeStoredJSON(to out: inout JSONOutput) throws {
        out.beginObject()
        out.storedKey("id"); out.string(id)
        out.storedKey("case"); out.string(`case`)
        out.storedKey("meeting"); out.string(meeting)
        out.storedKey("agency"); out.string(agency)
        out.storedKey("questions"); out.storedStrings(questions)
        out.storedKey("fieldNames"); out.storedStrings(fieldNames)
        out.storedKey("invited"); out.storedStrings(invited)
        out.storedKey("urgent"); out.bool(urgent)
        if let reason { out.storedKey("reason"); out.string(reason) }
        out.storedKey("releaseAt"); try out.storedDate(releaseAt)
        out.storedKey("dispatchDeadline"); try out.storedDate(dispatchDeadline)
        out.storedKey("returnDeadline"); try out.storedDate(returnDeadline)
        out.storedKey("dispatchedAt"); try out.storedDate(dispatchedAt)
        out.storedKey("dispatchedBy"); out.string(dispatchedBy)
        if let releasedAt { out.storedKey("releasedAt"); try out.storedDate(releasedAt) }
        if let acknowledgedAt { out.storedKey("acknowledgedAt"); try out.storedDate(acknowledgedAt) }
        if let extendedUntil { out.storedKey("extendedUntil"); try out.storedDate(extendedUntil) }
        if let extensionReason { out.storedKey("extensionReason"); out.string(extensionReason) }
        out.storedKey("returns")
        try out.array(returns) { out, version in try version.writeStoredJSON(to: &out) }
        out.storedKey("createdSeq"); out.integer(createdSeq)
        out.storedKey("changedSeq"); out.integer(changedSeq)
        if let feedPosition { out.storedKey("feedPosition"); out.integer(feedPosition) }
        if let returnBytes { out.storedKey("returnBytes"); out.integer(returnBytes) }
        if let caseVersion { out.storedKey("caseVersion"); out.integer(caseVersion) }
        if let followUp { out.storedKey("followUp"); out.bool(followUp) }
        out.endObject()
    }
}

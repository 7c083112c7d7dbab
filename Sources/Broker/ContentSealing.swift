import Foundation
import Wire

// Erasure by key destruction (SPEC §11.7).
//
// Every case and referral is given a content key id when it is made (`contentKeyAssigned`;
// a case accepted from a referral, and a referral redirected from another, share its key).
// The store seals what an event says about a person — fields, consent basis, questions,
// returns, screening details, reasons, notes, action text, identifier hashes — under that
// key, and keeps the rest (ids, agencies, dates, states) readable: the event's `redacted`
// form. Destroying the key leaves exactly the redacted events, so replaying a journal whose
// key is gone gives the same state as `eraseContent` gives live.

extension Event {
    /// The event with everything it says about a person blanked: what remains when its content
    /// key is destroyed. Events that carry no content are returned unchanged.
    public var redacted: Event {
        switch self {
        case .caseCreated(var record):
            record.blankContent()
            return .caseCreated(case: record)
        case .consentRecorded(let id, var consent):
            consent.lawfulBasis = nil
            return .consentRecorded(case: id, consent: consent)
        case .requestDispatched(var request):
            request.blankContent()
            return .requestDispatched(request: request)
        case .returnSubmitted(var version):
            version.blankContent()
            return .returnSubmitted(return: version)
        case .extensionGranted(let id, let until, _):
            return .extensionGranted(request: id, until: until, reason: "")
        case .referralSubmitted(var referral):
            referral.blankContent()
            return .referralSubmitted(referral: referral)
        case .referralDecided(let id, var decision):
            decision.reason = nil
            decision.advice = nil
            return .referralDecided(referral: id, decision: decision)
        case .fieldsCorrected(let id, var correction):
            correction.blankContent()
            return .fieldsCorrected(case: id, correction: correction)
        case .identifiersHashed(let subject, _):
            return .identifiersHashed(subject: subject, hashes: [])
        case .actionAgreed(var action):
            action.blankContent()
            return .actionAgreed(action: action)
        case .actionCompleted(let id, let at, _):
            return .actionCompleted(action: id, at: at, note: "")
        case .actionCancelled(let id, let at, _):
            return .actionCancelled(action: id, at: at, reason: "")
        case .caseClosed(let id, let at, _):
            return .caseClosed(case: id, at: at, reason: "")
        default:
            return self
        }
    }
}

/// Which content key seals each part of an entry.
public struct SealingPlan: Sendable, Equatable {
    /// Per event: the content key id sealing it, or nil (no content, or a record from before content keys).
    public var events: [String?]
    /// The content key id sealing the audit reason, or nil (no reason, or not case text).
    public var reason: String?

    /// Whether nothing is sealed.
    public var isEmpty: Bool { reason == nil && events.allSatisfy { $0 == nil } }
}

extension BrokerState {
    /// Which content key seals each event of `entry` and its audit reason, decided against this
    /// state (the state before `entry` is applied) and the keys the entry itself assigns.
    public func sealingPlan(of entry: Entry) -> SealingPlan {
        var resolver = ContentKeyResolver(state: self)
        var keys: [String?] = []
        for event in entry.events {
            keys.append(resolver.key(of: event))
            resolver.learn(event)
        }
        var reason: String?
        if let detail = entry.audit, detail.reason != nil, AuditRecord.sealsReason(of: detail.action) {
            reason = resolver.key(ofObject: detail.object)
        }
        return SealingPlan(events: keys, reason: reason)
    }

    /// The content key id of a case or referral, if it has one.
    public func contentKey(of subject: String) -> String? { contentKeys?[subject] }

    /// Blanks everything sealed under `key` (what destroying it leaves after a replay).
    mutating func eraseContent(key: String) {
        let subjects = Set((contentKeys ?? [:]).filter { $0.value == key }.map(\.key))
        for id in subjects {
            if cases[id] != nil {
                cases[id]?.blankContent()
                if var list = corrections?[id] {
                    for index in list.indices { list[index].blankContent() }
                    corrections?[id] = list
                }
                if identifierHashes?["case:\(id)"] != nil { setIdentifierHashes([], of: "case:\(id)") }
            }
            if referrals?[id] != nil {
                referrals?[id]?.blankContent()
                referrals?[id]?.decision?.reason = nil
                referrals?[id]?.decision?.advice = nil
                if identifierHashes?["referral:\(id)"] != nil { setIdentifierHashes([], of: "referral:\(id)") }
            }
        }
        for (id, request) in requests where subjects.contains(request.case) {
            var blank = request
            blank.blankContent()
            if blank.extensionReason != nil { blank.extensionReason = "" }
            for index in blank.returns.indices { blank.returns[index].blankContent() }
            if blank.returnBytes != nil { blank.returnBytes = blank.returns.reduce(0) { $0 + ReturnLimits.encodedSize(of: $1) } }
            requests[id] = blank
        }
        for (id, action) in actions ?? [:] where subjects.contains(action.case) {
            var blank = action
            blank.blankContent()
            if blank.note != nil { blank.note = "" }
            if blank.cancelReason != nil { blank.cancelReason = "" }
            actions?[id] = blank
        }
        let resolver = ContentKeyResolver(state: self)
        for index in audit.indices where audit[index].reason != nil && AuditRecord.sealsReason(of: audit[index].action)
            && resolver.key(ofObject: audit[index].object) == key {
            audit[index].reason = nil
        }
    }
}

extension AuditRecord {
    /// Whether an audit record's reason is case text, sealed with the content it is about:
    /// every reason but the registry's and the journal's own, and the erasure's (which must
    /// outlive the key it destroys).
    static func sealsReason(of action: String) -> Bool {
        !registryReasonActions.contains(action) && action != AuditDetail.Action.contentErase
    }
}

/// Finds the content key of an event or audit object, learning the objects an entry makes as it goes.
private struct ContentKeyResolver {
    let state: BrokerState
    var assigned: [String: String] = [:]
    var requestCase: [String: String] = [:]
    var actionCase: [String: String] = [:]

    init(state: BrokerState) { self.state = state }

    func key(ofSubject id: String) -> String? { assigned[id] ?? state.contentKeys?[id] }
    func caseOf(request id: String) -> String? { requestCase[id] ?? state.requests[id]?.case }
    func caseOf(action id: String) -> String? { actionCase[id] ?? state.actions?[id]?.case }

    /// A case, referral, request or action id's key (ids are random, so they never collide).
    func key(ofObject id: String) -> String? {
        key(ofSubject: id) ?? caseOf(request: id).flatMap(key(ofSubject:)) ?? caseOf(action: id).flatMap(key(ofSubject:))
    }

    func key(of event: Event) -> String? {
        switch event {
        case .caseCreated(let record): return key(ofSubject: record.id)
        case .consentRecorded(let id, _), .fieldsCorrected(let id, _), .caseClosed(let id, _, _): return key(ofSubject: id)
        case .requestDispatched(let request): return key(ofSubject: request.case)
        case .returnSubmitted(let version): return caseOf(request: version.request).flatMap(key(ofSubject:))
        case .extensionGranted(let id, _, _): return caseOf(request: id).flatMap(key(ofSubject:))
        case .referralSubmitted(let referral): return key(ofSubject: referral.id)
        case .referralDecided(let id, _): return key(ofSubject: id)
        case .identifiersHashed(let subject, _):
            let id = subject.split(separator: ":", maxSplits: 1).last.map(String.init) ?? subject
            return key(ofSubject: id)
        case .actionAgreed(let action): return key(ofSubject: action.case)
        case .actionCompleted(let id, _, _), .actionCancelled(let id, _, _): return caseOf(action: id).flatMap(key(ofSubject:))
        default: return nil
        }
    }

    mutating func learn(_ event: Event) {
        switch event {
        case .contentKeyAssigned(let subject, let key): assigned[subject] = key
        case .requestDispatched(let request): requestCase[request.id] = request.case
        case .actionAgreed(let action): actionCase[action.id] = action.case
        default: break
        }
    }
}

extension Case {
    mutating func blankContent() {
        fields = [:]
        consent?.lawfulBasis = nil
        repeatOf = nil
    }
}

extension Referral {
    mutating func blankContent() {
        fields = [:]
        reason = ""
        consent.lawfulBasis = nil
        for index in screening.indices { screening[index].detail = "" }
        repeatOf = nil
    }
}

extension ResearchRequest {
    mutating func blankContent() {
        questions = []
        reason = nil
        // Paths can carry text in a `*` segment (`perpetrator.*.name` matches any one segment).
        fieldNames = []
    }
}

extension ResearchReturn {
    mutating func blankContent() {
        summary = ""
        answers = []
        withheld = []
        knownToAgency = false
    }
}

extension FieldCorrection {
    mutating func blankContent() {
        set = [:]
        remove = []
        reason = ""
        replaced = [:]
        added = []
    }
}

extension Action {
    mutating func blankContent() {
        text = ""
    }
}

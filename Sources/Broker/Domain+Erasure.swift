import Foundation
import Wire

/// An erased case as every reply shows it (SPEC §11.7): `{id, reference, state: "erased", erasedAt}`.
public struct ErasedCase: Codable, Sendable, Equatable {
    public var id: String
    public var reference: String
    public var state: CaseState
    public var erasedAt: Date
}

/// `GET /v1/cases/{id}`: the case, or what remains of an erased one.
public enum CaseReply: Encodable, Sendable {
    case live(Case)
    case erased(ErasedCase)

    public func encode(to encoder: any Encoder) throws {
        switch self {
        case .live(let record): try record.encode(to: encoder)
        case .erased(let stub): try stub.encode(to: encoder)
        }
    }
}

extension Case {
    /// What an erased case shows; nil while it is not erased.
    public var erasedStub: ErasedCase? {
        guard currentState == .erased, let erasedAt else { return nil }
        return ErasedCase(id: id, reference: reference, state: .erased, erasedAt: erasedAt)
    }
}

extension Domain {
    // MARK: Erasure (SPEC §11.7)

    /// `GET /v1/cases/{id}` (coordinator): `readCase`, or the erased case's `{id, reference, state, erasedAt}`.
    public func caseReply(id: String, by actor: Actor, env: Environment) -> Outcome<CaseReply> {
        readCase(id: id, by: actor, env: env).map { decision in
            Decision(entry: decision.entry, reply: decision.reply.erasedStub.map(CaseReply.erased) ?? .live(decision.reply))
        }
    }

    /// `POST /v1/cases/{id}/erase {reason}` (coordinator, closed case): destroys the case's content key,
    /// and with it the content of the case, its research, returns, actions, corrections, identifier
    /// hashes and the referral it came from. Irreversible; audited with the reason (which is not case
    /// text and must hold no personal data). A case still open is 409: close it first.
    public func eraseCase(caseID: String, _ body: Reasoned, by actor: Actor, env: Environment) -> Outcome<ErasedCase> {
        if let error = require(actor, [.coordinator], to: "erase cases") { return .failure(error) }
        var body = body
        if let error = TextHygiene.clean(&body.reason, field: "reason") { return .failure(error) }
        guard let record = state.cases[caseID] else { return .failure(.notFound("case")) }
        switch record.currentState {
        case .erased: return .failure(DomainError(.conflict, "case \(record.reference) was erased already"))
        case .open: return .failure(DomainError(.conflict, "case \(record.reference) is open; close it first (POST /v1/cases/\(caseID)/close)"))
        case .closed: break
        }
        guard Validate.isText(body.reason, limit: Limits.reasonLength, multiline: true) else {
            return .failure(.invalidField("reason", "must be non-empty, at most \(Limits.reasonLength) characters"))
        }
        guard let key = state.contentKey(of: caseID) else {
            return .failure(DomainError(.conflict, "case \(record.reference) was recorded before content keys: its content is in journal records "
                                        + "sealed only under the data key, so destroying a key cannot erase it"))
        }
        let entry = erasure(key: key, object: caseID, reason: body.reason, actor: actor, env: env)
        return .success(Decision(entry: entry, reply: ErasedCase(id: caseID, reference: record.reference, state: .erased, erasedAt: env.now)))
    }

    /// The retention sweep (SPEC §11.7): one entry per content key whose cases were closed, and whose
    /// referrals were declined, at least their panel's `retentionMonths` ago (broker's local dates).
    /// A key shared with a case still open or a referral still awaiting a decision is kept.
    public func erasuresDue(env: Environment) -> [Entry] {
        let today = rules.calendar.localDate(of: env.now).date
        var subjectsByKey: [String: [String]] = [:]
        for (subject, key) in state.contentKeys ?? [:] where !(state.erasedKeys ?? []).contains(key) {
            subjectsByKey[key, default: []].append(subject)
        }
        var entries: [Entry] = []
        for key in subjectsByKey.keys.sorted() {
            var due: [(object: String, reason: String)] = []
            var kept = false
            for subject in subjectsByKey[key]!.sorted() {
                if let record = state.cases[subject] {
                    let months = panel(of: record).retentionMonths
                    guard record.currentState == .closed, let closedAt = record.closedAt,
                          rules.calendar.localDate(of: closedAt).date.adding(months: months) <= today else { kept = true; continue }
                    due.append((subject, "retention: case closed on \(rules.calendar.localDate(of: closedAt).date), kept \(months) months"))
                } else if let referral = state.referrals?[subject] {
                    switch referral.state {
                    case .submitted: kept = true
                    case .accepted, .redirected: continue   // its case, or the referral it went on as, decides
                    case .declined:
                        let months = panels[referral.panel]?.retentionMonths ?? panels.first.retentionMonths
                        guard let decidedAt = referral.decision?.at,
                              rules.calendar.localDate(of: decidedAt).date.adding(months: months) <= today else { kept = true; continue }
                        due.append((subject, "retention: referral declined on \(rules.calendar.localDate(of: decidedAt).date), kept \(months) months"))
                    }
                }
            }
            guard !kept, let first = due.first else { continue }
            entries.append(erasure(key: key, object: first.object, reason: first.reason, actor: nil, env: env))
        }
        return entries
    }

    /// The entry erasing everything sealed under `key`.
    private func erasure(key: String, object: String, reason: String, actor: Actor?, env: Environment) -> Entry {
        let subjects = (state.contentKeys ?? [:]).filter { $0.value == key }.map(\.key).sorted()
        return entry(env, actor, AuditDetail(action: AuditDetail.Action.contentErase, object: object, reason: reason),
                     [.contentErased(subjects: subjects, keys: [key], at: env.now)])
    }

    /// The refusal of anything but the stub for an erased case.
    static func erasedError(_ stub: ErasedCase) -> DomainError {
        DomainError(.conflict, "case \(stub.reference) was erased at \(RFC3339.format(stub.erasedAt, fraction: .milliseconds)); nothing of its content remains")
    }

    /// Whether the case of `caseID` was erased: its requests and actions are gone for every agency.
    func isErased(_ caseID: String) -> Bool { state.cases[caseID]?.currentState == .erased }
}

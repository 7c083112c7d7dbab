import Foundation
import Wire

/// The MARAC domain: commands in, journal entries and replies out.
///
/// A `Domain` is the state plus the rules that do not live in the journal (the
/// sharing policy and the deadline rules). Every command method is pure: it
/// checks the caller's role, validates, and returns a `Decision` (an `Entry` to
/// journal and a reply) or a `DomainError` — it never mutates. The API layer
/// journals `decision.entry`, then calls `apply(_:position:)`, then answers.
///
/// Role checks come before existence checks, so a refused role learns nothing
/// about what exists; anything a permitted caller may not see is `not_found`,
/// with the same message as for an object that does not exist.
public struct Domain: Sendable {
    /// Everything journaled so far.
    public internal(set) var state: BrokerState
    /// Need-to-know rules.
    public let policy: SharingPolicy
    /// Deadline rules and calendar.
    public let rules: DeadlineRules
    /// How many versions, and how many bytes in all, one request's return may hold.
    public let returnLimits: ReturnLimits
    /// The panels hosted (`panels.json`); each meeting takes its deadlines from its panel.
    public let panels: PanelSet
    /// Keyed hashes of identifiers for repeat detection (nil: not configured, no repeats reported).
    public let identifierHasher: IdentifierHasher?

    /// Creates a broker over a state (empty, replayed or from a snapshot). Without `panels`,
    /// one default panel with `rules`' deadlines and no referral rules.
    public init(state: BrokerState = BrokerState(), policy: SharingPolicy, rules: DeadlineRules = DeadlineRules(),
                returnLimits: ReturnLimits = .default, panels: PanelSet? = nil, identifierHasher: IdentifierHasher? = nil) {
        self.state = state
        self.policy = policy
        self.rules = rules
        self.returnLimits = returnLimits
        self.panels = panels ?? .single(rules: rules)
        self.identifierHasher = identifierHasher
    }

    /// Applies a journaled entry (see `BrokerState.apply`).
    public mutating func apply(_ entry: Entry, position: ChainPosition) {
        state.apply(entry, position: position)
    }

    /// Who holds the certificate `serial` (see `BrokerState.identify`).
    public func identify(serial: String, at now: Date, allowPending: Bool = false) -> Result<Actor, DomainError> {
        state.identify(serial: serial, at: now, allowPending: allowPending)
    }

    // MARK: Helpers

    func require(_ actor: Actor, _ roles: Set<Role>, to operation: String) -> DomainError? {
        roles.contains(actor.role) ? nil : .forbidden(operation, role: actor.role, allowed: roles)
    }

    func entry(_ env: Environment, _ actor: Actor?, _ audit: AuditDetail?, _ events: [Event]) -> Entry {
        Entry(at: env.now, actor: actor, audit: audit, events: events)
    }

    // MARK: Identity

    /// `GET /v1/whoami`: the caller's principal, agency, role and certificate.
    public func whoami(by actor: Actor) -> Outcome<WhoAmI> {
        guard let principal = state.principals[actor.principal], let credential = state.credentials[actor.serial] else {
            return .failure(.notFound("principal"))
        }
        return .success(Decision(entry: nil, reply: WhoAmI(
            principal: principal.id, name: principal.name, agency: principal.agency, role: principal.role,
            certificate: .init(serial: credential.serial, notAfter: credential.notAfter,
                               approval: !principal.role.needsApproval ? "not-needed" : credential.isApproved(for: principal) ? "approved" : "pending"))))
    }

    // MARK: Agencies

    /// `GET /v1/agencies` (admin, coordinator).
    public func listAgencies(by actor: Actor) -> Outcome<AgencyList> {
        if let error = require(actor, [.admin, .coordinator], to: "list agencies") { return .failure(error) }
        return .success(Decision(entry: nil, reply: AgencyList(agencies: state.agencies.values.sorted { $0.id < $1.id })))
    }

    /// `POST /v1/agencies` (admin).
    public func createAgency(_ body: NewAgency, by actor: Actor, env: Environment) -> Outcome<Agency> {
        if let error = require(actor, [.admin], to: "create agencies") { return .failure(error) }
        var body = body
        if let error = TextHygiene.clean(&body.name, field: "name", multiline: false) { return .failure(error) }
        guard Validate.isSlug(body.id) else {
            return .failure(.invalidField("id", "must be a lower-case slug such as \"victim-support\" (at most \(Limits.idLength) characters)"))
        }
        guard Validate.isName(body.name) else {
            return .failure(.invalidField("name", "must be non-empty, at most \(Limits.nameLength) characters"))
        }
        guard state.agencies[body.id] == nil else {
            return .failure(DomainError(.conflict, "agency \(body.id) already exists"))
        }
        let agency = Agency(id: body.id, name: body.name, kind: body.kind, active: body.active ?? true)
        return .success(Decision(entry: entry(env, actor, AuditDetail(action: AuditDetail.Action.agencyCreate, object: agency.id),
                                              [.agencyCreated(agency: agency)]), reply: agency))
    }

    /// `PATCH /v1/agencies/{id}` (admin). An admin may not deactivate its own agency.
    public func updateAgency(id: String, _ patch: AgencyPatch, by actor: Actor, env: Environment) -> Outcome<Agency> {
        if let error = require(actor, [.admin], to: "change agencies") { return .failure(error) }
        var patch = patch
        if let error = TextHygiene.clean(&patch.name, field: "name", multiline: false) { return .failure(error) }
        guard var agency = state.agencies[id] else { return .failure(.notFound("agency")) }
        if let name = patch.name {
            guard Validate.isName(name) else { return .failure(.invalidField("name", "must be non-empty, at most \(Limits.nameLength) characters")) }
            agency.name = name
        }
        if let kind = patch.kind { agency.kind = kind }
        if let active = patch.active {
            if !active && id == actor.agency {
                return .failure(DomainError(.conflict, "you may not deactivate your own agency"))
            }
            agency.active = active
        }
        return .success(Decision(entry: entry(env, actor, AuditDetail(action: AuditDetail.Action.agencyUpdate, object: id),
                                              [.agencyUpdated(agency: agency)]), reply: agency))
    }

    // MARK: Principals

    /// `GET /v1/principals` (admin; coordinator, to see whom to approve).
    public func listPrincipals(by actor: Actor) -> Outcome<PrincipalList> {
        if let error = require(actor, [.admin, .coordinator], to: "list principals") { return .failure(error) }
        return .success(Decision(entry: nil, reply: PrincipalList(principals: state.principals.values.sorted { $0.id < $1.id })))
    }

    /// `POST /v1/principals` (admin). The agency must exist.
    public func createPrincipal(_ body: NewPrincipal, by actor: Actor, env: Environment) -> Outcome<Principal> {
        if let error = require(actor, [.admin], to: "create principals") { return .failure(error) }
        var body = body
        if let error = TextHygiene.clean(&body.name, field: "name", multiline: false) { return .failure(error) }
        guard Validate.isSlug(body.id) else {
            return .failure(.invalidField("id", "must be a lower-case slug such as \"jo-smith\" (at most \(Limits.idLength) characters)"))
        }
        guard Validate.isName(body.name) else {
            return .failure(.invalidField("name", "must be non-empty, at most \(Limits.nameLength) characters"))
        }
        guard state.agencies[body.agency] != nil else {
            return .failure(.invalidField("agency", "no agency \(body.agency)"))
        }
        guard state.principals[body.id] == nil else {
            return .failure(DomainError(.conflict, "principal \(body.id) already exists"))
        }
        let principal = Principal(id: body.id, name: body.name, agency: body.agency, role: body.role, active: body.active ?? true)
        return .success(Decision(entry: entry(env, actor, AuditDetail(action: AuditDetail.Action.principalCreate, object: principal.id),
                                              [.principalCreated(principal: principal)]), reply: principal))
    }

    /// `PATCH /v1/principals/{id}` (admin): rename, move, change role, enable or
    /// disable. An admin may not disable or demote itself. A new role or agency
    /// makes every certificate of the principal pending again (a coordinator must
    /// approve it anew), and a move to another agency revokes its certificates,
    /// whose subject names the old one.
    public func updatePrincipal(id: String, _ patch: PrincipalPatch, by actor: Actor, env: Environment) -> Outcome<Principal> {
        if let error = require(actor, [.admin], to: "change principals") { return .failure(error) }
        var patch = patch
        if let error = TextHygiene.clean(&patch.name, field: "name", multiline: false) { return .failure(error) }
        guard var principal = state.principals[id] else { return .failure(.notFound("principal")) }
        let original = principal
        if let name = patch.name {
            guard Validate.isName(name) else { return .failure(.invalidField("name", "must be non-empty, at most \(Limits.nameLength) characters")) }
            principal.name = name
        }
        if let agency = patch.agency {
            guard state.agencies[agency] != nil else { return .failure(.invalidField("agency", "no agency \(agency)")) }
            principal.agency = agency
        }
        if let role = patch.role { principal.role = role }
        if let active = patch.active { principal.active = active }
        if id == actor.principal && (!principal.active || principal.role != .admin) {
            return .failure(DomainError(.conflict, "you may not disable or demote yourself"))
        }
        if principal.role != original.role || principal.agency != original.agency {
            principal.approvedBy = nil
            principal.approvedAt = nil
        }
        var events: [Event] = [.principalUpdated(principal: principal)]
        if principal.role != original.role || principal.agency != original.agency {
            for credential in state.credentials.values.sorted(by: { $0.serial < $1.serial })
            where credential.principal == id && credential.revokedAt == nil && credential.approval != .pending {
                events.append(.credentialApprovalChanged(serial: credential.serial, approval: .pending))
            }
        }
        if principal.agency != original.agency {
            let reason = "principal moved from agency \(original.agency) to \(principal.agency)"
            for credential in state.credentials.values.sorted(by: { $0.serial < $1.serial })
            where credential.principal == id && credential.revokedAt == nil {
                events.append(.credentialRevoked(serial: credential.serial, at: env.now, reason: reason))
            }
        }
        return .success(Decision(entry: entry(env, actor, AuditDetail(action: AuditDetail.Action.principalUpdate, object: id), events),
                                 reply: principal))
    }

    // MARK: Credentials

    /// Registers a certificate the API layer has signed for a principal (admin).
    /// `POST /v1/credentials` and `maracd cert sign`: checks the issuer and the principal,
    /// has `sign` make the certificate for that principal, and registers it — one decision,
    /// so the principal signed for is the one in the state the entry is ordered against.
    /// `sign` runs only when everything else allows the issue.
    public func issueCredential<Signed: SignedCredential>(principal id: String, by actor: Actor, env: Environment,
                                                          sign: (Principal) -> Result<Signed, DomainError>) -> Outcome<Signed> {
        guard actor.role == .admin else {
            return .failure(DomainError(.forbidden, "role \(actor.role.rawValue) may not issue credentials; only an administrator can"))
        }
        guard let principal = state.principals[id] else { return .failure(DomainError(.notFound, "principal \(id) does not exist")) }
        guard principal.active else {
            return .failure(DomainError(.conflict, "principal \(principal.id) is disabled; enable it before issuing a credential"))
        }
        return sign(principal).flatMap { signed in
            registerCredential(NewCredential(serial: signed.serial, principal: principal.id, issuedAt: env.now, notAfter: signed.notAfter,
                                             keySHA256: signed.keySHA256),
                               by: actor, env: env).map { Decision(entry: $0.entry, reply: signed) }
        }
    }

    /// `POST /v1/credentials/renew`: the holder's renewal, signed by `sign` only inside the
    /// renewal window and registered with the approval carried over (see `renewCredential`).
    public func renewCredential<Signed: SignedCredential>(by actor: Actor, env: Environment,
                                                          sign: (Principal) -> Result<Signed, DomainError>) -> Outcome<Signed> {
        guard let principal = state.principals[actor.principal] else { return .failure(.notFound("principal")) }
        // Asked before anything is signed: outside the 60-day window, nothing is issued.
        if let refusal = renewalRefusal(serial: actor.serial, at: env.now) { return .failure(refusal) }
        return sign(principal).flatMap { signed in
            renewCredential(NewCredential(serial: signed.serial, principal: principal.id, issuedAt: env.now, notAfter: signed.notAfter,
                                          keySHA256: signed.keySHA256),
                            by: actor, env: env).map { Decision(entry: $0.entry, reply: signed) }
        }
    }

    public func registerCredential(_ body: NewCredential, by actor: Actor, env: Environment) -> Outcome<CredentialView> {
        if let error = require(actor, [.admin], to: "issue credentials") { return .failure(error) }
        guard Validate.isSerial(body.serial) else {
            return .failure(.invalidField("serial", "must be upper-case hex without separators"))
        }
        guard let principal = state.principals[body.principal] else {
            return .failure(.invalidField("principal", "no principal \(body.principal)"))
        }
        guard state.credentials[body.serial] == nil else {
            return .failure(DomainError(.conflict, "certificate \(body.serial) is already registered"))
        }
        guard body.notAfter > body.issuedAt else { return .failure(.invalidField("notAfter", "must be after issuedAt")) }
        if let refusal = keyRefusal(body.keySHA256) { return .failure(refusal) }
        // Pending from the first moment: whoever issued it, it opens nothing until a coordinator approves it.
        let credential = Credential(serial: body.serial, principal: principal.id, issuedAt: body.issuedAt, notAfter: body.notAfter,
                                    approval: .pending, keySHA256: body.keySHA256)
        return .success(Decision(
            entry: entry(env, actor, AuditDetail(action: AuditDetail.Action.credentialRegister, object: credential.serial),
                         [.credentialRegistered(credential: credential)]),
            reply: view(credential, at: env.now)))
    }

    /// `POST /v1/credentials/{serial}/approve` (coordinator): lets one certificate of a
    /// coordinator, SPOC or auditor open what its role may see. The second pair of eyes:
    /// administrators issue certificates, a coordinator who does not hold this one vouches
    /// for it. `maracd credential approve` does the same offline, for the first coordinator.
    public func approveCredential(serial: String, by actor: Actor, env: Environment) -> Outcome<CredentialView> {
        if let error = require(actor, [.coordinator], to: "approve credentials") { return .failure(error) }
        let key = serial.uppercased()
        guard let credential = state.credentials[key], let principal = state.principals[credential.principal] else {
            return .failure(.notFound("credential"))
        }
        guard principal.role.needsApproval else {
            return .failure(DomainError(.conflict, "certificate \(key) belongs to \(principal.id), an administrator: it needs no approval and may not be given one"))
        }
        guard credential.revokedAt == nil, env.now <= credential.notAfter else {
            return .failure(DomainError(.conflict, "certificate \(key) is \(credential.status(at: env.now)): it cannot be approved"))
        }
        if let approver = credential.approver(for: principal), credential.isApproved(for: principal) {
            return .failure(DomainError(.conflict, "certificate \(key) was already approved by \(approver.by)"))
        }
        guard principal.id != actor.principal else {
            return .failure(DomainError(.conflict, "certificate \(key) is your own: another coordinator must approve it"))
        }
        var approved = credential
        approved.approval = .approved(by: actor.principal, at: env.now)
        return .success(Decision(
            entry: entry(env, actor, AuditDetail(action: AuditDetail.Action.credentialApprove, object: key),
                         [.credentialApprovalChanged(serial: key, approval: approved.approval!)]),
            reply: view(approved, at: env.now)))
    }

    /// Why a certificate for the key `keySHA256` may not be registered, or nil when it may: a key is
    /// certified once. Revoking a certificate must end its key's access — also after a reloaded
    /// signing form, a CSR sent twice or a renewal that reused the key — so a key that any
    /// credential holds, revoked or expired included, is refused.
    func keyRefusal(_ keySHA256: String?) -> DomainError? {
        guard let keySHA256, let holder = state.credentials.values.first(where: { $0.keySHA256 == keySHA256 }) else { return nil }
        let status = holder.revokedAt != nil ? "revoked" : "issued"
        return DomainError(.conflict, "csr: this key is already certified as certificate \(holder.serial) (\(status) \(RFC3339.format(holder.issuedAt)) "
                           + "to \(holder.principal)); a key is certified once: make a new key and a new CSR")
    }

    /// How long before its expiry a holder may renew its own certificate.
    public static let renewalWindow: TimeInterval = 60 * 86_400

    /// Why the certificate `serial` may not be renewed at `now`, or nil when it may:
    /// renewal opens `renewalWindow` before its expiry. The API asks before signing anything.
    public func renewalRefusal(serial: String, at now: Date) -> DomainError? {
        guard let current = state.credentials[serial] else { return .notFound("credential") }
        // Once only: a copied certificate must not mint a chain of fresh approved ones that
        // revoking the copied one leaves standing.
        if let renewal = state.credentials.values.first(where: { $0.renewedFrom == current.serial }) {
            return DomainError(.conflict, "certificate \(current.serial) was already renewed as \(renewal.serial) "
                                   + "at \(RFC3339.format(renewal.issuedAt, fraction: .milliseconds)); renew that one when its time comes")
        }
        let opens = current.notAfter.addingTimeInterval(-Self.renewalWindow)
        guard now < opens else { return nil }
        return DomainError(.conflict, "certificate \(current.serial) expires at \(RFC3339.format(current.notAfter, fraction: .milliseconds)): "
                               + "it may be renewed from \(RFC3339.format(opens, fraction: .milliseconds)) (60 days before)")
    }

    /// `POST /v1/credentials/renew` (the holder of an active, approved certificate, within
    /// `renewalWindow` of its expiry): registers the certificate the API layer signed for the
    /// same principal, carrying the approval over. The old one stays valid until it expires
    /// or is revoked.
    public func renewCredential(_ body: NewCredential, by actor: Actor, env: Environment) -> Outcome<CredentialView> {
        guard let current = state.credentials[actor.serial], let principal = state.principals[actor.principal],
              body.principal == actor.principal else {
            return .failure(DomainError(.forbidden, "only a certificate's holder may renew it, for itself"))
        }
        if let refusal = renewalRefusal(serial: current.serial, at: env.now) { return .failure(refusal) }
        guard state.credentials[body.serial] == nil else {
            return .failure(DomainError(.conflict, "certificate \(body.serial) is already registered"))
        }
        if let refusal = keyRefusal(body.keySHA256) { return .failure(refusal) }
        let carried: CredentialApproval? = principal.role.needsApproval
            ? current.approver(for: principal).map { .approved(by: $0.by, at: $0.at) } ?? .pending
            : .pending
        let renewed = Credential(serial: body.serial, principal: principal.id, issuedAt: body.issuedAt, notAfter: body.notAfter,
                                 approval: carried, renewedFrom: current.serial, keySHA256: body.keySHA256)
        return .success(Decision(
            entry: entry(env, actor, AuditDetail(action: AuditDetail.Action.credentialRenew, object: renewed.serial,
                                                 reason: "renews \(current.serial)"),
                         [.credentialRegistered(credential: renewed)]),
            reply: view(renewed, at: env.now)))
    }

    /// `POST /v1/credentials/{serial}/revoke` (admin): refused from now on.
    public func revokeCredential(serial: String, reason: String, by actor: Actor, env: Environment) -> Outcome<CredentialView> {
        if let error = require(actor, [.admin], to: "revoke credentials") { return .failure(error) }
        var reason = reason
        if let error = TextHygiene.clean(&reason, field: "reason", multiline: false) { return .failure(error) }
        guard var credential = state.credentials[serial.uppercased()] else { return .failure(.notFound("credential")) }
        guard Validate.isText(reason, limit: Limits.reasonLength) else {
            return .failure(.invalidField("reason", "must be non-empty, at most \(Limits.reasonLength) characters"))
        }
        guard credential.revokedAt == nil else { return .failure(DomainError(.conflict, "certificate \(credential.serial) is already revoked")) }
        credential.revokedAt = env.now
        credential.revocationReason = reason
        return .success(Decision(
            entry: entry(env, actor, AuditDetail(action: AuditDetail.Action.credentialRevoke, object: credential.serial, reason: reason),
                         [.credentialRevoked(serial: credential.serial, at: env.now, reason: reason)]),
            reply: view(credential, at: env.now)))
    }

    /// `GET /v1/credentials` (admin; coordinator, to see which certificates wait for its approval).
    public func listCredentials(by actor: Actor, env: Environment) -> Outcome<CredentialList> {
        if let error = require(actor, [.admin, .coordinator], to: "list credentials") { return .failure(error) }
        let list = state.credentials.values.sorted { ($0.principal, $0.serial) < ($1.principal, $1.serial) }.map { view($0, at: env.now) }
        return .success(Decision(entry: nil, reply: CredentialList(credentials: list)))
    }

    func view(_ credential: Credential, at now: Date) -> CredentialView {
        let principal = state.principals[credential.principal]
        let approver = principal.flatMap { credential.approver(for: $0) }
        let approval = principal.map { !$0.role.needsApproval ? "not-needed" : credential.isApproved(for: $0) ? "approved" : "pending" } ?? "pending"
        return CredentialView(serial: credential.serial, principal: credential.principal,
                       agency: principal?.agency ?? "",
                       status: credential.status(at: now), issuedAt: credential.issuedAt, notAfter: credential.notAfter,
                       revokedAt: credential.revokedAt, reason: credential.revocationReason,
                       approval: approval, approvedBy: approval == "approved" ? approver?.by : nil,
                       approvedAt: approval == "approved" ? approver?.at : nil,
                       expiresSoon: credential.status(at: now) == "active"
                           && credential.notAfter.timeIntervalSince(now) < Double(Limits.expiryWarningDays) * 86_400,
                       renewedFrom: credential.renewedFrom)
    }

    // MARK: Audit

    /// `GET /v1/audit/checkpoint`: a signed checkpoint of the journal's head is
    /// for those who read the audit log (admin, auditor); it changes nothing.
    public func authorizeCheckpoint(by actor: Actor) -> Outcome<Void> {
        if let error = require(actor, [.admin, .auditor], to: "take an audit checkpoint") { return .failure(error) }
        return .success(Decision(entry: nil, reply: ()))
    }

    /// `GET /v1/audit?after=&limit=` (admin, auditor), optionally only the
    /// records of one principal, or about one object or case (a case's own
    /// records and those of its requests). Administrators never see case
    /// content, so the coordinator's free-text reasons (urgent dispatch,
    /// extension) are withheld from them; auditors see them.
    public func auditRecords(after: UInt64 = 0, limit: Int = 100, object: String? = nil, principal: String? = nil,
                             by actor: Actor) -> Outcome<AuditPage> {
        if let error = require(actor, [.admin, .auditor], to: "read the audit log") { return .failure(error) }
        guard (1...Limits.pageSize).contains(limit) else {
            return .failure(DomainError(.invalid, "limit: must be 1…\(Limits.pageSize)"))
        }
        let start = state.audit.partitioningIndex { $0.seq > after }
        var records: [AuditRecord] = []
        var next: UInt64?
        for record in state.audit[start...] {
            // Applied but not yet durable (its chain hash is set on commit): listed once it is.
            if record.hash.isEmpty { break }
            if let principal, record.principal != principal { continue }
            if let object, record.object != object, state.requests[record.object]?.case != object { continue }
            if records.count == limit {
                next = records.last?.seq
                break
            }
            records.append(actor.role == .admin ? record.withoutCaseText : record)
        }
        return .success(Decision(entry: nil, reply: AuditPage(records: records, next: next)))
    }
}

extension Array {
    /// The first index whose element satisfies `predicate`, for a predicate that
    /// is false then true along the array (binary search).
    func partitioningIndex(where predicate: (Element) -> Bool) -> Int {
        var low = 0
        var high = count
        while low < high {
            let mid = (low + high) / 2
            if predicate(self[mid]) { high = mid } else { low = mid + 1 }
        }
        return low
    }
}

import Broker
import Engine
import Foundation
import Wire
import HTTPServer
import TLS

/// Every SPEC §7 endpoint, mapped to one domain operation. The caller's
/// identity always comes from the verified certificate's serial looked up in
/// the registry (inside `BrokerEngine.execute`), never from subject text.
struct BrokerRoutes: Sendable {
    let core: BrokerEngine
    let ca: CertificateAuthority
    let issuer: CredentialIssuer
    let settings: APISettings
    let hub: LongPollHub
    let pollPages: PollPageCache
    let credentialUse: CredentialUse

    typealias Handler = BrokerService.Handler

    func register(in router: inout Router<Handler>) {
        // Identity and health
        router.add("GET", "/v1/whoami") { request in
            let (_, reply) = try await core.perform(serial: request.serial, allowPending: true) { broker, actor, _ in broker.whoami(by: actor) }
            return .json(.ok, WhoAmIReply(reply, now: core.clock()))
        }
        router.add("GET", "/v1/health") { request in
            let actor = try core.identified(request.serial)
            let storage = core.storageStatus
            // The journal position says how busy the broker is: only for those who read the audit log.
            let operators: Set<Role> = [.admin, .auditor]
            return .json(storage.healthy ? .ok : .serviceUnavailable,
                         Health(status: storage.healthy ? "ok" : "degraded", storage: storage.healthy ? "ok" : "failed",
                                journalHead: operators.contains(actor.role) ? storage.head : nil,
                                storageError: operators.contains(actor.role) ? storage.failure : nil))
        }

        // Registry
        router.add("GET", "/v1/agencies") { request in
            try await reply(request) { broker, actor, _ in broker.listAgencies(by: actor) }
        }
        router.add("POST", "/v1/agencies") { request in
            let body = try request.decode(NewAgency.self)
            return try await reply(request, .created) { broker, actor, env in broker.createAgency(body, by: actor, env: env) }
        }
        router.add("PATCH", "/v1/agencies/{id}") { request in
            let body = try request.decode(AgencyPatch.self)
            return try await reply(request) { broker, actor, env in broker.updateAgency(id: request.parameter("id"), body, by: actor, env: env) }
        }
        router.add("GET", "/v1/principals") { request in
            try await reply(request) { broker, actor, _ in broker.listPrincipals(by: actor) }
        }
        router.add("POST", "/v1/principals") { request in
            let body = try request.decode(NewPrincipal.self)
            return try await reply(request, .created) { broker, actor, env in broker.createPrincipal(body, by: actor, env: env) }
        }
        router.add("PATCH", "/v1/principals/{id}") { request in
            let body = try request.decode(PrincipalPatch.self)
            return try await reply(request) { broker, actor, env in broker.updatePrincipal(id: request.parameter("id"), body, by: actor, env: env) }
        }

        // Meetings and cases
        router.add("GET", "/v1/meetings") { request in
            try await reply(request) { broker, actor, _ in broker.listMeetings(by: actor) }
        }
        router.add("POST", "/v1/meetings") { request in
            let body = try request.decode(NewMeeting.self)
            return try await reply(request, .created) { broker, actor, env in broker.createMeeting(body, by: actor, env: env) }
        }
        router.add("GET", "/v1/meetings/{id}") { request in
            try await reply(request) { broker, actor, _ in broker.meeting(id: request.parameter("id"), by: actor) }
        }
        router.add("GET", "/v1/meetings/{id}/status") { request in
            try await reply(request) { broker, actor, env in broker.meetingStatus(id: request.parameter("id"), by: actor, env: env) }
        }
        router.add("POST", "/v1/cases") { request in
            let body = try request.decode(NewCase.self)
            return try await reply(request, .created) { broker, actor, env in broker.createCase(body, by: actor, env: env) }
        }
        router.add("GET", "/v1/cases") { request in
            let query = request.http.query
            return try await reply(request) { broker, actor, _ in broker.listCases(meeting: query["meeting"], state: query["state"], by: actor) }
        }
        router.add("GET", "/v1/cases/{id}") { request in
            try await reply(request) { broker, actor, env in broker.caseReply(id: request.parameter("id"), by: actor, env: env) }
        }
        router.add("PUT", "/v1/cases/{id}/consent") { request in
            let body = try request.decode(Consent.self)
            return try await reply(request) { broker, actor, env in broker.recordConsent(caseID: request.parameter("id"), body, by: actor, env: env) }
        }
        router.add("POST", "/v1/cases/{id}/research") { request in
            let body = try request.decode(DispatchOrder.self)
            return try await reply(request, .created) { broker, actor, env in broker.dispatch(caseID: request.parameter("id"), body, by: actor, env: env) }
        }
        router.add("PATCH", "/v1/cases/{id}/fields") { request in
            let body = try request.decode(FieldPatch.self)
            return try await reply(request) { broker, actor, env in broker.correctFields(caseID: request.parameter("id"), body, by: actor, env: env) }
        }
        router.add("POST", "/v1/cases/{id}/listings") { request in
            let body = try request.decode(NewListing.self)
            return try await reply(request, .created) { broker, actor, env in broker.relistCase(caseID: request.parameter("id"), body, by: actor, env: env) }
        }
        router.add("GET", "/v1/meetings/{id}/agenda") { request in
            try await reply(request) { broker, actor, env in broker.agenda(meetingID: request.parameter("id"), by: actor, env: env) }
        }
        router.add("POST", "/v1/meetings/{id}/invitations") { request in
            let body = try request.decode(Invitation.self)
            return try await reply(request) { broker, actor, env in broker.invite(meetingID: request.parameter("id"), body, by: actor, env: env) }
        }

        // Actions and closure (SPEC §11.5, §11.3)
        router.add("POST", "/v1/cases/{id}/actions") { request in
            let body = try request.decode(NewAction.self)
            return try await reply(request, .created) { broker, actor, env in broker.agreeAction(caseID: request.parameter("id"), body, by: actor, env: env) }
        }
        router.add("POST", "/v1/cases/{id}/close") { request in
            let body = try request.decode(Reasoned.self)
            return try await reply(request) { broker, actor, env in broker.closeCase(caseID: request.parameter("id"), body, by: actor, env: env) }
        }
        router.add("POST", "/v1/cases/{id}/erase") { request in
            let body = try request.decode(Reasoned.self)
            return try await reply(request) { broker, actor, env in broker.eraseCase(caseID: request.parameter("id"), body, by: actor, env: env) }
        }
        router.add("GET", "/v1/actions") { request in
            let after = request.http.query["after"]
            return try await longPoll(request) { broker, actor, env in
                broker.actions(after: after, by: actor, env: env).map { decision in
                    Decision(entry: nil, reply: PollPageCache.Page(response: .json(.ok, decision.reply), isEmpty: decision.reply.actions.isEmpty))
                }
            }
        }
        router.add("GET", "/v1/actions/{id}") { request in
            try await reply(request) { broker, actor, env in broker.action(id: request.parameter("id"), by: actor, env: env) }
        }
        router.add("POST", "/v1/actions/{id}/complete") { request in
            let body = try request.decode(ActionCompletion.self)
            return try await reply(request) { broker, actor, env in broker.completeAction(id: request.parameter("id"), body, by: actor, env: env) }
        }
        router.add("POST", "/v1/actions/{id}/cancel") { request in
            let body = try request.decode(Reasoned.self)
            return try await reply(request) { broker, actor, env in broker.cancelAction(id: request.parameter("id"), body, by: actor, env: env) }
        }

        // Panels and referrals (SPEC §11.1, §11.2)
        router.add("GET", "/v1/panels") { request in
            try await reply(request) { broker, actor, _ in broker.listPanels(by: actor) }
        }
        router.add("GET", "/v1/panels/{id}/statistics") { request in
            let query = request.http.query
            return try await reply(request) { broker, actor, env in
                broker.statistics(panelID: request.parameter("id"), from: query["from"], to: query["to"], by: actor, env: env)
            }
        }
        router.add("POST", "/v1/referrals") { request in
            let body = try request.decode(NewReferral.self)
            return try await reply(request, .created) { broker, actor, env in broker.submitReferral(body, by: actor, env: env) }
        }
        router.add("GET", "/v1/referrals") { request in
            try await reply(request) { broker, actor, _ in broker.listReferrals(by: actor) }
        }
        router.add("GET", "/v1/referrals/{id}") { request in
            try await reply(request) { broker, actor, env in broker.referral(id: request.parameter("id"), by: actor, env: env) }
        }
        router.add("POST", "/v1/referrals/{id}/decision") { request in
            let body = try request.decode(DecisionOrder.self)
            return try await reply(request) { broker, actor, env in broker.decideReferral(id: request.parameter("id"), body, by: actor, env: env) }
        }
        router.add("GET", "/v1/cases/{id}/returns") { request in
            let id = request.parameter("id")
            let meeting = request.http.query["meeting"]
            switch request.http.query["format"] {
            case nil, "json":
                return try await reply(request) { broker, actor, env in broker.collatedReturns(caseID: id, meeting: meeting, by: actor, env: env) }
            case "text":
                let (_, pack) = try await core.perform(serial: request.serial) { broker, actor, env in
                    broker.researchPack(caseID: id, meeting: meeting, by: actor, env: env)
                }
                return .text(.ok, pack)
            case let other?:
                throw APIError(.invalid, "format: must be json or text, got \(other)")
            }
        }

        // Research requests and returns
        router.add("GET", "/v1/requests") { request in try await poll(request) }
        router.add("GET", "/v1/requests/{id}") { request in
            try await reply(request) { broker, actor, env in broker.readRequest(id: request.parameter("id"), by: actor, env: env) }
        }
        router.add("PUT", "/v1/requests/{id}/return") { request in
            let body = try request.decode(ReturnSubmission.self)
            return try await reply(request) { broker, actor, env in broker.submitReturn(requestID: request.parameter("id"), body, by: actor, env: env) }
        }
        router.add("GET", "/v1/requests/{id}/return") { request in
            try await reply(request) { broker, actor, env in broker.readReturn(requestID: request.parameter("id"), by: actor, env: env) }
        }
        router.add("POST", "/v1/requests/{id}/extension") { request in
            let body = try request.decode(ExtensionGrant.self)
            return try await reply(request) { broker, actor, env in broker.grantExtension(requestID: request.parameter("id"), body, by: actor, env: env) }
        }

        // Audit
        router.add("GET", "/v1/audit") { request in
            let query = request.http.query
            let after = try query["after"].map { try parseInteger($0, name: "after", in: 0...UInt64.max) } ?? 0
            let limit = try query["limit"].map { Int(try parseInteger($0, name: "limit", in: 1...UInt64(Limits.pageSize))) } ?? 100
            return try await reply(request) { broker, actor, _ in
                broker.auditRecords(after: after, limit: limit, object: query["case"] ?? query["object"], principal: query["principal"], by: actor)
            }
        }

        router.add("GET", "/v1/audit/checkpoint") { request in
            // Identified and authorised in the domain; waits until everything ordered before it is durable.
            _ = try await core.perform(serial: request.serial) { broker, actor, _ in broker.authorizeCheckpoint(by: actor) }
            return .json(.ok, try AuditCheckpoint.make(position: core.durablePosition, at: core.clock(), signedBy: ca))
        }

        CredentialRoutes(core: core, issuer: issuer, credentialUse: credentialUse).register(in: &router)
    }

    /// Runs one domain operation for the caller and answers its reply as JSON.
    private func reply<R: Encodable & Sendable>(_ request: APIRequest, _ status: HTTPStatus = .ok,
                                                _ operation: (Domain, Actor, Environment) -> Outcome<R>) async throws -> HTTPResponse {
        let (_, value) = try await core.perform(serial: request.serial, operation)
        return .json(status, value)
    }

    /// `GET /v1/requests?after=&wait=`: answers at once when something changed
    /// after the cursor; otherwise parks (no thread, no task) until a change for the
    /// caller's agency is durable, or `wait` seconds pass.
    private func poll(_ request: APIRequest) async throws -> HTTPResponse {
        let after = request.http.query["after"]
        return try await longPoll(request) { broker, actor, env in
            // Woken pollers of one agency ask the same question: the page is computed and encoded once.
            pollPages.page(agency: actor.agency, role: actor.role, cursor: after ?? "", seq: broker.state.lastSeq, now: env.now) {
                broker.requests(after: after, by: actor, env: env).map(\.reply)
            }.map { Decision(entry: nil, reply: $0) }
        }
    }

    /// A long-poll of one of the caller's agency's feeds (`wait=` seconds at most): `page` is asked
    /// at once and again each time a change for the agency is durable, until it is not empty.
    private func longPoll(_ request: APIRequest, page pageOf: @escaping @Sendable (Domain, Actor, Environment) -> Outcome<PollPageCache.Page>) async throws -> HTTPResponse {
        let wait = try request.http.query["wait"].map {
            Int(try parseInteger($0, name: "wait", in: 0...UInt64(settings.longPollMaxSeconds)))
        } ?? 0
        let actor = try core.identified(request.serial)
        return try await longPoll(request, actor: actor, until: ContinuousClock.now + .seconds(wait), page: pageOf)
    }

    /// Answers the page if it is not empty or `deadline` has passed; else parks the request on its
    /// connection (no task while it waits) until a change for the agency is durable, and asks again then.
    private func longPoll(_ request: APIRequest, actor: Actor, until deadline: ContinuousClock.Instant,
                          page pageOf: @escaping @Sendable (Domain, Actor, Environment) -> Outcome<PollPageCache.Page>) async throws -> HTTPResponse {
        while true {
            let seen = hub.generation(of: actor.agency)
            let (_, page) = try await core.perform(serial: request.serial, pageOf)
            if !page.isEmpty || deadline <= ContinuousClock.now || hub.isClosed { return page.response }
            let limit = settings.maxLongPollsPerPrincipal
            let parking = hub.park(agency: actor.agency, principal: actor.principal, limit: limit, seen: seen,
                                   context: request.context, until: deadline) {
                do {
                    return try await longPoll(request, actor: actor, until: deadline, page: pageOf)
                } catch {
                    // `perform` throws only `APIError`s (a principal shut out while it waited: 403).
                    return (error as? APIError ?? APIError(.internalError, "the broker could not complete the request")).response
                }
            }
            switch parking {
            case .parked(let response): return response
            case .changed: continue
            case .refused:
                throw APIError(.tooManyWaiters,
                               "\(actor.principal) already has \(limit) long-polls waiting (limits.maxLongPollsPerPrincipal): poll from one watcher, or without wait=")
            }
        }
    }
}

/// `whoami` with the days left on the certificate, for rotation. Written by hand
/// (`JSONWritable`): it is the answer every client asks first and most often.
struct WhoAmIReply: JSONWritable, Sendable {
    struct CertificateInfo: Encodable, Sendable {
        let serial: String
        let notAfter: Date
        let daysToExpiry: Int
        let approval: String
    }
    let principal: String
    let name: String
    let agency: String
    let role: Role
    let certificate: CertificateInfo

    init(_ whoami: WhoAmI, now: Date) {
        principal = whoami.principal
        name = whoami.name
        agency = whoami.agency
        role = whoami.role
        certificate = CertificateInfo(serial: whoami.certificate.serial, notAfter: whoami.certificate.notAfter,
                                      daysToExpiry: Int(whoami.certificate.notAfter.timeIntervalSince(now) / 86_400),
                                      approval: whoami.certificate.approval)
    }

    /// The `Encodable` form's bytes (keys sorted); `WhoAmIReplyTests` compares the two.
    func writeJSON(to out: inout JSONOutput) {
        out.beginObject()
        out.key("agency"); out.string(agency)
        out.key("certificate")
        out.beginObject()
        out.key("approval"); out.string(certificate.approval)
        out.key("daysToExpiry"); out.integer(certificate.daysToExpiry)
        out.key("notAfter"); out.date(certificate.notAfter)
        out.key("serial"); out.string(certificate.serial)
        out.endObject()
        out.key("name"); out.string(name)
        out.key("principal"); out.string(principal)
        out.key("role"); out.string(role.rawValue)
        out.endObject()
    }
}

struct Health: Encodable, Sendable {
    let status: String
    let storage: String
    /// admin and auditor only.
    let journalHead: UInt64?
    /// admin and auditor only.
    let storageError: String?
}

extension APIRequest {
    /// The verified client certificate's serial: the key into the registry.
    var serial: String { context.peer.serial }
}

/// Parses a query parameter as a non-negative integer in `range`.
func parseInteger(_ text: String, name: String, in range: ClosedRange<UInt64>) throws -> UInt64 {
    guard text.count <= 20, text.allSatisfy(\.isASCII), let value = UInt64(text), range.contains(value) else {
        throw APIError(.invalid, "\(name): must be an integer in \(range.lowerBound)…\(range.upperBound), got \"\(text.prefix(40))\"")
    }
    return value
}

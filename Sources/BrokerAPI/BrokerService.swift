import Engine
import Foundation
import HTTPServer
import TLS
import Wire

/// The broker's HTTP API over one engine: routes, the error envelope, the access
/// log, and the long-poll hub the engine's commits wake.
public final class BrokerService: HTTPResponder {
    public typealias Handler = @Sendable (APIRequest) async throws -> HTTPResponse

    private let router: Router<Handler>
    private let engine: BrokerEngine
    private let hub = LongPollHub()
    private let logger: Logger
    /// Every route the API serves, `"METHOD /pattern"`; `docs/openapi.json` must describe exactly these.
    public let routeTable: [String]
    /// Requests counted by route template, and the gauges `GET /metrics` reads.
    public let metrics: BrokerMetrics
    /// The web pages (SPEC §12): `/` and `/ui/…`, routed apart from the API (not in `routeTable`).
    private let pages: Router<Handler>
    /// Every page route, `"METHOD /pattern"`.
    public let pageRouteTable: [String]
    private let templates: RouteTemplates
    /// When each credential was last used (SPEC §12), shown with `GET /v1/credentials` and its page.
    private let credentialUse: CredentialUse
    /// The API's routes without parameters, by path and then method: such a request (`whoami`,
    /// the long-poll feeds) is routed with one lookup, its path being its template, instead of
    /// two walks of the generic router (one for the template, one for the handler).
    private let literalRoutes: [String: [String: Handler]]

    /// - Parameters:
    ///   - issuer: signs client certificates (`POST /v1/credentials`, renewals) and the CRL.
    public init(engine: BrokerEngine, issuer: CredentialIssuer, settings: APISettings, logger: Logger) {
        self.engine = engine
        self.logger = logger
        let credentialUse = CredentialUse(path: settings.credentialUsePath, logger: logger)
        self.credentialUse = credentialUse
        let metrics = BrokerMetrics()
        self.metrics = metrics
        var router = Router<Handler>()
        BrokerRoutes(core: engine, ca: issuer.ca, issuer: issuer, settings: settings, hub: hub, pollPages: PollPageCache(),
                     credentialUse: credentialUse).register(in: &router)
        MetricsRoute(core: engine, metrics: metrics, hub: hub).register(in: &router)
        self.router = router
        routeTable = router.routeTable
        var pages = Router<Handler>()
        PageRoutes(core: engine, guardian: PageGuard(), credentialUse: credentialUse, issuer: issuer).register(in: &pages)
        self.pages = pages
        pageRouteTable = pages.routeTable
        templates = RouteTemplates(routeTable: routeTable + pageRouteTable)
        var literalRoutes: [String: [String: Handler]] = [:]
        for route in routeTable {
            let parts = route.split(separator: " ", maxSplits: 1).map(String.init)
            guard parts.count == 2, !parts[1].contains("{"),
                  case .found(let handler, _) = router.match(method: parts[0], path: parts[1]) else { continue }
            literalRoutes[parts[1], default: [:]][parts[0]] = handler
        }
        self.literalRoutes = literalRoutes
        engine.observeChanges { [hub] agencies in hub.notify(agencies) }
    }

    /// Long-polls parked right now.
    public var parkedLongPolls: Int { hub.waiterCount }

    /// Answers every parked long-poll and parks no more (graceful shutdown).
    public func close() { hub.close() }

    /// Writes credentials' last use (graceful shutdown, once the server has drained its requests,
    /// so the uses of the requests it finished are kept too).
    public func saveLastUse() { credentialUse.flush() }

    /// Connections count against their principal's share (`limits.maxConnectionsPerPrincipal`);
    /// pending certificates count too, since they complete handshakes.
    public func connectionGroup(for peer: PeerCertificate) -> String? {
        (try? engine.identify(serial: peer.serial, allowPending: true).get()).map { "principal \($0.principal)" }
    }

    /// Identity wins over everything else: a revoked or disabled credential gets
    /// its 403 (and the connection closed) whatever else is wrong with the request.
    /// A handler that reaches the domain identifies the caller there, under the
    /// core's lock, and records who it was; only when none did (the request was
    /// refused before, e.g. a malformed body) is the registry asked here.
    public func respond(to request: HTTPRequest, context: RequestContext) async -> HTTPResponse {
        let identified = IdentifiedPrincipal()
        let template: String
        let literal: Handler?
        if let byMethod = literalRoutes[request.path],
           let handler = byMethod[request.method] ?? (request.method == "HEAD" ? byMethod["GET"] : nil) {
            template = request.path
            literal = handler
        } else {
            template = templates.template(of: request.path)
            literal = nil
        }
        var response = await IdentifiedPrincipal.$current.withValue(identified) {
            await route(request, template: template, literal: literal, context: context)
        }
        if identified.principal == nil {
            switch engine.identify(serial: context.peer.serial) {
            case .failure(let refusal): response = APIError(refusal).response
            case .success(let actor): identified.principal = actor.principal
            }
        }
        if identified.principal != nil { credentialUse.record(serial: context.peer.serial, at: engine.clock()) }
        return logged(response, request: request, template: template, context: context, principal: identified.principal ?? "")
    }

    /// Counts `response` in the metrics and writes its access-log line; for a parked request, for the answer it finally gets.
    private func logged(_ response: HTTPResponse, request: HTTPRequest, template: String, context: RequestContext, principal: String) -> HTTPResponse {
        if let parked = response.parked {
            parked.whenAnswered { [self] in logged($0, request: request, template: template, context: context, principal: principal) }
            return response
        }
        metrics.record(method: request.method, route: template, status: response.status.code)
        let elapsed = ContinuousClock.now - context.receivedAt
        logger.logRequest(method: request.method, path: request.path, status: response.status.code,
                          durationMilliseconds: Double(elapsed.components.attoseconds / 1_000_000_000_000) / 1000 + Double(elapsed.components.seconds) * 1000,
                          serial: context.peer.serial, principal: principal)
        return response
    }

    /// - Parameter literal: the handler `literalRoutes` found, if any (the router is then not asked).
    private func route(_ request: HTTPRequest, template: String, literal: Handler?, context: RequestContext) async -> HTTPResponse {
        if let literal {
            if let refusal = QueryParameters.refusal(method: request.method, template: template, query: request.query) { return refusal.response }
            return await run(literal, request, parameters: [:], context: context)
        }
        let isPage = request.path == "/" || request.path.hasPrefix("/ui/")
        switch (isPage ? pages : router).match(method: request.method, path: request.path) {
        case .notFound:
            return APIError(.notFound, "no such endpoint: \(request.path)").response
        case .methodNotAllowed(let allowed):
            return .methodNotAllowed(allowed: allowed, method: request.method)
        case .found(let handler, let parameters):
            if !isPage, let refusal = QueryParameters.refusal(method: request.method, template: template, query: request.query) { return refusal.response }
            return await run(handler, request, parameters: parameters, context: context)
        }
    }

    private func run(_ handler: Handler, _ request: HTTPRequest, parameters: [String: String], context: RequestContext) async -> HTTPResponse {
        do {
            return try await handler(APIRequest(http: request, context: context, parameters: parameters))
        } catch let error as APIError {
            return error.response
        } catch {
            logger.log("internal_error", ["method": request.method, "path": request.path, "error": "\(error)"])
            return APIError(.internalError, "the broker could not complete the request").response
        }
    }
}

/// Who the registry said the caller of the current request is, recorded by
/// `BrokerEngine` when it identifies the certificate serial inside the request's task.
final class IdentifiedPrincipal: @unchecked Sendable {
    /// Written and read only by the request's own task.
    var principal: String?

    /// The current request's record, if the code runs inside `BrokerService.respond`.
    @TaskLocal static var current: IdentifiedPrincipal?
}

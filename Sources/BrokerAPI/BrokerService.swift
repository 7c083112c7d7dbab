import Foundation
import HTTPServer
import TLS
import Wire

/// The broker's HTTP API: routes, the error envelope and the access log.
public final class BrokerService: HTTPResponder {
    public typealias Handler = @Sendable (APIRequest) async throws -> HTTPResponse

    /// The registered principal behind a certificate serial, or the refusal.
    public typealias Identify = @Sendable (_ serial: String) -> Result<String, APIError>

    /// The share a certificate serial's connections count against (`principal alice`), if any.
    public typealias ConnectionGroup = @Sendable (_ serial: String) -> String?

    private let router: Router<Handler>
    private let identify: Identify
    private let group: ConnectionGroup
    private let logger: Logger

    public init(router: Router<Handler>, identify: @escaping Identify, connectionGroup: @escaping ConnectionGroup = { _ in nil }, logger: Logger) {
        self.router = router
        self.identify = identify
        self.group = connectionGroup
        self.logger = logger
    }

    /// Connections count against their principal's share (`limits.maxConnectionsPerPrincipal`).
    public func connectionGroup(for peer: PeerCertificate) -> String? { group(peer.serial) }

    /// Identity wins over everything else: a revoked or disabled credential gets
    /// its 403 (and the connection closed) whatever else is wrong with the request.
    /// A handler that reaches the domain identifies the caller there, under the
    /// core's lock, and records who it was; only when none did (the request was
    /// refused before, e.g. a malformed body) is the registry asked here.
    public func respond(to request: HTTPRequest, context: RequestContext) async -> HTTPResponse {
        let identified = IdentifiedPrincipal()
        var response = await IdentifiedPrincipal.$current.withValue(identified) { await route(request, context: context) }
        if identified.principal == nil {
            switch identify(context.peer.serial) {
            case .failure(let refusal): response = refusal.response
            case .success(let principal): identified.principal = principal
            }
        }
        let principal = identified.principal ?? ""
        let elapsed = ContinuousClock.now - context.receivedAt
        logger.logRequest(method: request.method, path: request.path, status: response.status.code,
                          durationMilliseconds: Double(elapsed.components.attoseconds / 1_000_000_000_000) / 1000 + Double(elapsed.components.seconds) * 1000,
                          serial: context.peer.serial, principal: principal)
        return response
    }

    private func route(_ request: HTTPRequest, context: RequestContext) async -> HTTPResponse {
        let response: HTTPResponse
        switch router.match(method: request.method, path: request.path) {
        case .notFound:
            response = APIError(.notFound, "not_found", "no such endpoint: \(request.path)").response
        case .methodNotAllowed(let allowed):
            response = .methodNotAllowed(allowed: allowed, method: request.method)
        case .found(let handler, let parameters):
            do {
                response = try await handler(APIRequest(http: request, context: context, parameters: parameters))
            } catch let error as APIError {
                response = error.response
            } catch {
                logger.log("internal_error", ["method": request.method, "path": request.path, "error": "\(error)"])
                response = APIError(.internalServerError, "internal_error", "the broker could not complete the request").response
            }
        }
        return response
    }
}

/// Who the registry said the caller of the current request is, recorded by
/// `BrokerCore` when it identifies the certificate serial inside the request's task.
final class IdentifiedPrincipal: @unchecked Sendable {
    /// Written and read only by the request's own task.
    var principal: String?

    /// The current request's record, if the code runs inside `BrokerService.respond`.
    @TaskLocal static var current: IdentifiedPrincipal?
}

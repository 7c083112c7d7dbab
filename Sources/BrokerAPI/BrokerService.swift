import Foundation
import HTTPServer
import TLS

/// The broker's HTTP API: routes, the error envelope and the access log.
public final class BrokerService: HTTPResponder {
    public typealias Handler = @Sendable (APIRequest) async throws -> HTTPResponse

    private let router: Router<Handler>
    private let logger: Logger

    public init(router: Router<Handler>, logger: Logger) {
        self.router = router
        self.logger = logger
    }

    public func respond(to request: HTTPRequest, context: RequestContext) async -> HTTPResponse {
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
        let elapsed = ContinuousClock.now - context.receivedAt
        logger.log("request", [
            "method": request.method, "path": request.path, "status": response.status.code,
            "duration_ms": Double(elapsed.components.attoseconds / 1_000_000_000_000) / 1000 + Double(elapsed.components.seconds) * 1000,
            "serial": context.peer.serial, "principal": context.peer.commonName ?? "",
        ])
        return response
    }
}

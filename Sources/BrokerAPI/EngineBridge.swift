import Wire
import Broker
import Engine

extension APIError {
    /// The engine's refusal as the API answers it.
    public init(_ error: EngineError) {
        switch error {
        case .refused(let domain): self.init(domain)
        case .storageUnavailable: self.init(.storageUnavailable, error.description)
        case .encodingFailed: self.init(.internalError, error.description)
        }
    }
}

extension BrokerEngine {
    /// Runs one command for the certificate `serial`, recording the caller for the access log.
    /// - Throws: `APIError`.
    func perform<Reply: Sendable>(serial: String, allowPending: Bool = false,
                                  _ operation: (Domain, Actor, Environment) -> Outcome<Reply>) async throws -> (Actor, Reply) {
        do {
            return try await execute(serial: serial, allowPending: allowPending,
                                     identified: { IdentifiedPrincipal.current?.principal = $0.principal }, operation)
        } catch {
            throw APIError(error)
        }
    }

    /// The registered caller, or the refusal (403, closing the connection).
    func identified(_ serial: String) throws -> Actor {
        switch identify(serial: serial) {
        case .success(let actor):
            IdentifiedPrincipal.current?.principal = actor.principal
            return actor
        case .failure(let error): throw APIError(error)
        }
    }
}

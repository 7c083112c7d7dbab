import Foundation

/// What `GET /metrics` may say about the registry: counts, never a name.
public struct RegistryCounts: Sendable, Equatable {
    /// Active credentials whose `notAfter` falls within `Limits.expiryWarningDays`.
    public let credentialsExpiringSoon: Int
    /// Credentials by status (`active`, `expired`, `revoked`).
    public let credentialsByStatus: [String: Int]
}

extension Domain {
    /// `GET /metrics` (admin, monitor): the registry's counts for an operator's scraper.
    /// Changes nothing and names no principal, agency or case.
    public func registryCounts(by actor: Actor, env: Environment) -> Outcome<RegistryCounts> {
        if let error = require(actor, [.admin, .monitor], to: "read the broker's metrics") { return .failure(error) }
        var byStatus: [String: Int] = ["active": 0, "expired": 0, "revoked": 0]
        var expiring = 0
        for credential in state.credentials.values {
            let status = credential.status(at: env.now)
            byStatus[status, default: 0] += 1
            if status == "active" && credential.notAfter.timeIntervalSince(env.now) < Double(Limits.expiryWarningDays) * 86_400 {
                expiring += 1
            }
        }
        return .success(Decision(entry: nil, reply: RegistryCounts(credentialsExpiringSoon: expiring, credentialsByStatus: byStatus)))
    }
}

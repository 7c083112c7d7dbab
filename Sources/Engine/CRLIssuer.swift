import Foundation
import Synchronization
import TLS

/// Issues the broker's certificate revocation list and keeps the last one: it is
/// reissued when the set of revoked certificates changes and once a day, so a
/// relying party never holds an expired one. Its number always increases, also
/// across restarts (it is at least the issue time in Unix seconds).
final class CRLIssuer: Sendable {
    /// A CRL is valid for this long (its `nextUpdate`)…
    static let validity: TimeInterval = 7 * 86_400
    /// …and is reissued once it is this old.
    static let reissueAfter: TimeInterval = 86_400

    private struct Issued {
        var revoked: Set<String>
        var number: Int
        var issuedAt: Date
        var pem: [UInt8]
    }

    private let last = Mutex<Issued?>(nil)

    /// The CRL listing `revoked` at `now`, PEM: the cached one while it still says the same and is fresh.
    func crl(revoked: [CertificateAuthority.Revocation], now: Date, signedBy ca: CertificateAuthority) throws -> [UInt8] {
        let serials = Set(revoked.map(\.serial))
        return try last.withLock { last in
            if let issued = last, issued.revoked == serials, now >= issued.issuedAt, now.timeIntervalSince(issued.issuedAt) < Self.reissueAfter {
                return issued.pem
            }
            let number = max((last?.number ?? 0) + 1, Int(now.timeIntervalSince1970))
            let pem = try ca.makeCRL(revoked: revoked.sorted { $0.serial < $1.serial }, number: number, now: now,
                                     nextUpdate: now.addingTimeInterval(Self.validity))
            last = Issued(revoked: serials, number: number, issuedAt: now, pem: pem)
            return pem
        }
    }
}

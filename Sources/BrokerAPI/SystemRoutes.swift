import Foundation
import HTTPServer
import TLS

/// `GET /v1/whoami` and `GET /v1/health`.
enum SystemRoutes {
    struct WhoAmI: Codable, Sendable {
        struct CertificateInfo: Codable, Sendable {
            let serial: String
            let notAfter: Date
            let daysToExpiry: Int
        }
        let principal: String
        let name: String
        let agency: String
        let role: String?
        let certificate: CertificateInfo
    }

    struct Health: Codable, Sendable {
        let status: String
        let storage: String
    }

    static func register(in router: inout Router<BrokerService.Handler>) {
        router.add("GET", "/v1/whoami") { request in
            let peer = request.context.peer
            let whoami = WhoAmI(
                principal: peer.commonName ?? "", name: peer.commonName ?? "", agency: peer.organization ?? "", role: nil,
                certificate: .init(serial: peer.serial, notAfter: peer.notAfter,
                                   daysToExpiry: Int(peer.notAfter.timeIntervalSinceNow / 86_400)))
            return .json(.ok, whoami)
        }
        router.add("GET", "/v1/health") { _ in
            .json(.ok, Health(status: "ok", storage: "ok"))
        }
    }
}

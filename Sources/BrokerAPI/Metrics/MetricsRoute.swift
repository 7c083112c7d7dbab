import Engine
import HTTPServer

/// `GET /metrics`: the Prometheus text format, for administrators and the `monitor` role
/// (authorised in the domain like every other route). Counts only: no case content and no
/// principal, agency or certificate names.
struct MetricsRoute: Sendable {
    let core: BrokerEngine
    let metrics: BrokerMetrics
    let hub: LongPollHub

    func register(in router: inout Router<BrokerService.Handler>) {
        router.add("GET", "/metrics") { request in
            let (_, registry) = try await core.perform(serial: request.serial) { broker, actor, env in broker.registryCounts(by: actor, env: env) }
            let storage = core.storageStatus
            let text = metrics.render(registry: registry, parkedLongPolls: hub.waiterCount, journalHead: storage.head, storageHealthy: storage.healthy)
            return HTTPResponse(status: .ok, headers: ["Content-Type": PrometheusText.contentType, "Cache-Control": "no-store"], body: Array(text.utf8))
        }
    }
}

import Broker
import HTTPServer
import Journal
import Synchronization

/// The counts `GET /metrics` reports: requests by method, route template and status
/// (counted here), and gauges read at scrape time from the parts the host wires in.
/// Nothing here holds a path parameter, a principal or any case content: routes are
/// the server's own templates (`/v1/requests/{id}`), never the requested path.
public final class BrokerMetrics: Sendable {
    /// What the host (which owns the HTTP server and the journal) lets the metrics read.
    public struct Sources: Sendable {
        /// Open connections.
        public var openConnections: @Sendable () -> Int
        /// Refused handshakes by reason.
        public var handshakeFailures: @Sendable () -> [(reason: String, count: UInt64)]
        /// The journal's sync latencies and batch sizes.
        public var journal: JournalMetrics?

        /// - Parameters: see the properties.
        public init(openConnections: @escaping @Sendable () -> Int,
                    handshakeFailures: @escaping @Sendable () -> [(reason: String, count: UInt64)], journal: JournalMetrics?) {
            self.openConnections = openConnections
            self.handshakeFailures = handshakeFailures
            self.journal = journal
        }
    }

    struct RequestKey: Hashable {
        let method: String
        let route: String
        let status: Int
    }

    /// Methods counted under their own name; any other is counted as `OTHER`.
    static let knownMethods: Set<String> = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]

    private let requests = Mutex<[RequestKey: UInt64]>([:])
    private let sources = Mutex<Sources?>(nil)

    /// Nothing counted yet, nothing attached.
    public init() {}

    /// Lets the metrics read the server's and the journal's counts (the host calls it once built).
    public func attach(_ sources: Sources) {
        self.sources.withLock { $0 = sources }
    }

    /// Counts one answered request under its route's template (`RouteTemplates`).
    func record(method: String, route: String, status: Int) {
        let key = RequestKey(method: Self.knownMethods.contains(method) ? method : "OTHER", route: route, status: status)
        requests.withLock { $0[key, default: 0] += 1 }
    }

    /// The exposition text for one scrape.
    func render(registry: RegistryCounts, parkedLongPolls: Int, journalHead: UInt64, storageHealthy: Bool) -> String {
        var out = PrometheusText()
        out.family("marac_http_requests_total", "counter", "Requests answered, by method, route template and status code.")
        let counted = requests.withLock { $0 }.sorted { ($0.key.route, $0.key.method, $0.key.status) < ($1.key.route, $1.key.method, $1.key.status) }
        for (key, count) in counted {
            out.sample("marac_http_requests_total", ["method": key.method, "route": key.route, "status": String(key.status)], Double(count))
        }
        let sources = self.sources.withLock { $0 }
        if let sources {
            out.family("marac_tls_handshake_failures_total", "counter", "Refused TLS handshakes, by reason.")
            for (reason, count) in sources.handshakeFailures() {
                out.sample("marac_tls_handshake_failures_total", ["reason": reason], Double(count))
            }
            out.family("marac_open_connections", "gauge", "Open client connections.")
            out.sample("marac_open_connections", [:], Double(sources.openConnections()))
        }
        out.family("marac_parked_long_polls", "gauge", "Long-polls waiting for a change.")
        out.sample("marac_parked_long_polls", [:], Double(parkedLongPolls))
        out.family("marac_journal_head_seq", "gauge", "Sequence number of the last durable journal record.")
        out.sample("marac_journal_head_seq", [:], Double(journalHead))
        out.family("marac_storage_healthy", "gauge", "1 while the journal accepts writes, 0 after a write failed.")
        out.sample("marac_storage_healthy", [:], storageHealthy ? 1 : 0)
        if let journal = sources?.journal {
            let sync = journal.syncSeconds
            out.histogram("marac_journal_fsync_seconds", "Duration of each journal fdatasync.",
                          bounds: sync.bounds, buckets: sync.buckets, sum: sync.sum, count: sync.count)
            let batch = journal.batchRecords
            out.histogram("marac_journal_group_commit_records", "Records made durable by each write and sync (group commit).",
                          bounds: batch.bounds, buckets: batch.buckets, sum: batch.sum, count: batch.count)
        }
        out.family("marac_credentials", "gauge", "Client certificates by status.")
        for status in registry.credentialsByStatus.keys.sorted() {
            out.sample("marac_credentials", ["status": status], Double(registry.credentialsByStatus[status] ?? 0))
        }
        out.family("marac_credentials_expiring_soon", "gauge", "Active client certificates that expire within 30 days.")
        out.sample("marac_credentials_expiring_soon", [:], Double(registry.credentialsExpiringSoon))
        return out.text
    }
}

/// The route template a path matches (`/v1/requests/{id}`), whatever the method, so that
/// metrics label requests by the server's own patterns, never by what a client sent.
struct RouteTemplates: Sendable {
    /// The label of a path no route matches.
    static let unmatched = "unmatched"
    private static let method = "ROUTE"
    private var router = Router<String>()

    /// - Parameter routeTable: `"METHOD /pattern"` entries (`Router.routeTable`).
    init(routeTable: [String]) {
        var seen: Set<String> = []
        for route in routeTable {
            guard let pattern = route.split(separator: " ", maxSplits: 1).last.map(String.init), seen.insert(pattern).inserted else { continue }
            router.add(Self.method, pattern, pattern)
        }
    }

    func template(of path: String) -> String {
        if case .found(let pattern, _) = router.match(method: Self.method, path: path) { return pattern }
        return Self.unmatched
    }
}

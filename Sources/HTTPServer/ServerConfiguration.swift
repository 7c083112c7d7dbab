import Foundation

/// Where and how the server listens.
public struct ServerConfiguration: Sendable {
    /// IPv4 or IPv6 literal, or `localhost`.
    public var host: String
    /// TCP port; 0 picks a free one (tests).
    public var port: Int
    public var limits: HTTPLimits
    /// Connections beyond this are accepted and closed at once.
    public var maxConnections: Int
    /// Open connections one peer group may hold (see `HTTPResponder.connectionGroup(for:)`);
    /// a connection beyond it completes its handshake and has its first request answered
    /// `429 too_many_connections`, then closed. As many again may wait for that answer; further
    /// ones are closed once their handshake completes.
    public var maxConnectionsPerGroup: Int
    /// Connections from one client address still in their TLS handshake; more are closed at
    /// once, so a host that connects and stays silent holds only this many slots until the
    /// header timeout frees them.
    public var maxHandshakesPerAddress: Int
    /// How long a graceful shutdown waits for in-flight requests.
    public var shutdownGracePeriod: Duration
    public var listenBacklog: Int32
    /// Event loops, one thread each: every connection is served on one of them for its whole
    /// life. More than the cores only adds switching; fewer leaves cores to the engine.
    public var eventLoops: Int

    public static let defaultMaxConnections = 20_000
    public static let defaultMaxConnectionsPerGroup = 64
    public static let defaultMaxHandshakesPerAddress = 32
    public static let defaultShutdownGracePeriod: Duration = .seconds(10)
    public static let defaultListenBacklog: Int32 = 1024
    /// One event loop per core.
    public static var defaultEventLoops: Int { ProcessInfo.processInfo.activeProcessorCount }

    public init(host: String = "127.0.0.1", port: Int = 8443, limits: HTTPLimits = .default,
                maxConnections: Int = defaultMaxConnections, maxConnectionsPerGroup: Int = defaultMaxConnectionsPerGroup,
                maxHandshakesPerAddress: Int = defaultMaxHandshakesPerAddress, shutdownGracePeriod: Duration = defaultShutdownGracePeriod,
                listenBacklog: Int32 = defaultListenBacklog, eventLoops: Int = defaultEventLoops) {
        self.host = host
        self.port = port
        self.limits = limits
        self.maxConnections = maxConnections
        self.maxConnectionsPerGroup = maxConnectionsPerGroup
        self.maxHandshakesPerAddress = maxHandshakesPerAddress
        self.shutdownGracePeriod = shutdownGracePeriod
        self.listenBacklog = listenBacklog
        self.eventLoops = eventLoops
    }
}

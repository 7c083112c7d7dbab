import Dispatch
import Foundation
import Synchronization
import TLS
import Wire
#if canImport(Glibc)
import Glibc
#endif

import POSIX

/// An event-driven HTTPS/1.1 server: one listening socket and non-blocking
/// connections on Dispatch sources, OpenSSL in memory-BIO mode. Idle
/// connections cost memory, never a thread.
///
/// Timeouts are kept by one sweeper rather than a timer per connection: each
/// connection publishes its deadline, and a repeating timer (an eighth of the
/// shortest timeout, 10 ms to 1 s) hands the overdue ones back to their queues.
public final class HTTPServer: Sendable {
    public let configuration: ServerConfiguration
    let responder: any HTTPResponder
    let logger: Logger
    private let tlsContext: Mutex<TLSContext>
    /// Connection queues target this non-overcommitting queue, so the thread
    /// count follows the CPU count, not the connection count.
    let connectionTargetQueue = DispatchQueue(label: "marac.connections", attributes: .concurrent, target: .global())
    private let acceptQueue = DispatchQueue(label: "marac.accept")
    private let state = Mutex(State())
    private let sweepQueue = DispatchQueue(label: "marac.timeouts")

    private struct State {
        var listenFD: Int32 = -1
        var listenSource: ListenSource?
        var connections: [UInt64: Registered] = [:]
        /// Connections still in their handshake, by client address (`maxHandshakesPerAddress`).
        var handshakesByAddress: [String: Int] = [:]
        /// Open connections by peer group (`maxConnectionsPerGroup`).
        var connectionsByGroup: [String: Int] = [:]
        /// Connections beyond their group's share, waiting to answer their first request 429 (at most a share's worth).
        var overShareByGroup: [String: Int] = [:]
        var nextConnectionID: UInt64 = 1
        var shuttingDown = false
        var boundPort = 0
        var onIdle: [@Sendable () -> Void] = []
        var sweeper: TimerSource?
    }

    /// - Parameters:
    ///   - tlsContext: a server context; replaceable later (certificate renewal) with `replaceTLSContext`.
    public init(configuration: ServerConfiguration, tlsContext: TLSContext, responder: any HTTPResponder, logger: Logger = .standardError) {
        self.configuration = configuration
        self.tlsContext = Mutex(tlsContext)
        self.responder = responder
        self.logger = logger
    }

    /// New connections use `context` (e.g. a renewed server certificate); open ones keep theirs.
    public func replaceTLSContext(_ context: TLSContext) {
        tlsContext.withLock { $0 = context }
    }

    /// The port actually bound (useful with port 0).
    public var port: Int { state.withLock { $0.boundPort } }

    /// A connection in the registry, and what it counts against.
    private struct Registered {
        let connection: Connection
        let address: String
        var handshaking = true
        var group: String?
        /// Set while it waits, over its group's share, for the first request to refuse.
        var overShareGroup: String?
    }

    /// Number of open connections.
    public var connectionCount: Int { state.withLock { $0.connections.count } }

    /// Binds, listens and starts accepting.
    /// - Throws: `SystemError` naming the failing call (e.g. `bind 127.0.0.1:8443: Address already in use`).
    public func start() throws {
        let address = try SocketAddress(host: configuration.host, port: configuration.port)
        let listening = "\(configuration.host):\(configuration.port)"
        let fd = try blockingSystemCall("socket", listening) {
            socket(address.family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        }
        let port: Int
        do {
            // Without SO_REUSEADDR a restart cannot bind while old connections linger in TIME_WAIT: refuse to start instead.
            try Socket.setOption(fd, level: SOL_SOCKET, SO_REUSEADDR, to: Int32(1), name: "SO_REUSEADDR on \(listening)")
            try blockingSystemCall("bind", listening) { address.withSockAddr { bind(fd, $0, $1) } }
            try blockingSystemCall("listen", listening) { listen(fd, configuration.listenBacklog) }
            port = try SocketAddress.localPort(of: fd)
        } catch {
            FileDescriptor.close(descriptor: fd)
            throw error
        }
        let source = DispatchSource.makeReadSource(fileDescriptor: fd, queue: acceptQueue)
        source.setEventHandler { [self] in acceptConnections(fd) }
        source.setCancelHandler { FileDescriptor.close(descriptor: fd) }
        state.withLock {
            $0.listenFD = fd
            $0.listenSource = ListenSource(source: source)
            $0.boundPort = port
        }
        source.resume()
        startSweeper()
        logger.log("listening", ["address": "\(configuration.host):\(port)"])
    }

    /// How often the sweeper looks for overdue connections.
    var sweepInterval: Duration {
        let limits = configuration.limits
        let shortest = min(limits.headerTimeout, limits.idleTimeout, limits.bodyTimeout)
        return min(max(shortest / 8, .milliseconds(10)), .seconds(1))
    }

    private func startSweeper() {
        let timer = DispatchSource.makeTimerSource(queue: sweepQueue)
        let interval = sweepInterval.components
        let nanoseconds = Int(interval.seconds) * 1_000_000_000 + Int(interval.attoseconds / 1_000_000_000)
        timer.schedule(deadline: .now() + .nanoseconds(nanoseconds), repeating: .nanoseconds(nanoseconds), leeway: .nanoseconds(nanoseconds / 4))
        timer.setEventHandler { [weak self] in self?.sweep() }
        state.withLock { $0.sweeper = TimerSource(source: timer) }
        timer.resume()
    }

    private func sweep() {
        let connections = state.withLock { $0.connections.values.map(\.connection) }
        let now = DispatchTime.now().uptimeNanoseconds
        for connection in connections where connection.isOverdue(at: now) {
            connection.timeoutDue()
        }
    }

    private func acceptConnections(_ listenFD: Int32) {
        dispatchPrecondition(condition: .onQueue(acceptQueue))
        for _ in 0..<64 {
            var storage = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let result = withUnsafeMutablePointer(to: &storage) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
                    Result { () throws(SystemError) in try systemCall("accept") { accept(listenFD, address, &length) } }
                }
            }
            let fd: Int32
            switch result {
            case .success(.done(let accepted)): fd = accepted
            case .success(.wouldBlock): return
            case .failure(let error):
                // EMFILE/ENFILE and friends: back off briefly instead of spinning on the ready socket.
                logger.log("accept_failed", ["error": "\(error)"])
                state.withLock { $0.listenSource }?.source.suspend()
                acceptQueue.asyncAfter(deadline: .now() + .milliseconds(100)) { [self] in
                    state.withLock { $0.listenSource }?.source.resume()
                }
                return
            }
            let remote = SocketAddress.describe(storage)
            do {
                // Linux's accept does not pass O_NONBLOCK on, and the connection's Dispatch sources need it;
                // FD_CLOEXEC keeps the socket out of child processes. Without either the connection is not served.
                try Socket.setNonBlocking(fd)
                try Socket.setCloseOnExec(fd)
            } catch {
                FileDescriptor.close(descriptor: fd)
                logger.log("connection_failed", ["remote": remote, "error": "\(error)"])
                continue
            }
            do {
                // TCP_NODELAY only saves latency on small responses: a socket that refuses it is logged and still served.
                try Socket.setOption(fd, level: Int32(IPPROTO_TCP), TCP_NODELAY, to: Int32(1), name: "TCP_NODELAY")
            } catch {
                logger.log("socket_option_failed", ["remote": remote, "error": "\(error)"])
            }
            let address = SocketAddress.host(of: storage)
            let id: UInt64 = state.withLock { state in
                defer { state.nextConnectionID += 1 }
                return state.nextConnectionID
            }
            let connection: Connection
            do {
                connection = try Connection(id: id, fd: fd, remoteAddress: remote, server: self,
                                            context: tlsContext.withLock { $0 }, limits: configuration.limits)
            } catch {
                FileDescriptor.close(descriptor: fd)
                logger.log("connection_failed", ["remote": remote, "error": "\(error)"])
                continue
            }
            if let refusal = admit(connection, from: address) {
                FileDescriptor.close(descriptor: fd)
                logger.log("connection_refused", ["remote": remote, "reason": refusal])
                continue
            }
            connection.start()
        }
    }

    /// Registers a new connection, or says why it may not have a slot.
    private func admit(_ connection: Connection, from address: String) -> String? {
        state.withLock { state in
            if state.shuttingDown { return "shutting down" }
            if state.connections.count >= configuration.maxConnections {
                return "all \(configuration.maxConnections) connection slots are taken (maxConnections)"
            }
            let handshaking = state.handshakesByAddress[address, default: 0]
            if handshaking >= configuration.maxHandshakesPerAddress {
                return "\(address) already has \(handshaking) connections in their handshake (maxHandshakesPerAddress)"
            }
            state.handshakesByAddress[address] = handshaking + 1
            state.connections[connection.id] = Registered(connection: connection, address: address)
            return nil
        }
    }

    /// What a connection whose handshake just completed may do.
    enum Share {
        case admitted
        /// Over its group's share: its first request is answered `429 too_many_connections` with this message.
        case overShare(String)
        /// Over its share with a share's worth already waiting for their 429: closed at once, for this reason.
        case refused(String)
    }

    /// The handshake verified `peer`: the connection stops counting against its address's
    /// handshakes and starts counting against its peer group. Beyond the group's share it waits
    /// for its first request to refuse, and still counts (a silent one would otherwise hold a slot
    /// outside every share until the idle timeout); beyond a share's worth of those, it is closed.
    func handshakeCompleted(_ connection: Connection, peer: PeerCertificate) -> Share {
        let group = responder.connectionGroup(for: peer)
        return state.withLock { state in
            guard var entry = state.connections[connection.id], entry.handshaking else { return .admitted }
            entry.handshaking = false
            Self.release(&state.handshakesByAddress, entry.address)
            defer { state.connections[connection.id] = entry }
            guard let group else { return .admitted }
            let held = state.connectionsByGroup[group, default: 0]
            guard held < configuration.maxConnectionsPerGroup else {
                let waiting = state.overShareByGroup[group, default: 0]
                guard waiting < configuration.maxConnectionsPerGroup else {
                    return .refused("\(group) already has \(held) connections open and \(waiting) more waiting to be refused (maxConnectionsPerGroup)")
                }
                state.overShareByGroup[group] = waiting + 1
                entry.overShareGroup = group
                return .overShare("\(group) already has \(held) connections open, the most one client may hold: reuse one, or close those not in use")
            }
            state.connectionsByGroup[group] = held + 1
            entry.group = group
            return .admitted
        }
    }

    private static func release(_ counts: inout [String: Int], _ key: String) {
        guard let count = counts[key] else { return }
        counts[key] = count > 1 ? count - 1 : nil
    }

    func connectionClosed(_ connection: Connection) {
        let idleCallbacks: [@Sendable () -> Void] = state.withLock { state in
            if let entry = state.connections.removeValue(forKey: connection.id) {
                if entry.handshaking { Self.release(&state.handshakesByAddress, entry.address) }
                if let group = entry.group { Self.release(&state.connectionsByGroup, group) }
                if let group = entry.overShareGroup { Self.release(&state.overShareByGroup, group) }
            }
            guard state.shuttingDown, state.connections.isEmpty else { return [] }
            let callbacks = state.onIdle
            state.onIdle.removeAll()
            return callbacks
        }
        idleCallbacks.forEach { $0() }
    }

    /// Graceful shutdown: stop accepting, let in-flight requests finish and
    /// close idle connections; after the grace period, close the rest.
    /// Returns when every connection is closed.
    public func shutdown() async {
        let (listener, connections): (ListenSource?, [Connection]) = state.withLock {
            $0.shuttingDown = true
            let source = $0.listenSource
            $0.listenSource = nil
            return (source, $0.connections.values.map(\.connection))
        }
        listener?.source.cancel()
        logger.log("shutting_down", ["open_connections": connections.count])
        connections.forEach { $0.drain() }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let once = Mutex(false)
            let finish: @Sendable () -> Void = {
                if once.withLock({ done in defer { done = true }; return !done }) { continuation.resume() }
            }
            let alreadyIdle = state.withLock { state -> Bool in
                if state.connections.isEmpty { return true }
                state.onIdle.append(finish)
                return false
            }
            if alreadyIdle { finish(); return }
            let grace = configuration.shutdownGracePeriod.components
            acceptQueue.asyncAfter(deadline: .now() + .seconds(Int(grace.seconds))) { [self] in
                let remaining = state.withLock { $0.connections.values.map(\.connection) }
                if !remaining.isEmpty { logger.log("shutdown_forcing_close", ["open_connections": remaining.count]) }
                remaining.forEach { $0.forceClose() }
            }
        }
        state.withLock { $0.sweeper }?.source.cancel()
        logger.log("stopped")
    }
}

/// The listening socket's read source. Dispatch sources are thread-safe
/// (suspend, resume and cancel may be called from any thread), hence the
/// unchecked conformance.
struct ListenSource: @unchecked Sendable {
    let source: DispatchSourceRead
}

/// The timeout sweeper's timer (thread-safe like every Dispatch source).
struct TimerSource: @unchecked Sendable {
    let source: DispatchSourceTimer
}

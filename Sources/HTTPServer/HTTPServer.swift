internal import CEpoll
import Foundation
import Synchronization
import TLS
import Wire
#if canImport(Glibc)
import Glibc
#endif

import POSIX

/// An event-driven HTTPS/1.1 server on its own epoll event loops: one listening socket accepted
/// by the first loop, each connection handed to a loop in turn and served there for its whole
/// life (reads, writes, TLS on memory BIOs, its timeouts, and its requests' tasks). Idle
/// connections cost memory, never a thread.
///
/// Timeouts are kept by each loop's timer wheel (see `TimerWheel`), not a timer per connection.
public final class HTTPServer: Sendable {
    public let configuration: ServerConfiguration
    let responder: any HTTPResponder
    let logger: Logger
    private let tlsContext: Mutex<TLSContext>
    private let state = Mutex(State())
    /// Refused handshakes by reason (read by an operator's metrics).
    public let handshakeFailures = HandshakeFailureCounter()

    private struct State {
        var loops: [EventLoop] = []
        /// The loop the next accepted connection goes to (round robin).
        var nextLoop = 0
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

    /// Binds, listens, starts the event loops and accepting.
    /// - Throws: `SystemError` naming the failing call (e.g. `bind 127.0.0.1:8443: Address already in use`).
    public func start() throws {
        let address = try SocketAddress(host: configuration.host, port: configuration.port)
        let listening = "\(configuration.host):\(configuration.port)"
        let fd = try blockingSystemCall("socket", listening) {
            socket(address.family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        }
        let port: Int
        var loops: [EventLoop] = []
        do {
            // Without SO_REUSEADDR a restart cannot bind while old connections linger in TIME_WAIT: refuse to start instead.
            try Socket.setOption(fd, level: SOL_SOCKET, SO_REUSEADDR, to: Int32(1), name: "SO_REUSEADDR on \(listening)")
            try blockingSystemCall("bind", listening) { address.withSockAddr { bind(fd, $0, $1) } }
            try blockingSystemCall("listen", listening) { listen(fd, configuration.listenBacklog) }
            port = try SocketAddress.localPort(of: fd)
            for index in 0..<max(1, configuration.eventLoops) {
                loops.append(try EventLoop(index: index))
            }
        } catch {
            FileDescriptor.close(descriptor: fd)
            loops.forEach { $0.discard() }
            throw error
        }
        state.withLock {
            $0.loops = loops
            $0.boundPort = port
        }
        loops.forEach { $0.start() }
        let acceptor = loops[0]
        acceptor.execute { [self] in
            do {
                try acceptor.listen(on: fd) { [self] in acceptConnections(fd, on: acceptor) }
            } catch {
                // Registering a fresh socket in a fresh epoll set fails only without memory (ENOMEM).
                logger.log("listen_failed", ["error": "\(error)"])
                FileDescriptor.close(descriptor: fd)
            }
        }
        logger.log("listening", ["address": "\(configuration.host):\(port)", "event_loops": loops.count])
    }

    /// One round of `accept` on the acceptor loop: each connection goes to the next loop.
    private func acceptConnections(_ listenFD: Int32, on acceptor: EventLoop) -> EventLoop.AcceptOutcome {
        for _ in 0..<64 {
            var storage = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let result = withUnsafeMutablePointer(to: &storage) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
                    Result { () throws(SystemError) in
                        // accept4 sets O_NONBLOCK (epoll needs it) and FD_CLOEXEC (keeps the socket out of child processes) in the same call.
                        try systemCall("accept4") { shim_accept4(listenFD, address, &length) }
                    }
                }
            }
            let fd: Int32
            switch result {
            case .success(.done(let accepted)): fd = accepted
            case .success(.wouldBlock): return .drained
            case .failure(let error):
                // EMFILE/ENFILE and friends: back off briefly instead of spinning on the ready socket.
                logger.log("accept_failed", ["error": "\(error)"])
                return .failed
            }
            let remote = SocketAddress.describe(storage)
            do {
                // TCP_NODELAY only saves latency on small responses: a socket that refuses it is logged and still served.
                try Socket.setOption(fd, level: Int32(IPPROTO_TCP), TCP_NODELAY, to: Int32(1), name: "TCP_NODELAY")
            } catch {
                logger.log("socket_option_failed", ["remote": remote, "error": "\(error)"])
            }
            let address = SocketAddress.shareKey(of: storage)
            let (id, loop): (UInt64, EventLoop) = state.withLock { state in
                defer {
                    state.nextConnectionID += 1
                    state.nextLoop = (state.nextLoop + 1) % state.loops.count
                }
                return (state.nextConnectionID, state.loops[state.nextLoop])
            }
            let connection: Connection
            do {
                connection = try Connection(id: id, fd: fd, remoteAddress: remote, loop: loop, server: self,
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
            if loop === acceptor {
                loop.adopt(connection)
            } else {
                loop.execute { loop.adopt(connection) }
            }
        }
        return .more
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
    /// Returns when every connection is closed; each loop's thread then ends
    /// once the tasks of its requests are done.
    public func shutdown() async {
        let (loops, connections): ([EventLoop], [Connection]) = state.withLock {
            $0.shuttingDown = true
            return ($0.loops, $0.connections.values.map(\.connection))
        }
        if let acceptor = loops.first {
            // Closed before this returns: a client connecting afterwards is refused.
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let queued = acceptor.execute {
                    acceptor.stopListening()
                    continuation.resume()
                }
                if !queued { continuation.resume() }  // stopped by an earlier shutdown
            }
        }
        logger.log("shutting_down", ["open_connections": connections.count])
        for connection in connections {
            connection.loop.execute { connection.drain() }
        }
        let grace = configuration.shutdownGracePeriod
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.idle() }
            group.addTask {
                // Cancelled when every connection closed in time.
                guard (try? await Task.sleep(for: grace)) != nil else { return }
                let remaining = self.state.withLock { $0.connections.values.map(\.connection) }
                if !remaining.isEmpty { self.logger.log("shutdown_forcing_close", ["open_connections": remaining.count]) }
                for connection in remaining {
                    connection.loop.execute { connection.forceClose() }
                }
            }
            await group.next()
            group.cancelAll()
        }
        loops.forEach { $0.stopWhenIdle() }
        logger.log("stopped")
    }

    /// Returns once shutdown has begun and no connection is left.
    private func idle() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let alreadyIdle = state.withLock { state -> Bool in
                if state.connections.isEmpty { return true }
                state.onIdle.append { continuation.resume() }
                return false
            }
            if alreadyIdle { continuation.resume() }
        }
    }
}

internal import CEpoll
import Foundation
import TLS
import Wire
#if canImport(Glibc)
import Glibc
#endif

import POSIX

/// One client connection: a non-blocking socket, its TLS session, and the system calls that
/// carry out what its `ConnectionStateMachine` decides.
///
/// Everything here runs on the connection's `EventLoop` thread (the loop's epoll events, its
/// timer wheel, and the request's task, which runs on the loop as its executor), which is why
/// the class may be `@unchecked Sendable`. The socket is registered once, edge-triggered, so
/// the connection remembers what epoll said: `socketReadable` until a read finds nothing more,
/// `socketWritable` until a write would block. Pausing reading is only a flag; resuming reads
/// at once, since no new edge will come for bytes already waiting.
final class Connection: TimerWheel.Timed, @unchecked Sendable {
    let id: UInt64
    let remoteAddress: String
    let fd: Int32
    let loop: EventLoop
    private unowned let server: HTTPServer
    private let session: TLSSession
    private var machine: ConnectionStateMachine
    private var peer: PeerCertificate?
    private var outbound: [UInt8] = []
    private var outboundOffset = 0
    private var socketReadable = false
    private var socketWritable = true
    /// epoll reported the peer's end of stream (or an error): read until it shows.
    private var peerHungUp = false
    private var readingPaused = false
    /// The request in flight waits here (a long-poll), its deadline in `deadline`.
    private var parked: ParkedRequest?
    private(set) var isClosed = false
    /// The deadline mirrored for the loop's timer wheel (0: none); the machine keeps its own.
    private(set) var deadline: UInt64 = 0
    var registeredTick: UInt64 = 0
    var timerID: UInt64 { id }

    private static let socketReadSize = 16 * 1024
    /// Reads in one turn before other connections on the loop get theirs.
    private static let readsPerTurn = 16

    init(id: UInt64, fd: Int32, remoteAddress: String, loop: EventLoop, server: HTTPServer, context: TLSContext, limits: HTTPLimits) throws {
        self.id = id
        self.fd = fd
        self.remoteAddress = remoteAddress
        self.loop = loop
        self.server = server
        self.session = try TLSSession(context: context)
        machine = ConnectionStateMachine(configuration: .init(limits: limits))
    }

    // MARK: Events from the loop

    /// Registered with the loop: the handshake starts when the client speaks.
    func start(now: UInt64) {
        perform(machine.started(now: now), now: now)
    }

    /// The loop could not register the socket: the connection never starts.
    func failedToStart(_ error: SystemError) {
        server.logger.log("connection_failed", ["connection": id, "remote": remoteAddress, "error": "\(error)"])
        perform(machine.close(), now: 0)
    }

    /// epoll reported `events` for the socket.
    func handle(events: UInt32, now: UInt64) {
        if events & (shim_EPOLLOUT | shim_EPOLLERR | shim_EPOLLHUP) != 0 { socketWritable = true }
        if events & (shim_EPOLLIN | shim_EPOLLRDHUP | shim_EPOLLERR | shim_EPOLLHUP) != 0 { socketReadable = true }
        if events & (shim_EPOLLRDHUP | shim_EPOLLERR | shim_EPOLLHUP) != 0 { peerHungUp = true }
        drive(now: now)
    }

    /// The loop's turn after this connection used its read budget.
    func resumeReading(now: UInt64) {
        drive(now: now)
    }

    /// The timer wheel found the deadline passed.
    func deadlineDue(now: UInt64) {
        if let parked {
            // While a request is in flight the machine arms nothing: the deadline is the parked request's.
            if now >= parked.deadline { parked.resumeIfParked(.deadlinePassed) }
            return
        }
        perform(machine.deadlineFired(now: now), now: now)
        drive(now: now)
    }

    /// Graceful shutdown: an idle connection closes now, a busy one after its response.
    func drain() {
        loop.preconditionInLoop()
        let now = monotonicNanoseconds()
        perform(machine.drain(), now: now)
        drive(now: now)
    }

    /// Closes at once (shutdown's grace period is over).
    func forceClose() {
        loop.preconditionInLoop()
        perform(machine.close(), now: 0)
    }

    // MARK: Reading and writing

    /// Writes what is pending and reads what the machine wants, until the socket would block,
    /// reading is paused, or the read budget is spent.
    private func drive(now: UInt64) {
        var reads = 0
        while !isClosed {
            flush(now: now)
            guard !isClosed, !readingPaused, socketReadable else { return }
            if reads == Self.readsPerTurn {
                loop.readLater(self)
                return
            }
            reads += 1
            readOnce(now: now)
        }
    }

    private func readOnce(now: UInt64) {
        let lingering = machine.phase == .lingering
        let result: IOResult<Int>
        do {
            result = try Socket.receive(fd, bufferSize: Self.socketReadSize) { bytes in
                if !lingering { session.receive(bytes) }
            }
        } catch {
            return perform(machine.close(), now: now)  // ECONNRESET and the like
        }
        switch result {
        case .wouldBlock:
            socketReadable = false
        case .done(0):
            socketReadable = false
            perform(machine.peerClosed(), now: now)
        case .done(let count):
            // A short read emptied the socket: a later byte brings a new edge, so the next read
            // (which would only say EAGAIN) is saved — unless the end of stream is still to be read.
            if count < Self.socketReadSize && !peerHungUp { socketReadable = false }
            if lingering {
                perform(machine.lingerRead(count), now: now)
            } else {
                advanceTLS(now: now)
            }
        }
    }

    private func advanceTLS(now: UInt64) {
        if machine.phase == .handshaking {
            do {
                guard try session.handshake() else { return }
            } catch {
                server.logger.log("tls_handshake_failed", ["connection": id, "remote": remoteAddress, "reason": "\(error)"])
                server.handshakeFailures.record(error)
                return perform(machine.handshakeFailed(), now: now)
            }
            peer = session.peerCertificate
            // The handshake's flights are out: their buffers need not stay for the connection's life.
            session.releaseBuffers()
            var overShare: String?
            if let peer {
                switch server.handshakeCompleted(self, peer: peer) {
                case .admitted: break
                case .overShare(let message): overShare = message
                case .refused(let reason):
                    // Closed at once, like a connection refused at accept: no lingering in a slot.
                    server.logger.log("connection_refused", ["connection": id, "remote": remoteAddress, "reason": reason])
                    return perform(machine.close(), now: now)
                }
            }
            perform(machine.handshakeCompleted(now: now, overShare: overShare), now: now)
        }
        guard machine.phase == .open else { return }
        var plaintext: [UInt8] = []
        var peerClosed = false
        readPlaintext: while true {
            do {
                switch try session.read(into: &plaintext) {
                case .bytes: continue
                case .wantRead: break readPlaintext
                case .closed: peerClosed = true; break readPlaintext
                }
            } catch {
                server.logger.log("tls_error", ["connection": id, "remote": remoteAddress, "reason": "\(error)"])
                return perform(machine.close(), now: now)
            }
        }
        if !plaintext.isEmpty {
            perform(plaintext.withUnsafeBytes { machine.received($0, now: now) }, now: now)
        }
        if peerClosed { perform(machine.peerClosed(), now: now) }
    }

    /// Moves TLS output to the socket and tells the machine whether it is all written, until
    /// the machine has nothing more to say about it.
    private func flush(now: UInt64) {
        while !isClosed {
            session.drainOutput(into: &outbound)
            let actions: [ConnectionStateMachine.Action]
            switch writeSocket() {
            case nil: return  // failed, and closed
            case true?: actions = machine.writeFlushed(now: now)
            case false?: actions = machine.writeBlocked(now: now)
            }
            if actions.isEmpty { return }
            perform(actions, now: now)
        }
    }

    /// - Returns: true when everything is written, false when the socket would block, nil
    ///   when the write failed (the connection is then closed).
    private func writeSocket() -> Bool? {
        while outboundOffset < outbound.count {
            guard socketWritable else { return false }
            let result: IOResult<Int>
            do {
                result = try outbound.withUnsafeBytes { bytes in
                    try systemCall("send", "to connection \(id)") {
                        Glibc.send(fd, bytes.baseAddress! + outboundOffset, bytes.count - outboundOffset, Int32(MSG_NOSIGNAL))
                    }
                }
            } catch {
                perform(machine.close(), now: 0)  // EPIPE, ECONNRESET: the client has gone
                return nil
            }
            switch result {
            case .done(let count): outboundOffset += count
            case .wouldBlock: socketWritable = false
            }
        }
        if !outbound.isEmpty {
            outbound.removeAll(keepingCapacity: outbound.capacity <= 16 * 1024)
            outboundOffset = 0
        }
        return true
    }

    // MARK: Actions

    private func perform(_ actions: [ConnectionStateMachine.Action], now: UInt64) {
        for action in actions {
            guard !isClosed else { return }
            switch action {
            case .write(let bytes):
                do { try session.write(bytes) } catch { perform(machine.close(), now: now) }
            case .closeNotify:
                session.shutdown()
            case .dispatch(let request):
                dispatch(request)
            case .pauseReading:
                readingPaused = true
            case .resumeReading:
                readingPaused = false  // `drive` reads next
            case .armDeadline(let at):
                deadline = at
                loop.schedule(self)
            case .disarmDeadline:
                deadline = 0
            case .shutDownWrite:
                do {
                    try blockingSystemCall("shutdown", "of connection \(id)") { Glibc.shutdown(fd, Int32(SHUT_WR)) }
                } catch {
                    perform(machine.close(), now: now)  // the peer has already gone (ENOTCONN): nothing to linger for
                }
            case .close:
                closeSocket()
            case .logRejected(let status, let code, let message):
                server.logger.log("request_rejected", ["connection": id, "status": status, "code": code, "message": message])
            case .logTimeout(let waitingFor):
                server.logger.log("connection_timeout", ["connection": id, "remote": remoteAddress, "waiting_for": waitingFor])
            }
        }
    }

    private func dispatch(_ request: HTTPRequest) {
        guard let peer else { return perform(machine.close(), now: 0) }
        let context = RequestContext(peer: peer, connectionID: id, remoteAddress: remoteAddress, receivedAt: .now, connection: self)
        let responder = server.responder
        // The responder may take long (a long-poll waits up to a minute): the output buffer
        // kept from the last write (the handshake's flight, a response) is not held meanwhile.
        if outbound.isEmpty { outbound = [] }
        answer { await responder.respond(to: request, context: context) }
    }

    /// Runs `responder` in a task on this connection's loop (its task executor), so the answer is
    /// written where it is computed; an engine call hops to the engine and back, once.
    private func answer(_ responder: @escaping @Sendable () async -> HTTPResponse) {
        loop.requestStarted()
        Task(executorPreference: loop) { [self] in
            let response = await responder()
            complete(response)
        }
    }

    private func complete(_ response: HTTPResponse) {
        loop.preconditionInLoop()
        loop.requestFinished()
        let now = monotonicNanoseconds()
        if let request = response.parked {
            return park(request, now: now)
        }
        perform(machine.responseReady(response, now: now), now: now)
        drive(now: now)
    }

    /// The responder answered that `request` waits: it is kept here, with its deadline in the
    /// loop's timer wheel, until it is woken (`resumeParked`) or due (`deadlineDue`).
    private func park(_ request: ParkedRequest, now: UInt64) {
        guard !isClosed else { return request.abandon() }
        if let reason = request.parked(now: now) {
            return answer { await request.answer(reason) }
        }
        parked = request
        deadline = request.deadline
        loop.schedule(self)
        // A parked request may wait a minute, and there may be thousands: hold no buffers meanwhile.
        session.releaseBuffers()
    }

    /// `request`, parked here, was woken or is due: its answer is computed in a new task.
    func resumeParked(_ request: ParkedRequest, reason: ParkedRequest.Reason) {
        loop.preconditionInLoop()
        guard parked === request, !isClosed else { return }
        parked = nil
        deadline = 0
        answer { await request.answer(reason) }
    }

    /// Closes the socket (which also takes it out of the epoll set) and leaves the loop and the server's registry.
    private func closeSocket() {
        guard !isClosed else { return }
        isClosed = true
        deadline = 0
        if let request = parked {
            parked = nil
            request.abandon()
        }
        FileDescriptor.close(descriptor: fd)
        loop.remove(self)
        server.connectionClosed(self)
    }
}

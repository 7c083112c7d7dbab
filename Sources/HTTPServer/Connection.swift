import Dispatch
import Foundation
import Synchronization
import TLS
import Wire
#if canImport(Glibc)
import Glibc
#endif

import POSIX

/// One client connection: a non-blocking socket, its TLS session, an HTTP
/// parser and the request in progress.
///
/// Every mutable field is touched only on `queue` (checked with
/// `dispatchPrecondition`), which is why the class may be `@unchecked Sendable`.
/// The socket is closed only in the cancel handler of the last Dispatch
/// source on it; the server's registry keeps the connection alive until then.
///
/// Sources are few on purpose (each costs the Dispatch manager thread work to
/// register, re-arm and cancel): a read source for the whole connection, a
/// write source only once a write would block, and no timer — the deadline is
/// an atomic the server's sweeper reads (see `HTTPServer`).
final class Connection: @unchecked Sendable {
    /// `lingering`: the last response is sent and our side shut down; what the client still
    /// sends is read and dropped until it closes, so its unread bytes never make the kernel
    /// reset the connection (a reset can destroy the response before the client reads it).
    private enum Phase { case handshaking, open, lingering, closed }

    let id: UInt64
    let remoteAddress: String
    private let fd: Int32
    private let queue: DispatchQueue
    private let executor: QueueTaskExecutor
    private unowned let server: HTTPServer
    private let session: TLSSession
    private let limits: HTTPLimits
    private var parser: HTTPParser
    private var phase = Phase.handshaking
    private var peer: PeerCertificate?
    /// Set when the peer's group already held its share of connections: the first request gets
    /// `429 too_many_connections` with this message, and the connection closes.
    private var overShare: String?
    private var readSource: DispatchSourceRead?
    private var writeSource: DispatchSourceWrite?
    private var writeSourceResumed = false
    private var readSourceSuspended = false
    /// When the connection times out (header, body or idle), in `DispatchTime` uptime
    /// nanoseconds; 0 while a request is with the responder. Written on `queue`, read by the sweeper.
    private let deadline = Atomic<UInt64>(0)
    private var outbound: [UInt8] = []
    private var outboundOffset = 0
    /// A request is with the responder; later pipelined requests wait in the parser.
    private var processing = false
    /// Close once the outbound buffer is written (after an error or `Connection: close`).
    private var closeAfterFlush = false
    /// Graceful shutdown: finish the request in flight, then close.
    private var draining = false
    /// The client closed its side (EOF or close_notify): answer what is in flight, then close.
    private var peerFinished = false
    private var requestStarted: ContinuousClock.Instant?
    private var cancelsOutstanding = 0
    private var socketClosed = false

    private static let socketReadSize = 16 * 1024
    /// Above this much buffered plaintext, stop reading until the request in flight is answered.
    private static let maxBufferedWhileProcessing = 1 << 20
    /// How long, and how much, a closing connection keeps reading before it closes anyway.
    static let lingerTimeout = Duration.seconds(2)
    static let lingerLimit = 1 << 20
    private var lingered = 0

    init(id: UInt64, fd: Int32, remoteAddress: String, server: HTTPServer, context: TLSContext, limits: HTTPLimits) throws {
        self.id = id
        self.fd = fd
        self.remoteAddress = remoteAddress
        self.server = server
        self.limits = limits
        self.parser = HTTPParser(limits: limits)
        self.session = try TLSSession(context: context)
        self.queue = DispatchQueue(label: "marac.connection", target: server.connectionTargetQueue)
        executor = QueueTaskExecutor(queue)
    }

    /// Installs the Dispatch sources; the handshake starts when the client speaks.
    func start() {
        arm(after: limits.headerTimeout)
        queue.async { [self] in
            // Shutdown may have closed the connection before it started. With no source to
            // cancel, nothing else would close the socket; a write source's cancellation will.
            if phase == .closed {
                if cancelsOutstanding == 0 && !socketClosed { releaseSocket() }
                return
            }
            let read = DispatchSource.makeReadSource(fileDescriptor: fd, queue: queue)
            read.setEventHandler { [self] in onReadable() }
            read.setCancelHandler { [self] in sourceCancelled() }
            readSource = read
            cancelsOutstanding += 1
            read.resume()
        }
    }

    /// Whether the connection's deadline has passed (the sweeper asks, from its own queue).
    func isOverdue(at now: UInt64) -> Bool {
        let due = deadline.load(ordering: .relaxed)
        return due != 0 && now >= due
    }

    /// The sweeper saw the deadline pass: check again on the connection's queue and act.
    func timeoutDue() {
        queue.async { [self] in onTimeout() }
    }

    /// Graceful shutdown: idle connections close now, busy ones after their response.
    func drain() {
        queue.async { [self] in
            guard phase != .closed, phase != .lingering else { return }
            draining = true
            if !processing && !parser.isMidRequest { closeGracefully() }
        }
    }

    /// Closes at once (shutdown grace period over).
    func forceClose() {
        queue.async { [self] in closeNow() }
    }

    // MARK: Reading

    private func onReadable() {
        dispatchPrecondition(condition: .onQueue(queue))
        guard phase != .closed else { return }
        if phase == .lingering { return discardInput() }
        var sawEOF = false
        do {
            readLoop: for _ in 0..<4 {
                switch try readSocket({ session.receive($0) }) {
                case .wouldBlock: break readLoop
                case .done(0): sawEOF = true; break readLoop
                case .done(let count): if count < Self.socketReadSize { break readLoop }
                }
            }
        } catch {
            closeNow()
            return
        }
        if sawEOF { peerFinished = true }
        advanceTLS()
        if peerFinished && phase != .closed {
            suspendReading()
            if !processing { closeNow() }
        }
    }

    /// One read of the socket into a scratch buffer; `received` sees the bytes read.
    private func readSocket(_ received: (UnsafeRawBufferPointer) -> Void) throws -> IOResult<Int> {
        try Socket.receive(fd, bufferSize: Self.socketReadSize, received)
    }

    private func advanceTLS() {
        if phase == .handshaking {
            do {
                guard try session.handshake() else { flushTLS(); return }
            } catch {
                server.logger.log("tls_handshake_failed", ["connection": id, "remote": remoteAddress, "reason": "\(error)"])
                closeAfterFlush = true
                flushTLS()
                return
            }
            phase = .open
            peer = session.peerCertificate
            if let peer {
                switch server.handshakeCompleted(self, peer: peer) {
                case .admitted: break
                case .overShare(let message): overShare = message
                case .refused(let reason):
                    // Closed at once, like a connection refused at accept: no lingering in a slot.
                    server.logger.log("connection_refused", ["connection": id, "remote": remoteAddress, "reason": reason])
                    closeNow()
                    return
                }
            }
            arm(after: limits.idleTimeout)
        }
        guard phase == .open else { return }
        var plaintext: [UInt8] = []
        readPlaintext: while true {
            do {
                switch try session.read(into: &plaintext) {
                case .bytes: continue
                case .wantRead: break readPlaintext
                case .closed: peerFinished = true; break readPlaintext
                }
            } catch {
                server.logger.log("tls_error", ["connection": id, "remote": remoteAddress, "reason": "\(error)"])
                closeNow()
                return
            }
        }
        if !plaintext.isEmpty {
            plaintext.withUnsafeBytes { parser.append($0) }
        }
        if processing && parser.bufferedByteCount > Self.maxBufferedWhileProcessing { suspendReading() }
        processNext()
        flushTLS()
    }

    // MARK: Requests

    private func processNext() {
        dispatchPrecondition(condition: .onQueue(queue))
        guard phase == .open, !processing, !closeAfterFlush else { return }
        while let event = parser.next() {
            switch event {
            case .continueExpected:
                writePlaintext(HTTPResponse.continueBytes)
            case .error(let error):
                server.logger.log("request_rejected", ["connection": id, "status": error.status.code, "code": error.code, "message": error.message])
                send(HTTPResponse.error(error), isHEAD: false, keepAlive: false)
                return
            case .request(let request):
                dispatch(request)
                return
            }
        }
        if draining && !parser.isMidRequest {
            closeGracefully()
            return
        }
        if parser.isMidRequest {
            if requestStarted == nil {
                requestStarted = .now
                let timeout = parser.isReadingBody ? limits.headerTimeout + limits.bodyTimeout : limits.headerTimeout
                arm(after: timeout)
            } else if parser.isReadingBody {
                arm(after: limits.headerTimeout + limits.bodyTimeout - (ContinuousClock.now - requestStarted!))
            }
        } else {
            requestStarted = nil
            arm(after: limits.idleTimeout)
        }
    }

    private func dispatch(_ request: HTTPRequest) {
        guard let peer else { closeNow(); return }
        if let overShare {
            server.logger.log("request_rejected", ["connection": id, "status": 429, "code": ErrorCode.tooManyConnections.rawValue, "message": overShare])
            send(.error(ErrorCode.tooManyConnections, message: overShare), isHEAD: request.isHEAD, keepAlive: false)
            return
        }
        processing = true
        requestStarted = nil
        disarm()
        let context = RequestContext(peer: peer, connectionID: id, remoteAddress: remoteAddress, receivedAt: .now)
        let responder = server.responder
        // The responder runs on this connection's queue (its task executor), so the answer is
        // written where it is computed, without a hop to another thread and back.
        Task(executorPreference: executor) { [self] in
            let response = await responder.respond(to: request, context: context)
            dispatchPrecondition(condition: .onQueue(queue))
            complete(request, response)
        }
    }

    private func complete(_ request: HTTPRequest, _ response: HTTPResponse) {
        dispatchPrecondition(condition: .onQueue(queue))
        processing = false
        guard phase == .open else { return }
        var response = response
        let responderCloses = response.headers["Connection"].map { HTTPHeaders.namesEqual($0, "close") } ?? false
        if responderCloses { response.headers.remove(name: "Connection") }
        let keepAlive = request.keepAlive && !responderCloses && !draining && !peerFinished
        send(response, isHEAD: request.method == "HEAD", keepAlive: keepAlive, requestVersion: request.version)
        if keepAlive {
            resumeReading()
            processNext()
            flushTLS()
        }
    }

    private func send(_ response: HTTPResponse, isHEAD: Bool, keepAlive: Bool, requestVersion: HTTPVersion = .http1_1) {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(256 + response.body.count)
        response.write(into: &bytes, isHEAD: isHEAD, keepAlive: keepAlive, requestVersion: requestVersion)
        if !keepAlive {
            closeAfterFlush = true
            suspendReading()
        }
        writePlaintext(bytes)
        if !keepAlive { session.shutdown() }
        flushTLS()
    }

    private func writePlaintext(_ bytes: [UInt8]) {
        do { try session.write(bytes) } catch { closeNow() }
    }

    // MARK: Writing

    private func flushTLS() {
        guard phase != .closed else { return }
        session.drainOutput(into: &outbound)
        flushSocket()
    }

    private func flushSocket() {
        dispatchPrecondition(condition: .onQueue(queue))
        guard phase != .closed else { return }
        while outboundOffset < outbound.count {
            let result: IOResult<Int>
            do {
                result = try outbound.withUnsafeBytes { bytes in
                    try systemCall("write") {
                        Glibc.send(fd, bytes.baseAddress! + outboundOffset, bytes.count - outboundOffset, Int32(MSG_NOSIGNAL))
                    }
                }
            } catch {
                closeNow()
                return
            }
            switch result {
            case .done(let count): outboundOffset += count
            case .wouldBlock:
                if !writeSourceResumed { writeSourceResumed = true; makeWriteSource().resume() }
                // A client that stops reading must not hold the connection: with no deadline
                // (a response is being sent) or one already passed (a close waiting to be sent),
                // it gets one more idle timeout to read.
                if !processing && (deadline.load(ordering: .relaxed) == 0 || isOverdue(at: DispatchTime.now().uptimeNanoseconds)) {
                    arm(after: limits.idleTimeout)
                }
                return
            }
        }
        outbound.removeAll(keepingCapacity: outbound.capacity <= 16 * 1024)
        outboundOffset = 0
        if writeSourceResumed { writeSourceResumed = false; writeSource?.suspend() }
        if closeAfterFlush && phase != .lingering { linger() }
    }

    /// Everything is sent: shut our side down (the client reads the response, then end of
    /// stream) and read until the client closes, `lingerTimeout` passes or `lingerLimit` bytes came.
    private func linger() {
        if peerFinished { return closeNow() }
        phase = .lingering
        do {
            try blockingSystemCall("shutdown", "of connection \(id)") { Glibc.shutdown(fd, Int32(SHUT_WR)) }
        } catch {
            return closeNow()  // the peer has already gone (ENOTCONN): nothing to linger for
        }
        arm(after: Self.lingerTimeout)
        resumeReading()
        discardInput()
    }

    private func discardInput() {
        while true {
            switch try? readSocket({ _ in }) {
            case .wouldBlock?: return
            case .done(let count)? where count > 0:
                lingered += count
                if lingered > Self.lingerLimit { return closeNow() }
            default: return closeNow()  // end of stream, or an error
            }
        }
    }

    /// The write source, made the first time a write would block.
    private func makeWriteSource() -> DispatchSourceWrite {
        if let writeSource { return writeSource }
        let write = DispatchSource.makeWriteSource(fileDescriptor: fd, queue: queue)
        write.setEventHandler { [self] in flushSocket() }
        write.setCancelHandler { [self] in sourceCancelled() }
        writeSource = write
        cancelsOutstanding += 1
        return write
    }

    // MARK: Timeouts and closing

    private func arm(after duration: Duration) {
        let nanoseconds = max(0, duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000)
        deadline.store(DispatchTime.now().uptimeNanoseconds + UInt64(nanoseconds), ordering: .relaxed)
    }

    private func disarm() {
        deadline.store(0, ordering: .relaxed)
    }

    private func onTimeout() {
        guard phase != .closed, !processing, isOverdue(at: DispatchTime.now().uptimeNanoseconds) else { return }
        if phase == .lingering { return closeNow() }
        if closeAfterFlush {
            // A close is waiting to be sent and the client has not read it in time.
            server.logger.log("connection_timeout", ["connection": id, "remote": remoteAddress, "waiting_for": "client to read"])
            return closeNow()
        }
        let what = phase == .handshaking ? "handshake" : (parser.isMidRequest ? "request" : "idle")
        server.logger.log("connection_timeout", ["connection": id, "remote": remoteAddress, "waiting_for": what])
        if phase == .open && parser.isMidRequest {
            send(.error(ErrorCode.requestTimeout, message: "the request was not received in time"), isHEAD: false, keepAlive: false)
        } else {
            closeGracefully()
        }
    }

    private func suspendReading() {
        guard !readSourceSuspended, phase != .closed else { return }
        readSourceSuspended = true
        readSource?.suspend()
    }

    private func resumeReading() {
        guard readSourceSuspended, phase != .closed else { return }
        readSourceSuspended = false
        readSource?.resume()
    }

    /// Sends close_notify, then closes when it is written.
    private func closeGracefully() {
        guard phase != .closed, phase != .lingering else { return }
        session.shutdown()
        closeAfterFlush = true
        flushTLS()
    }

    private func closeNow() {
        guard phase != .closed else { return }
        phase = .closed
        disarm()
        // A suspended source never delivers its cancellation: resume before cancelling.
        if readSourceSuspended { readSourceSuspended = false; readSource?.resume() }
        if let writeSource {
            if !writeSourceResumed { writeSourceResumed = true; writeSource.resume() }
            writeSource.cancel()
        }
        readSource?.cancel()
    }

    private func sourceCancelled() {
        cancelsOutstanding -= 1
        guard cancelsOutstanding == 0 else { return }
        releaseSocket()
    }

    /// Closes the socket once no source is left on it, and leaves the server's registry.
    private func releaseSocket() {
        readSource = nil
        writeSource = nil
        socketClosed = true
        FileDescriptor.close(descriptor: fd)
        server.connectionClosed(self)
    }
}

/// Runs tasks' jobs on a serial Dispatch queue: a connection's requests are
/// answered on the connection's own queue.
final class QueueTaskExecutor: TaskExecutor {
    private let queue: DispatchQueue

    init(_ queue: DispatchQueue) { self.queue = queue }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let executor = asUnownedTaskExecutor()
        queue.async { job.runSynchronously(on: executor) }
    }
}

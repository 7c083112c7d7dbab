import Wire

/// What one HTTPS connection does next, decided without a socket, a TLS session or a clock.
///
/// `Connection` reports what happened (the handshake finished, plaintext arrived, the
/// responder answered, the output was all written or would block, the peer closed, the
/// deadline passed) and performs the actions it gets back: write these bytes, hand this
/// request to the responder, stop or resume reading, arm the deadline, shut the write side
/// down, close. Every instant is passed in (`now`, nanoseconds on a monotonic clock), so the
/// timeouts, pipelining, backpressure and lingering close are tested by calling these methods
/// with chosen instants, without sleeping (the idea of Hummingbird's
/// `HTTPConnectionStateHandler`). The machine owns the HTTP parser, which is pure as well.
///
/// The rules, in one place:
/// - One request at a time: while one is with the responder, later pipelined requests wait in
///   the parser, and reading stops once more than `maxBufferedWhileProcessing` bytes wait.
/// - Deadlines: the header timeout from the connection's start (covering the handshake) and
///   from a request's first byte; header plus body timeout while a body arrives; the idle
///   timeout between requests; none while the responder works; one more idle timeout for a
///   client that does not read what is being written; the linger timeout once our side is shut.
/// - Closing: after an error, `Connection: close`, a timeout or a drain, the last bytes and a
///   TLS close_notify are written, then the write side is shut down and what the client still
///   sends is read and dropped (lingering) until it closes, `lingerTimeout` passes or
///   `lingerLimit` bytes came — so its unread bytes never make the kernel reset the connection
///   and destroy the response before the client reads it.
struct ConnectionStateMachine {
    /// Nanoseconds on a monotonic clock; only differences matter.
    typealias Instant = UInt64

    /// `lingering`: the last response is sent and our side shut down; what the client still
    /// sends is read and dropped until it closes.
    enum Phase: Equatable { case handshaking, open, lingering, closed }

    /// What the connection must do, in order.
    enum Action: Equatable {
        /// Encrypt and send these plaintext bytes (a response, or `100 Continue`).
        case write([UInt8])
        /// Queue a TLS close_notify after what is written.
        case closeNotify
        /// Hand the request to the responder; its answer comes back through `responseReady`.
        case dispatch(HTTPRequest)
        /// Stop reading the socket (backpressure, or nothing more will be accepted).
        case pauseReading
        /// Read again: at once, since an edge-triggered socket reports readiness only once.
        case resumeReading
        /// Report `deadlineFired` at or after this instant; replaces any earlier deadline.
        case armDeadline(Instant)
        /// No deadline while the responder works.
        case disarmDeadline
        /// Everything is written: shut the write side down and read and drop input until the
        /// client closes (`lingerRead`, `peerClosed`) or the deadline passes.
        case shutDownWrite
        /// Close the socket now.
        case close
        /// Log a refused request (`request_rejected`).
        case logRejected(status: Int, code: String, message: String)
        /// Log a timeout (`connection_timeout`), naming what the connection was waiting for.
        case logTimeout(waitingFor: String)
    }

    /// The timeouts and sizes the machine enforces.
    struct Configuration: Sendable {
        var limits: HTTPLimits
        /// How long a closing connection keeps reading before it closes anyway.
        var lingerTimeout: Duration = .seconds(2)
        /// How much a closing connection reads and drops before it closes anyway.
        var lingerLimit = 1 << 20
        /// Above this much buffered plaintext, stop reading until the request in flight is answered.
        var maxBufferedWhileProcessing = 1 << 20

        init(limits: HTTPLimits) { self.limits = limits }
    }

    /// What an answered request needs from the request it answers.
    private struct InFlight {
        let keepAlive: Bool
        let isHEAD: Bool
        let version: HTTPVersion
    }

    let configuration: Configuration
    private(set) var phase = Phase.handshaking
    private var parser: HTTPParser
    /// The request with the responder; later pipelined requests wait in the parser.
    private var inFlight: InFlight?
    /// Close once the output is written (after an error, `Connection: close`, a timeout or a drain).
    private(set) var closeAfterFlush = false
    /// Graceful shutdown: finish the request in flight, then close.
    private var draining = false
    /// The client closed its side (EOF or close_notify): answer what is in flight, then close.
    private var peerFinished = false
    /// Reading is paused (the last of `pauseReading` / `resumeReading` sent).
    private(set) var readingPaused = false
    private var requestStarted: Instant?
    /// The armed deadline; nil while the responder works.
    private(set) var deadline: Instant?
    /// Set when the peer's group already held its share of connections: the first request gets
    /// `429 too_many_connections` with this message, and the connection closes.
    private var overShare: String?
    private var lingered = 0
    /// The `Date` line for a response; injected by tests so their bytes do not depend on the clock.
    private let dateLine: () -> [UInt8]

    init(configuration: Configuration, dateLine: @escaping () -> [UInt8] = { HTTPDate.headerLine() }) {
        self.configuration = configuration
        parser = HTTPParser(limits: configuration.limits)
        self.dateLine = dateLine
    }

    /// Whether a request is with the responder.
    var isProcessing: Bool { inFlight != nil }

    // MARK: Events

    /// The connection was accepted: the handshake and the first request must arrive within the header timeout.
    mutating func started(now: Instant) -> [Action] {
        [arm(now, configuration.limits.headerTimeout)]
    }

    /// The TLS handshake verified the client; `overShare` is the refusal its first request gets, if any.
    mutating func handshakeCompleted(now: Instant, overShare: String? = nil) -> [Action] {
        guard phase == .handshaking else { return [] }
        phase = .open
        self.overShare = overShare
        return [arm(now, configuration.limits.idleTimeout)]
    }

    /// The handshake failed: the alert OpenSSL queued is written, then the connection closes.
    mutating func handshakeFailed() -> [Action] {
        guard phase == .handshaking else { return [] }
        closeAfterFlush = true
        return pauseReading()
    }

    /// Decrypted bytes arrived.
    mutating func received(_ plaintext: UnsafeRawBufferPointer, now: Instant) -> [Action] {
        guard phase == .open else { return [] }
        parser.append(plaintext)
        var actions: [Action] = []
        if isProcessing && parser.bufferedByteCount > configuration.maxBufferedWhileProcessing {
            actions += pauseReading()
        }
        processNext(now: now, into: &actions)
        return actions
    }

    /// Convenience for `received(_:now:)` with an array (tests).
    mutating func received(_ plaintext: [UInt8], now: Instant) -> [Action] {
        plaintext.withUnsafeBytes { received($0, now: now) }
    }

    /// The responder answered the request in flight.
    mutating func responseReady(_ response: HTTPResponse, now: Instant) -> [Action] {
        guard let request = inFlight else { return [] }
        inFlight = nil
        guard phase == .open else { return [] }
        var response = response
        let responderCloses = response.headers["Connection"].map { HTTPHeaders.namesEqual($0, "close") } ?? false
        if responderCloses { response.headers.remove(name: "Connection") }
        let keepAlive = request.keepAlive && !responderCloses && !draining && !peerFinished
        var actions: [Action] = []
        send(response, isHEAD: request.isHEAD, keepAlive: keepAlive, requestVersion: request.version, into: &actions)
        if keepAlive {
            if readingPaused { readingPaused = false; actions.append(.resumeReading) }
            processNext(now: now, into: &actions)
        }
        return actions
    }

    /// Everything written so far has reached the socket.
    mutating func writeFlushed(now: Instant) -> [Action] {
        guard closeAfterFlush, phase == .handshaking || phase == .open else { return [] }
        if peerFinished { return close() }
        phase = .lingering
        readingPaused = false
        return [.shutDownWrite, arm(now, configuration.lingerTimeout), .resumeReading]
    }

    /// A write would block: the client is not reading.
    ///
    /// A client that stops reading must not hold the connection: with no deadline (a response
    /// is being sent) or one already passed (a close waiting to be sent), it gets one more idle
    /// timeout to read.
    mutating func writeBlocked(now: Instant) -> [Action] {
        guard phase != .closed, !isProcessing else { return [] }
        if let deadline, now < deadline { return [] }
        return [arm(now, configuration.limits.idleTimeout)]
    }

    /// The client ended its side (EOF, or a TLS close_notify).
    mutating func peerClosed() -> [Action] {
        switch phase {
        case .closed: return []
        case .lingering: return close()
        case .handshaking, .open:
            peerFinished = true
            if isProcessing { return pauseReading() }
            return close()
        }
    }

    /// While lingering, `count` more bytes were read and dropped.
    mutating func lingerRead(_ count: Int) -> [Action] {
        guard phase == .lingering else { return [] }
        lingered += count
        return lingered > configuration.lingerLimit ? close() : []
    }

    /// The armed deadline may have passed; `now` decides.
    mutating func deadlineFired(now: Instant) -> [Action] {
        guard phase != .closed, !isProcessing, let deadline, now >= deadline else { return [] }
        if phase == .lingering { return close() }
        if closeAfterFlush {
            // A close is waiting to be sent and the client has not read it in time.
            return [.logTimeout(waitingFor: "client to read")] + close()
        }
        let what = phase == .handshaking ? "handshake" : (parser.isMidRequest ? "request" : "idle")
        var actions: [Action] = [.logTimeout(waitingFor: what)]
        if phase == .open && parser.isMidRequest {
            send(.error(ErrorCode.requestTimeout, message: "the request was not received in time"), isHEAD: false, keepAlive: false, into: &actions)
        } else {
            closeGracefully(into: &actions)
        }
        return actions
    }

    /// Graceful shutdown: an idle connection closes now, a busy one after its response.
    mutating func drain() -> [Action] {
        guard phase == .handshaking || phase == .open else { return [] }
        draining = true
        var actions: [Action] = []
        if !isProcessing && !parser.isMidRequest { closeGracefully(into: &actions) }
        return actions
    }

    /// Closes at once (a failed system call or TLS record, a refused connection, shutdown's grace period over).
    mutating func close() -> [Action] {
        guard phase != .closed else { return [] }
        phase = .closed
        deadline = nil
        return [.close]
    }

    // MARK: Requests

    private mutating func processNext(now: Instant, into actions: inout [Action]) {
        guard phase == .open, !isProcessing, !closeAfterFlush else { return }
        while let event = parser.next() {
            switch event {
            case .continueExpected:
                actions.append(.write(HTTPResponse.continueBytes))
            case .error(let error):
                actions.append(.logRejected(status: error.status.code, code: error.code, message: error.message))
                send(HTTPResponse.error(error), isHEAD: false, keepAlive: false, into: &actions)
                return
            case .request(let request):
                if let overShare {
                    actions.append(.logRejected(status: 429, code: ErrorCode.tooManyConnections.rawValue, message: overShare))
                    send(.error(ErrorCode.tooManyConnections, message: overShare), isHEAD: request.isHEAD, keepAlive: false, into: &actions)
                    return
                }
                inFlight = InFlight(keepAlive: request.keepAlive, isHEAD: request.isHEAD, version: request.version)
                requestStarted = nil
                deadline = nil
                actions.append(.disarmDeadline)
                actions.append(.dispatch(request))
                return
            }
        }
        if draining && !parser.isMidRequest {
            closeGracefully(into: &actions)
            return
        }
        let limits = configuration.limits
        if parser.isMidRequest {
            if let requestStarted {
                // The body deadline counts from the request's first byte, like the header deadline.
                if parser.isReadingBody { actions.append(arm(requestStarted, limits.headerTimeout + limits.bodyTimeout)) }
            } else {
                requestStarted = now
                actions.append(arm(now, parser.isReadingBody ? limits.headerTimeout + limits.bodyTimeout : limits.headerTimeout))
            }
        } else {
            requestStarted = nil
            actions.append(arm(now, limits.idleTimeout))
        }
    }

    private mutating func send(_ response: HTTPResponse, isHEAD: Bool, keepAlive: Bool, requestVersion: HTTPVersion = .http1_1,
                               into actions: inout [Action]) {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(256 + response.body.count)
        response.write(into: &bytes, isHEAD: isHEAD, keepAlive: keepAlive, requestVersion: requestVersion, dateLine: dateLine())
        if !keepAlive {
            closeAfterFlush = true
            actions += pauseReading()
        }
        actions.append(.write(bytes))
        if !keepAlive { actions.append(.closeNotify) }
    }

    /// Sends close_notify; the connection lingers, then closes, once it is written.
    private mutating func closeGracefully(into actions: inout [Action]) {
        guard phase == .handshaking || phase == .open else { return }
        closeAfterFlush = true
        actions.append(.closeNotify)
    }

    private mutating func pauseReading() -> [Action] {
        guard !readingPaused else { return [] }
        readingPaused = true
        return [.pauseReading]
    }

    private mutating func arm(_ from: Instant, _ duration: Duration) -> Action {
        let due = from &+ Self.nanoseconds(duration)
        deadline = due
        return .armDeadline(due)
    }

    static func nanoseconds(_ duration: Duration) -> UInt64 {
        let components = duration.components
        return UInt64(max(0, components.seconds * 1_000_000_000 + components.attoseconds / 1_000_000_000))
    }
}

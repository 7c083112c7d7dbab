import Testing
@testable import HTTPServer

/// The connection's decisions, driven by events with chosen instants: timeouts, pipelining,
/// backpressure, lingering close and drain, without a socket and without sleeping.
@Suite struct ConnectionStateMachineTests {
    typealias Action = ConnectionStateMachine.Action

    static let second: UInt64 = 1_000_000_000
    static let limits = HTTPLimits(headerTimeout: .seconds(10), idleTimeout: .seconds(60), bodyTimeout: .seconds(30))
    static let header = 10 * second, idle = 60 * second, body = 30 * second, linger = 2 * second

    /// A machine whose handshake completed at `now`.
    static func open(at now: UInt64 = 0, overShare: String? = nil) -> ConnectionStateMachine {
        var machine = ConnectionStateMachine(configuration: .init(limits: limits), dateLine: { Array("Date: test\r\n".utf8) })
        #expect(machine.started(now: now) == [.armDeadline(now + header)])
        #expect(machine.handshakeCompleted(now: now, overShare: overShare) == [.armDeadline(now + idle)])
        return machine
    }

    static func get(_ path: String, _ extra: String = "") -> [UInt8] {
        Array("GET \(path) HTTP/1.1\r\nHost: a\r\n\(extra)\r\n".utf8)
    }

    /// The requests handed to the responder.
    static func dispatched(_ actions: [Action]) -> [String] {
        actions.compactMap { if case .dispatch(let request) = $0 { request.path } else { nil } }
    }

    /// Everything written, as text.
    static func written(_ actions: [Action]) -> String {
        var bytes: [UInt8] = []
        for case .write(let chunk) in actions { bytes += chunk }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func deadlines(_ actions: [Action]) -> [UInt64] {
        actions.compactMap { if case .armDeadline(let at) = $0 { at } else { nil } }
    }

    // MARK: Timeouts

    @Test func aSilentSocketTimesOutInItsHandshake() {
        var machine = ConnectionStateMachine(configuration: .init(limits: Self.limits))
        #expect(machine.started(now: 5) == [.armDeadline(5 + Self.header)])
        #expect(machine.deadlineFired(now: 4 + Self.header) == [], "not yet")
        #expect(machine.deadlineFired(now: 5 + Self.header) == [.logTimeout(waitingFor: "handshake"), .closeNotify])
        // Nothing to send (no handshake, no close_notify): our side is shut and the machine lingers.
        #expect(machine.writeFlushed(now: 6 + Self.header) == [.shutDownWrite, .armDeadline(6 + Self.header + Self.linger), .resumeReading])
        #expect(machine.peerClosed() == [.close])
        #expect(machine.phase == .closed)
    }

    @Test func anIdleConnectionIsClosedGracefullyAfterTheIdleTimeout() {
        var machine = Self.open(at: 0)
        #expect(machine.deadlineFired(now: Self.idle - 1) == [])
        #expect(machine.deadlineFired(now: Self.idle) == [.logTimeout(waitingFor: "idle"), .closeNotify])
        #expect(machine.writeFlushed(now: Self.idle) == [.shutDownWrite, .armDeadline(Self.idle + Self.linger), .resumeReading])
        #expect(machine.lingerRead(100) == [])
        #expect(machine.deadlineFired(now: Self.idle + Self.linger) == [.close], "lingering ends at its deadline")
    }

    /// Slow loris: the header deadline runs from the request's first byte and is not moved by
    /// later bytes; when it passes, 408 and close.
    @Test func aSlowHeaderSectionGets408AtTheHeaderDeadline() {
        var machine = Self.open(at: 0)
        let first = 3 * Self.second
        #expect(machine.received(Array("GET /x HTTP/1.1\r\nHo".utf8), now: first) == [.armDeadline(first + Self.header)])
        #expect(Self.deadlines(machine.received(Array("st: a\r\nX-Half: ".utf8), now: first + 9 * Self.second)) == [])
        let actions = machine.deadlineFired(now: first + Self.header)
        #expect(actions.first == .logTimeout(waitingFor: "request"))
        #expect(actions.contains(.pauseReading))
        #expect(Self.written(actions).hasPrefix("HTTP/1.1 408 Request Timeout\r\n"))
        #expect(Self.written(actions).contains("Connection: close\r\n"))
        #expect(actions.last == .closeNotify)
    }

    /// A body's deadline is the header plus body timeouts from the request's first byte.
    @Test func aSlowBodyTimesOutAfterHeaderPlusBodyTimeouts() {
        var machine = Self.open(at: 0)
        let first = Self.second
        #expect(machine.received(Array("POST /x HTTP/1.1\r\n".utf8), now: first) == [.armDeadline(first + Self.header)])
        let head = machine.received(Array("Host: a\r\nContent-Length: 10\r\n\r\nabc".utf8), now: first + 2 * Self.second)
        #expect(Self.deadlines(head) == [first + Self.header + Self.body])
        #expect(machine.deadlineFired(now: first + Self.header) == [], "the header deadline no longer applies")
        #expect(Self.written(machine.deadlineFired(now: first + Self.header + Self.body)).hasPrefix("HTTP/1.1 408"))
    }

    @Test func noDeadlineFiresWhileTheResponderWorks() {
        var machine = Self.open(at: 0)
        let actions = machine.received(Self.get("/slow"), now: Self.second)
        #expect(actions.first == .disarmDeadline)
        #expect(Self.dispatched(actions) == ["/slow"])
        #expect(machine.deadline == nil)
        #expect(machine.deadlineFired(now: 1000 * Self.second) == [])
        let answered = machine.responseReady(.text(.ok, "done"), now: 1000 * Self.second)
        #expect(Self.written(answered).hasPrefix("HTTP/1.1 200 OK\r\n"))
        #expect(Self.deadlines(answered) == [1000 * Self.second + Self.idle], "the idle timeout runs from the answer")
    }

    // MARK: Pipelining and backpressure

    /// Pipelined requests are answered one at a time, in order: the next waits in the parser.
    @Test func pipelinedRequestsWaitForTheOneInFlight() {
        var machine = Self.open(at: 0)
        let first = machine.received(Self.get("/a") + Self.get("/b") + Self.get("/c"), now: 1)
        #expect(Self.dispatched(first) == ["/a"])
        #expect(machine.isProcessing)
        let second = machine.responseReady(.text(.ok, "a"), now: 2)
        #expect(Self.written(second).contains("\r\n\r\na"))
        #expect(Self.dispatched(second) == ["/b"])
        #expect(Self.deadlines(second).isEmpty)
        let third = machine.responseReady(.text(.ok, "b"), now: 3)
        #expect(Self.dispatched(third) == ["/c"])
        let last = machine.responseReady(.text(.ok, "c"), now: 4)
        #expect(Self.dispatched(last).isEmpty)
        #expect(Self.deadlines(last) == [4 + Self.idle])
    }

    /// While a request is with the responder, reading stops once more than the buffered limit
    /// waits, and resumes with the answer.
    @Test func readingPausesAboveTheBufferedLimitWhileProcessing() {
        var machine = Self.open(at: 0)
        #expect(Self.dispatched(machine.received(Self.get("/a"), now: 1)) == ["/a"])
        let chunk = [UInt8](repeating: UInt8(ascii: "x"), count: 256 * 1024)
        let post = Array("POST /b HTTP/1.1\r\nHost: a\r\nContent-Length: \(5 * chunk.count)\r\n\r\n".utf8)
        #expect(machine.received(post, now: 2) == [])
        for _ in 0..<3 { #expect(machine.received(chunk, now: 3) == []) }
        #expect(machine.received(chunk, now: 4) == [.pauseReading], "the head and 1 MiB of body buffered: over the limit")
        #expect(machine.received(chunk, now: 4) == [], "paused once")
        let answered = machine.responseReady(.text(.ok, "a"), now: 5)
        #expect(answered.contains(.resumeReading))
        #expect(Self.dispatched(answered) == ["/b"], "the buffered request is next")
    }

    /// An `Expect: 100-continue` request is told to continue before its body arrives.
    @Test func expectContinueIsAnswered() {
        var machine = Self.open(at: 0)
        let actions = machine.received(Array("POST /x HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n".utf8), now: 1)
        #expect(actions.first == .write(HTTPResponse.continueBytes))
        #expect(Self.dispatched(machine.received(Array("abc".utf8), now: 2)) == ["/x"])
    }

    // MARK: Closing

    /// `Connection: close`: the response, close_notify, then our side shut and the client's
    /// remaining bytes read and dropped until it closes, the linger limit, or the linger deadline.
    @Test func connectionCloseLingersAfterTheResponse() {
        var machine = Self.open(at: 0)
        #expect(Self.dispatched(machine.received(Self.get("/a", "Connection: close\r\n"), now: 1)) == ["/a"])
        let answered = machine.responseReady(.text(.ok, "a"), now: 2)
        #expect(answered.first == .pauseReading)
        #expect(Self.written(answered).contains("Connection: close\r\n"))
        #expect(answered.last == .closeNotify)
        #expect(machine.writeBlocked(now: 3) == [.armDeadline(3 + Self.idle)], "a client that does not read gets one idle timeout")
        #expect(machine.writeFlushed(now: 4) == [.shutDownWrite, .armDeadline(4 + Self.linger), .resumeReading])
        #expect(machine.phase == .lingering)
        #expect(machine.lingerRead(1 << 19) == [])
        #expect(machine.lingerRead(1 << 19) == [])
        #expect(machine.lingerRead(1) == [.close], "more than the linger limit")
    }

    /// A refused request is answered, then the connection closes the same way, and no later
    /// pipelined request is dispatched.
    @Test func aMalformedRequestIsRefusedAndNothingAfterItIsRead() {
        var machine = Self.open(at: 0)
        let actions = machine.received(Array("GET /x HTTP/1.1 extra\r\nHost: a\r\n\r\n".utf8) + Self.get("/next"), now: 1)
        guard case .logRejected(let status, _, _)? = actions.first else { Issue.record("\(actions)"); return }
        #expect(status == 400)
        #expect(Self.written(actions).hasPrefix("HTTP/1.1 400"))
        #expect(Self.dispatched(actions).isEmpty)
        #expect(machine.received(Self.get("/later"), now: 2).isEmpty)
    }

    /// A client that stops reading a keep-alive response: the idle deadline passes, the close
    /// cannot be sent, one more idle timeout, then closed.
    @Test func aKeepAliveClientThatStopsReadingIsClosed() {
        var machine = Self.open(at: 0)
        _ = machine.received(Self.get("/huge"), now: 1)
        _ = machine.responseReady(.text(.ok, "big"), now: 2)
        #expect(machine.writeBlocked(now: 3) == [], "the idle deadline is still ahead")
        #expect(machine.deadlineFired(now: 2 + Self.idle) == [.logTimeout(waitingFor: "idle"), .closeNotify])
        #expect(machine.writeBlocked(now: 3 + Self.idle) == [.armDeadline(3 + 2 * Self.idle)])
        #expect(machine.deadlineFired(now: 3 + 2 * Self.idle) == [.logTimeout(waitingFor: "client to read"), .close])
    }

    /// The client closed its side with a request in flight: it is answered with `Connection:
    /// close`, then the connection closes without lingering (nothing more can come).
    @Test func endOfStreamWithARequestInFlight() {
        var machine = Self.open(at: 0)
        _ = machine.received(Self.get("/a"), now: 1)
        #expect(machine.peerClosed() == [.pauseReading])
        let answered = machine.responseReady(.text(.ok, "a"), now: 2)
        #expect(Self.written(answered).contains("Connection: close\r\n"))
        #expect(machine.writeFlushed(now: 3) == [.close])
    }

    @Test func endOfStreamWhileIdleClosesAtOnce() {
        var machine = Self.open(at: 0)
        #expect(machine.peerClosed() == [.close])
        #expect(machine.deadlineFired(now: Self.idle) == [])
    }

    // MARK: Drain and shares

    @Test func drainClosesAnIdleConnectionAndFinishesABusyOne() {
        var idle = Self.open(at: 0)
        #expect(idle.drain() == [.closeNotify])

        var busy = Self.open(at: 0)
        _ = busy.received(Self.get("/slow") + Self.get("/queued"), now: 1)
        #expect(busy.drain() == [])
        let answered = busy.responseReady(.text(.ok, "slow"), now: 2)
        #expect(Self.written(answered).contains("Connection: close\r\n"))
        #expect(Self.dispatched(answered).isEmpty, "a pipelined request behind a drain is not started")
        #expect(busy.writeFlushed(now: 3).first == .shutDownWrite)
    }

    /// A connection over its group's share answers its first request 429 and closes.
    @Test func anOverShareConnectionAnswers429() {
        var machine = Self.open(at: 0, overShare: "alice already has 64 connections open")
        let actions = machine.received(Self.get("/a"), now: 1)
        #expect(actions.first == .logRejected(status: 429, code: "too_many_connections", message: "alice already has 64 connections open"))
        #expect(Self.written(actions).hasPrefix("HTTP/1.1 429"))
        #expect(Self.dispatched(actions).isEmpty)
        #expect(actions.last == .closeNotify)
    }

    @Test func aResponderAskingToCloseIsObeyed() {
        var machine = Self.open(at: 0)
        _ = machine.received(Self.get("/a"), now: 1)
        var response = HTTPResponse.text(.ok, "bye")
        response.headers.add(name: "Connection", value: "close")
        let actions = machine.responseReady(response, now: 2)
        #expect(Self.written(actions).components(separatedBy: "Connection:").count == 2, "one Connection header")
        #expect(Self.written(actions).contains("Connection: close\r\n"))
        #expect(actions.last == .closeNotify)
    }

    @Test func aFailedHandshakeSendsItsAlertThenLingers() {
        var machine = ConnectionStateMachine(configuration: .init(limits: Self.limits))
        _ = machine.started(now: 0)
        #expect(machine.handshakeFailed() == [.pauseReading])
        #expect(machine.writeFlushed(now: 1) == [.shutDownWrite, .armDeadline(1 + Self.linger), .resumeReading])
    }
}

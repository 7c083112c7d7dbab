import Foundation
import HTTPServer
import MaracClient
import Testing
import TestSupport

/// Requests parked as connection state (`ParkedRequest`), on the real server: woken in one
/// batch, answered at their deadline, a wake-up that comes before the responder has returned,
/// and abandonment when the connection is closed under them.
@Suite(.serialized) struct ParkedRequestTests {
    /// A real server with a `ParkingResponder`, and a client credential for it.
    static func start() throws -> (TestServer, ParkingResponder, TestCredential) {
        let pki = try TestPKI()
        let responder = ParkingResponder()
        return (try TestServer(pki: pki, responder: responder), responder, try pki.client("alice"))
    }

    @Test func parkedRequestsAreAnsweredWhenWokenAndTheirConnectionsServeOn() async throws {
        let (server, responder, alice) = try Self.start()
        let box = try await offPool { Box(try (0..<8).map { _ in try server.connect(alice) }) }
        let request = Array("GET /wait HTTP/1.1\r\nHost: a\r\n\r\n".utf8)
        try await offPool { for connection in box.value { try connection.write(request: request) } }
        #expect(await eventually { responder.waitingCount == 8 }, "\(responder.waitingCount) parked")
        responder.wakeAll()
        let bodies = try await offPool { try box.value.map { try $0.readResponse().text } }
        #expect(bodies == Array(repeating: "woken", count: 8))
        let next = try await offPool { try box.value.map { try $0.send(method: "GET", path: "/now").text } }
        #expect(next == Array(repeating: "now", count: 8), "a woken connection serves its next request")
        #expect(responder.abandonedCount == 0)
        await server.stop()
    }

    @Test func aParkedRequestIsAnsweredAtItsDeadline() async throws {
        let (server, _, alice) = try Self.start()
        let body = try await offPool { try server.connect(alice).send(method: "GET", path: "/wait?seconds=1").text }
        #expect(body == "due")
        await server.stop()
    }

    @Test func aWakeUpBeforeTheResponderReturnsIsNotLost() async throws {
        let (server, _, alice) = try Self.start()
        // The responder wakes the request itself before returning it parked; the deadline is an hour away.
        let body = try await offPool { try server.connect(alice).send(method: "GET", path: "/wait?early=1&seconds=3600").text }
        #expect(body == "woken")
        await server.stop()
    }

    @Test func aConnectionClosedAtShutdownAbandonsItsParkedRequest() async throws {
        let (server, responder, alice) = try Self.start()
        let connection = try await offPool { Box(try server.connect(alice)) }
        try await offPool { try connection.value.write(request: Array("GET /wait?seconds=3600 HTTP/1.1\r\nHost: a\r\n\r\n".utf8)) }
        #expect(await eventually { responder.waitingCount == 1 })
        // Never woken: the grace period passes and the connection is closed under it.
        await server.stop()
        #expect(responder.abandonedCount == 1)
        responder.wakeAll()  // too late: nothing happens
        #expect(responder.abandonedCount == 1)
    }
}

/// Parks `GET /wait` (`?seconds=` to its deadline, 30 by default; `?early=1` wakes it before
/// returning it) and answers `woken` or `due`; anything else is answered `now`.
final class ParkingResponder: HTTPResponder, @unchecked Sendable {
    private let lock = NSLock()
    private var waiting: [ParkedRequest] = []
    private var abandoned = 0

    var waitingCount: Int { lock.withLock { waiting.count } }
    var abandonedCount: Int { lock.withLock { abandoned } }

    func wakeAll() {
        ParkedRequest.wake(lock.withLock { () -> [ParkedRequest] in
            defer { waiting.removeAll() }
            return waiting
        })
    }

    func respond(to request: HTTPRequest, context: RequestContext) async -> HTTPResponse {
        guard request.path == "/wait" else { return .text(.ok, "now") }
        let seconds = Int(request.query["seconds"] ?? "30") ?? 30
        let parked = ParkedRequest(context: context, until: .now + .seconds(seconds), resume: { reason in
            .text(.ok, reason == .woken ? "woken" : "due")
        }, abandoned: { [self] in lock.withLock { abandoned += 1 } })
        if request.query["early"] != nil {
            ParkedRequest.wake([parked])
            // Let the loop run the wake-up before this task returns the request.
            try? await Task.sleep(for: .milliseconds(50))
        } else {
            lock.withLock { waiting.append(parked) }
        }
        return .parked(parked)
    }
}

import Testing
import TestSupport
@testable import HTTPServer

/// Random event sequences against the machine's invariants: one request at a time and in
/// order, no deadline while the responder works, nothing after close, nothing written after
/// our side is shut, and every connection ends closed once the client goes quiet.
@Suite struct ConnectionStateMachinePropertyTests {
    typealias Action = ConnectionStateMachine.Action

    @Test(arguments: 0..<40)
    func invariantsHoldForRandomEventSequences(seed: UInt64) {
        var random = SplitMix64(seed: 0xC0FFEE &+ seed)
        let limits = HTTPLimits(maxHeaderBytes: 2048, maxBodyBytes: 4096, headerTimeout: .seconds(10), idleTimeout: .seconds(60), bodyTimeout: .seconds(30))
        var machine = ConnectionStateMachine(configuration: .init(limits: limits))
        var now: UInt64 = 1_000
        // What the client sends: numbered requests, now and then a malformed one or a body.
        var stream: [UInt8] = []
        for number in 0..<30 {
            switch random.next() % 10 {
            case 0: stream += Array("GET /\(number) HTTP/1.1 junk\r\n\r\n".utf8)
            case 1: stream += Array("POST /\(number) HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello".utf8)
            case 2: stream += Array("GET /\(number) HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n".utf8)
            default: stream += Array("GET /\(number) HTTP/1.1\r\nHost: a\r\n\r\n".utf8)
            }
        }
        var sent = 0
        var inFlight = false
        var closed = false
        var writeShut = false
        var lastDispatched = -1

        func check(_ actions: [Action], _ event: String) {
            if closed { #expect(actions.isEmpty, "seed \(seed): \(event) after close gave \(actions)") }
            for action in actions {
                switch action {
                case .dispatch(let request):
                    #expect(!inFlight, "seed \(seed): a second request dispatched while one is in flight")
                    let number = Int(request.path.dropFirst()) ?? -1
                    #expect(number > lastDispatched, "seed \(seed): /\(number) dispatched after /\(lastDispatched)")
                    lastDispatched = number
                    inFlight = true
                case .armDeadline:
                    #expect(!inFlight, "seed \(seed): a deadline armed while the responder works (\(event))")
                case .write:
                    #expect(!writeShut, "seed \(seed): a write after the write side was shut")
                case .shutDownWrite: writeShut = true
                case .close: closed = true
                default: break
                }
            }
        }

        let start = machine.started(now: now)
        check(start, "start")
        check(machine.handshakeCompleted(now: now), "handshake")
        for _ in 0..<300 {
            now += random.next() % 4_000_000_000
            switch random.next() % 9 {
            case 0, 1, 2:
                guard sent < stream.count else { fallthrough }
                let count = min(Int(random.next() % 60) + 1, stream.count - sent)
                let chunk = Array(stream[sent..<(sent + count)])
                sent += count
                check(machine.received(chunk, now: now), "received")
            case 3:
                if inFlight {
                    inFlight = false
                    check(machine.responseReady(.text(.ok, "ok"), now: now), "responseReady")
                }
            case 4: check(machine.writeFlushed(now: now), "writeFlushed")
            case 5: check(machine.writeBlocked(now: now), "writeBlocked")
            case 6:
                let actions = machine.deadlineFired(now: now)
                if inFlight { #expect(actions.isEmpty, "seed \(seed): a deadline fired while the responder works") }
                check(actions, "deadlineFired")
            case 7:
                if random.next() % 8 == 0 { check(machine.drain(), "drain") }
                if random.next() % 20 == 0 { check(machine.peerClosed(), "peerClosed") }
            default: check(machine.lingerRead(Int(random.next() % 100_000)), "lingerRead")
            }
        }
        // The client goes quiet: answered, flushed and timed out, every connection ends closed.
        for _ in 0..<6 where !closed {
            if inFlight {
                inFlight = false
                check(machine.responseReady(.text(.ok, "ok"), now: now), "responseReady")
            }
            check(machine.writeFlushed(now: now), "writeFlushed")
            now += 200_000_000_000
            check(machine.deadlineFired(now: now), "deadlineFired")
        }
        #expect(closed, "seed \(seed): still \(machine.phase) after the client went quiet")
    }
}

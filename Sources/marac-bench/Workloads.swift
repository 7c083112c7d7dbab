import Foundation

/// Counts shared by the loop threads of one run.
final class Tally: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var ok = 0
    private(set) var refused = 0
    private(set) var failures = 0
    private(set) var latencies: [Double] = []
    private(set) var firstProblem: String?
    /// Times of each slot's response (long-poll), by slot.
    private(set) var answeredAt: [Int: Double] = [:]
    private(set) var sent = 0

    func response(status: Int, body: [UInt8], latency: Double, slot: Int, at: Double) {
        lock.withLock {
            if (200..<300).contains(status) {
                ok += 1
                latencies.append(latency)
                answeredAt[slot] = at
            } else {
                refused += 1
                if firstProblem == nil { firstProblem = "HTTP \(status): \(String(decoding: body.prefix(300), as: UTF8.self))" }
            }
        }
    }

    func failure(_ error: Error) {
        lock.withLock {
            failures += 1
            if firstProblem == nil { firstProblem = "\(error)" }
        }
    }

    func didSend() { lock.withLock { sent += 1 } }
    var sentCount: Int { lock.withLock { sent } }
    var answeredCount: Int { lock.withLock { answeredAt.count + refused + failures } }
    var snapshot: (ok: Int, refused: Int, failures: Int, latencies: [Double], problem: String?) {
        lock.withLock { (ok, refused, failures, latencies, firstProblem) }
    }
    var answerTimes: [Int: Double] { lock.withLock { answeredAt } }
}

/// Requests back to back for a fixed window on each connection. Keep-alive: one connection per
/// slot for the whole run. `oneRequestPerConnection`: each request on a new connection with a
/// full handshake (the client keeps no session, and servers under test issue no tickets).
final class RepeatWorkload: Workload {
    /// The request for a slot's n-th send (0, 1, 2, …).
    let requestFor: (_ slot: Int, _ n: Int) -> [UInt8]
    let windowStart: Double
    let windowEnd: Double
    let tally: Tally
    let oneRequestPerConnection: Bool
    private var answered: Set<Int> = []
    private var sentBySlot: [Int: Int] = [:]

    init(requestFor: @escaping (_ slot: Int, _ n: Int) -> [UInt8], windowStart: Double, windowEnd: Double, tally: Tally, oneRequestPerConnection: Bool) {
        self.requestFor = requestFor
        self.windowStart = windowStart
        self.windowEnd = windowEnd
        self.tally = tally
        self.oneRequestPerConnection = oneRequestPerConnection
    }

    func nextRequest(slot: Int, now: Double) -> [UInt8]? {
        guard now < windowEnd else { return nil }
        if oneRequestPerConnection, answered.remove(slot) != nil { return nil }
        let n = sentBySlot[slot, default: 0]
        sentBySlot[slot] = n + 1
        return requestFor(slot, n)
    }

    func completed(slot: Int, status: Int, body: [UInt8], latency: Double, at: Double) {
        if oneRequestPerConnection { answered.insert(slot) }
        guard at >= windowStart, at < windowEnd else { return }
        tally.response(status: status, body: body, latency: latency, slot: slot, at: at)
    }

    func failed(slot: Int, error: Error, at: Double) {
        if oneRequestPerConnection { answered.remove(slot) }
        if at >= windowStart, at < windowEnd { tally.failure(error) }
    }

    func shouldReconnect(slot: Int, now: Double) -> Bool { now < windowEnd }
    func isFinished(now: Double) -> Bool { now >= windowEnd }
}

/// One long-poll per slot, left waiting; finished when every slot was answered or failed.
final class LongPollWorkload: Workload {
    let request: [UInt8]
    let deadline: Double
    let tally: Tally
    let slotCount: Int
    private var sent: Set<Int> = []
    private var done = 0

    init(request: [UInt8], deadline: Double, tally: Tally, slotCount: Int) {
        self.request = request
        self.deadline = deadline
        self.tally = tally
        self.slotCount = slotCount
    }

    func nextRequest(slot: Int, now: Double) -> [UInt8]? {
        guard sent.insert(slot).inserted else { return nil }
        tally.didSend()
        return request
    }

    func completed(slot: Int, status: Int, body: [UInt8], latency: Double, at: Double) {
        done += 1
        tally.response(status: status, body: body, latency: latency, slot: slot, at: at)
    }

    func failed(slot: Int, error: Error, at: Double) {
        done += 1
        tally.failure(error)
    }

    func shouldReconnect(slot: Int, now: Double) -> Bool { false }
    func isFinished(now: Double) -> Bool { done >= slotCount || now >= deadline }
}

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
    /// Sees every response, in or out of the window (the crash test logs acknowledgements).
    var observe: ((_ slot: Int, _ status: Int, _ body: [UInt8]) -> Void)?
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
        observe?(slot, status, body)
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

    let totalSlots: Int

    init(request: [UInt8], deadline: Double, tally: Tally, slotCount: Int, totalSlots: Int) {
        self.request = request
        self.deadline = deadline
        self.tally = tally
        self.slotCount = slotCount
        self.totalSlots = totalSlots
    }

    /// One poll per connection; an answered connection stays open (idle) until the run ends, so
    /// the server's wake-up work is measured without connection teardown mixed in.
    func nextRequest(slot: Int, now: Double) -> [UInt8]? {
        guard sent.insert(slot).inserted else { return [] }
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
    /// A thread whose own waiters are all answered keeps its connections open until every
    /// thread's are: closing them early would make the server tear connections down while
    /// it is still waking the other thread's waiters, and that would be measured as wake-up time.
    func isFinished(now: Double) -> Bool {
        now >= deadline || (done >= slotCount && tally.answeredCount >= totalSlots)
    }
}

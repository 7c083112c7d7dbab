import CBenchEpoll
import Foundation
import TLS
#if canImport(Glibc)
import Glibc
#endif

/// What a workload does with its connections; one instance per loop thread, used only there.
protocol Workload: AnyObject {
    /// The request to send on a connection that is idle (just connected or just answered),
    /// nil to close it, or an empty request to leave it open and idle.
    func nextRequest(slot: Int, now: Double) -> [UInt8]?
    /// A whole response arrived on `slot`, `latency` seconds after its request was sent.
    func completed(slot: Int, status: Int, body: [UInt8], latency: Double, at: Double)
    /// The connection on `slot` failed or was closed by the server.
    func failed(slot: Int, error: Error, at: Double)
    /// Whether a closed slot should get a new connection (a full handshake).
    func shouldReconnect(slot: Int, now: Double) -> Bool
    /// True when the loop may stop.
    func isFinished(now: Double) -> Bool
}

/// One thread's connections, driven by epoll(7).
final class PollLoop {
    let target: SocketTarget
    let context: TLSContext
    let workload: Workload
    private var slots: [Int]
    private var connections: [BenchConnection] = []
    /// Slots waiting for a connection, with the earliest time to try (a failed connection
    /// waits a little, so a server that is down is not hammered).
    private var queued: [(slot: Int, notBefore: Double)]
    static let retryDelay = 0.05
    /// Connects that may be in progress at once (a server's accept backlog is finite).
    let maxConnecting: Int

    init(slots: [Int], target: SocketTarget, context: TLSContext, workload: Workload, maxConnecting: Int = 32) {
        self.slots = slots
        self.queued = slots.reversed().map { ($0, 0) }
        self.target = target
        self.context = context
        self.workload = workload
        self.maxConnecting = maxConnecting
    }

    /// Runs until the workload is finished, then closes every connection.
    func run() {
        var readyFDs = [Int32](repeating: 0, count: Self.batch)
        var readyEvents = [UInt32](repeating: 0, count: Self.batch)
        while true {
            let now = monotonicNow()
            if workload.isFinished(now: now) { break }
            openQueued(now: now)
            let count = bench_epoll_wait(epoll, &readyFDs, &readyEvents, Int32(Self.batch), 20)
            guard count > 0 else { continue }
            var closed = false
            for index in 0..<Int(count) {
                guard let connection = byFD[readyFDs[index]], connection.phase != .closed else { continue }
                if service(connection, revents: Int16(truncatingIfNeeded: readyEvents[index])) {
                    watch(connection)
                } else {
                    closed = true
                }
            }
            if closed { reap() }
        }
        for connection in connections { connection.close() }
        connections.removeAll()
        byFD.removeAll()
    }

    /// Ready descriptors handled per wait.
    static let batch = 256
    /// epoll(7): O(ready) per wait, where poll(2) would be O(connections) — at 10,000 idle
    /// long-polls that difference is the load generator's own wake-up latency.
    private let epoll = bench_epoll_create()
    private var byFD: [Int32: BenchConnection] = [:]
    /// The events each descriptor is registered for (poll and epoll share the bit values).
    private var registered: [Int32: Int16] = [:]

    deinit { close(epoll) }

    /// Registers a new connection, or updates what it waits for after it was serviced.
    private func watch(_ connection: BenchConnection) {
        let events = connection.events
        guard registered[connection.fd] != events else { return }
        let isNew = registered[connection.fd] == nil
        byFD[connection.fd] = connection
        registered[connection.fd] = events
        let result = bench_epoll_control(epoll, isNew ? 0 : 1, connection.fd, UInt32(UInt16(bitPattern: events)))
        precondition(result == 0, "epoll_ctl: errno \(errno)")
    }

    private var connectingCount: Int {
        connections.reduce(0) { $0 + ($1.phase == .connecting || $1.phase == .handshaking ? 1 : 0) }
    }

    private func openQueued(now: Double) {
        guard !queued.isEmpty else { return }
        var budget = maxConnecting - connectingCount
        while budget > 0, let (slot, notBefore) = queued.last, notBefore <= now {
            queued.removeLast()
            do {
                let connection = try BenchConnection(slot: slot, address: target, context: context)
                connections.append(connection)
                watch(connection)
                budget -= 1
            } catch {
                workload.failed(slot: slot, error: error, at: now)
                if workload.shouldReconnect(slot: slot, now: now) { queued.insert((slot, now + Self.retryDelay), at: 0) }
            }
        }
    }

    /// Returns false when the connection closed.
    private func service(_ connection: BenchConnection, revents: Int16) -> Bool {
        do {
            switch try connection.handle(revents: revents) {
            case .nothing: return true
            case .ready: break
            case .response(let status, let body):
                let now = monotonicNow()
                workload.completed(slot: connection.slot, status: status, body: body, latency: now - connection.requestSentAt, at: now)
            }
            guard let request = workload.nextRequest(slot: connection.slot, now: monotonicNow()) else {
                connection.close()
                return false
            }
            if !request.isEmpty { try connection.send(request) }
            return true
        } catch {
            let now = monotonicNow()
            connection.close()
            workload.failed(slot: connection.slot, error: error, at: now)
            failedSlots.insert(connection.slot)
            return false
        }
    }

    private var failedSlots: Set<Int> = []

    private func reap() {
        let now = monotonicNow()
        connections.removeAll { connection in
            guard connection.phase == .closed else { return false }
            byFD[connection.fd] = nil
            registered[connection.fd] = nil
            let delay = failedSlots.remove(connection.slot) == nil ? 0 : Self.retryDelay
            if workload.shouldReconnect(slot: connection.slot, now: now) { queued.insert((connection.slot, now + delay), at: 0) }
            return true
        }
    }
}

/// Runs one loop per thread over `slots` split round-robin, and waits for all of them.
func runLoops(threads: Int, slots: Int, target: SocketTarget, context: TLSContext, maxConnecting: Int = 32,
              makeWorkload: @escaping @Sendable (Int) -> Workload) {
    let group = DispatchGroup()
    for thread in 0..<threads {
        let mine = Array(stride(from: thread, to: slots, by: threads))
        group.enter()
        let worker = Thread {
            let loop = PollLoop(slots: mine, target: target, context: context, workload: makeWorkload(thread),
                                maxConnecting: max(1, maxConnecting / threads))
            loop.run()
            group.leave()
        }
        worker.stackSize = 1 << 20
        worker.start()
    }
    group.wait()
}

import Foundation
import TLS
#if canImport(Glibc)
import Glibc
#endif

/// What a workload does with its connections; one instance per loop thread, used only there.
protocol Workload: AnyObject {
    /// The request to send on a connection that is idle (just connected or just answered),
    /// or nil to close it.
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

/// One thread's connections, driven by poll(2). poll is O(connections) per call, which is a
/// few microseconds even for 5,000 connections per thread: cheap next to TLS.
final class PollLoop {
    let target: SocketTarget
    let context: TLSContext
    let workload: Workload
    private var slots: [Int]
    private var connections: [BenchConnection] = []
    private var queued: [Int]
    /// Connects that may be in progress at once (a server's accept backlog is finite).
    let maxConnecting: Int

    init(slots: [Int], target: SocketTarget, context: TLSContext, workload: Workload, maxConnecting: Int = 32) {
        self.slots = slots
        self.queued = slots.reversed()
        self.target = target
        self.context = context
        self.workload = workload
        self.maxConnecting = maxConnecting
    }

    /// Runs until the workload is finished and every connection is closed or idle-closed.
    func run() {
        var fds: [pollfd] = []
        while true {
            let now = monotonicNow()
            if workload.isFinished(now: now) { break }
            openQueued(now: now)
            fds.removeAll(keepingCapacity: true)
            for connection in connections { fds.append(pollfd(fd: connection.fd, events: connection.events, revents: 0)) }
            if fds.isEmpty {
                usleep(1_000)
                continue
            }
            let ready = poll(&fds, nfds_t(fds.count), 20)
            guard ready > 0 else { continue }
            var closed = false
            for (index, entry) in fds.enumerated() where entry.revents != 0 {
                let connection = connections[index]
                if !service(connection, revents: entry.revents) { closed = true }
            }
            if closed { reap() }
        }
        for connection in connections { connection.close() }
        connections.removeAll()
    }

    private var connectingCount: Int {
        connections.reduce(0) { $0 + ($1.phase == .connecting || $1.phase == .handshaking ? 1 : 0) }
    }

    private func openQueued(now: Double) {
        guard !queued.isEmpty else { return }
        var budget = maxConnecting - connectingCount
        while budget > 0, let slot = queued.popLast() {
            do {
                connections.append(try BenchConnection(slot: slot, address: target, context: context))
                budget -= 1
            } catch {
                workload.failed(slot: slot, error: error, at: now)
                if workload.shouldReconnect(slot: slot, now: now) { queued.insert(slot, at: 0) }
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
            try connection.send(request)
            return true
        } catch {
            let now = monotonicNow()
            connection.close()
            workload.failed(slot: connection.slot, error: error, at: now)
            return false
        }
    }

    private func reap() {
        let now = monotonicNow()
        connections.removeAll { connection in
            guard connection.phase == .closed else { return false }
            if workload.shouldReconnect(slot: connection.slot, now: now) { queued.insert(connection.slot, at: 0) }
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

internal import CEpoll
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

import POSIX

/// One thread with its own edge-triggered epoll set, serving the connections pinned to it.
///
/// Each connection is registered once, for input, output and peer hang-up, edge-triggered:
/// nothing is re-armed per request (Dispatch's one-shot read sources cost an `ioctl` and two
/// `epoll_ctl` per request), reads and writes happen on this thread as readiness arrives, and
/// the connection remembers whether its socket is still readable or writable (see `Connection`).
/// Deadlines live in one `TimerWheel` checked each iteration, never a timer per connection.
///
/// The loop is also a `TaskExecutor`: a request's task runs here (`Task(executorPreference:)`),
/// so a request that needs no engine work is answered without changing thread, and one that
/// awaits an actor comes back here to write its response. Work from other threads (a task
/// resumed by the engine, a connection handed over by the acceptor, a drain at shutdown) goes
/// through the `inbox` and an eventfd that wakes the loop — written only when the loop has not
/// already been told, so a burst of completions costs one wake-up.
///
/// Every field but `inbox` and `threadID` is touched only on the loop's thread (checked with
/// `preconditionInLoop()`), which is why the class may be `@unchecked Sendable`.
/// (swift-nio's `SelectableEventLoop` and nginx's epoll module have the same shape.)
final class EventLoop: TaskExecutor, @unchecked Sendable {
    /// Work for the loop's thread.
    private enum Work {
        case job(UnownedJob)
        case closure(@Sendable () -> Void)
    }

    private struct Inbox {
        var work: [Work] = []
        /// The eventfd has been written since the loop last emptied the inbox.
        var woken = false
        /// The loop has exited: nothing more will run.
        var exited = false
    }

    /// What the acceptor reports after a round of `accept`.
    enum AcceptOutcome {
        /// The backlog is empty (EAGAIN): wait for the next edge.
        case drained
        /// A round's worth accepted; more may wait (the loop comes back after other work).
        case more
        /// `accept` failed (EMFILE…): try again after `acceptBackoff`.
        case failed
    }

    let index: Int
    private let epollFD: Int32
    private let wakeFD: Int32
    private let inbox = Mutex(Inbox())
    private let threadID = Atomic<UInt>(0)

    private var connections: [UInt64: Connection] = [:]
    private var local: [Work] = []
    /// Connections that used their read budget with more to read: served again after the others.
    private var readAgain: [Connection] = []
    private var timers = TimerWheel(now: monotonicNanoseconds())
    private var listenFD: Int32 = -1
    private var acceptor: (() -> AcceptOutcome)?
    private var acceptPending = false
    private var acceptRetryAt: UInt64 = 0
    private var stopRequested = false
    /// Requests whose task has not completed: the loop outlives them (their jobs run here).
    private var requestsInFlight = 0

    private static let wakeToken = UInt64.max
    private static let listenToken = UInt64.max - 1
    private static let eventsPerWait = 256
    /// Jobs run in one pass before the loop polls again, so I/O is not starved by a busy task.
    private static let jobsPerPass = 4096
    /// How long `accept` rests after a failure (EMFILE: descriptors may free up meanwhile).
    static let acceptBackoff: Duration = .milliseconds(100)

    /// Creates the epoll set and the eventfd; `start()` starts the thread.
    /// - Throws: `SystemError` from `epoll_create1` or `eventfd` (EMFILE…).
    init(index: Int) throws(SystemError) {
        self.index = index
        epollFD = try blockingSystemCall("epoll_create1", "for event loop \(index)") { shim_epoll_create() }
        do {
            wakeFD = try blockingSystemCall("eventfd", "for event loop \(index)") { shim_eventfd() }
        } catch {
            FileDescriptor.close(descriptor: epollFD)
            throw error
        }
        do {
            // Level-triggered: the loop reads the eventfd empty whenever it reports it.
            try blockingSystemCall("epoll_ctl", "EPOLL_CTL_ADD of event loop \(index)'s eventfd") {
                shim_epoll_add(epollFD, wakeFD, shim_EPOLLIN, Self.wakeToken)
            }
        } catch {
            FileDescriptor.close(descriptor: wakeFD)
            FileDescriptor.close(descriptor: epollFD)
            throw error
        }
    }

    /// Closes the descriptors of a loop that was never started (the server failed to start).
    func discard() {
        FileDescriptor.close(descriptor: wakeFD)
        FileDescriptor.close(descriptor: epollFD)
    }

    /// Starts the loop's thread.
    func start() {
        Thread { [self] in run() }.start()
    }

    var inLoop: Bool { threadID.load(ordering: .acquiring) == UInt(pthread_self()) }

    func preconditionInLoop() {
        precondition(inLoop, "event loop \(index)'s state used from another thread")
    }

    // MARK: Work from anywhere

    /// Runs `body` on the loop's thread, after the current event (never inside the caller).
    /// - Returns: false if the loop has stopped: `body` will never run.
    @discardableResult
    func execute(_ body: @escaping @Sendable () -> Void) -> Bool {
        submit(.closure(body))
    }

    func enqueue(_ job: consuming ExecutorJob) {
        submit(.job(UnownedJob(job)))
    }

    @discardableResult
    private func submit(_ work: Work) -> Bool {
        if inLoop {
            local.append(work)
            return true
        }
        let (accepted, wake): (Bool, Bool) = inbox.withLock { inbox in
            if inbox.exited {
                // Only the server's own closures can come this late (a second shutdown, a drain
                // for a connection already gone); a job cannot: the loop stays until its
                // requests' tasks are done.
                if case .job = work { preconditionFailure("a task's job reached event loop \(index) after it stopped") }
                return (false, false)
            }
            inbox.work.append(work)
            defer { inbox.woken = true }
            return (true, !inbox.woken)
        }
        guard wake else { return accepted }
        var one: UInt64 = 1
        // EAGAIN: the counter is full, so the loop is woken anyway.
        _ = try? systemCall("write", "to event loop \(index)'s eventfd") { Glibc.write(wakeFD, &one, 8) }
        return true
    }

    /// Asks the loop to stop once its connections are closed and its requests' tasks are done.
    func stopWhenIdle() {
        execute { [self] in stopRequested = true }
    }

    // MARK: On the loop

    /// Registers a listening socket: this loop accepts, `acceptor` takes each round.
    func listen(on fd: Int32, acceptor: @escaping () -> AcceptOutcome) throws(SystemError) {
        preconditionInLoop()
        try blockingSystemCall("epoll_ctl", "EPOLL_CTL_ADD of the listening socket") {
            shim_epoll_add(epollFD, fd, shim_EPOLLIN | shim_EPOLLET, Self.listenToken)
        }
        listenFD = fd
        self.acceptor = acceptor
        acceptPending = true  // connections may have queued before the registration
    }

    /// Closes the listening socket (shutdown): new connections are refused.
    func stopListening() {
        preconditionInLoop()
        guard listenFD >= 0 else { return }
        FileDescriptor.close(descriptor: listenFD)  // also leaves the epoll set
        listenFD = -1
        acceptor = nil
        acceptPending = false
    }

    /// Takes a newly accepted connection: registers its socket and starts it.
    func adopt(_ connection: Connection) {
        preconditionInLoop()
        do {
            let events = shim_EPOLLIN | shim_EPOLLOUT | shim_EPOLLRDHUP | shim_EPOLLET
            try blockingSystemCall("epoll_ctl", "EPOLL_CTL_ADD of connection \(connection.id)") {
                shim_epoll_add(epollFD, connection.fd, events, connection.id)
            }
        } catch {
            connection.failedToStart(error)
            return
        }
        connections[connection.id] = connection
        connection.start(now: monotonicNanoseconds())
    }

    /// The connection closed its socket (which left the epoll set with it).
    func remove(_ connection: Connection) {
        connections.removeValue(forKey: connection.id)
    }

    func schedule(_ connection: Connection) {
        timers.schedule(connection)
    }

    /// The connection stopped reading with input left, so others get their turn first.
    func readLater(_ connection: Connection) {
        readAgain.append(connection)
    }

    func requestStarted() { requestsInFlight += 1 }
    func requestFinished() { requestsInFlight -= 1 }

    private func run() {
        // Named by the thread itself, before it serves anything (top, perf and /proc show it;
        // a thread otherwise inherits its creator's name). A name is a convenience: a failure
        // (ERANGE, impossible for this length) is not worth stopping for.
        _ = try? blockingSystemCall("pthread_setname_np", "marac-loop-\(index)") { shim_name_this_thread("marac-loop-\(index)") }
        threadID.store(UInt(pthread_self()), ordering: .releasing)
        var tokens = [UInt64](repeating: 0, count: Self.eventsPerWait)
        var events = [UInt32](repeating: 0, count: Self.eventsPerWait)
        while true {
            var now = monotonicNanoseconds()
            var timeout: Int32
            if !local.isEmpty || !readAgain.isEmpty || acceptPending {
                timeout = 0
            } else {
                timeout = timers.timeoutMilliseconds(now: now)
                if acceptRetryAt != 0 {
                    let wait = Int32(clamping: (acceptRetryAt > now ? acceptRetryAt - now : 0) / 1_000_000 + 1)
                    timeout = timeout < 0 ? wait : min(timeout, wait)
                }
            }
            let ready: Int
            do {
                ready = try tokens.withUnsafeMutableBufferPointer { tokens in
                    try events.withUnsafeMutableBufferPointer { events in
                        switch try systemCall("epoll_wait", "of event loop \(index)", {
                            shim_epoll_wait(epollFD, tokens.baseAddress, events.baseAddress, Int32(Self.eventsPerWait), timeout)
                        }) {
                        case .done(let count): return Int(count)
                        case .wouldBlock: return 0
                        }
                    }
                }
            } catch {
                // EINVAL or ENOMEM from epoll_wait: the loop cannot go on and its connections would hang.
                fatalError("\(error)")
            }
            now = monotonicNanoseconds()
            for slot in 0..<ready {
                switch tokens[slot] {
                case Self.wakeToken: emptyWakeFD()
                case Self.listenToken: acceptPending = true
                case let id:
                    // Looked up, then called: handling may remove it from `connections`.
                    // An unknown id is a connection closed earlier in this batch.
                    if let connection = connections[id] { connection.handle(events: events[slot], now: now) }
                }
            }
            takeInbox()
            runLocal()
            if acceptPending || (acceptRetryAt != 0 && now >= acceptRetryAt) { accept(now: now) }
            if !readAgain.isEmpty {
                let again = readAgain
                readAgain.removeAll(keepingCapacity: true)
                for connection in again where !connection.isClosed { connection.resumeReading(now: now) }
            }
            for connection in timers.advance(to: now, lookup: { connections[$0] }) {
                connection.deadlineDue(now: now)
            }
            runLocal()
            if stopRequested && connections.isEmpty && requestsInFlight == 0 && local.isEmpty {
                let late = inbox.withLock { inbox in
                    inbox.exited = inbox.work.isEmpty
                    return !inbox.exited
                }
                if !late { break }
            }
        }
        if listenFD >= 0 { stopListening() }
        FileDescriptor.close(descriptor: wakeFD)
        FileDescriptor.close(descriptor: epollFD)
    }

    private func accept(now: UInt64) {
        guard let acceptor else { acceptPending = false; acceptRetryAt = 0; return }
        switch acceptor() {
        case .drained: acceptPending = false; acceptRetryAt = 0
        case .more: acceptPending = true; acceptRetryAt = 0
        case .failed:
            acceptPending = false
            acceptRetryAt = now + ConnectionStateMachine.nanoseconds(Self.acceptBackoff)
        }
    }

    private func emptyWakeFD() {
        var count: UInt64 = 0
        // EAGAIN: already read empty (the inbox is what matters, and it is taken next).
        _ = try? systemCall("read", "of event loop \(index)'s eventfd") { Glibc.read(wakeFD, &count, 8) }
    }

    private func takeInbox() {
        let work: [Work] = inbox.withLock { inbox in
            inbox.woken = false
            guard !inbox.work.isEmpty else { return [] }
            defer { inbox.work.removeAll(keepingCapacity: true) }
            return inbox.work
        }
        local.append(contentsOf: work)
    }

    private func runLocal() {
        var done = 0
        // Work may add work (a task's next job, a closure's follow-up): it runs in this pass too, up to a bound.
        while done < local.count && done < Self.jobsPerPass {
            let work = local[done]
            done += 1
            switch work {
            case .job(let job): job.runSynchronously(on: asUnownedTaskExecutor())
            case .closure(let body): body()
            }
        }
        if done == local.count {
            local.removeAll(keepingCapacity: true)
        } else {
            local.removeFirst(done)
        }
    }
}

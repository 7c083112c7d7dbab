import POSIX

/// A request that has no answer yet (a long-poll), held as state of its connection: no task,
/// no timer of its own, while it waits.
///
/// A responder that must wait makes one from the request's context and answers
/// `HTTPResponse.parked(_:)`. The connection keeps it and arms its deadline in the loop's
/// timer wheel. When the application wakes it (`wake(_:)`, for a whole batch at once: one hop
/// per event loop, however many of the loop's connections are woken) or the deadline passes,
/// the connection runs `resume` in a new task on its loop, and sends what that answers (which
/// may park again).
///
/// Every field is touched only on the connection's loop thread (the responder's task runs
/// there, and `wake(_:)` hops there), hence `@unchecked Sendable`.
public final class ParkedRequest: @unchecked Sendable, Equatable {
    /// Why a parked request is resumed.
    public enum Reason: Sendable, Equatable {
        /// `wake(_:)` was called for it.
        case woken
        /// Its deadline passed first.
        case deadlinePassed
    }

    /// Monotonic nanoseconds (the loop's clock) at which it resumes with `.deadlinePassed`.
    let deadline: UInt64
    private var resume: @Sendable (Reason) async -> HTTPResponse
    private let abandoned: @Sendable () -> Void
    /// The connection the request arrived on (nil for a context made by a test): holds on to
    /// the parked request while it waits, and lets go of it when it resumes or closes.
    private let connection: Connection?

    private enum Phase { case answering, parked, wokenEarly, done }
    private var phase = Phase.answering

    /// - Parameters:
    ///   - context: the request's context, which says which connection (and loop) it waits on.
    ///   - deadline: when it resumes with `.deadlinePassed` if not woken before.
    ///   - resume: computes the answer once woken or due; runs in a new task on the connection's loop.
    ///   - abandoned: the connection closed while the request waited: it will never resume
    ///     (a place kept for it elsewhere can be freed).
    public init(context: RequestContext, until deadline: ContinuousClock.Instant,
                resume: @escaping @Sendable (Reason) async -> HTTPResponse, abandoned: @escaping @Sendable () -> Void) {
        connection = context.connection
        let remaining = ConnectionStateMachine.nanoseconds(max(.zero, deadline - .now))
        self.deadline = monotonicNanoseconds() &+ remaining
        self.resume = resume
        self.abandoned = abandoned
    }

    /// Runs `transform` on whatever the request is finally answered (an access log line), also
    /// when it parks again: the next `ParkedRequest` is transformed by the responder then.
    /// Called by the responder before it returns the parked response.
    public func whenAnswered(_ transform: @escaping @Sendable (HTTPResponse) -> HTTPResponse) {
        let inner = resume
        resume = { reason in transform(await inner(reason)) }
    }

    /// Wakes every request in `requests` that still waits; requests already resumed, or whose
    /// connection has closed, are skipped. Safe from any thread; each loop is woken once with
    /// the list of its own connections' requests.
    public static func wake(_ requests: some Sequence<ParkedRequest>) {
        var byLoop: [ObjectIdentifier: (loop: EventLoop, requests: [ParkedRequest])] = [:]
        for request in requests {
            guard let loop = request.connection?.loop else { continue }
            byLoop[ObjectIdentifier(loop), default: (loop, [])].requests.append(request)
        }
        for (loop, list) in byLoop.values {
            loop.execute {
                for request in list { request.resumeIfParked(.woken) }
            }
        }
    }

    public static func == (left: ParkedRequest, right: ParkedRequest) -> Bool { left === right }

    // MARK: On the connection's loop

    /// The responder's task returned it: the connection now waits for it, or resumes it at once
    /// if it was woken meanwhile or is already due.
    /// - Returns: nil while it waits; else the reason to resume it with now.
    func parked(now: UInt64) -> Reason? {
        switch phase {
        case .answering:
            if now >= deadline { phase = .done; return .deadlinePassed }
            phase = .parked
            return nil
        case .wokenEarly:
            phase = .done
            return .woken
        case .parked, .done:
            preconditionFailure("a parked request was returned by a responder twice")
        }
    }

    /// The answer, computed in the resumed task.
    func answer(_ reason: Reason) async -> HTTPResponse {
        await resume(reason)
    }

    /// Its connection closed before it resumed.
    func abandon() {
        guard phase != .done else { return }
        phase = .done
        abandoned()
    }

    /// Resumes the request if it is parked; remembers the wake-up if its responder has not
    /// returned it yet (the wake raced with the responder's last steps).
    func resumeIfParked(_ reason: Reason) {
        switch phase {
        case .answering: if reason == .woken { phase = .wokenEarly }
        case .parked:
            phase = .done
            connection?.resumeParked(self, reason: reason)
        case .wokenEarly, .done: break
        }
    }
}

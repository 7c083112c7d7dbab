import HTTPServer
import Synchronization

/// Parked long-poll requests, per agency. A waiter is state of its connection (a
/// `ParkedRequest`: no task, no timer of its own; its deadline sits in its event loop's timer
/// wheel) plus an entry here.
///
/// Each agency has a generation number, bumped when one of its requests
/// changes durably. A poller reads the generation before it queries, and
/// parks only if it has not moved since, so no change can slip between the
/// query and the wait. A change wakes every waiter of the agency in one batch:
/// each event loop is woken once with the list of its own waiters.
final class LongPollHub: Sendable {
    private struct Waiter {
        let agency: String
        let principal: String
        let request: ParkedRequest
    }

    private struct State {
        var generations: [String: UInt64] = [:]
        var waiters: [UInt64: Waiter] = [:]
        var byAgency: [String: Set<UInt64>] = [:]
        var parkedByPrincipal: [String: Int] = [:]

        /// Takes waiter `id` out of every index.
        mutating func unpark(_ id: UInt64) -> ParkedRequest? {
            guard let waiter = waiters.removeValue(forKey: id) else { return nil }
            byAgency[waiter.agency]?.remove(id)
            let left = parkedByPrincipal[waiter.principal, default: 1] - 1
            parkedByPrincipal[waiter.principal] = left > 0 ? left : nil
            return waiter.request
        }
        var nextID: UInt64 = 1
        var closed = false
    }

    private let state = Mutex(State())

    /// What `park` did.
    enum Parking {
        /// Parked: answer the request with this (`HTTPResponse.parked`).
        case parked(HTTPResponse)
        /// The generation moved since `seen` (or the hub is closed): query again at once.
        case changed
        /// `principal` already has `limit` waiters parked (one principal may not hold everyone's slots).
        case refused
    }

    /// The agency's current generation.
    func generation(of agency: String) -> UInt64 {
        state.withLock { $0.generations[agency] ?? 0 }
    }

    /// Parks the request of `context` until the agency's generation moves past `seen`, until
    /// `deadline`, or until shutdown; `resume` then computes its answer (on the request's
    /// connection's loop). Parks nothing if the generation has already moved or `principal`
    /// already has `limit` waiters parked.
    func park(agency: String, principal: String, limit: Int, seen: UInt64, context: RequestContext,
              until deadline: ContinuousClock.Instant, resume: @escaping @Sendable () async -> HTTPResponse) -> Parking {
        let id = state.withLock { state in
            defer { state.nextID += 1 }
            return state.nextID
        }
        let request = ParkedRequest(context: context, until: deadline, resume: { [self] reason in
            // Woken: already taken out by `notify` or `close`. Due: still here.
            if reason == .deadlinePassed { state.withLock { _ = $0.unpark(id) } }
            return await resume()
        }, abandoned: { [self] in
            state.withLock { _ = $0.unpark(id) }
        })
        return state.withLock { state in
            if state.closed || (state.generations[agency] ?? 0) != seen { return .changed }
            if state.parkedByPrincipal[principal, default: 0] >= limit { return .refused }
            state.waiters[id] = Waiter(agency: agency, principal: principal, request: request)
            state.byAgency[agency, default: []].insert(id)
            state.parkedByPrincipal[principal, default: 0] += 1
            return .parked(.parked(request))
        }
    }

    /// Bumps the agencies' generations and wakes their waiters.
    func notify(_ agencies: Set<String>) {
        guard !agencies.isEmpty else { return }
        let woken: [ParkedRequest] = state.withLock { state in
            var woken: [ParkedRequest] = []
            for agency in agencies {
                state.generations[agency, default: 0] += 1
                for id in state.byAgency.removeValue(forKey: agency) ?? [] {
                    if let request = state.unpark(id) { woken.append(request) }
                }
            }
            return woken
        }
        ParkedRequest.wake(woken)
    }

    /// Wakes everyone and refuses new waits (graceful shutdown answers long-polls at once).
    func close() {
        let all: [ParkedRequest] = state.withLock { state in
            state.closed = true
            defer { state.waiters.removeAll(); state.byAgency.removeAll(); state.parkedByPrincipal.removeAll() }
            return state.waiters.values.map(\.request)
        }
        ParkedRequest.wake(all)
    }

    /// Whether `close()` was called.
    var isClosed: Bool { state.withLock { $0.closed } }

    /// Number of parked waiters (health, tests).
    var waiterCount: Int { state.withLock { $0.waiters.count } }
}

import Dispatch
import Foundation
import Synchronization

/// Parked long-poll requests, per agency. A waiter costs a continuation and
/// a Dispatch timer entry, never a thread.
///
/// Each agency has a generation number, bumped when one of its requests
/// changes durably. A poller reads the generation before it queries, and
/// waits only if it has not moved since, so no change can slip between the
/// query and the wait.
final class LongPollHub: Sendable {
    private struct Waiter {
        let agency: String
        let principal: String
        let continuation: CheckedContinuation<Void, Never>
    }

    private struct State {
        var generations: [String: UInt64] = [:]
        var waiters: [UInt64: Waiter] = [:]
        var byAgency: [String: Set<UInt64>] = [:]
        var parkedByPrincipal: [String: Int] = [:]

        /// Takes waiter `id` out of every index; answers its continuation.
        mutating func unpark(_ id: UInt64) -> CheckedContinuation<Void, Never>? {
            guard let waiter = waiters.removeValue(forKey: id) else { return nil }
            byAgency[waiter.agency]?.remove(id)
            let left = parkedByPrincipal[waiter.principal, default: 1] - 1
            parkedByPrincipal[waiter.principal] = left > 0 ? left : nil
            return waiter.continuation
        }
        var nextID: UInt64 = 1
        var closed = false
    }

    private let state = Mutex(State())
    private let timeoutQueue = DispatchQueue(label: "marac.longpoll.timeouts", target: .global())

    /// The agency's current generation.
    func generation(of agency: String) -> UInt64 {
        state.withLock { $0.generations[agency] ?? 0 }
    }

    /// Returns when the agency's generation moves past `seen`, after `timeout`, or at shutdown:
    /// `true`; or `false` at once, without parking, when `principal` already has `limit` waiters
    /// parked (one principal may not hold everyone's slots).
    func wait(agency: String, principal: String, limit: Int, seen: UInt64, timeout: Duration) async -> Bool {
        let refused = Mutex(false)
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let id: UInt64? = state.withLock { state in
                if state.closed || (state.generations[agency] ?? 0) != seen { return nil }
                if state.parkedByPrincipal[principal, default: 0] >= limit {
                    refused.withLock { $0 = true }
                    return nil
                }
                let id = state.nextID
                state.nextID += 1
                state.waiters[id] = Waiter(agency: agency, principal: principal, continuation: continuation)
                state.byAgency[agency, default: []].insert(id)
                state.parkedByPrincipal[principal, default: 0] += 1
                return id
            }
            guard let id else { return continuation.resume() }
            let nanoseconds = timeout.components.seconds * 1_000_000_000 + timeout.components.attoseconds / 1_000_000_000
            timeoutQueue.asyncAfter(deadline: .now() + .nanoseconds(Int(nanoseconds))) { [self] in
                remove(id)?.resume()
            }
        }
        return !refused.withLock { $0 }
    }

    /// Bumps the agencies' generations and wakes their waiters.
    func notify(_ agencies: Set<String>) {
        guard !agencies.isEmpty else { return }
        let woken: [CheckedContinuation<Void, Never>] = state.withLock { state in
            var woken: [CheckedContinuation<Void, Never>] = []
            for agency in agencies {
                state.generations[agency, default: 0] += 1
                for id in state.byAgency.removeValue(forKey: agency) ?? [] {
                    if let continuation = state.unpark(id) { woken.append(continuation) }
                }
            }
            return woken
        }
        woken.forEach { $0.resume() }
    }

    /// Wakes everyone and refuses new waits (graceful shutdown answers long-polls at once).
    func close() {
        let all: [CheckedContinuation<Void, Never>] = state.withLock { state in
            state.closed = true
            defer { state.waiters.removeAll(); state.byAgency.removeAll(); state.parkedByPrincipal.removeAll() }
            return state.waiters.values.map(\.continuation)
        }
        all.forEach { $0.resume() }
    }

    /// Whether `close()` was called.
    var isClosed: Bool { state.withLock { $0.closed } }

    /// Number of parked waiters (health, tests).
    var waiterCount: Int { state.withLock { $0.waiters.count } }

    private func remove(_ id: UInt64) -> CheckedContinuation<Void, Never>? {
        state.withLock { $0.unpark(id) }
    }
}

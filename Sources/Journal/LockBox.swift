import Foundation

/// Mutable state shared between threads, reachable only inside `withLock`.
///
/// The journal has two locks: this box's (held briefly, never across I/O) and
/// `Journal.snapshotLock` (held across a snapshot write). Lock order: the
/// snapshot lock may take the state lock; never the other way round.
final class LockBox<State>: @unchecked Sendable {
    private let lock = NSLock()
    private var state: State

    init(_ state: State) { self.state = state }

    func withLock<R>(_ body: (inout State) throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body(&state)
    }
}

import Broker
import Dispatch
import Foundation
import Synchronization

/// One one-shot timer at the next scheduled release of research requests
/// (`releaseAt`), re-armed whenever an entry can move it.
final class ReleaseScheduler: Sendable {
    private let queue: DispatchQueue
    private let clock: @Sendable () -> Date
    /// Dispatch sources are thread-safe; the mutex orders arm and cancel.
    private let timer = Mutex<TimerBox?>(nil)

    private struct TimerBox: @unchecked Sendable {
        let source: DispatchSourceTimer
    }

    init(queue: DispatchQueue, clock: @escaping @Sendable () -> Date) {
        self.queue = queue
        self.clock = clock
    }

    /// Fires `release` on the queue at `date` (at once if it has passed); `nil` disarms.
    func arm(at date: Date?, release: @escaping @Sendable () -> Void) {
        timer.withLock { timer in
            timer?.source.cancel()
            timer = nil
            guard let date else { return }
            let delay = max(0, date.timeIntervalSince(clock()))
            let source = DispatchSource.makeTimerSource(queue: queue)
            source.schedule(deadline: .now() + delay, leeway: .milliseconds(5))
            source.setEventHandler(handler: release)
            source.resume()
            timer = TimerBox(source: source)
        }
    }

    func cancel() {
        timer.withLock { $0?.source.cancel(); $0 = nil }
    }

    /// Whether an entry can move the next scheduled release.
    static func changesSchedule(_ entry: Entry) -> Bool {
        entry.events.contains { event in
            switch event {
            case .requestDispatched, .requestReleased: true
            default: false
            }
        }
    }
}

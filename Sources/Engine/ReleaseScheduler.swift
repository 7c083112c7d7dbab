import Broker
import Dispatch
import Foundation
import Synchronization

/// One one-shot timer at the next scheduled release of research requests
/// (`releaseAt`), re-armed whenever an entry can move it.
///
/// `releaseAt` is wall-clock time, and a Dispatch timer counts monotonic time, which stops while
/// the machine is suspended and does not follow a corrected clock: a timer armed on Friday for
/// Monday 09:00 could fire late. So the timer never waits longer than `longestWait`; each time it
/// wakes before the release is due by the clock, it waits again.
final class ReleaseScheduler: Sendable {
    private let queue: DispatchQueue
    private let clock: @Sendable () -> Date
    private let longestWait: TimeInterval
    /// Dispatch sources are thread-safe; the mutex orders arm, re-arm and cancel.
    private let timer = Mutex<(box: TimerBox?, generation: UInt64)>((nil, 0))

    private struct TimerBox: @unchecked Sendable {
        let source: DispatchSourceTimer
    }

    init(queue: DispatchQueue, clock: @escaping @Sendable () -> Date, longestWait: TimeInterval = 60) {
        self.queue = queue
        self.clock = clock
        self.longestWait = longestWait
    }

    /// Fires `release` on the queue once the clock reaches `date` (at once if it has passed); `nil` disarms.
    func arm(at date: Date?, release: @escaping @Sendable () -> Void) {
        timer.withLock { timer in
            timer.generation &+= 1
            start(&timer, at: date, release: release)
        }
    }

    /// Replaces the timer with one for `date`, owned by the current generation: a wake-up of a timer
    /// that `arm` has since replaced does nothing, so an older date never overrides a newer one.
    private func start(_ timer: inout (box: TimerBox?, generation: UInt64), at date: Date?, release: @escaping @Sendable () -> Void) {
        timer.box?.source.cancel()
        timer.box = nil
        guard let date else { return }
        let generation = timer.generation
        let delay = min(max(0, date.timeIntervalSince(clock())), longestWait)
        let source = DispatchSource.makeTimerSource(queue: queue)
        source.schedule(deadline: .now() + delay, leeway: .milliseconds(5))
        source.setEventHandler { [weak self] in
            guard let self else { return }
            let due = self.timer.withLock { timer -> Bool in
                guard timer.generation == generation else { return false }
                if self.clock() >= date { return true }
                self.start(&timer, at: date, release: release)
                return false
            }
            if due { release() }
        }
        source.resume()
        timer.box = TimerBox(source: source)
    }

    func cancel() {
        timer.withLock { timer in
            timer.generation &+= 1
            timer.box?.source.cancel()
            timer.box = nil
        }
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

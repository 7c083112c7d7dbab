@testable import Engine
import Dispatch
import Foundation
import Synchronization
import Testing

/// The release timer against a wall clock that jumps (a suspended machine, a corrected clock):
/// it never waits longer than its longest wait, fires only once the clock says the release is
/// due, and a re-arm for another date always wins over an older timer's wake-up.
@Suite struct ReleaseSchedulerTests {
    final class Clock: Sendable {
        let now = Mutex(Date(timeIntervalSince1970: 1_800_000_000))
        var read: @Sendable () -> Date { { self.now.withLock { $0 } } }
        func advance(_ seconds: TimeInterval) { now.withLock { $0 = $0.addingTimeInterval(seconds) } }
    }

    final class Fired: Sendable {
        let dates = Mutex<[Date]>([])
        func record(_ clock: Clock) -> @Sendable () -> Void { { self.dates.withLock { $0.append(clock.read()) } } }
        var count: Int { dates.withLock { $0.count } }
    }

    static func waitUntil(_ condition: () -> Bool) async -> Bool {
        for _ in 0..<200 {
            if condition() { return true }
            try? await Task.sleep(for: .milliseconds(25))
        }
        return condition()
    }

    @Test func aReleaseADayAheadFiresWhenTheWallClockJumpsThereNotADayLater() async {
        let clock = Clock(), fired = Fired()
        let scheduler = ReleaseScheduler(queue: DispatchQueue(label: "test"), clock: clock.read, longestWait: 0.05)
        let due = clock.read().addingTimeInterval(86_400)
        scheduler.arm(at: due, release: fired.record(clock))
        // Woken every 50 ms, it waits on while the clock says the release is not due.
        try? await Task.sleep(for: .milliseconds(300))
        #expect(fired.count == 0, "fired before its time")
        clock.advance(86_400)
        #expect(await Self.waitUntil { fired.count == 1 }, "not fired after the clock passed releaseAt")
        #expect(fired.dates.withLock { $0 }.allSatisfy { $0 >= due })
        try? await Task.sleep(for: .milliseconds(200))
        #expect(fired.count == 1, "fired once")
        scheduler.cancel()
    }

    @Test func aNewerArmWinsOverAnOlderTimersWakeUp() async {
        let clock = Clock(), first = Fired(), second = Fired()
        let scheduler = ReleaseScheduler(queue: DispatchQueue(label: "test"), clock: clock.read, longestWait: 0.02)
        scheduler.arm(at: clock.read().addingTimeInterval(3_600), release: first.record(clock))
        try? await Task.sleep(for: .milliseconds(100))
        scheduler.arm(at: clock.read().addingTimeInterval(7_200), release: second.record(clock))
        clock.advance(3_700)
        try? await Task.sleep(for: .milliseconds(300))
        #expect(first.count == 0 && second.count == 0, "the replaced timer fired, or the new one fired early")
        clock.advance(3_600)
        #expect(await Self.waitUntil { second.count == 1 })
        #expect(first.count == 0)
        // Cancelled: nothing fires, whatever the clock does.
        scheduler.arm(at: clock.read().addingTimeInterval(10), release: first.record(clock))
        scheduler.cancel()
        clock.advance(60)
        try? await Task.sleep(for: .milliseconds(200))
        #expect(first.count == 0)
    }
}

import Testing
@testable import HTTPServer

/// The event loop's deadlines, with chosen instants.
@Suite struct TimerWheelTests {
    final class Timer: TimerWheel.Timed {
        let timerID: UInt64
        var deadline: UInt64 = 0
        var registeredTick: UInt64 = 0
        init(_ id: UInt64) { timerID = id }
    }

    static let ms: UInt64 = 1_000_000

    static func ids(_ timers: [Timer]) -> [UInt64] { timers.map(\.timerID).sorted() }

    @Test func aDeadlineFiresAtItsTickNeverBefore() {
        let start: UInt64 = 5_000 * Self.ms
        var wheel = TimerWheel(now: start)
        let timer = Timer(1)
        timer.deadline = start + 600 * Self.ms + 1
        wheel.schedule(timer)
        let all = [timer.timerID: timer]
        #expect(wheel.advance(to: start + 600 * Self.ms, lookup: { all[$0] }).isEmpty)
        #expect(Self.ids(wheel.advance(to: start + 610 * Self.ms, lookup: { all[$0] })) == [1])
        #expect(wheel.count == 0)
        #expect(wheel.timeoutMilliseconds(now: start + 610 * Self.ms) == -1, "nothing left: sleep without limit")
    }

    /// The idle deadline moving later after every request costs no wheel work: the connection
    /// stays where it is and is registered again when its old tick comes.
    @Test func aDeadlineMovedLaterStaysRegisteredOnceAndFiresAtTheNewInstant() {
        var wheel = TimerWheel(now: 0)
        let timer = Timer(7)
        let all = [timer.timerID: timer]
        timer.deadline = 100 * Self.ms
        wheel.schedule(timer)
        for later in 1...50 {
            timer.deadline = UInt64(100 + later * 10) * Self.ms
            wheel.schedule(timer)
        }
        #expect(wheel.count == 1)
        #expect(wheel.advance(to: 200 * Self.ms, lookup: { all[$0] }).isEmpty, "moved to 600 ms")
        #expect(wheel.count == 1, "registered again, once")
        #expect(Self.ids(wheel.advance(to: 600 * Self.ms, lookup: { all[$0] })) == [7])
    }

    /// A deadline moved earlier adds an entry; the old one is stale and skipped.
    @Test func aDeadlineMovedEarlierFiresOnce() {
        var wheel = TimerWheel(now: 0)
        let timer = Timer(3)
        let all = [timer.timerID: timer]
        timer.deadline = 60_000 * Self.ms
        wheel.schedule(timer)
        timer.deadline = 1_000 * Self.ms
        wheel.schedule(timer)
        #expect(Self.ids(wheel.advance(to: 1_000 * Self.ms, lookup: { all[$0] })) == [3])
        timer.deadline = 0  // closed or busy: no deadline
        #expect(wheel.advance(to: 70_000 * Self.ms, lookup: { all[$0] }).isEmpty, "the stale entry is skipped")
        #expect(wheel.count == 0)
    }

    /// Deadlines further apart than one turn of the wheel, and a loop that slept through many
    /// turns: each fires once, at or after its instant.
    @Test func deadlinesBeyondOneTurnAndLongSleeps() {
        var wheel = TimerWheel(now: 0)
        let turn = UInt64(TimerWheel.slotCount) * TimerWheel.tickNanoseconds
        let near = Timer(1), far = Timer(2), farther = Timer(3)
        near.deadline = 50 * Self.ms
        far.deadline = turn + 50 * Self.ms  // the same slot as `near`, one turn later
        farther.deadline = 5 * turn
        let all = [UInt64(1): near, 2: far, 3: farther]
        [near, far, farther].forEach { wheel.schedule($0) }
        #expect(Self.ids(wheel.advance(to: 50 * Self.ms, lookup: { all[$0] })) == [1])
        #expect(wheel.advance(to: turn, lookup: { all[$0] }).isEmpty)
        #expect(Self.ids(wheel.advance(to: 3 * turn, lookup: { all[$0] })) == [2])
        #expect(Self.ids(wheel.advance(to: 10 * turn, lookup: { all[$0] })) == [3])
        #expect(wheel.count == 0)
    }

    @Test func aClosedConnectionIsDropped() {
        var wheel = TimerWheel(now: 0)
        let timer = Timer(9)
        timer.deadline = 20 * Self.ms
        wheel.schedule(timer)
        #expect(wheel.advance(to: 100 * Self.ms, lookup: { _ in nil as Timer? }).isEmpty)
        #expect(wheel.count == 0)
    }

    @Test func theLoopSleepsUntilTheNextOccupiedTick() {
        var wheel = TimerWheel(now: 0)
        let timer = Timer(1)
        timer.deadline = 255 * Self.ms
        wheel.schedule(timer)
        #expect(wheel.timeoutMilliseconds(now: 0) == 260, "the 10 ms tick that holds it")
        #expect(wheel.timeoutMilliseconds(now: 300 * Self.ms) == 0, "already due")
    }
}

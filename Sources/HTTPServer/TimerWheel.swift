/// Every connection deadline of one event loop, in one hashed timing wheel: no timer per
/// connection, O(1) to arm, and nothing to do when a deadline moves later.
///
/// Time is cut into ticks of `tickNanoseconds`; slot `tick % slotCount` holds the connections
/// registered for that tick (and for the same slot in later turns of the wheel, checked when
/// the slot comes round). A connection is registered at most once, at the tick of its earliest
/// pending deadline (`registeredTick`): a deadline moved later — the idle deadline after every
/// answered request — leaves the registration alone, and when that tick comes the connection's
/// current deadline is compared and, if still ahead, registered again. Only a deadline moved
/// earlier adds an entry; the older one is then stale and skipped. So a keep-alive request costs
/// no wheel work at all in the common case (nginx's timer tree and swift-nio's scheduled-task
/// heap do a removal and an insertion per re-arm).
///
/// Not thread-safe: owned and used by one event loop's thread.
struct TimerWheel {
    /// What the wheel needs of a connection.
    protocol Timed: AnyObject {
        /// The identity the wheel stores (it keeps no reference: a closed connection is freed at once).
        var timerID: UInt64 { get }
        /// The instant (monotonic nanoseconds) the connection wants `deadlineDue`; 0 for none.
        var deadline: UInt64 { get }
        /// The tick the connection is registered at; 0 when not registered. Kept by the wheel.
        var registeredTick: UInt64 { get set }
    }

    /// 10 ms: far finer than the shortest timeout (hundreds of milliseconds), coarse enough
    /// that a turn of the wheel covers 10 s.
    static let tickNanoseconds: UInt64 = 10_000_000
    static let slotCount = 1024

    private struct Entry {
        let id: UInt64
        let tick: UInt64
    }

    private var slots = [[Entry]](repeating: [], count: slotCount)
    /// The last tick whose slot has been processed.
    private var processedTick: UInt64
    /// Entries in every slot, stale ones included.
    private(set) var count = 0

    init(now: UInt64) {
        processedTick = now / Self.tickNanoseconds
    }

    /// Registers `timed` for its deadline, unless it is already registered for an earlier or the same tick.
    mutating func schedule(_ timed: some Timed) {
        guard timed.deadline != 0 else { return }
        // Rounded up: a slot is processed once its tick has fully begun, so never early.
        let tick = max((timed.deadline + Self.tickNanoseconds - 1) / Self.tickNanoseconds, processedTick + 1)
        if timed.registeredTick != 0 && timed.registeredTick <= tick { return }
        timed.registeredTick = tick
        slots[Int(tick % UInt64(Self.slotCount))].append(Entry(id: timed.timerID, tick: tick))
        count += 1
    }

    /// Processes every tick up to `now`: `lookup` finds a registered connection by identity
    /// (nil once closed); one whose deadline moved later is registered again.
    /// - Returns: the connections whose deadline has passed. (The caller acts on them once the
    ///   wheel is no longer being changed: acting may arm new deadlines.)
    mutating func advance<T: Timed>(to now: UInt64, lookup: (UInt64) -> T?) -> [T] {
        let target = now / Self.tickNanoseconds
        guard target > processedTick else { return [] }
        // After a long sleep every slot is visited once: each holds only entries for ticks at or
        // before `target` or for later turns, told apart by the tick they carry.
        let last = min(target, processedTick + UInt64(Self.slotCount))
        var tick = processedTick
        processedTick = target
        var fired: [T] = []
        while tick < last {
            tick += 1
            let index = Int(tick % UInt64(Self.slotCount))
            guard !slots[index].isEmpty else { continue }
            let entries = slots[index]
            slots[index].removeAll(keepingCapacity: true)
            for entry in entries {
                if entry.tick > target {
                    slots[index].append(entry)  // a later turn of the wheel
                    continue
                }
                count -= 1
                // A closed connection, or a stale entry (re-registered earlier since).
                guard let timed = lookup(entry.id), timed.registeredTick == entry.tick else { continue }
                timed.registeredTick = 0
                fired.append(timed)
            }
        }
        var due: [T] = []
        for timed in fired where timed.deadline != 0 {
            if timed.deadline <= now { due.append(timed) } else { schedule(timed) }
        }
        return due
    }

    /// How long `epoll_wait` may sleep before the next tick that holds entries, in milliseconds
    /// (-1: no limit). The search is bounded by one turn of the wheel.
    func timeoutMilliseconds(now: UInt64) -> Int32 {
        guard count > 0 else { return -1 }
        var tick = processedTick + 1
        for _ in 0..<Self.slotCount {
            if !slots[Int(tick % UInt64(Self.slotCount))].isEmpty { break }
            tick += 1
        }
        let at = tick * Self.tickNanoseconds
        guard at > now else { return 0 }
        return Int32(min((at - now + 999_999) / 1_000_000, UInt64(Int32.max)))
    }
}

/// When the broker writes a snapshot of its state (`broker.json` key `snapshots`).
///
/// A snapshot is written once at least `minEntries` entries have been journaled since
/// the last one **and** the journal since then has grown to `minGrowthPercent` of that
/// snapshot's size. With the defaults, writing snapshots costs about as much as the
/// journal itself however large the state grows, and a start replays at most one
/// snapshot's worth of journal. Small values are for tests and for trying a restore.
public struct SnapshotPolicy: Sendable, Equatable {
    /// Entries journaled since the last snapshot before the next may be written.
    public var minEntries: Int
    /// Journal bytes since the last snapshot, as a percentage of that snapshot's size.
    public var minGrowthPercent: Int

    /// Every argument has the production default.
    public init(minEntries: Int = 5_000, minGrowthPercent: Int = 100) {
        self.minEntries = minEntries
        self.minGrowthPercent = minGrowthPercent
    }

    /// 5,000 entries and 100 % growth.
    public static let `default` = SnapshotPolicy()

    /// Whether a snapshot is due after `entries` entries and `bytes` journal bytes since one of `lastSnapshotBytes`.
    func isDue(entries: Int, bytes: Int, lastSnapshotBytes: Int) -> Bool {
        entries >= minEntries && bytes * 100 >= lastSnapshotBytes * minGrowthPercent
    }
}

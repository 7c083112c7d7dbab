import Synchronization

/// How the journal's group commit is doing, for an operator's metrics: how long each
/// `fdatasync` took and how many records each write-and-sync carried. Counts only.
public final class JournalMetrics: Sendable {
    /// Upper bounds (seconds) of the sync-latency buckets.
    public static let syncSecondsBounds: [Double] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5]
    /// Upper bounds of the records-per-sync buckets.
    public static let batchRecordsBounds: [Double] = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512]

    private let histograms = Mutex((sync: Histogram(bounds: syncSecondsBounds), batch: Histogram(bounds: batchRecordsBounds)))

    /// No observation yet.
    public init() {}

    /// One write-and-sync of `records` records whose `fdatasync` took `seconds`.
    func recordSync(seconds: Double, records: Int) {
        histograms.withLock {
            $0.sync.observe(seconds)
            $0.batch.observe(Double(records))
        }
    }

    /// `fdatasync` durations, in seconds.
    public var syncSeconds: Histogram { histograms.withLock { $0.sync } }
    /// Records written per sync (group-commit batch sizes).
    public var batchRecords: Histogram { histograms.withLock { $0.batch } }

    /// Observations counted into buckets by upper bound (each counted once, in the first bucket
    /// that holds it; values above every bound only in `count`).
    public struct Histogram: Sendable, Equatable {
        /// Ascending upper bounds.
        public let bounds: [Double]
        /// Observations per bucket, not cumulative.
        public private(set) var buckets: [UInt64]
        /// Every observation, including those above the last bound.
        public private(set) var count: UInt64 = 0
        /// The sum of every observation.
        public private(set) var sum: Double = 0

        /// An empty histogram with these ascending bounds.
        public init(bounds: [Double]) {
            self.bounds = bounds
            buckets = Array(repeating: 0, count: bounds.count)
        }

        /// Counts one observation.
        public mutating func observe(_ value: Double) {
            if let index = bounds.firstIndex(where: { value <= $0 }) { buckets[index] += 1 }
            count += 1
            sum += value
        }
    }
}

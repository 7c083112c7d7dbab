/// Limits and policies of a journal. Defaults keep everything and suit a broker.
public struct JournalOptions: Sendable {
    /// A new segment file is started before a record that would take the current one past this size.
    /// A single record larger than this gets a segment of its own. Default 64 MiB.
    public var segmentSize: Int
    /// The largest payload `append` accepts; larger ones fail with `.payloadTooLarge`. Default 16 MiB.
    public var maxPayloadSize: Int
    /// How many snapshot files to keep (at least 1); older ones are removed after a new one is written. Default 2.
    public var snapshotsToKeep: Int
    /// What happens to old segments once a snapshot covers them. Default: keep everything (the audit trail).
    public var segmentRetention: SegmentRetention

    /// The head anchor kept outside the directory (`JournalAnchor`); nil keeps none
    /// (then removing records from the journal's end at a record boundary goes unnoticed).
    public var anchor: JournalAnchor.Settings?

    /// Test-only: injects write and sync errors at the file layer.
    @_spi(Testing) public var faultInjection: FaultInjection?

    /// Options with the given values; every argument has a safe default.
    public init(segmentSize: Int = 64 << 20, maxPayloadSize: Int = 16 << 20, snapshotsToKeep: Int = 2, segmentRetention: SegmentRetention = .keepAll) {
        self.segmentSize = segmentSize
        self.maxPayloadSize = maxPayloadSize
        self.snapshotsToKeep = snapshotsToKeep
        self.segmentRetention = segmentRetention
    }
}

/// Which old segment files may be removed. Removal only ever happens after a
/// snapshot is written, only to segments whose every record that snapshot covers,
/// and never to the segment being written.
public struct SegmentRetention: Sendable, Hashable {
    /// `nil` keeps every segment; otherwise the number of newest segments always kept.
    let keepAtLeast: Int?

    /// Keep every segment forever (the default: segments are the audit trail).
    public static let keepAll = SegmentRetention(keepAtLeast: nil)

    /// Remove segments wholly covered by the latest snapshot, keeping at least
    /// the `count` newest segments (minimum 1). The audit chain then starts at
    /// the oldest remaining segment, anchored by its authenticated header.
    public static func removeCoveredBySnapshot(keepingAtLeast count: Int) -> SegmentRetention {
        SegmentRetention(keepAtLeast: max(1, count))
    }
}

/// Named limits of the journal's writer.
enum JournalLimits {
    /// Most bytes of payload gathered into one write+sync (a single larger append still goes alone).
    static let maxBatchBytes = 8 << 20
    /// Most appends gathered into one write+sync.
    static let maxBatchAppends = 4096
}

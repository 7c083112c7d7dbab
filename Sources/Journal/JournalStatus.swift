/// The journal's health, for a health endpoint or a metrics page.
public struct JournalStatus: Sendable, CustomStringConvertible {
    /// True while appends are accepted: open, and no write has failed.
    public let isHealthy: Bool
    /// True after `close()`.
    public let isClosed: Bool
    /// The last durable record's position.
    public let head: JournalPosition
    /// The write error that stopped appends, if any; reopen once its cause is fixed.
    public let failure: JournalError?
    /// Records appended since open.
    public let appendedRecords: UInt64
    /// Write+sync rounds since open (appends per sync shows group commit working).
    public let syncs: UInt64

    /// One line: `"healthy, head seq N"` or the failure.
    public var description: String {
        if let failure { return "failed: \(failure.message)" }
        if isClosed { return "closed, head seq \(head.seq)" }
        return "healthy, head seq \(head.seq), \(appendedRecords) records in \(syncs) syncs since open"
    }
}

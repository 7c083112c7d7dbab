import Foundation

/// Every limit and timeout `marac` applies, in one place.
enum CLILimits {
    /// Audit records asked for per page (the broker's page size).
    static let auditPageSize = 500
    /// `requests watch`: long-poll seconds per request by default, and the broker's maximum.
    static let defaultLongPoll = 50
    static let maximumLongPoll = 60
    /// `requests watch --backoff-max`: the range accepted, in seconds.
    static let backoffMaximumRange: ClosedRange<Double> = 0.1...3600
    /// `doctor`: how long to wait for a bare connection and for an authenticated answer.
    static let doctorConnectTimeout: TimeInterval = 10
    static let doctorRequestTimeout: TimeInterval = 15
    /// `doctor`: certificates closer to expiry than this get a warning (the broker's own warning period).
    static let expiryWarning: TimeInterval = 30 * 86_400
    /// `doctor`: a clock further from the broker's than this gets a warning.
    static let clockTolerance: TimeInterval = 60
}

import Foundation

/// Capped exponential backoff for a client that must keep trying (the SPOC's
/// `marac requests watch`): each failure doubles the wait up to `maximum`; a
/// success starts again at `initial`. Jitter of up to a quarter of the delay
/// keeps many agencies' agents from reconnecting in lockstep after a broker
/// restart, and never pushes a delay above `maximum`.
public struct Backoff: Sendable {
    /// The first delay after a success.
    public let initial: TimeInterval
    /// No delay is ever longer than this.
    public let maximum: TimeInterval
    /// Growth per consecutive failure.
    public let factor: Double
    /// Fraction of each delay taken off at random (0 = none).
    public let jitter: Double
    private var current: TimeInterval

    /// Defaults: 1 s doubling to 30 s, so a broker restart is noticed within
    /// seconds and a long outage costs one request every half minute.
    public static let defaultInitial: TimeInterval = 1
    public static let defaultMaximum: TimeInterval = 30

    /// - Precondition: `0 < initial <= maximum`, `factor >= 1`, `0 <= jitter < 1`.
    public init(initial: TimeInterval = defaultInitial, maximum: TimeInterval = defaultMaximum, factor: Double = 2, jitter: Double = 0.25) {
        precondition(initial > 0 && initial <= maximum && factor >= 1 && (0..<1).contains(jitter), "invalid backoff settings")
        self.initial = initial
        self.maximum = maximum
        self.factor = factor
        self.jitter = jitter
        current = initial
    }

    /// The delay before the next attempt after a failure; grows for the one after.
    public mutating func nextDelay() -> TimeInterval {
        let base = current
        current = min(current * factor, maximum)
        guard jitter > 0 else { return base }
        return base * (1 - Double.random(in: 0...jitter))
    }

    /// After a success the next failure waits `initial` again.
    public mutating func reset() { current = initial }
}

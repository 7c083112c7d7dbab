import Foundation
import Wire

/// How much one research request's return may hold, all versions together
/// (`limits.maxReturnVersionsPerRequest`, `limits.maxReturnBytesPerRequest` in
/// `broker.json`): every version stays in memory and in every snapshot, so one
/// SPOC amending without end must not grow them without bound.
public struct ReturnLimits: Sendable, Equatable {
    /// Most versions (the first return and its amendments) of one request's return.
    public var maxVersions: Int
    /// Largest total JSON encoding, in bytes, of all versions of one request's return.
    public var maxBytes: Int

    /// 20 versions and 1 MiB.
    public static let `default` = ReturnLimits(maxVersions: 20, maxBytes: 1 << 20)

    /// Creates limits; both must be positive.
    public init(maxVersions: Int, maxBytes: Int) {
        precondition(maxVersions > 0 && maxBytes > 0, "return limits must be positive")
        self.maxVersions = maxVersions
        self.maxBytes = maxBytes
    }

    /// The size of one version's compact JSON encoding, the measure `maxBytes` counts in.
    public static func encodedSize(of version: ResearchReturn) -> Int {
        (try? JSON.encode(version).count) ?? Int.max
    }
}

/// What the routes need to know of the broker's configuration (the host maps
/// `broker.json` onto it).
public struct APISettings: Sendable {
    /// Longest a `wait=` long-poll is held (`limits.longPollMaxSeconds`, at most 60 s).
    public var longPollMaxSeconds: Int
    /// Parked long-polls one principal may hold at once (`limits.maxLongPollsPerPrincipal`).
    public var maxLongPollsPerPrincipal: Int

    /// Where each credential's last use is kept (`data/credential-use.json`); `nil`: in memory only.
    public var credentialUsePath: String?

    public init(longPollMaxSeconds: Int = 60, maxLongPollsPerPrincipal: Int = 4, credentialUsePath: String? = nil) {
        self.longPollMaxSeconds = longPollMaxSeconds
        self.maxLongPollsPerPrincipal = maxLongPollsPerPrincipal
        self.credentialUsePath = credentialUsePath
    }
}

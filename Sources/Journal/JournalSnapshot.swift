/// A caller's state as of a journal position, stored encrypted so that start-up
/// need only replay the records after `position`.
public struct JournalSnapshot: Sendable, Hashable {
    /// The position the state reflects: every record up to and including `position.seq`.
    public let position: JournalPosition
    /// The caller's serialised state (decrypted).
    public let state: [UInt8]

    /// Makes a snapshot value.
    public init(position: JournalPosition, state: [UInt8]) {
        self.position = position
        self.state = state
    }
}

import Foundation

extension BrokerState {
    /// Fills in the chain hashes of the entry applied at `position.seq`.
    ///
    /// The API layer applies an entry as soon as it is ordered (so the next
    /// command is decided against it) and learns the record's hash only when
    /// the journal has made it durable; this completes the audit record then.
    public mutating func recordChain(_ position: ChainPosition) {
        var index = audit.partitioningIndex { $0.seq >= position.seq }
        while index < audit.count, audit[index].seq == position.seq {
            audit[index].hash = position.hash
            audit[index].prevHash = position.prevHash
            index += 1
        }
        if position.seq >= lastSeq { lastHash = position.hash }
    }
}

extension Domain {
    /// See `BrokerState.recordChain(_:)`.
    public mutating func recordChain(_ position: ChainPosition) {
        state.recordChain(position)
    }
}

import Broker

/// Why the engine did not carry out a command. The API layer maps each case to
/// its HTTP answer; the engine itself knows nothing of HTTP.
public enum EngineError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The domain refused the command (a role, a deadline, a missing object…).
    case refused(DomainError)
    /// Storage has failed: nothing is acknowledged until an operator fixes it and restarts.
    case storageUnavailable(reason: String)
    /// The entry could not be encoded for the journal (a bug; nothing was stored).
    case encodingFailed(String)

    public var description: String {
        switch self {
        case .refused(let error): "\(error.code): \(error.message)"
        case .storageUnavailable(let reason):
            "the broker cannot store changes (\(reason)); nothing was acknowledged; an administrator must fix storage and restart the broker"
        case .encodingFailed(let reason): "could not encode the journal entry: \(reason)"
        }
    }
}

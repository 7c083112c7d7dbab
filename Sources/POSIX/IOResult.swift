/// The outcome of a system call on a non-blocking descriptor (or a blocking
/// one with a timeout): done, or it would have had to wait (EAGAIN/EWOULDBLOCK).
/// Waiting is a state, not an error.
public enum IOResult<T> {
    case done(T)
    case wouldBlock
}

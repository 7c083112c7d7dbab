#if canImport(Glibc)
import Glibc
#endif

/// A failed system call: which call, on what, and errno.
///
/// The description reads `"<call> <context>: <strerror> (errno N)"`, e.g.
/// `bind 127.0.0.1:8443: Address already in use (errno 98)`, so a log line or
/// an error message names what to fix without a second lookup.
public struct SystemError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The call that failed, e.g. `bind` or `pwrite`.
    public let call: String
    /// What it was called on, e.g. `127.0.0.1:8443` or `of /var/lib/marac/LOCK`; may be empty.
    public let context: String
    /// The system error number.
    public let errno: Int32
    /// The file concerned, if any.
    public let path: String?

    /// Makes an error; `context` names the socket, file or value the call was about.
    public init(call: String, context: String = "", errno: Int32, path: String? = nil) {
        self.call = call
        self.context = context
        self.errno = errno
        self.path = path
    }

    /// `strerror` text with the number, e.g. `No space left on device (errno 28)`.
    public var reason: String { "\(String(cString: strerror(errno))) (errno \(errno))" }

    /// `"<call> <context>: <reason>"`.
    public var description: String { context.isEmpty ? "\(call): \(reason)" : "\(call) \(context): \(reason)" }
}

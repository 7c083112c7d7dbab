import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A failed system call: the call, errno and its text.
public struct SystemError: Error, CustomStringConvertible, Sendable {
    public let call: String
    public let errno: Int32
    public var description: String { "\(call): \(String(cString: strerror(errno))) (errno \(errno))" }
}

/// The outcome of a non-blocking system call.
enum IOResult<T> {
    case done(T)
    case wouldBlock
}

/// Every system call of the server goes through here: EINTR is retried,
/// EAGAIN becomes `.wouldBlock`, EBADF/EFAULT are our bugs, anything else a `SystemError`.
@inline(__always)
func systemCall<T: BinaryInteger>(_ name: @autoclosure () -> String, _ body: () -> T) throws -> IOResult<T> {
    while true {
        let result = body()
        if result >= 0 { return .done(result) }
        let code = errno
        switch code {
        case EINTR: continue
        case EAGAIN, EWOULDBLOCK: return .wouldBlock
        case EBADF, EFAULT: preconditionFailure("\(name()): \(String(cString: strerror(code))) — a bug in fd handling")
        default: throw SystemError(call: name(), errno: code)
        }
    }
}

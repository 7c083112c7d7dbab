import Foundation
import POSIX
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The one system-call helper: EINTR retried, EAGAIN a state, errno in a typed error.
@Suite("systemCall")
struct SystemCallTests {
    /// A stand-in for a system call: fails with each of `errors` in turn (-1 and errno), then returns `result`.
    final class ScriptedCall {
        private var errors: [Int32]
        private let result: Int
        private(set) var calls = 0

        init(failingWith errors: [Int32], thenReturning result: Int) {
            self.errors = errors
            self.result = result
        }

        func callAsFunction() -> Int {
            calls += 1
            guard !errors.isEmpty else { return result }
            errno = errors.removeFirst()
            return -1
        }
    }

    @Test func eintrIsRetriedUntilTheCallCompletes() throws {
        let call = ScriptedCall(failingWith: [EINTR, EINTR, EINTR], thenReturning: 42)
        let result = try systemCall("read") { call() }
        guard case .done(let value) = result else {
            Issue.record("an interrupted call is retried, not reported as waiting")
            return
        }
        #expect(value == 42)
        #expect(call.calls == 4)
    }

    @Test(arguments: [EAGAIN, EWOULDBLOCK])
    func eagainIsWouldBlockNotAnError(code: Int32) throws {
        let call = ScriptedCall(failingWith: [EINTR, code], thenReturning: 1)
        let result = try systemCall("accept") { call() }
        guard case .wouldBlock = result else {
            Issue.record("errno \(code) means the call would have waited")
            return
        }
        #expect(call.calls == 2, "EAGAIN is reported at once, not retried")
    }

    @Test func zeroIsAResultNotAnError() throws {
        let result = try systemCall("recv") { ScriptedCall(failingWith: [], thenReturning: 0)() }
        guard case .done(0) = result else {
            Issue.record("end of stream (0) is a result")
            return
        }
    }

    @Test func otherErrorsCarryCallContextAndErrno() {
        #expect {
            _ = try systemCall("bind", "127.0.0.1:8443", path: nil) { ScriptedCall(failingWith: [EADDRINUSE], thenReturning: 0)() }
        } throws: { error in
            guard let error = error as? SystemError else { return false }
            return error.call == "bind" && error.context == "127.0.0.1:8443" && error.errno == EADDRINUSE
                && error.description == "bind 127.0.0.1:8443: Address already in use (errno \(EADDRINUSE))"
        }
    }

    @Test func anErrorWithoutContextReadsCallThenReason() {
        let error = SystemError(call: "socket", errno: EMFILE, path: nil)
        #expect(error.description == "socket: Too many open files (errno \(EMFILE))")
    }

    @Test func theErrorKeepsThePath() {
        #expect {
            try blockingSystemCall("open", "of /nowhere/x", path: "/nowhere/x") { open("/nowhere/x", O_RDONLY) }
        } throws: { error in
            (error as? SystemError).map { $0.errno == ENOENT && $0.path == "/nowhere/x" && $0.description.hasPrefix("open of /nowhere/x: No such file or directory") } ?? false
        }
    }

    @Test func aBlockingCallReportsEagainAsAnError() {
        #expect {
            try blockingSystemCall("recv", "from the broker") { ScriptedCall(failingWith: [EAGAIN], thenReturning: 0)() }
        } throws: { error in
            (error as? SystemError)?.errno == EAGAIN
        }
    }

    @Test func aBadDescriptorIsABugThatStopsTheProcess() async {
        await #expect(processExitsWith: .failure) {
            _ = try? systemCall("read") { read(-1, nil, 0) }
        }
    }
}

import Foundation
import TLS
#if canImport(Glibc)
import Glibc
#endif

import POSIX

/// Monotonic seconds, for every figure the benchmark reports.
func monotonicNow() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
}

/// One non-blocking HTTPS/1.1 client connection driven by a `PollLoop`: connect, TLS handshake
/// over memory BIOs, then requests and responses one at a time. Unlike `HTTPSConnection`
/// (blocking, one thread each) thousands of these share one thread, which is what a
/// 10,000-connection long-poll test needs.
final class BenchConnection {
    enum Phase { case connecting, handshaking, idle, awaiting, closed }

    /// The workload's slot this connection serves (a writer number, a waiter number).
    let slot: Int
    let fd: Int32
    let session: TLSSession
    private(set) var phase = Phase.connecting
    private var outbound: [UInt8] = []
    private var outboundOffset = 0
    private var inbound: [UInt8] = []
    private var headScanned = 0
    /// When the current request was written (for latency).
    private(set) var requestSentAt = 0.0

    /// Starts a non-blocking connect to `address`.
    /// - Throws: `BenchError` when no socket can be made or the connect fails at once.
    init(slot: Int, address: SocketTarget, context: TLSContext) throws {
        self.slot = slot
        let fd: Int32
        do {
            fd = try blockingSystemCall("socket") { socket(address.family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0) }
        } catch {
            throw BenchError("\(error)")
        }
        // TCP_NODELAY only saves latency: the connection is measured without it rather than not at all.
        try? Socket.setOption(fd, level: Int32(IPPROTO_TCP), TCP_NODELAY, to: Int32(1), name: "TCP_NODELAY")
        // Not through systemCall: a non-blocking connect answers EINPROGRESS and the poll loop sees it finish.
        let result = address.withSockaddr { Glibc.connect(fd, $0, $1) }
        guard result == 0 || errno == EINPROGRESS else {
            let reason = String(cString: strerror(errno))
            FileDescriptor.close(descriptor: fd)
            throw BenchError("connect: \(reason)")
        }
        self.fd = fd
        do { session = try TLSSession(context: context) } catch {
            FileDescriptor.close(descriptor: fd)
            throw error
        }
    }

    deinit { if phase != .closed { FileDescriptor.close(descriptor: fd) } }

    /// The poll events this connection waits for.
    var events: Int16 {
        if phase == .connecting { return Int16(POLLOUT) }
        return outboundOffset < outbound.count ? Int16(POLLIN | POLLOUT) : Int16(POLLIN)
    }

    func close() {
        guard phase != .closed else { return }
        phase = .closed
        FileDescriptor.close(descriptor: fd)
    }

    /// Encrypts and sends one request; the response comes back from `handle(events:)`.
    func send(_ request: [UInt8]) throws {
        precondition(phase == .idle, "a request while another is in flight")
        try session.write(request)
        phase = .awaiting
        requestSentAt = monotonicNow()
        try flush()
    }

    /// What readiness produced.
    enum Progress {
        case nothing
        /// The handshake finished: the connection is idle and may send.
        case ready
        /// A whole response arrived.
        case response(status: Int, body: [UInt8])
    }

    /// Handles poll readiness. Throws when the connection failed or the server closed it.
    func handle(revents: Int16) throws -> Progress {
        if phase == .connecting {
            var error: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length)
            guard error == 0 else { throw BenchError("connect: \(String(cString: strerror(error)))") }
            phase = .handshaking
            return try advanceHandshake()
        }
        if revents & Int16(POLLOUT) != 0 { try flush() }
        guard revents & Int16(POLLIN | POLLHUP | POLLERR) != 0 else { return .nothing }
        let open = try receive()
        var progress = Progress.nothing
        switch phase {
        case .handshaking: progress = try advanceHandshake()
        case .awaiting: progress = try readResponse()
        default: break
        }
        if case .nothing = progress, !open { throw BenchError("the server closed the connection") }
        return progress
    }

    private func advanceHandshake() throws -> Progress {
        let done = try session.handshake()
        session.drainOutput(into: &outbound)
        try flush()
        guard done else { return .nothing }
        phase = .idle
        return .ready
    }

    /// Reads all available ciphertext into the session; false when the peer closed.
    private func receive() throws -> Bool {
        while true {
            let outcome: IOResult<Int>
            do {
                outcome = try Socket.receive(fd, bufferSize: 32 * 1024) { session.receive($0) }
            } catch {
                throw BenchError("\(error)")
            }
            switch outcome {
            case .done(0): return false
            case .done: continue
            case .wouldBlock: return true
            }
        }
    }

    private func flush() throws {
        session.drainOutput(into: &outbound)
        while outboundOffset < outbound.count {
            let outcome: IOResult<Int>
            do {
                outcome = try outbound.withUnsafeBytes { bytes in
                    try systemCall("send") { Glibc.send(fd, bytes.baseAddress! + outboundOffset, bytes.count - outboundOffset, Int32(MSG_NOSIGNAL)) }
                }
            } catch {
                throw BenchError("\(error)")
            }
            guard case .done(let sent) = outcome else { return }
            outboundOffset += sent
        }
        outbound.removeAll(keepingCapacity: true)
        outboundOffset = 0
    }

    private func readResponse() throws -> Progress {
        while case .bytes = try session.read(into: &inbound) {}
        try flush()
        guard let response = HTTPResponseScanner.take(from: &inbound, scanned: &headScanned) else { return .nothing }
        phase = .idle
        return .response(status: response.status, body: response.body)
    }
}

/// Finds complete HTTP/1.1 responses in received plaintext, byte-wise (the client's CPU is
/// shared with the server under test, so it must stay cheap).
enum HTTPResponseScanner {
    static func take(from buffer: inout [UInt8], scanned: inout Int) -> (status: Int, body: [UInt8])? {
        guard let headEnd = findHeadEnd(buffer, from: max(0, scanned - 3)) else {
            scanned = buffer.count
            return nil
        }
        guard buffer.count >= 12, let status = Int(String(decoding: buffer[9..<12], as: UTF8.self)) else {
            scanned = 0
            buffer.removeAll()
            return (0, [])
        }
        let length = contentLength(buffer[0..<headEnd]) ?? 0
        let bodyStart = headEnd + 4
        guard buffer.count >= bodyStart + length else { return nil }
        let body = Array(buffer[bodyStart..<(bodyStart + length)])
        buffer.removeFirst(bodyStart + length)
        scanned = 0
        if status == 100 { return take(from: &buffer, scanned: &scanned) }
        return (status, body)
    }

    static func findHeadEnd(_ bytes: [UInt8], from start: Int) -> Int? {
        bytes.withUnsafeBufferPointer { b in
            var i = start
            while i + 3 < b.count {
                if b[i] == 13, b[i + 1] == 10, b[i + 2] == 13, b[i + 3] == 10 { return i }
                i += 1
            }
            return nil
        }
    }

    private static let name = Array("content-length:".utf8)

    static func contentLength(_ head: ArraySlice<UInt8>) -> Int? {
        var i = head.startIndex
        while i + name.count < head.endIndex {
            if head[i] == 10 {
                var matched = true
                for (k, c) in name.enumerated() where head[i + 1 + k] | 0x20 != c { matched = false; break }
                if matched {
                    var j = i + 1 + name.count
                    while j < head.endIndex, head[j] == 32 { j += 1 }
                    var value = 0
                    while j < head.endIndex, head[j] >= 48, head[j] <= 57 { value = value * 10 + Int(head[j] - 48); j += 1 }
                    return value
                }
            }
            i += 1
        }
        return nil
    }
}

/// A resolved server address.
struct SocketTarget: Sendable {
    let family: Int32
    let storage: [UInt8]

    /// Resolves `host:port` once, so 10,000 connects do not each ask the resolver.
    init(host: String, port: Int) throws {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host.trimmingCharacters(in: CharacterSet(charactersIn: "[]")), String(port), &hints, &result)
        guard status == 0, let first = result else { throw BenchError("cannot resolve \(host)") }
        defer { freeaddrinfo(result) }
        family = first.pointee.ai_family
        storage = Array(UnsafeRawBufferPointer(start: first.pointee.ai_addr, count: Int(first.pointee.ai_addrlen)))
    }

    func withSockaddr<T>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> T) -> T {
        storage.withUnsafeBytes { body($0.baseAddress!.assumingMemoryBound(to: sockaddr.self), socklen_t($0.count)) }
    }
}

/// A benchmark failure with a message for the operator.
struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ message: String) { description = message }
}

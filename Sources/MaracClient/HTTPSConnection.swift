import Foundation
import TLS
#if canImport(Glibc)
import Glibc
#endif

import POSIX

/// A response read off the wire.
public struct ClientResponse: Sendable {
    public let status: Int
    public let headers: [(name: String, value: String)]
    public let body: [UInt8]

    /// First value of `name`, case-insensitively.
    public func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }

    /// The body as UTF-8 text.
    public var text: String { String(decoding: body, as: UTF8.self) }
}

/// A blocking HTTPS/1.1 connection with keep-alive, for the CLI, tests and
/// benchmarks. Not Sendable: one thread uses it at a time. Every socket
/// operation has a timeout, so a silent server cannot hang the caller.
public final class HTTPSConnection {
    /// The socket; it closes itself if the connection is dropped without `close()`.
    private let socket: FileDescriptor
    private let session: TLSSession
    private var inbound: [UInt8] = []
    private var inboundOffset = 0
    public let host: String
    /// The `Host` header: the host, and the port unless it is 443 (RFC 9110 §7.2); an IPv6 address in brackets.
    public let authority: String
    public private(set) var isOpen = true

    /// Largest response accepted (headers + body).
    public static let maxResponseBytes = 64 << 20

    /// Connects and completes the TLS handshake.
    /// - Throws: `ClientError` `.connection` (refused, unreachable, timeout) or `.tls` (with OpenSSL's reason).
    public init(host: String, port: Int, context: TLSContext, timeout: TimeInterval = 30) throws {
        self.host = host
        authority = Self.authority(host: host, port: port)
        socket = try Self.connect(host: host, port: port, timeout: timeout)
        do {
            session = try TLSSession(context: context)
            try handshake()
        } catch {
            socket.close()
            isOpen = false
            throw error
        }
    }

    /// Closes the connection, sending close_notify first.
    public func close() {
        guard isOpen else { return }
        session.shutdown()
        try? flush()
        socket.close()
        isOpen = false
    }

    /// Sends one request and reads its response.
    public func send(method: String, path: String, headers: [(String, String)] = [], body: [UInt8]? = nil) throws -> ClientResponse {
        try write(request: Self.encode(method: method, path: path, host: authority, headers: headers, body: body))
        return try readResponse(isHEAD: method == "HEAD")
    }

    /// Writes raw request bytes (tests of malformed input and pipelining).
    public func write(request bytes: [UInt8]) throws {
        guard isOpen else { throw ClientError(.connection, "connection is closed") }
        do { try session.write(bytes) } catch { throw ClientError(.tls, "\(error)") }
        try flush()
    }

    /// Reads one response.
    public func readResponse(isHEAD: Bool = false) throws -> ClientResponse {
        // Head
        var headEnd: Int?
        while headEnd == nil {
            if let range = findHeadEnd() { headEnd = range; break }
            try fill()
        }
        let headBytes = inbound[inboundOffset..<headEnd!]
        let lines = String(decoding: headBytes, as: UTF8.self).components(separatedBy: "\r\n")
        let statusParts = lines[0].split(separator: " ", maxSplits: 2)
        guard statusParts.count >= 2, statusParts[0].hasPrefix("HTTP/1."), let status = Int(statusParts[1]) else {
            throw ClientError(.protocolViolation, "malformed status line: \(lines[0].prefix(80))")
        }
        var headers: [(name: String, value: String)] = []
        for line in lines.dropFirst() where !line.isEmpty {
            guard let colon = line.firstIndex(of: ":") else { throw ClientError(.protocolViolation, "malformed header line") }
            headers.append((String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
        }
        inboundOffset = headEnd! + 4
        let response = ClientResponse(status: status, headers: headers, body: [])
        if status == 100 { return try readResponse(isHEAD: isHEAD) }
        var length = 0
        if !isHEAD, status != 204, status != 304 {
            if let value = response.header("Content-Length") {
                guard let parsed = Int(value), parsed >= 0, parsed <= Self.maxResponseBytes else {
                    throw ClientError(.protocolViolation, "bad Content-Length \(value)")
                }
                length = parsed
            } else {
                // Read to end of stream.
                while (try? fill()) != nil {}
                length = inbound.count - inboundOffset
            }
        }
        while inbound.count - inboundOffset < length { try fill() }
        let body = Array(inbound[inboundOffset..<(inboundOffset + length)])
        inboundOffset += length
        if inboundOffset == inbound.count { inbound.removeAll(keepingCapacity: true); inboundOffset = 0 }
        if response.header("Connection")?.lowercased() == "close" { close() }
        return ClientResponse(status: status, headers: headers, body: body)
    }

    /// `host:port`, `[v6]:port`, or the host alone for 443.
    static func authority(host: String, port: Int) -> String {
        let bare = host.hasPrefix("[") ? host : host.contains(":") ? "[\(host)]" : host
        return port == 443 ? bare : "\(bare):\(port)"
    }

    static func encode(method: String, path: String, host: String, headers: [(String, String)], body: [UInt8]?) -> [UInt8] {
        var head = "\(method) \(path) HTTP/1.1\r\nHost: \(host)\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        if let body {
            if !headers.contains(where: { $0.0.lowercased() == "content-type" }) { head += "Content-Type: application/json\r\n" }
            head += "Content-Length: \(body.count)\r\n"
        }
        head += "\r\n"
        var bytes = Array(head.utf8)
        if let body { bytes += body }
        return bytes
    }

    private func findHeadEnd() -> Int? {
        inbound.withUnsafeBufferPointer { bytes in
            var index = inboundOffset
            while index + 3 < bytes.count {
                if bytes[index] == 13 && bytes[index + 1] == 10 && bytes[index + 2] == 13 && bytes[index + 3] == 10 { return index }
                index += 1
            }
            return nil
        }
    }

    // MARK: TLS over the socket

    private func handshake() throws {
        while true {
            let done: Bool
            do { done = try session.handshake() } catch {
                try? flush()
                throw ClientError(.tls, "\(error)")
            }
            try flush()
            if done { return }
            try receiveFromSocket()
        }
    }

    /// Reads more plaintext into `inbound`.
    private func fill() throws {
        guard inbound.count - inboundOffset < Self.maxResponseBytes else {
            throw ClientError(.protocolViolation, "response larger than \(Self.maxResponseBytes) bytes")
        }
        while true {
            let result: TLSSession.ReadResult
            do { result = try session.read(into: &inbound) } catch {
                isOpen = false
                socket.close()
                throw ClientError(.tls, "\(error)")
            }
            switch result {
            case .bytes: return
            case .closed: throw ClientError(.connection, "the broker closed the connection")
            case .wantRead:
                try flush()
                try receiveFromSocket()
            }
        }
    }

    /// The socket's descriptor while the connection is open.
    /// - Throws: `ClientError` `.connection` once it is closed (after an error, or `Connection: close`).
    private func openSocket() throws -> Int32 {
        guard isOpen else { throw ClientError(.connection, "connection is closed") }
        return socket.rawValue
    }

    private func flush() throws {
        let fd = try openSocket()
        var out: [UInt8] = []
        session.drainOutput(into: &out)
        var offset = 0
        while offset < out.count {
            let result: IOResult<Int>
            do {
                result = try out.withUnsafeBytes { bytes in
                    try systemCall("send") { Glibc.send(fd, bytes.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL)) }
                }
            } catch {
                throw ClientError(.connection, "\(error)")
            }
            switch result {
            case .done(let sent): offset += sent
            // A blocking socket reports EAGAIN when SO_SNDTIMEO runs out.
            case .wouldBlock: throw ClientError(.connection, "timed out sending to the broker")
            }
        }
    }

    private func receiveFromSocket() throws {
        let fd = try openSocket()
        let result: IOResult<Int>
        do {
            result = try Socket.receive(fd, bufferSize: 16 * 1024) { session.receive($0) }
        } catch {
            throw ClientError(.connection, "\(error)")
        }
        switch result {
        case .done(0): throw ClientError(.connection, "the broker closed the connection")
        case .done: return
        // A blocking socket reports EAGAIN when SO_RCVTIMEO runs out.
        case .wouldBlock: throw ClientError(.connection, "timed out waiting for the broker")
        }
    }

    private static func connect(host: String, port: Int, timeout: TimeInterval) throws -> FileDescriptor {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_family = AF_UNSPEC
        var result: UnsafeMutablePointer<addrinfo>?
        let lookup = host.trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        let status = getaddrinfo(lookup, String(port), &hints, &result)
        guard status == 0, let first = result else {
            throw ClientError(.connection, "cannot resolve \(host): \(String(cString: gai_strerror(status)))")
        }
        defer { freeaddrinfo(result) }
        var lastError = ECONNREFUSED
        var candidate: UnsafeMutablePointer<addrinfo>? = first
        while let info = candidate {
            candidate = info.pointee.ai_next
            let opened: FileDescriptor
            do {
                let fd = try blockingSystemCall("socket") { Glibc.socket(info.pointee.ai_family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0) }
                opened = FileDescriptor(takingOwnershipOf: fd, path: "\(host):\(port)")
                // The timeouts are what keep a silent broker from hanging the caller: a socket without them is not used.
                let tv = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - timeout.rounded(.down)) * 1_000_000))
                try Socket.setOption(fd, level: SOL_SOCKET, SO_RCVTIMEO, to: tv, name: "SO_RCVTIMEO")
                try Socket.setOption(fd, level: SOL_SOCKET, SO_SNDTIMEO, to: tv, name: "SO_SNDTIMEO")
            } catch {
                lastError = error.errno
                continue
            }
            // TCP_NODELAY only saves latency: the connection is used without it.
            try? Socket.setOption(opened.rawValue, level: Int32(IPPROTO_TCP), TCP_NODELAY, to: Int32(1), name: "TCP_NODELAY")
            // Not through systemCall: an interrupted blocking connect goes on in the background and a retry
            // reports EALREADY, so a failed or interrupted connect moves on to the next address.
            if Glibc.connect(opened.rawValue, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 { return opened }
            lastError = errno
            opened.close()
        }
        throw ClientError(.connection, "cannot connect to \(host):\(port): \(String(cString: strerror(lastError)))")
    }
}

import Foundation
#if canImport(Glibc)
import Glibc
#endif

import POSIX

/// An IPv4 or IPv6 socket address parsed from a literal (no DNS lookups).
struct SocketAddress {
    let family: Int32
    private var storage = sockaddr_storage()

    /// - Throws: `SystemError` (EINVAL) naming the host when it is not an IP literal or `localhost`.
    init(host: String, port: Int) throws {
        let literal = host == "localhost" ? "127.0.0.1" : host.trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        guard (0...65_535).contains(port) else { throw SystemError(call: "listen address port \(port)", errno: EINVAL) }
        var v4 = sockaddr_in()
        var v6 = sockaddr_in6()
        if inet_pton(AF_INET, literal, &v4.sin_addr) == 1 {
            family = AF_INET
            v4.sin_family = sa_family_t(AF_INET)
            v4.sin_port = in_port_t(UInt16(port).bigEndian)
            withUnsafeMutableBytes(of: &storage) { raw in withUnsafeBytes(of: v4) { raw.copyMemory(from: $0) } }
        } else if inet_pton(AF_INET6, literal, &v6.sin6_addr) == 1 {
            family = AF_INET6
            v6.sin6_family = sa_family_t(AF_INET6)
            v6.sin6_port = in_port_t(UInt16(port).bigEndian)
            withUnsafeMutableBytes(of: &storage) { raw in withUnsafeBytes(of: v6) { raw.copyMemory(from: $0) } }
        } else {
            throw SystemError(call: "listen address \(host) (an IP literal or localhost is required)", errno: EINVAL)
        }
    }

    func withSockAddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
        var copy = storage
        let length = family == AF_INET ? MemoryLayout<sockaddr_in>.size : MemoryLayout<sockaddr_in6>.size
        return withUnsafePointer(to: &copy) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(length)) } }
    }

    /// The port a bound socket listens on (the one chosen for port 0).
    /// - Throws: `SystemError` from getsockname.
    static func localPort(of fd: Int32) throws -> Int {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        try withUnsafeMutablePointer(to: &storage) { pointer in
            try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
                _ = try blockingSystemCall("getsockname") { getsockname(fd, address, &length) }
            }
        }
        return port(of: storage)
    }

    static func port(of storage: sockaddr_storage) -> Int {
        var copy = storage
        return withUnsafeBytes(of: &copy) { raw in
            switch Int32(storage.ss_family) {
            case AF_INET: return Int(UInt16(bigEndian: raw.load(as: sockaddr_in.self).sin_port))
            case AF_INET6: return Int(UInt16(bigEndian: raw.load(as: sockaddr_in6.self).sin6_port))
            default: return 0
            }
        }
    }

    /// `ip:port` for logs.
    static func describe(_ storage: sockaddr_storage) -> String {
        let host = host(of: storage)
        return storage.ss_family == sa_family_t(AF_INET6) ? "[\(host)]:\(port(of: storage))" : "\(host):\(port(of: storage))"
    }

    /// The address without the port, e.g. `127.0.0.1` or `::1`.
    static func host(of storage: sockaddr_storage) -> String {
        var copy = storage
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        let family = Int32(storage.ss_family)
        withUnsafeBytes(of: &copy) { raw in
            if family == AF_INET {
                var address = raw.load(as: sockaddr_in.self).sin_addr
                inet_ntop(AF_INET, &address, &text, socklen_t(text.count))
            } else if family == AF_INET6 {
                var address = raw.load(as: sockaddr_in6.self).sin6_addr
                inet_ntop(AF_INET6, &address, &text, socklen_t(text.count))
            }
        }
        return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

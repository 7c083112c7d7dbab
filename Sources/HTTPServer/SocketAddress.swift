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
        return withUnsafeBytes(of: &copy) { raw in
            switch Int32(storage.ss_family) {
            case AF_INET: return text(AF_INET, bytes(of: raw.load(as: sockaddr_in.self).sin_addr))
            case AF_INET6: return text(AF_INET6, bytes(of: raw.load(as: sockaddr_in6.self).sin6_addr))
            default: return ""
            }
        }
    }

    /// The client a connection's handshake slots are counted under (`maxHandshakesPerAddress`): an
    /// IPv4 address; for IPv6 its /64 prefix (`2001:db8:1:2::/64`), because one host or site is
    /// routinely given a whole /64 and could otherwise take 2^64 shares; an IPv4-mapped IPv6
    /// address (`::ffff:192.0.2.1`) counts as its IPv4 address.
    static func shareKey(of storage: sockaddr_storage) -> String {
        guard Int32(storage.ss_family) == AF_INET6 else { return host(of: storage) }
        var copy = storage
        var address = withUnsafeBytes(of: &copy) { bytes(of: $0.load(as: sockaddr_in6.self).sin6_addr) }
        if address[0..<10].allSatisfy({ $0 == 0 }) && address[10] == 0xFF && address[11] == 0xFF {
            return text(AF_INET, Array(address[12..<16]))
        }
        for index in 8..<16 { address[index] = 0 }
        return text(AF_INET6, address) + "/64"
    }

    private static func bytes<T>(of address: T) -> [UInt8] { withUnsafeBytes(of: address) { Array($0) } }

    /// `inet_ntop` of an address's bytes in network order.
    private static func text(_ family: Int32, _ address: [UInt8]) -> String {
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        address.withUnsafeBytes { _ = inet_ntop(family, $0.baseAddress, &text, socklen_t(text.count)) }
        return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

import Foundation
@testable import HTTPServer
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The key a client's handshake slots are counted under (`maxHandshakesPerAddress`): one IPv6
/// /64 is one client, or a host given a /64 could take a share per address, 2^64 of them.
@Suite struct SocketAddressTests {
    static func storage(_ text: String) -> sockaddr_storage {
        var storage = sockaddr_storage()
        withUnsafeMutableBytes(of: &storage) { raw in
            if text.contains(":") {
                var address = sockaddr_in6()
                address.sin6_family = sa_family_t(AF_INET6)
                address.sin6_port = in_port_t(8443).bigEndian
                precondition(inet_pton(AF_INET6, text, &address.sin6_addr) == 1, text)
                raw.storeBytes(of: address, as: sockaddr_in6.self)
            } else {
                var address = sockaddr_in()
                address.sin_family = sa_family_t(AF_INET)
                precondition(inet_pton(AF_INET, text, &address.sin_addr) == 1, text)
                raw.storeBytes(of: address, as: sockaddr_in.self)
            }
        }
        return storage
    }

    @Test func oneIPv6SlashSixtyFourIsOneClient() {
        let key = SocketAddress.shareKey(of: Self.storage("2001:db8:1:2::1"))
        #expect(key == "2001:db8:1:2::/64")
        // An attacker rotating through its /64 stays one client.
        for other in ["2001:db8:1:2::2", "2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2:1234:5678:9abc:def0"] {
            #expect(SocketAddress.shareKey(of: Self.storage(other)) == key, "\(other)")
        }
        // Another /64 is another client.
        #expect(SocketAddress.shareKey(of: Self.storage("2001:db8:1:3::1")) == "2001:db8:1:3::/64")
        #expect(SocketAddress.shareKey(of: Self.storage("::1")) == "::/64")
    }

    @Test func ipv4AndMappedIPv4AreTheirAddress() {
        #expect(SocketAddress.shareKey(of: Self.storage("192.0.2.7")) == "192.0.2.7")
        #expect(SocketAddress.shareKey(of: Self.storage("192.0.2.8")) == "192.0.2.8")
        #expect(SocketAddress.shareKey(of: Self.storage("::ffff:192.0.2.7")) == "192.0.2.7")
        // Logs keep the whole address.
        #expect(SocketAddress.host(of: Self.storage("2001:db8:1:2::1")) == "2001:db8:1:2::1")
        #expect(SocketAddress.describe(Self.storage("2001:db8:1:2::1")) == "[2001:db8:1:2::1]:8443")
    }
}

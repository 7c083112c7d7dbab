/// HMAC-SHA-256 (RFC 2104) over the module's `SHA256`: a keyed MAC for small
/// authenticated files (e.g. a journal's head anchor), where AES-GCM's random
/// nonce would make equal contents differ.
public enum HMACSHA256 {
    /// The block size of SHA-256, which HMAC pads the key to.
    static let blockSize = 64

    /// The 32-byte MAC of `message` under `key` (any length; longer than 64 bytes is hashed first).
    public static func authenticationCode(for message: [UInt8], key: [UInt8]) -> [UInt8] {
        var block = key.count > blockSize ? SHA256.hash(key) : key
        block += [UInt8](repeating: 0, count: blockSize - block.count)
        var inner = SHA256()
        inner.update(block.map { $0 ^ 0x36 })
        inner.update(message)
        let innerDigest = inner.finalize()
        var outer = SHA256()
        outer.update(block.map { $0 ^ 0x5c })
        outer.update(innerDigest)
        return outer.finalize()
    }

    /// Compares two MACs in time independent of where they differ.
    public static func isEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for i in 0..<a.count { difference |= a[i] ^ b[i] }
        return difference == 0
    }
}

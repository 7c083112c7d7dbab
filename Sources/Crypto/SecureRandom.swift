internal import COpenSSL

/// Cryptographically secure random bytes from OpenSSL's DRBG.
public enum SecureRandom {
    /// Returns `count` random bytes.
    /// - Precondition: OpenSSL's generator works; if it cannot be seeded the
    ///   process stops rather than hand out predictable nonces or serials.
    public static func bytes(_ count: Int) -> [UInt8] {
        guard count > 0 else { return [] }
        var out = [UInt8](repeating: 0, count: count)
        let ok = out.withUnsafeMutableBytes { RAND_bytes($0.baseAddress!.assumingMemoryBound(to: UInt8.self), Int32(count)) }
        precondition(ok == 1, "RAND_bytes failed: \(OpenSSLErrorQueue.drain())")
        return out
    }

    /// A random lower-case hex string of `byteCount` bytes, for opaque IDs.
    public static func hex(_ byteCount: Int) -> String {
        bytes(byteCount).hexString
    }
}

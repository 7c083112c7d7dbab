/// A 256-bit secret key for authenticated encryption.
///
/// The bytes never appear in `description`, so a key cannot leak into a log line.
public struct SymmetricKey: Sendable, CustomStringConvertible {
    /// Key length in bytes (AES-256).
    public static let byteCount = 32
    let bytes: [UInt8]

    /// Wraps existing key material.
    /// - Throws: `CryptoError.invalidKey` unless exactly 32 bytes are given.
    public init(bytes: [UInt8]) throws {
        guard bytes.count == Self.byteCount else {
            throw CryptoError(.invalidKey, "a symmetric key must be \(Self.byteCount) bytes, got \(bytes.count)")
        }
        self.bytes = bytes
    }

    /// A fresh random key.
    public static func generate() -> SymmetricKey {
        try! SymmetricKey(bytes: SecureRandom.bytes(byteCount))
    }

    /// The raw key, for writing the key file (mode 0600) only.
    public var rawBytes: [UInt8] { bytes }

    /// A short fingerprint (first 8 bytes of SHA-256) to tell keys apart in messages.
    public var fingerprint: String { Array(SHA256.hash(bytes).prefix(8)).hexString }

    public var description: String { "SymmetricKey(fingerprint: \(fingerprint))" }
}

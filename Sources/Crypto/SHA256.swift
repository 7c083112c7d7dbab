internal import COpenSSL

/// SHA-256 through OpenSSL's EVP interface.
public struct SHA256: ~Copyable {
    /// Length of a digest in bytes.
    public static let digestLength = 32

    private let context: OpaquePointer

    /// Starts an incremental hash.
    public init() {
        guard let ctx = EVP_MD_CTX_new() else { fatalError("EVP_MD_CTX_new: out of memory") }
        precondition(EVP_DigestInit_ex(ctx, EVP_sha256(), nil) == 1, "EVP_DigestInit_ex(sha256) failed")
        context = ctx
    }

    deinit { EVP_MD_CTX_free(context) }

    /// Adds bytes to the hash.
    public mutating func update(_ bytes: some ContiguousBytesLike) {
        bytes.withBytes { buffer in
            guard let base = buffer.baseAddress, buffer.count > 0 else { return }
            precondition(EVP_DigestUpdate(context, base, buffer.count) == 1, "EVP_DigestUpdate failed")
        }
    }

    /// Finishes the hash and returns the 32-byte digest.
    public consuming func finalize() -> [UInt8] {
        var out = [UInt8](repeating: 0, count: Self.digestLength)
        var length: UInt32 = 0
        out.withUnsafeMutableBufferPointer { buffer in
            precondition(EVP_DigestFinal_ex(context, buffer.baseAddress, &length) == 1, "EVP_DigestFinal_ex failed")
        }
        precondition(length == UInt32(Self.digestLength))
        return out
    }

    /// One-shot digest of `bytes`.
    public static func hash(_ bytes: some ContiguousBytesLike) -> [UInt8] {
        var hasher = SHA256()
        hasher.update(bytes)
        return hasher.finalize()
    }
}

/// Byte containers that can lend a contiguous read-only buffer.
public protocol ContiguousBytesLike {
    func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R
}

extension Array: ContiguousBytesLike where Element == UInt8 {
    public func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try withUnsafeBytes(body)
    }
}

extension ArraySlice: ContiguousBytesLike where Element == UInt8 {
    public func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try withUnsafeBytes(body)
    }
}

extension String: ContiguousBytesLike {
    public func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        var copy = self
        return try copy.withUTF8 { try body(UnsafeRawBufferPointer($0)) }
    }
}

internal import COpenSSL
internal import CShims

/// Helpers for the temporary memory BIOs used to move PEM and DER in and out of OpenSSL.
enum MemoryBIO {
    /// Runs `body` with a read-only BIO over `bytes`; the BIO is freed afterwards.
    static func reading<R>(_ bytes: [UInt8], _ body: (OpaquePointer) throws -> R) rethrows -> R {
        try bytes.withUnsafeBytes { raw in
            guard let bio = BIO_new_mem_buf(raw.baseAddress, Int32(raw.count)) else { fatalError("BIO_new_mem_buf: out of memory") }
            defer { BIO_free(bio) }
            return try body(bio)
        }
    }

    /// Runs `body` with an empty writable BIO and returns everything written to it.
    static func writing(_ body: (OpaquePointer) throws -> Void) rethrows -> [UInt8] {
        guard let bio = BIO_new(BIO_s_mem()) else { fatalError("BIO_new: out of memory") }
        defer { BIO_free(bio) }
        try body(bio)
        var data: UnsafeMutablePointer<CChar>? = nil
        let length = shim_BIO_get_mem_data(bio, &data)
        guard length > 0, let data else { return [] }
        return Array(UnsafeRawBufferPointer(start: data, count: Int(length)))
    }
}

internal import COpenSSL
internal import Crypto
internal import CShims
import Foundation

/// One TLS connection driven entirely through memory BIOs: ciphertext in with
/// `receive`, ciphertext out with `drainOutput`, plaintext through `read`/`write`.
/// It never touches a socket, so tests can join a client and a server in memory.
///
/// Not Sendable: a session belongs to its connection's serial queue.
public final class TLSSession {
    /// What a read produced.
    public enum ReadResult: Equatable {
        /// `count` plaintext bytes were appended.
        case bytes(Int)
        /// More ciphertext is needed.
        case wantRead
        /// The peer sent close_notify.
        case closed
    }

    public let context: TLSContext
    let ssl: OpaquePointer
    /// Network → OpenSSL. Owned by `ssl` after `SSL_set_bio`.
    private var inbound: OpaquePointer
    /// OpenSSL → network. Owned by `ssl`.
    private var outbound: OpaquePointer
    /// Default plaintext read size.
    public static let readChunk = 16 * 1024

    /// A new session in the context's role.
    /// - Throws: `TLSError` if OpenSSL cannot allocate or the server name cannot be set.
    public init(context: TLSContext) throws {
        OpenSSLErrorQueue.clear()
        guard let ssl = SSL_new(context.pointer) else { throw TLSError.drain(.openSSL, "SSL_new failed") }
        let (inbound, outbound) = Self.memoryBIOs()
        SSL_set_bio(ssl, inbound, outbound)
        self.ssl = ssl
        self.inbound = inbound
        self.outbound = outbound
        self.context = context
        switch context.configuration.role {
        case .server:
            SSL_set_accept_state(ssl)
        case .client:
            SSL_set_connect_state(ssl)
            if let name = context.configuration.serverName {
                let isIP = name.contains(":") || name.allSatisfy { $0.isNumber || $0 == "." }
                let ok: Int32
                if isIP {
                    ok = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name)
                } else {
                    ok = SSL_set1_host(ssl, name) & shim_SSL_set_tlsext_host_name(ssl, name)
                }
                guard ok == 1 else { throw TLSError.drain(.invalidArgument, "cannot verify server name \(name)") }
            }
        }
    }

    deinit { SSL_free(ssl) }

    private static func memoryBIOs() -> (OpaquePointer, OpaquePointer) {
        guard let inbound = BIO_new(BIO_s_mem()), let outbound = BIO_new(BIO_s_mem()) else { fatalError("BIO_new: out of memory") }
        // An empty memory BIO means "wait for more", not end of stream.
        _ = shim_BIO_set_mem_eof_return(inbound, -1)
        _ = shim_BIO_set_mem_eof_return(outbound, -1)
        return (inbound, outbound)
    }

    /// Gives back the memory BIOs' buffers, if both are empty: a memory BIO keeps the capacity
    /// of the most it ever held (the handshake's flights, the largest response), about 3 KiB a
    /// connection after the handshake, however long the connection then idles.
    /// - Returns: false, changing nothing, while either BIO holds bytes.
    @discardableResult
    public func releaseBuffers() -> Bool {
        guard BIO_ctrl_pending(inbound) == 0, BIO_ctrl_pending(outbound) == 0 else { return false }
        let (fresh, freshOut) = Self.memoryBIOs()
        SSL_set_bio(ssl, fresh, freshOut)  // frees the old pair
        inbound = fresh
        outbound = freshOut
        return true
    }

    /// Hands ciphertext from the network to OpenSSL.
    public func receive(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        let written = BIO_write(inbound, base, Int32(bytes.count))
        precondition(written == Int32(bytes.count), "memory BIO write failed")
    }

    /// Convenience for `receive(_:)` with an array.
    public func receive(_ bytes: [UInt8]) { bytes.withUnsafeBytes { receive($0) } }

    /// Whether OpenSSL has ciphertext waiting to go to the network.
    public var hasPendingOutput: Bool { BIO_ctrl_pending(outbound) > 0 }

    /// Appends every pending ciphertext byte to `buffer`.
    public func drainOutput(into buffer: inout [UInt8]) {
        let pending = Int(BIO_ctrl_pending(outbound))
        guard pending > 0 else { return }
        buffer.reserveCapacity(buffer.count + pending)
        withUnsafeTemporaryAllocation(byteCount: Self.readChunk, alignment: 1) { chunk in
            while true {
                let got = BIO_read(outbound, chunk.baseAddress, Int32(chunk.count))
                guard got > 0 else { return }
                buffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: chunk[..<Int(got)]))
            }
        }
    }

    /// Advances the handshake with the ciphertext received so far.
    /// - Returns: true once the handshake is complete.
    /// - Throws: `TLSError.handshakeFailed` with OpenSSL's reason and, for a
    ///   refused certificate, the verification error.
    public func handshake() throws -> Bool {
        OpenSSLErrorQueue.clear()
        let result = SSL_do_handshake(ssl)
        if result == 1 { return true }
        let error = SSL_get_error(ssl, result)
        if error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE { return false }
        throw failure(.handshakeFailed, "TLS handshake failed")
    }

    /// Whether the handshake has finished.
    public var isHandshakeComplete: Bool { SSL_is_init_finished(ssl) == 1 }

    /// Decrypts available plaintext, appending it to `buffer`.
    /// - Throws: `TLSError.protocolError` on a TLS alert or malformed record.
    public func read(into buffer: inout [UInt8], maxBytes: Int = readChunk) throws -> ReadResult {
        OpenSSLErrorQueue.clear()
        var got = 0
        let result = withUnsafeTemporaryAllocation(byteCount: maxBytes, alignment: 1) { chunk in
            let result = SSL_read_ex(ssl, chunk.baseAddress, chunk.count, &got)
            if result == 1 { buffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: chunk[..<got])) }
            return result
        }
        if result == 1 { return .bytes(got) }
        switch SSL_get_error(ssl, result) {
        case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE: return .wantRead
        case SSL_ERROR_ZERO_RETURN: return .closed
        default: throw failure(.protocolError, "TLS read failed")
        }
    }

    /// Encrypts `bytes`; the ciphertext is then available from `drainOutput`.
    /// Memory BIOs grow as needed, so every byte is consumed.
    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        OpenSSLErrorQueue.clear()
        var offset = 0
        while offset < bytes.count {
            var written = 0
            let result = SSL_write_ex(ssl, base + offset, bytes.count - offset, &written)
            guard result == 1 else { throw failure(.protocolError, "TLS write failed") }
            offset += written
        }
    }

    /// Convenience for `write(_:)` with an array.
    public func write(_ bytes: [UInt8]) throws { try bytes.withUnsafeBytes { try write($0) } }

    /// Queues a close_notify alert (drain the output afterwards).
    public func shutdown() {
        OpenSSLErrorQueue.clear()
        if isHandshakeComplete { _ = SSL_shutdown(ssl) }
        OpenSSLErrorQueue.clear()
    }

    /// The verified peer certificate, once the handshake is complete.
    public var peerCertificate: PeerCertificate? {
        guard let cert = SSL_get0_peer_certificate(ssl) else { return nil }
        return PeerCertificate(Certificate(retaining: cert))
    }

    /// The negotiated protocol, e.g. `TLSv1.3`.
    public var protocolVersion: String { String(cString: SSL_get_version(ssl)) }

    /// The negotiated cipher suite name.
    public var cipherSuite: String {
        guard let cipher = SSL_get_current_cipher(ssl) else { return "" }
        return String(cString: SSL_CIPHER_get_name(cipher))
    }

    private func failure(_ code: TLSError.Code, _ message: String) -> TLSError {
        var reasons = OpenSSLErrorQueue.drain()
        let verify = SSL_get_verify_result(ssl)
        if verify != X509_V_OK {
            reasons.append("certificate verification: \(String(cString: X509_verify_cert_error_string(verify)))")
        }
        if reasons.isEmpty { reasons.append("connection closed by peer or protocol error") }
        return TLSError(code, message, openSSLReasons: reasons)
    }
}

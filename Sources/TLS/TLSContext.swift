internal import COpenSSL
internal import Crypto
internal import CShims
import Foundation

/// A configured OpenSSL `SSL_CTX`, shared by every connection of one server or client.
///
/// Immutable once built (OpenSSL only reads the context during handshakes),
/// so it is `@unchecked Sendable`.
public final class TLSContext: @unchecked Sendable {
    let pointer: OpaquePointer
    public let configuration: TLSConfiguration
    /// Lent to OpenSSL as the context's app data; lives as long as the context.
    private let hooks: VerificationHooks

    /// Builds the context.
    /// - Throws: `TLSError` with OpenSSL's reason when a certificate, key or setting is refused.
    public init(configuration: TLSConfiguration) throws {
        OpenSSLErrorQueue.clear()
        let method = configuration.role == .server ? TLS_server_method() : TLS_client_method()
        guard let ctx = SSL_CTX_new(method) else { throw TLSError.drain(.openSSL, "SSL_CTX_new failed") }
        pointer = ctx
        self.configuration = configuration
        hooks = VerificationHooks(role: configuration.role, verifier: configuration.peerVerifier)
        try configure()
    }

    deinit { SSL_CTX_free(pointer) }

    private func configure() throws {
        let config = configuration
        let minimum = config.minimumVersion == .tls13 ? TLS1_3_VERSION : TLS1_2_VERSION
        guard shim_SSL_CTX_set_min_proto_version(pointer, minimum) == 1,
              shim_SSL_CTX_set_max_proto_version(pointer, TLS1_3_VERSION) == 1
        else { throw TLSError.drain(.openSSL, "cannot set the protocol versions") }
        // TLS 1.2 (only when configured): forward-secret AEAD suites only.
        guard SSL_CTX_set_cipher_list(pointer, "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-CHACHA20-POLY1305") == 1,
              SSL_CTX_set_ciphersuites(pointer, "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256") == 1,
              shim_SSL_CTX_set1_groups_list(pointer, "X25519:P-256:P-384") == 1
        else { throw TLSError.drain(.openSSL, "cannot set the cipher suites") }
        _ = SSL_CTX_set_options(pointer, shim_SSL_OP_NO_COMPRESSION() | shim_SSL_OP_NO_RENEGOTIATION() | shim_SSL_OP_CIPHER_SERVER_PREFERENCE() | shim_SSL_OP_NO_TICKET())
        // Partial writes and a moving write buffer suit the memory-BIO session. No automatic
        // chain: OpenSSL would otherwise build (and verify) our own certificate's chain from the
        // trust store in every handshake, to send the CA's certificate, which every peer already
        // holds as its trust anchor.
        _ = shim_SSL_CTX_set_mode(pointer, Int(SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER
                                              | SSL_MODE_RELEASE_BUFFERS | SSL_MODE_NO_AUTO_CHAIN))

        if config.role == .server {
            // No resumption: every connection proves its certificate in a full
            // handshake, so revocation and registry checks cannot be skipped.
            _ = shim_SSL_CTX_set_session_cache_mode(pointer, Int(SSL_SESS_CACHE_OFF))
            _ = SSL_CTX_set_num_tickets(pointer, 0)
        }

        if let certificate = config.certificate, let key = config.privateKey {
            guard SSL_CTX_use_certificate(pointer, certificate.pointer) == 1 else {
                throw TLSError.drain(.invalidCertificate, "certificate \(certificate.serial) refused")
            }
            guard SSL_CTX_use_PrivateKey(pointer, key.pointer) == 1, SSL_CTX_check_private_key(pointer) == 1 else {
                throw TLSError.drain(.invalidKey, "the private key does not match certificate \(certificate.serial)")
            }
        }

        guard let store = SSL_CTX_get_cert_store(pointer) else { throw TLSError.drain(.openSSL, "no certificate store") }
        for root in config.trustRoots {
            guard X509_STORE_add_cert(store, root.pointer) == 1 else {
                throw TLSError.drain(.invalidCertificate, "cannot trust certificate \(root.serial)")
            }
        }

        SSL_CTX_set_ex_data(pointer, 0, Unmanaged.passUnretained(hooks).toOpaque())
        switch config.role {
        case .server:
            let mode = config.requireClientCertificate ? SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT : SSL_VERIFY_NONE
            SSL_CTX_set_verify(pointer, mode, config.requireClientCertificate ? verifyCallback : nil)
            if config.requireClientCertificate, let ca = config.trustRoots.first {
                // Tell clients which CA we accept (CertificateRequest's certificate_authorities).
                guard let names = OPENSSL_sk_new_null() else { fatalError("out of memory") }
                if let dup = X509_NAME_dup(X509_get_subject_name(ca.pointer)) { _ = OPENSSL_sk_push(names, UnsafeRawPointer(dup)) }
                SSL_CTX_set_client_CA_list(pointer, names)
            }
        case .client:
            SSL_CTX_set_verify(pointer, SSL_VERIFY_PEER, verifyCallback)
        }
        OpenSSLErrorQueue.clear()
    }

    /// Per-context verification policy, reached from OpenSSL's C callback.
    final class VerificationHooks {
        let role: TLSConfiguration.Role
        let verifier: (@Sendable (PeerCertificate) -> PeerRefusal?)?
        init(role: TLSConfiguration.Role, verifier: (@Sendable (PeerCertificate) -> PeerRefusal?)?) {
            self.role = role
            self.verifier = verifier
        }

        /// Extra checks on the leaf after OpenSSL's chain verification succeeded.
        func check(leaf: Certificate, store: OpaquePointer) -> Bool {
            guard role == .server else { return true }
            // OpenSSL accepts a leaf without any EKU for any purpose; we require clientAuth explicitly.
            guard leaf.allowsClientAuth else {
                X509_STORE_CTX_set_error(store, X509_V_ERR_INVALID_PURPOSE)
                return false
            }
            if let verifier, let refusal = verifier(PeerCertificate(leaf)) {
                X509_STORE_CTX_set_error(store, refusal == .revoked ? X509_V_ERR_CERT_REVOKED : X509_V_ERR_CERT_REJECTED)
                return false
            }
            return true
        }
    }
}

/// OpenSSL's verify callback: chain errors stand; at the leaf, our own policy runs.
private let verifyCallback: @convention(c) (Int32, OpaquePointer?) -> Int32 = { preverifyOK, store in
    guard preverifyOK == 1, let store else { return 0 }
    guard X509_STORE_CTX_get_error_depth(store) == 0 else { return 1 }
    guard let sslRaw = X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()),
          let ctx = SSL_get_SSL_CTX(OpaquePointer(sslRaw)),
          let hooksRaw = SSL_CTX_get_ex_data(ctx, 0),
          let leafPointer = X509_STORE_CTX_get_current_cert(store)
    else { return 0 }
    let hooks = Unmanaged<TLSContext.VerificationHooks>.fromOpaque(hooksRaw).takeUnretainedValue()
    return hooks.check(leaf: Certificate(retaining: leafPointer), store: store) ? 1 : 0
}

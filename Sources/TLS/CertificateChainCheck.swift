internal import COpenSSL
internal import Crypto
import Foundation

extension Certificate {
    /// Why this certificate does not verify against `trustRoots` at `time`, in
    /// OpenSSL's words (`certificate has expired`, `unable to get local issuer
    /// certificate`, …), or nil when the chain verifies.
    ///
    /// Used by `marac doctor` to tell a user, before any network traffic, that
    /// their certificate was not issued by the CA they configured, or has
    /// expired by their own clock.
    public func chainProblem(trustRoots: [Certificate], at time: Date = Date()) -> String? {
        OpenSSLErrorQueue.clear()
        defer { OpenSSLErrorQueue.clear() }
        guard let store = X509_STORE_new() else { fatalError("X509_STORE_new: out of memory") }
        defer { X509_STORE_free(store) }
        for root in trustRoots where X509_STORE_add_cert(store, root.pointer) != 1 {
            return "cannot use CA certificate \(root.serial)"
        }
        guard let context = X509_STORE_CTX_new() else { fatalError("X509_STORE_CTX_new: out of memory") }
        defer { X509_STORE_CTX_free(context) }
        guard X509_STORE_CTX_init(context, store, pointer, nil) == 1 else { return "cannot set up verification" }
        X509_STORE_CTX_set_time(context, 0, time_t(time.timeIntervalSince1970))
        if X509_verify_cert(context) == 1 { return nil }
        return String(cString: X509_verify_cert_error_string(Int(X509_STORE_CTX_get_error(context))))
    }
}

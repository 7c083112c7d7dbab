import Foundation
import TLS
import Wire

/// Turns a connection or TLS failure into the likely cause and what to do
/// about it, from OpenSSL's reason text (the alert the broker sent, or why we
/// refused the broker's certificate) and a look at the user's own certificate.
/// A SPOC who sees "sslv3 alert certificate revoked" should read "your
/// certificate was revoked: ask an administrator for a new one".
public enum FailureDiagnosis {
    /// The likely cause of `error`, or nil when there is nothing more useful to say than its message.
    /// - Parameters:
    ///   - certificate: the user's certificate, if it could be read.
    ///   - trustRoots: the CA certificates the user configured.
    ///   - url: the broker URL, for connection failures.
    public static func likelyCause(of error: ClientError, certificate: Certificate?, trustRoots: [Certificate],
                                   url: String, now: Date = Date()) -> String? {
        let text = error.message.lowercased()
        let expiry = certificate.map { RFC3339.format($0.notAfter) } ?? "?"
        let serial = certificate?.serial ?? "?"
        switch error.kind {
        case .connection:
            if text.contains("connection refused") {
                return "nothing is listening at \(url): is maracd running, and is the URL (--url, MARAC_URL) right?"
            }
            if text.contains("resolve") { return "the broker's host name in \(url) does not resolve: check --url / MARAC_URL" }
            if text.contains("timed out") { return "the broker at \(url) did not answer in time: a firewall, a wrong port, or a stuck broker" }
            if text.contains("closed the connection") {
                return "the broker closed the connection: it may be restarting, or it dropped a request it considered too slow or too large"
            }
            return nil
        case .tls:
            if text.contains("does not match") {
                return "the key file is not the private key of the certificate file: use the key generated together with this certificate"
            }
            if text.contains("certificate revoked") {
                return "the broker says your certificate (serial \(serial)) was revoked: ask an administrator for a new one (marac cert request)"
            }
            if text.contains("alert certificate expired") {
                if let certificate, certificate.notAfter < now {
                    return "your certificate (serial \(serial)) expired at \(expiry): ask an administrator for a new one (marac cert request)"
                }
                return "the broker considers your certificate expired, but by this machine's clock it is valid until \(expiry): one of the two clocks is wrong (clock skew)"
            }
            if text.contains("unknown ca") {
                return "the broker does not trust the CA that issued your certificate (issuer \(certificate?.issuer ?? "?")): use a certificate issued by this broker"
            }
            if text.contains("certificate required") {
                return "the broker requires a client certificate and none was sent: set --cert and --key (or MARAC_CERT, MARAC_KEY)"
            }
            if text.contains("bad certificate") || text.contains("certificate unknown") || text.contains("access denied") {
                if let certificate, certificate.notAfter < now {
                    return "your certificate (serial \(serial)) expired at \(expiry): ask an administrator for a new one (marac cert request)"
                }
                if let certificate, let problem = certificate.chainProblem(trustRoots: trustRoots, at: now) {
                    return "your certificate does not verify against the CA file (\(problem)): it was issued by another CA"
                }
                return "the broker refused your certificate (serial \(serial)): it is not registered, or it was revoked, or your principal or agency is disabled"
            }
            if text.contains("unsupported certificate") {
                return "your certificate is not a TLS client certificate (no extendedKeyUsage clientAuth): ask for one issued by marac cert request"
            }
            if text.contains("not yet valid") {
                return "the broker's certificate is not valid yet by this machine's clock: this machine's clock is probably behind (clock skew)"
            }
            if text.contains("has expired") {
                return "the broker's certificate has expired by this machine's clock: either the broker's certificate needs renewing or this machine's clock is ahead (clock skew)"
            }
            if text.contains("hostname mismatch") || text.contains("ip address mismatch") {
                return "the broker's certificate does not name the host in \(url): connect with the name or address the certificate was issued for"
            }
            if text.contains("local issuer") || text.contains("self-signed") || text.contains("self signed") || text.contains("certificate verification") {
                return "the broker's certificate was not issued by the CA in your CA file: wrong CA file for this broker (--ca, MARAC_CA), or wrong --url"
            }
            if text.contains("wrong version number") || text.contains("packet length") || text.contains("record layer failure") {
                return "the server at \(url) does not speak TLS on that port: check the URL and port"
            }
            if text.contains("protocol version") {
                return "the broker and this client share no TLS version (the broker requires TLS 1.3)"
            }
            if let certificate, certificate.notAfter < now {
                return "your certificate (serial \(serial)) expired at \(expiry): ask an administrator for a new one (marac cert request)"
            }
            return nil
        case .refused(_, let text):
            let code = ErrorCode(rawValue: text)
            switch code {
            case .credentialRevoked:
                return "your certificate (serial \(serial)) was revoked: ask an administrator for a new one (marac cert request)"
            case .credentialNotApproved:
                return "a coordinator has not yet approved your certificate (serial \(serial)): ask one to run marac cert approve \(serial)"
            case .principalDisabled, .agencyInactive:
                return "an administrator disabled your \(code == .agencyInactive ? "agency" : "principal"): ask them to enable it"
            default:
                // Every other registered code says what it means (the registry the broker answers from).
                return code.meaning.map { "\(text): \($0)" }
            }
        case .protocolViolation:
            return "the server at \(url) did not answer like a marac broker: check the URL"
        }
    }
}

import Synchronization

/// Refused TLS handshakes counted by a small, fixed set of reasons, for an operator's metrics.
///
/// The reason is read from OpenSSL's error text (the verify result first), never from anything
/// the client chose, so the set of reasons — and the number of series a scraper keeps — is bounded.
public final class HandshakeFailureCounter: Sendable {
    /// Every reason `record` can count under, in a stable order.
    public static let reasons = ["no_certificate", "certificate_expired", "certificate_revoked", "certificate_refused",
                                 "unknown_ca", "wrong_purpose", "protocol_version", "not_tls", "closed", "other"]

    private let counts = Mutex<[String: UInt64]>([:])

    /// An empty counter.
    public init() {}

    /// Counts one refused handshake under the reason its error names.
    public func record(_ error: any Error) {
        let reason = Self.reason(of: "\(error)")
        counts.withLock { $0[reason, default: 0] += 1 }
    }

    /// Refusals so far, by reason; every reason is present (zero when none).
    public var snapshot: [(reason: String, count: UInt64)] {
        let counts = self.counts.withLock { $0 }
        return Self.reasons.map { ($0, counts[$0] ?? 0) }
    }

    /// The reason one handshake error's text names (the certificate verification's own words first).
    static func reason(of text: String) -> String {
        let text = text.lowercased()
        let rules: [(needles: [String], reason: String)] = [
            (["certificate has expired", "certificate is not yet valid"], "certificate_expired"),
            (["certificate revoked"], "certificate_revoked"),
            (["certificate rejected"], "certificate_refused"),
            (["unable to get local issuer", "self-signed certificate", "self signed certificate", "unable to get issuer", "unknown ca",
              "certificate signature failure"], "unknown_ca"),
            (["unsupported certificate purpose"], "wrong_purpose"),
            (["peer did not return a certificate", "certificate required"], "no_certificate"),
            (["unsupported protocol", "no protocols available", "version too low", "wrong version number", "no shared cipher"], "protocol_version"),
            (["http request", "packet length too long", "record layer failure"], "not_tls"),
            (["connection closed by peer", "unexpected eof"], "closed"),
        ]
        return rules.first { rule in rule.needles.contains { text.contains($0) } }?.reason ?? "other"
    }
}

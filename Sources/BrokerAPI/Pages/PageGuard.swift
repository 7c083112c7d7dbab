import Crypto
import HTTPServer

/// What every page answer carries, and the cross-site request checks on every form post.
///
/// Cross-site requests are refused twice over: the `Origin` header (or, where a browser sends
/// none, `Sec-Fetch-Site`) must name this very origin, and the form must carry a token that is
/// an HMAC of the caller's certificate serial under a key made at start — so a token taken from
/// one credential's page is worthless with another's, and a page from before a restart must be
/// reloaded. Changes are made only by `POST`.
struct PageGuard: Sendable {
    private let key: [UInt8]

    /// A fresh token key (tokens from an earlier process no longer verify).
    init() { key = SecureRandom.bytes(32) }

    /// Headers on every page: a strict CSP (no script at all, styles and forms from this origin
    /// only, never framed), no MIME sniffing, no referrer, never cached.
    static let headers: [(String, String)] = [
        ("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"),
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "no-referrer"),
        ("Cache-Control", "no-store"),
        ("X-Frame-Options", "DENY"),
        ("Cross-Origin-Opener-Policy", "same-origin"),
        ("Cross-Origin-Resource-Policy", "same-origin"),
    ]

    /// The form token for the credential `serial`.
    func token(for serial: String) -> String {
        HMACSHA256.authenticationCode(for: Array("marac-page-form-v1\n\(serial)".utf8), key: key).hexString
    }

    /// Why a form post must be refused, or nil: a foreign or missing origin, or a wrong token.
    func refusal(of request: APIRequest, form: [String: String]) -> String? {
        let http = request.http
        guard let host = http.headers["Host"] else { return "the request names no Host" }
        // Under `Referrer-Policy: no-referrer` Chromium sends `Origin: null` even for a same-origin
        // post; `Sec-Fetch-Site` (which a page cannot set) then says where the form came from.
        if let origin = http.headers["Origin"], origin != "null" {
            guard origin == "https://\(host)" else { return "the form was posted from another site (Origin \(origin.prefix(100)))" }
        } else {
            let site = http.headers["Sec-Fetch-Site"]
            guard site == "same-origin" else { return "the form was posted from another site (Sec-Fetch-Site \(site?.prefix(40) ?? "absent"))" }
        }
        guard let sent = form["csrf"], HMACSHA256.isEqual(Array(sent.utf8), Array(token(for: request.serial).utf8)) else {
            return "the form's token is missing or belongs to another credential or an earlier start of the broker; reload the page"
        }
        return nil
    }

    /// Parses an `application/x-www-form-urlencoded` body: the last value of a name wins.
    /// - Returns: nil when the body is not a form or not valid UTF-8 once decoded.
    static func form(_ request: APIRequest) -> [String: String]? {
        let type = request.http.headers["Content-Type"]?.lowercased() ?? ""
        guard type.hasPrefix("application/x-www-form-urlencoded") else { return nil }
        var fields: [String: String] = [:]
        for pair in request.http.body.split(separator: UInt8(ascii: "&"), omittingEmptySubsequences: true) {
            let parts = pair.split(separator: UInt8(ascii: "="), maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = PercentDecoding.decode(parts[0], plusAsSpace: true),
                  let value = PercentDecoding.decode(parts.count > 1 ? parts[1] : [], plusAsSpace: true) else { return nil }
            fields[name] = value
        }
        return fields
    }
}

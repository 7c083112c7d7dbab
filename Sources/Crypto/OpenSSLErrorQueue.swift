internal import COpenSSL

/// OpenSSL's per-thread error queue.
///
/// `package` so that TLS, the other module that calls OpenSSL, shares this one
/// rather than keeping a copy; it is not part of Crypto's public interface.
package enum OpenSSLErrorQueue {
    /// Empties the queue before a call so that stale errors are not blamed on it.
    package static func clear() { ERR_clear_error() }

    /// Empties the queue and returns each entry's reason text, oldest first.
    package static func drain() -> [String] {
        var reasons: [String] = []
        while true {
            let code = ERR_get_error()
            if code == 0 { break }
            var buffer = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &buffer, buffer.count)
            reasons.append(String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        return reasons
    }
}

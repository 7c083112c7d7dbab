import Foundation

/// One JSON object per line on stderr (SPEC §8). Never pass request or response bodies.
public struct Logger: Sendable {
    /// Where lines go; tests may capture them.
    let sink: @Sendable (String) -> Void

    /// A logger writing to standard error.
    public static let standardError = Logger { line in
        // One write(2) per line, so concurrent lines never interleave.
        var bytes = Array(line.utf8)
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeMutableBytes { write(STDERR_FILENO, $0.baseAddress! + offset, $0.count - offset) }
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else { return }
            offset += written
        }
    }

    /// A logger that drops everything.
    public static let silent = Logger { _ in }

    public init(sink: @escaping @Sendable (String) -> Void) { self.sink = sink }

    /// Logs `event` with string/number/bool fields.
    public func log(_ event: String, _ fields: [String: any Sendable] = [:]) {
        var object: [String: Any] = ["event": event, "time": Self.timestamp()]
        for (key, value) in fields { object[key] = value }
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]) else { return }
        sink(String(decoding: data, as: UTF8.self) + "\n")
    }

    private static func timestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var parts = tm()
        var seconds = now.tv_sec
        gmtime_r(&seconds, &parts)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday,
                      parts.tm_hour, parts.tm_min, parts.tm_sec, now.tv_nsec / 1_000_000)
    }
}

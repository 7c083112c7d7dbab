import Foundation

import POSIX

/// One JSON object per line on stderr (SPEC §8). Never pass request or response bodies.
///
/// Access-log lines (`request`) are buffered and written at most 20 ms later
/// (or at 32 KiB), so a busy broker does not make a system call per request;
/// every other event is written at once, with whatever was buffered before it.
public struct Logger: Sendable {
    /// Where lines go; tests may capture them.
    let sink: @Sendable (String) -> Void
    private let flusher: @Sendable () -> Void

    /// A logger writing to standard error.
    public static let standardError: Logger = {
        let output = BufferedOutput(fileDescriptor: STDERR_FILENO)
        return Logger(sink: output.append, flush: output.flush)
    }()

    /// A logger that drops everything.
    public static let silent = Logger { _ in }

    /// A logger handing each line to `sink`; `flush` writes out whatever `sink` buffers.
    public init(sink: @escaping @Sendable (String) -> Void, flush: @escaping @Sendable () -> Void = {}) {
        self.sink = sink
        flusher = flush
    }

    /// Writes out buffered lines (before exit).
    public func flush() { flusher() }

    /// Logs `event` with string/number/bool fields: `event` and `time` first,
    /// then the fields in key order. Written by hand (no `JSONSerialization`),
    /// because a line is logged for every request.
    public func log(_ event: String, _ fields: [String: any Sendable] = [:]) {
        var out: [UInt8] = []
        out.reserveCapacity(160 + fields.count * 24)
        out.append(contentsOf: #"{"event":"#.utf8)
        JSONString.appendQuoted(event, to: &out)
        out.append(contentsOf: #","time":""#.utf8)
        Self.appendTimestamp(to: &out)
        out.append(UInt8(ascii: "\""))
        for (key, value) in fields.sorted(by: { $0.key < $1.key }) where key != "event" && key != "time" {
            out.append(UInt8(ascii: ","))
            JSONString.appendQuoted(key, to: &out)
            out.append(UInt8(ascii: ":"))
            Self.appendValue(value, to: &out)
        }
        out.append(contentsOf: "}\n".utf8)
        sink(String(decoding: out, as: UTF8.self))
        if event != "request" { flusher() }
    }

    /// The access-log line, the same bytes as `log("request", [...])` with these
    /// fields, written without boxing them into a dictionary: it runs for every request.
    public func logRequest(method: String, path: String, status: Int, durationMilliseconds: Double, serial: String, principal: String) {
        var out: [UInt8] = []
        out.reserveCapacity(224 + path.utf8.count)
        out.append(contentsOf: #"{"event":"request","time":""#.utf8)
        Self.appendTimestamp(to: &out)
        out.append(contentsOf: #"","duration_ms":"#.utf8)
        Self.appendDuration(durationMilliseconds, to: &out)
        out.append(contentsOf: #","method":"#.utf8)
        JSONString.appendQuoted(method, to: &out)
        out.append(contentsOf: #","path":"#.utf8)
        JSONString.appendQuoted(path, to: &out)
        out.append(contentsOf: #","principal":"#.utf8)
        JSONString.appendQuoted(principal, to: &out)
        out.append(contentsOf: #","serial":"#.utf8)
        JSONString.appendQuoted(serial, to: &out)
        out.append(contentsOf: #","status":"#.utf8)
        out.appendDecimal(status)
        out.append(contentsOf: "}\n".utf8)
        sink(String(decoding: out, as: UTF8.self))
    }

    private static func appendValue(_ value: any Sendable, to out: inout [UInt8]) {
        switch value {
        case let string as String: JSONString.appendQuoted(string, to: &out)
        case let integer as Int: out.appendDecimal(integer)
        case let double as Double: out.append(contentsOf: (double.isFinite ? String(double) : "null").utf8)
        case let bool as Bool: out.append(contentsOf: (bool ? "true" : "false").utf8)
        case let integer as any BinaryInteger: out.append(contentsOf: String(describing: integer).utf8)
        case let strings as [String]:
            out.append(UInt8(ascii: "["))
            for (index, string) in strings.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                JSONString.appendQuoted(string, to: &out)
            }
            out.append(UInt8(ascii: "]"))
        default: JSONString.appendQuoted(String(describing: value), to: &out)
        }
    }

    /// What `String(milliseconds)` writes, without Swift's general `Double` formatting when the
    /// value is a whole number of microseconds (as the access log's durations are): that double
    /// is then the one nearest to the decimal, whose shortest form is the decimal itself.
    static func appendDuration(_ milliseconds: Double, to out: inout [UInt8]) {
        let microseconds = (milliseconds * 1000).rounded()
        guard milliseconds.isFinite, microseconds >= 0, microseconds < 1e12, microseconds / 1000 == milliseconds else {
            return appendValue(milliseconds, to: &out)
        }
        let whole = Int(microseconds)
        out.appendDecimal(whole / 1000)
        out.append(UInt8(ascii: "."))
        var fraction = whole % 1000
        if fraction == 0 { return out.append(UInt8(ascii: "0")) }
        var digits = 3
        while fraction % 10 == 0 {
            fraction /= 10
            digits -= 1
        }
        let start = out.count
        for _ in 0..<digits {
            out.append(UInt8(ascii: "0") + UInt8(fraction % 10))
            fraction /= 10
        }
        out[start...].reverse()
    }

    /// `YYYY-MM-DDTHH:MM:SS.mmmZ` (UTC, milliseconds truncated): the ``RFC3339`` log form, from
    /// the real-time clock without building a `Date`.
    private static func appendTimestamp(to out: inout [UInt8]) {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        RFC3339.append(unixSeconds: Int(now.tv_sec), milliseconds: Int(now.tv_nsec) / 1_000_000, to: &out)
    }
}

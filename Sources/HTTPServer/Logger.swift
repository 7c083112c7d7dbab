import Dispatch
import Foundation
import Synchronization

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
        Self.appendValue(durationMilliseconds, to: &out)
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

    /// `YYYY-MM-DDTHH:MM:SS.mmmZ` (UTC) without `String(format:)`.
    private static func appendTimestamp(to out: inout [UInt8]) {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var parts = tm()
        var seconds = now.tv_sec
        gmtime_r(&seconds, &parts)
        func digits(_ value: Int, _ width: Int) {
            var divisor = 1
            for _ in 1..<width { divisor *= 10 }
            var rest = value
            while divisor > 0 {
                out.append(UInt8(ascii: "0") + UInt8(rest / divisor % 10))
                rest %= divisor
                divisor /= 10
            }
        }
        digits(Int(parts.tm_year) + 1900, 4); out.append(UInt8(ascii: "-"))
        digits(Int(parts.tm_mon) + 1, 2); out.append(UInt8(ascii: "-"))
        digits(Int(parts.tm_mday), 2); out.append(UInt8(ascii: "T"))
        digits(Int(parts.tm_hour), 2); out.append(UInt8(ascii: ":"))
        digits(Int(parts.tm_min), 2); out.append(UInt8(ascii: ":"))
        digits(Int(parts.tm_sec), 2); out.append(UInt8(ascii: "."))
        digits(Int(now.tv_nsec) / 1_000_000, 3); out.append(UInt8(ascii: "Z"))
    }
}

/// Lines collected in memory and written to a file descriptor in one `write`
/// per batch; the lock is held while writing, so batches never reorder or interleave.
final class BufferedOutput: Sendable {
    private let fileDescriptor: Int32
    private let pending = Mutex<(bytes: [UInt8], flushScheduled: Bool)>(([], false))
    private let timerQueue = DispatchQueue(label: "marac.log.flush")
    static let delay = DispatchTimeInterval.milliseconds(20)
    static let batchSize = 32 * 1024

    init(fileDescriptor: Int32) { self.fileDescriptor = fileDescriptor }

    func append(_ line: String) {
        let schedule = pending.withLock { pending -> Bool in
            pending.bytes.append(contentsOf: line.utf8)
            if pending.bytes.count >= Self.batchSize {
                writeAll(pending.bytes)
                pending.bytes.removeAll(keepingCapacity: true)
                return false
            }
            defer { pending.flushScheduled = true }
            return !pending.flushScheduled
        }
        if schedule { timerQueue.asyncAfter(deadline: .now() + Self.delay) { [self] in flush() } }
    }

    func flush() {
        pending.withLock { pending in
            pending.flushScheduled = false
            guard !pending.bytes.isEmpty else { return }
            writeAll(pending.bytes)
            pending.bytes.removeAll(keepingCapacity: pending.bytes.capacity <= Self.batchSize * 2)
        }
    }

    private func writeAll(_ bytes: [UInt8]) {
        // A log that cannot be written has nowhere to report it: the batch is dropped.
        try? FileDescriptor.writeAll(bytes, to: fileDescriptor, context: "to the log")
    }
}

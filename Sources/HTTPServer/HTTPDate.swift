import Foundation
import Synchronization

/// The `Date` response header (RFC 9110 §6.6.1): IMF-fixdate, e.g.
/// `Sun, 06 Nov 1994 08:49:37 GMT`. Formatted at most once per second and
/// shared by every connection, since a response is written for every request.
public enum HTTPDate {
    private static let cache = Mutex<(second: Int, bytes: [UInt8])>((-1, []))

    /// `Date: <IMF-fixdate>\r\n` for the current second.
    public static func headerLine() -> [UInt8] {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let second = Int(now.tv_sec)
        return cache.withLock { cache in
            if cache.second != second { cache = (second, headerLine(unixSeconds: second)) }
            return cache.bytes
        }
    }

    /// `Date: <IMF-fixdate>\r\n` for a given Unix time.
    public static func headerLine(unixSeconds: Int) -> [UInt8] {
        Array("Date: \(format(unixSeconds: unixSeconds))\r\n".utf8)
    }

    /// IMF-fixdate for a Unix time, without locale or `DateFormatter`.
    public static func format(unixSeconds: Int) -> String {
        var seconds = time_t(unixSeconds)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(days[Int(parts.tm_wday)]), \(two(parts.tm_mday)) \(months[Int(parts.tm_mon)]) \(parts.tm_year + 1900) "
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) GMT"
    }
}

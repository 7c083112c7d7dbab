import Foundation
import Wire

/// How `marac` reads and shows times: deadlines in the user's local time and
/// in UTC side by side, countdowns a person can take in at a glance, and
/// input times with an offset or in local time.
public enum TimeText {
    /// `2027-01-13 10:00 UTC`.
    public static func utc(_ date: Date) -> String {
        format(date, "yyyy-MM-dd HH:mm 'UTC'", TimeZone(identifier: "UTC")!)
    }

    /// `Wed 13 Jan 2027 10:00 GMT` in `timeZone` (the machine's by default; `TZ` sets it).
    public static func local(_ date: Date, timeZone: TimeZone = .current) -> String {
        format(date, "EEE dd MMM yyyy HH:mm zzz", timeZone)
    }

    /// Time left until `deadline`: `5d 3h`, `3h 12m`, `12m`, `45s`; `overdue by 2h 5m` once passed.
    public static func countdown(to deadline: Date, from now: Date = Date()) -> String {
        let seconds = Int(deadline.timeIntervalSince(now).rounded(.down))
        return seconds >= 0 ? duration(seconds) : "overdue by \(duration(-seconds))"
    }

    /// A non-negative number of seconds in its two largest units.
    public static func duration(_ seconds: Int) -> String {
        let days = seconds / 86_400, hours = seconds % 86_400 / 3_600, minutes = seconds % 3_600 / 60
        if days > 0 { return "\(days)d \(hours)h" }
        if hours > 0 { return "\(hours)h \(minutes)m" }
        if minutes > 0 { return "\(minutes)m" }
        return "\(seconds)s"
    }

    /// Parses a time the user typed: RFC 3339 with an offset (`2027-01-14T10:00:00Z`,
    /// `2027-01-14T10:00+00:00`), or a wall-clock time without one
    /// (`2027-01-14T10:00`, `2027-01-14 10:00`), read in `timeZone`.
    public static func parse(_ text: String, timeZone: TimeZone = .current) -> Date? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if let date = RFC3339.parse(trimmed) { return date }
        let normalised = trimmed.replacingOccurrences(of: " ", with: "T")
        // Offset without seconds, e.g. 2027-01-14T10:00Z or +01:00.
        if let match = normalised.range(of: #"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(Z|[+-]\d{2}:\d{2})$"#, options: .regularExpression) {
            let value = String(normalised[match])
            let split = value.index(value.startIndex, offsetBy: 16)
            return RFC3339.parse(String(value[..<split]) + ":00" + value[split...])
        }
        for pattern in ["yyyy-MM-dd'T'HH:mm:ss", "yyyy-MM-dd'T'HH:mm"] {
            let formatter = DateFormatter()
            formatter.locale = Locale(identifier: "en_US_POSIX")
            formatter.timeZone = timeZone
            formatter.dateFormat = pattern
            if let date = formatter.date(from: normalised) { return date }
        }
        return nil
    }

    private static func format(_ date: Date, _ pattern: String, _ timeZone: TimeZone) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_GB")
        formatter.timeZone = timeZone
        formatter.dateFormat = pattern
        return formatter.string(from: date)
    }
}

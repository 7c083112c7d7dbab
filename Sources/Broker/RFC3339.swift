import Foundation

/// RFC 3339 UTC formatting (`2027-03-23T10:00:00Z`) for messages and the text
/// research pack, computed without a formatter so it is deterministic and
/// thread-safe. Fractional seconds are printed as milliseconds when present.
public enum RFC3339 {
    /// Formats `date` in UTC with a `Z` suffix.
    public static func string(from date: Date) -> String {
        let total = date.timeIntervalSince1970
        let seconds = total.rounded(.down)
        let millis = Int(((total - seconds) * 1000).rounded())
        let secs = Int64(seconds)
        let day = secs >= 0 ? secs / 86_400 : (secs - 86_399) / 86_400
        let secondOfDay = Int(secs - day * 86_400)
        let civil = CivilDate(dayNumber: Int(day))
        var text = "\(civil)T" + pad(secondOfDay / 3600) + ":" + pad(secondOfDay / 60 % 60) + ":" + pad(secondOfDay % 60)
        if millis > 0 && millis < 1000 {
            text += "." + String(String(millis + 1000).dropFirst())
        }
        return text + "Z"
    }

    private static func pad(_ value: Int) -> String {
        value < 10 ? "0\(value)" : "\(value)"
    }
}

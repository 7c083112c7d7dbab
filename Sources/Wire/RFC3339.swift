import Foundation

/// RFC 3339 date-times (`2027-03-23T10:00:00Z`): the one way the broker, the client and the
/// benchmarks write and read a time as text. Computed without Foundation formatters, so it does
/// not depend on locale, calendar or Foundation version and is safe on any thread.
///
/// The rule for fractions, decided once:
/// - **Output** is UTC with `Z` (SPEC: "UTC `Z` on output"), years 0000–9999 (RFC 3339 cannot
///   write others; dates beyond are clamped), and the seconds are truncated toward the past,
///   so a time is never written later than it is. The wire — JSON bodies, audit checkpoints,
///   request bodies the client sends — writes whole seconds (``Fraction/none``). Text a person
///   reads may add milliseconds: domain messages and the research pack when the time has
///   them (``Fraction/milliseconds``), log lines always. The seconds are the same in every
///   form, so a message never names a different second from the JSON beside it.
/// - **Input** takes any offset (`Z`, `+01:00`, `-05:30`; `z` and `t` too) and a fraction of
///   any length, kept to `Date`'s precision; whole-second text reads back exactly.
///
/// The journal does not store RFC 3339: its format writes dates as numbers
/// (``JSON/encodeStored(_:)``), so this rule cannot change what old journals decode to.
public enum RFC3339 {
    /// How much of a second ``format(_:fraction:)`` writes.
    public enum Fraction: Sendable {
        /// Whole seconds, truncated toward the past: the wire format.
        case none
        /// Whole seconds, then `.mmm` when the time's milliseconds (rounded to the nearest) are
        /// not zero: `2027-03-23T10:00:01.250Z`. The seconds are still truncated, never carried,
        /// so within half a millisecond of the next second nothing is added.
        case milliseconds
    }

    /// What a date must look like, for error messages.
    public static let expectation = "expected an RFC 3339 date-time such as 2027-03-23T10:00:00Z"

    /// Formats `date` in UTC with `Z`, in whole seconds unless `fraction` says otherwise.
    /// A NaN date is written as the Unix epoch.
    public static func format(_ date: Date, fraction: Fraction = .none) -> String {
        let interval = date.timeIntervalSince1970
        let clamped = interval.isNaN ? 0 : Swift.min(Swift.max(interval, earliest), latest)
        let seconds = clamped.rounded(.down)
        var milliseconds: Int?
        if fraction == .milliseconds {
            let rounded = Int(((clamped - seconds) * 1000).rounded())
            if rounded > 0 && rounded < 1000 { milliseconds = rounded }
        }
        var out: [UInt8] = []
        out.reserveCapacity(24)
        append(unixSeconds: Int(seconds), milliseconds: milliseconds, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends what `format(date)` returns (whole seconds), without building a `String`.
    static func append(_ date: Date, to out: inout [UInt8]) {
        let interval = date.timeIntervalSince1970
        let clamped = interval.isNaN ? 0 : Swift.min(Swift.max(interval, earliest), latest)
        append(unixSeconds: Int(clamped.rounded(.down)), milliseconds: nil, to: &out)
    }

    /// Appends `YYYY-MM-DDTHH:MM:SS[.mmm]Z` for a Unix time in whole seconds, with three
    /// digits of `milliseconds` (0…999) when given. Bytes, not a `String`: the logger writes
    /// one for every request.
    static func append(unixSeconds: Int, milliseconds: Int?, to out: inout [UInt8]) {
        var days = unixSeconds / 86_400
        var secondsOfDay = unixSeconds % 86_400
        if secondsOfDay < 0 {
            secondsOfDay += 86_400
            days -= 1
        }
        let date = CivilDate(dayNumber: days)
        appendPadded(date.year, width: 4, to: &out)
        out.append(UInt8(ascii: "-"))
        appendPadded(date.month, width: 2, to: &out)
        out.append(UInt8(ascii: "-"))
        appendPadded(date.day, width: 2, to: &out)
        out.append(UInt8(ascii: "T"))
        appendPadded(secondsOfDay / 3600, width: 2, to: &out)
        out.append(UInt8(ascii: ":"))
        appendPadded(secondsOfDay / 60 % 60, width: 2, to: &out)
        out.append(UInt8(ascii: ":"))
        appendPadded(secondsOfDay % 60, width: 2, to: &out)
        if let milliseconds {
            out.append(UInt8(ascii: "."))
            appendPadded(milliseconds, width: 3, to: &out)
        }
        out.append(UInt8(ascii: "Z"))
    }

    /// Parses `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` (`t` and `z` accepted too).
    /// Returns nil for anything else, including impossible dates such as February 30 and
    /// leap seconds (`:60`).
    public static func parse(_ text: String) -> Date? {
        let bytes = Array(text.utf8)
        var index = 0

        func number(_ width: Int) -> Int? {
            guard index + width <= bytes.count else { return nil }
            var value = 0
            for _ in 0..<width {
                let byte = bytes[index]
                guard (0x30...0x39).contains(byte) else { return nil }
                value = value * 10 + Int(byte - 0x30)
                index += 1
            }
            return value
        }
        func expect(_ characters: UInt8...) -> Bool {
            guard index < bytes.count, characters.contains(bytes[index]) else { return false }
            index += 1
            return true
        }

        guard let year = number(4), expect(UInt8(ascii: "-")),
              let month = number(2), expect(UInt8(ascii: "-")),
              let day = number(2), expect(UInt8(ascii: "T"), UInt8(ascii: "t")),
              let hour = number(2), expect(UInt8(ascii: ":")),
              let minute = number(2), expect(UInt8(ascii: ":")),
              let second = number(2) else { return nil }
        guard let date = CivilDate(year: year, month: month, day: day),
              hour < 24, minute < 60, second < 60 else { return nil }

        var fraction = 0.0
        if expect(UInt8(ascii: ".")) {
            var scale = 0.1
            let start = index
            while index < bytes.count, (0x30...0x39).contains(bytes[index]) {
                fraction += Double(bytes[index] - 0x30) * scale
                scale /= 10
                index += 1
            }
            guard index > start else { return nil }
        }

        var offsetSeconds = 0
        if expect(UInt8(ascii: "Z"), UInt8(ascii: "z")) {
            offsetSeconds = 0
        } else if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
            let sign = bytes[index] == UInt8(ascii: "-") ? -1 : 1
            index += 1
            guard let offsetHours = number(2), expect(UInt8(ascii: ":")), let offsetMinutes = number(2),
                  offsetHours < 24, offsetMinutes < 60 else { return nil }
            offsetSeconds = sign * (offsetHours * 3600 + offsetMinutes * 60)
        } else {
            return nil
        }
        guard index == bytes.count else { return nil }

        let seconds = date.dayNumber * 86_400 + hour * 3600 + minute * 60 + second - offsetSeconds
        return Date(timeIntervalSince1970: Double(seconds) + fraction)
    }

    /// 0000-01-01T00:00:00Z and 9999-12-31T23:59:59Z in seconds since 1970.
    private static let earliest = -62_167_219_200.0
    private static let latest = 253_402_300_799.0

    /// `value` (not negative) in decimal, zero-padded to `width` digits; written in place, since
    /// a timestamp has seven of these and the logger writes one for every request.
    private static func appendPadded(_ value: Int, width: Int, to out: inout [UInt8]) {
        var divisor = 1
        var digits = 1
        while divisor <= value / 10 {
            divisor *= 10
            digits += 1
        }
        while digits < width {
            out.append(UInt8(ascii: "0"))
            digits += 1
        }
        while divisor > 0 {
            out.append(UInt8(ascii: "0") + UInt8(value / divisor % 10))
            divisor /= 10
        }
    }
}

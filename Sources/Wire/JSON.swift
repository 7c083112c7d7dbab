import Foundation

/// The one JSON configuration of the API, so every body reads and writes dates and errors the
/// same way.
///
/// Foundation's `JSONEncoder` and `JSONDecoder` are not `Sendable`, so they are never shared:
/// ``makeEncoder()`` and ``makeDecoder()`` build a configured one per call, which is cheap next
/// to the encoding itself.
///
/// Dates are RFC 3339 strings: written in UTC with `Z` and whole seconds
/// (`2027-03-23T10:00:00Z`), read with any offset (`Z`, `+01:00`, `-05:30`) and with or without
/// fractional seconds. The conversion is done here rather than by a formatter, so it does not
/// depend on locale, calendar or Foundation version.
public enum JSON {
    /// A new encoder with the API's configuration: RFC 3339 UTC dates, slashes not escaped, keys
    /// sorted (Foundation's order is otherwise unspecified, and stable bytes make responses
    /// comparable in tests and logs).
    public static func makeEncoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(RFC3339.format(date))
        }
        return encoder
    }

    /// A new decoder with the API's configuration: dates as RFC 3339 with any offset.
    public static func makeDecoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let container = try decoder.singleValueContainer()
            let text = try container.decode(String.self)
            guard let date = RFC3339.parse(text) else {
                throw DecodingError.dataCorruptedError(in: container, debugDescription: RFC3339.expectation)
            }
            return date
        }
        return decoder
    }

    /// Encodes `value` as compact UTF-8 JSON.
    ///
    /// - Throws: `EncodingError` when the value cannot be represented (a non-finite number, or a
    ///   custom `encode(to:)` that throws) — a bug in the caller, not in the client's input.
    public static func encode(_ value: some Encodable) throws -> [UInt8] {
        try JSONWriter.encode(value)
    }

    /// Encodes `value` in the format of Foundation's `JSONEncoder()` with its defaults (dates
    /// as seconds since 2001, keys in encoding order), several times faster: for what the
    /// broker stores (journal entries, snapshots), which `JSONDecoder()` reads back exactly.
    ///
    /// - Throws: `EncodingError` as for ``encode(_:)``.
    public static func encodeStored(_ value: some Encodable) throws -> [UInt8] {
        try JSONWriter.encode(value, style: .stored)
    }

    /// Decodes a request body.
    ///
    /// - Throws: ``JSONBodyError`` (`400 invalid_json`) when the body is empty, is not JSON, or
    ///   does not have the expected shape, has a key the type does not know (a misspelling
    ///   must not be ignored), or repeats a key; its message names the key path and what was
    ///   expected, e.g. `"meeting.startsAt" must be a string`.
    public static func decode<T: Decodable>(_ type: T.Type, from body: [UInt8]) throws(JSONBodyError) -> T {
        if body.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D }) {
            throw JSONBodyError(message: "request body is empty; expected a JSON object", keyPath: nil)
        }
        let data = Data(body)
        let value: T
        do {
            value = try makeDecoder().decode(type, from: data)
        } catch let DecodingError.dataCorrupted(context) where context.codingPath.isEmpty {
            // Foundation reports a number that does not fit (1.5 or 1e30 for an Int) as invalid
            // JSON without a key path; tell the client which of the two it was.
            if (try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])) != nil {
                throw JSONBodyError(message: JSONBodyError.numberDoesNotFit, keyPath: nil)
            }
            throw JSONBodyError(message: "request body is not valid JSON", keyPath: nil)
        } catch let error as DecodingError {
            throw JSONBodyError(error)
        } catch {
            throw JSONBodyError(message: "request body is not valid JSON", keyPath: nil)
        }
        if let problem = JSONStrictness.problem(in: body, decoded: value) { throw problem }
        return value
    }

    /// RFC 3339 date-times (`2027-03-23T10:00:00Z`) without Foundation formatters.
    public enum RFC3339 {
        /// What a date must look like, for error messages.
        public static let expectation = "expected an RFC 3339 date-time such as 2027-03-23T10:00:00Z"

        /// Formats `date` in UTC with `Z`, truncating fractional seconds toward the past.
        /// Dates outside years 0000–9999 (which RFC 3339 cannot write) are clamped to that range.
        public static func format(_ date: Date) -> String {
            let interval = date.timeIntervalSince1970
            let clamped = interval.isNaN ? 0 : Swift.min(Swift.max(interval, earliest), latest)
            let total = Int(clamped.rounded(.down))
            var days = total / 86_400
            var secondsOfDay = total % 86_400
            if secondsOfDay < 0 {
                secondsOfDay += 86_400
                days -= 1
            }
            let (year, month, day) = civil(fromDays: days)
            var out: [UInt8] = []
            out.reserveCapacity(20)
            appendPadded(year, width: 4, to: &out)
            out.append(UInt8(ascii: "-"))
            appendPadded(month, width: 2, to: &out)
            out.append(UInt8(ascii: "-"))
            appendPadded(day, width: 2, to: &out)
            out.append(UInt8(ascii: "T"))
            appendPadded(secondsOfDay / 3600, width: 2, to: &out)
            out.append(UInt8(ascii: ":"))
            appendPadded(secondsOfDay / 60 % 60, width: 2, to: &out)
            out.append(UInt8(ascii: ":"))
            appendPadded(secondsOfDay % 60, width: 2, to: &out)
            out.append(UInt8(ascii: "Z"))
            return String(decoding: out, as: UTF8.self)
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
            guard (1...12).contains(month), day >= 1, day <= daysIn(month: month, year: year),
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

            let days = daysFromCivil(year: year, month: month, day: day)
            let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offsetSeconds
            return Date(timeIntervalSince1970: Double(seconds) + fraction)
        }

        /// 0000-01-01T00:00:00Z and 9999-12-31T23:59:59Z in seconds since 1970.
        private static let earliest = -62_167_219_200.0
        private static let latest = 253_402_300_799.0

        private static func appendPadded(_ value: Int, width: Int, to out: inout [UInt8]) {
            var digits: [UInt8] = []
            var remaining = value
            repeat {
                digits.append(UInt8(remaining % 10) + 0x30)
                remaining /= 10
            } while remaining > 0
            if digits.count < width {
                out.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: width - digits.count))
            }
            out.append(contentsOf: digits.reversed())
        }

        private static func daysIn(month: Int, year: Int) -> Int {
            switch month {
            case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
            case 4, 6, 9, 11: return 30
            default: return 31
            }
        }

        /// Days since 1970-01-01 in the proleptic Gregorian calendar (H. Hinnant's algorithm).
        static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
            let y = month <= 2 ? year - 1 : year
            let era = (y >= 0 ? y : y - 399) / 400
            let yearOfEra = y - era * 400
            let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
            let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
            return era * 146_097 + dayOfEra - 719_468
        }

        static func civil(fromDays days: Int) -> (year: Int, month: Int, day: Int) {
            let z = days + 719_468
            let era = (z >= 0 ? z : z - 146_096) / 146_097
            let dayOfEra = z - era * 146_097
            let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
            let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
            let mp = (5 * dayOfYear + 2) / 153
            let day = dayOfYear - (153 * mp + 2) / 5 + 1
            let month = mp < 10 ? mp + 3 : mp - 9
            return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
        }
    }
}

import Foundation
import Wire

/// Working days for deadline arithmetic: Monday to Friday, minus bank holidays.
///
/// Bank holidays are computed from the statutory rules of the configured region
/// (only England and Wales today) and then adjusted by one-off additions and
/// removals from `config/calendar.json` (e.g. the 2020 early May bank holiday
/// moved to VE Day). All date arithmetic is on `CivilDate`; the time zone is only
/// used to turn instants into local dates and back.
public struct WorkingCalendar: Sendable, Equatable {
    /// Bank holiday rule sets the calendar knows.
    public enum Region: String, Sendable, Codable, CaseIterable {
        /// England and Wales: New Year's Day, Good Friday, Easter Monday, early
        /// May, spring and summer bank holidays, Christmas Day, Boxing Day, with
        /// substitute days.
        case englandAndWales = "england-and-wales"
    }

    /// The zone for all local dates and wall-clock times (default Europe/London).
    public let timeZone: TimeZone
    /// The rule set.
    public let region: Region
    /// One-off bank holidays added to the rules.
    public let extraDates: Set<CivilDate>
    /// Rule-made bank holidays that do not happen (e.g. moved).
    public let removedDates: Set<CivilDate>

    /// Creates a calendar.
    public init(timeZone: TimeZone = WorkingCalendar.london, region: Region = .englandAndWales,
                extraDates: Set<CivilDate> = [], removedDates: Set<CivilDate> = []) {
        self.timeZone = timeZone
        self.region = region
        self.extraDates = extraDates
        self.removedDates = removedDates
    }

    /// Europe/London. Crashes only if the system has no time zone data for it,
    /// which Foundation on Linux always ships.
    public static let london = TimeZone(identifier: "Europe/London")!

    /// Loads `config/calendar.json`:
    /// `{"region": "england-and-wales", "extra": [{"date": "2020-05-08", "name": "VE Day"}],
    /// "removed": [{"date": "2020-05-04", "name": "..."}]}`.
    /// - Throws: `ConfigError` naming `file` and the key at fault.
    public static func load(_ data: Data, file: String, timeZone: TimeZone = WorkingCalendar.london) throws(ConfigError) -> WorkingCalendar {
        let object = try loadJSONObject(data, file: file)
        try rejectUnknownKeys(object, allowed: ["region", "extra", "removed", "comment"], file: file)
        var region = Region.englandAndWales
        if let value = object["region"] {
            guard let text = value.string, let parsed = Region(rawValue: text) else {
                throw ConfigError(file: file, key: "region",
                                  message: "unknown region (known: \(Region.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            region = parsed
        }
        func dates(_ key: String) throws(ConfigError) -> Set<CivilDate> {
            guard let value = object[key] else { return [] }
            guard case .array(let items) = value else {
                throw ConfigError(file: file, key: key, message: "must be an array of {\"date\": \"YYYY-MM-DD\", \"name\": \"...\"}")
            }
            var result = Set<CivilDate>()
            for (index, item) in items.enumerated() {
                let itemKey = "\(key)[\(index)]"
                guard case .object(let fields) = item else {
                    throw ConfigError(file: file, key: itemKey, message: "must be an object {\"date\", \"name\"}")
                }
                try rejectUnknownKeys(fields, allowed: ["date", "name"], file: file, prefix: itemKey + ".")
                guard let text = fields["date"]?.string, let date = CivilDate(text) else {
                    throw ConfigError(file: file, key: itemKey + ".date", message: "must be a date YYYY-MM-DD")
                }
                if let name = fields["name"], name.string == nil {
                    throw ConfigError(file: file, key: itemKey + ".name", message: "must be a string")
                }
                result.insert(date)
            }
            return result
        }
        let extra = try dates("extra")
        let removed = try dates("removed")
        if let both = extra.intersection(removed).sorted().first {
            throw ConfigError(file: file, key: "removed", message: "\(both) is both added and removed")
        }
        return WorkingCalendar(timeZone: timeZone, region: region, extraDates: extra, removedDates: removed)
    }

    // MARK: Bank holidays

    /// Easter Sunday of `year` by the anonymous Gregorian computus.
    public static func easterSunday(_ year: Int) -> CivilDate {
        let a = year % 19
        let b = year / 100
        let c = year % 100
        let d = b / 4
        let e = b % 4
        let f = (b + 8) / 25
        let g = (b - f + 1) / 3
        let h = (19 * a + b - d - g + 15) % 30
        let i = c / 4
        let k = c % 4
        let l = (32 + 2 * e + 2 * i - h - k) % 7
        let m = (a + 11 * h + 22 * l) / 451
        let month = (h + l - 7 * m + 114) / 31
        let day = (h + l - 7 * m + 114) % 31 + 1
        return CivilDate(year: year, month: month, day: day)!
    }

    /// The bank holidays the rules alone give for `year`, without config changes.
    public static func ruleHolidays(_ year: Int, region: Region = .englandAndWales) -> Set<CivilDate> {
        switch region {
        case .englandAndWales:
            var days = Set<CivilDate>()
            let easter = easterSunday(year)
            days.insert(easter.adding(days: -2))
            days.insert(easter.adding(days: 1))
            days.insert(firstMonday(year: year, month: 5))
            days.insert(lastMonday(year: year, month: 5))
            days.insert(lastMonday(year: year, month: 8))
            // New Year's Day, or the next Monday when it falls on a weekend.
            let newYear = CivilDate(year: year, month: 1, day: 1)!
            days.insert(newYear.isWeekend ? newYear.adding(days: 8 - newYear.weekday) : newYear)
            // Christmas and Boxing Day: weekday ones stand; weekend ones move to
            // the next weekday that is not already a holiday.
            let christmas = [CivilDate(year: year, month: 12, day: 25)!, CivilDate(year: year, month: 12, day: 26)!]
            var festive = Set(christmas.filter { !$0.isWeekend })
            for day in christmas where day.isWeekend {
                var substitute = day.adding(days: 1)
                while substitute.isWeekend || festive.contains(substitute) { substitute = substitute.adding(days: 1) }
                festive.insert(substitute)
            }
            days.formUnion(festive)
            return days
        }
    }

    private static func firstMonday(year: Int, month: Int) -> CivilDate {
        let first = CivilDate(year: year, month: month, day: 1)!
        return first.adding(days: (8 - first.weekday) % 7)
    }

    private static func lastMonday(year: Int, month: Int) -> CivilDate {
        let last = CivilDate(year: year, month: month, day: CivilDate.daysIn(month: month, year: year))!
        return last.adding(days: -((last.weekday - 1) % 7))
    }

    /// The bank holidays of `year` in order, after config additions and removals.
    public func bankHolidays(in year: Int) -> [CivilDate] {
        var days = WorkingCalendar.ruleHolidays(year, region: region).subtracting(removedDates)
        days.formUnion(extraDates.filter { $0.year == year })
        return days.sorted()
    }

    /// Whether `date` is a bank holiday.
    public func isBankHoliday(_ date: CivilDate) -> Bool {
        if extraDates.contains(date) { return true }
        if removedDates.contains(date) { return false }
        return WorkingCalendar.ruleHolidays(date.year, region: region).contains(date)
    }

    /// Whether `date` is a working day (not a weekend, not a bank holiday).
    public func isWorkingDay(_ date: CivilDate) -> Bool {
        !date.isWeekend && !isBankHoliday(date)
    }

    /// The date that is `count` working days before `date` (`date` itself is not
    /// counted, whether or not it is a working day).
    public func workingDays(_ count: Int, before date: CivilDate) -> CivilDate {
        var result = date
        var remaining = count
        while remaining > 0 {
            result = result.adding(days: -1)
            if isWorkingDay(result) { remaining -= 1 }
        }
        return result
    }

    // MARK: Local time

    /// The local date of an instant, and the seconds since local midnight
    /// (with any fraction).
    public func localDate(of instant: Date) -> (date: CivilDate, secondsOfDay: Double) {
        let offset = Double(timeZone.secondsFromGMT(for: instant))
        let local = instant.timeIntervalSince1970 + offset
        let day = (local / 86_400).rounded(.down)
        return (CivilDate(dayNumber: Int(day)), local - day * 86_400)
    }

    /// The instant at which the local wall clock shows `secondsOfDay` on `date`.
    ///
    /// An ambiguous time (clocks going back) resolves to the earlier instant. A
    /// time that does not exist (clocks going forward) is read with the offset in
    /// force before the change, which lands the same distance after the change as
    /// the gap is long: 01:30 on the day the UK springs forward becomes 02:30 BST
    /// (01:30Z). Neither can happen for a working-day deadline in Europe/London,
    /// whose clocks change on Sundays, but other zones change on weekdays.
    public func instant(on date: CivilDate, secondsOfDay: Double) -> Date {
        let naive = Double(date.dayNumber) * 86_400 + secondsOfDay
        let before = Double(timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: naive - 86_400)))
        let after = Double(timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: naive + 86_400)))
        var valid: [Double] = []
        for offset in Set([before, after]) {
            let utc = naive - offset
            if Double(timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: utc))) == offset { valid.append(utc) }
        }
        if let earliest = valid.min() { return Date(timeIntervalSince1970: earliest) }
        return Date(timeIntervalSince1970: naive - before)
    }
}

import Foundation
import Testing
@testable import Broker

@Suite("Working-day calendar")
struct CalendarTests {
    /// England and Wales bank holidays: 2025–2028 as gov.uk publishes them; 2029–2030 by the standing
    /// rules (Easter Sunday 1 April 2029 and 21 April 2030; Christmas 2029 falls Tuesday, 2030 Wednesday),
    /// which gov.uk had not yet published when this was written.
    static let published: [Int: [String]] = [
        2025: ["2025-01-01", "2025-04-18", "2025-04-21", "2025-05-05", "2025-05-26", "2025-08-25", "2025-12-25", "2025-12-26"],
        2026: ["2026-01-01", "2026-04-03", "2026-04-06", "2026-05-04", "2026-05-25", "2026-08-31", "2026-12-25", "2026-12-28"],
        2027: ["2027-01-01", "2027-03-26", "2027-03-29", "2027-05-03", "2027-05-31", "2027-08-30", "2027-12-27", "2027-12-28"],
        2028: ["2028-01-03", "2028-04-14", "2028-04-17", "2028-05-01", "2028-05-29", "2028-08-28", "2028-12-25", "2028-12-26"],
        2029: ["2029-01-01", "2029-03-30", "2029-04-02", "2029-05-07", "2029-05-28", "2029-08-27", "2029-12-25", "2029-12-26"],
        2030: ["2030-01-01", "2030-04-19", "2030-04-22", "2030-05-06", "2030-05-27", "2030-08-26", "2030-12-25", "2030-12-26"],
    ]

    @Test("England and Wales bank holidays match gov.uk", arguments: [2025, 2026, 2027, 2028, 2029, 2030])
    func bankHolidays(year: Int) throws {
        let calendar = try shippedCalendar()
        #expect(calendar.bankHolidays(in: year).map(\.description) == CalendarTests.published[year])
        for day in CalendarTests.published[year]! {
            #expect(calendar.isBankHoliday(civil(day)))
            #expect(!calendar.isWorkingDay(civil(day)))
        }
    }

    @Test("Historic one-off changes come from config/calendar.json")
    func historicChanges() throws {
        let calendar = try shippedCalendar()
        #expect(calendar.isBankHoliday(civil("2020-05-08")))
        #expect(!calendar.isBankHoliday(civil("2020-05-04")))
        #expect(calendar.bankHolidays(in: 2022).map(\.description) ==
                ["2022-01-03", "2022-04-15", "2022-04-18", "2022-05-02", "2022-06-02", "2022-06-03", "2022-08-29", "2022-09-19", "2022-12-26", "2022-12-27"])
        #expect(calendar.isBankHoliday(civil("2023-05-08")))
        // Without the config the rules alone give the usual dates.
        #expect(WorkingCalendar().isBankHoliday(civil("2020-05-04")))
    }

    @Test("Easter by the anonymous Gregorian computus",
          arguments: [(2024, "2024-03-31"), (2025, "2025-04-20"), (2026, "2026-04-05"), (2027, "2027-03-28"),
                      (2028, "2028-04-16"), (2038, "2038-04-25"), (2285, "2285-03-22")])
    func easter(year: Int, expected: String) {
        #expect(WorkingCalendar.easterSunday(year).description == expected)
    }

    @Test("Christmas substitutes: Sunday Christmas moves to the Tuesday")
    func christmasOnSunday() {
        // 2022: Christmas Sunday, Boxing Day Monday → 26 and 27.
        let days = WorkingCalendar.ruleHolidays(2022).filter { $0.month == 12 }.sorted().map(\.description)
        #expect(days == ["2022-12-26", "2022-12-27"])
    }

    @Test("Working days skip weekends and bank holidays")
    func workingDays() {
        let calendar = WorkingCalendar()
        #expect(calendar.workingDays(5, before: civil("2027-04-01")).description == "2027-03-23")
        #expect(calendar.workingDays(1, before: civil("2027-03-30")).description == "2027-03-25")
        #expect(calendar.workingDays(5, before: civil("2026-12-31")).description == "2026-12-22")
        #expect(calendar.workingDays(0, before: civil("2027-04-01")).description == "2027-04-01")
        #expect(!calendar.isWorkingDay(civil("2027-03-27")))
        #expect(calendar.isWorkingDay(civil("2027-03-30")))
    }

    @Test("A local time that does not exist moves forward by the gap; an ambiguous one takes the earlier instant")
    func gapAndOverlap() {
        let calendar = WorkingCalendar()
        // 2027-03-28 01:30 London does not exist (clocks 01:00 GMT → 02:00 BST): read as 02:30 BST = 01:30Z.
        #expect(calendar.instant(on: civil("2027-03-28"), secondsOfDay: 5400) == date("2027-03-28T01:30:00Z"))
        // 2027-10-31 01:30 London happens twice: 00:30Z (BST) and 01:30Z (GMT).
        #expect(calendar.instant(on: civil("2027-10-31"), secondsOfDay: 5400) == date("2027-10-31T00:30:00Z"))
        #expect(calendar.instant(on: civil("2027-07-01"), secondsOfDay: 36000) == date("2027-07-01T09:00:00Z"))
        #expect(calendar.instant(on: civil("2027-01-04"), secondsOfDay: 36000) == date("2027-01-04T10:00:00Z"))
    }

    @Test("calendar.json errors name the file and key")
    func loadErrors() {
        func error(_ json: String) -> ConfigError? {
            do {
                _ = try WorkingCalendar.load(Data(json.utf8), file: "calendar.json")
                return nil
            } catch { return error }
        }
        #expect(error(#"{"region": "scotland"}"#)?.key == "region")
        #expect(error(#"{"extra": [{"date": "2027-02-30"}]}"#)?.key == "extra[0].date")
        #expect(error(#"{"removed": "2027-01-01"}"#)?.key == "removed")
        #expect(error(#"{"extras": []}"#)?.key == "extras")
        #expect(error(#"{"extra": [{"date": "2027-01-01"}], "removed": [{"date": "2027-01-01"}]}"#)?.message.contains("both") == true)
        #expect(error("[1]")?.key == "")
        #expect(error("not json")?.description == "calendar.json: not valid JSON")
        #expect(error(#"{"extra": [{"date": "2027-06-01", "name": "Test day"}]}"#) == nil)
    }
}

import Testing
@testable import Wire

/// Calendar day arithmetic: the one civil-date algorithm, used by working days and RFC 3339.
@Suite struct CivilDateTests {
    /// A date the test knows exists; crashes the test on a typo.
    func civil(_ text: String) -> CivilDate {
        guard let value = CivilDate(text) else { fatalError("bad test date \(text)") }
        return value
    }

    @Test("CivilDate arithmetic")
    func civilDates() {
        #expect(CivilDate(dayNumber: 0).description == "1970-01-01")
        #expect(civil("2027-04-01").weekday == 4)
        #expect(civil("2000-02-29").adding(days: 366).description == "2001-03-01")
        #expect(CivilDate("2027-02-29") == nil)
        #expect(CivilDate("2027-2-01") == nil)
        #expect(CivilDate(dayNumber: civil("1969-12-31").dayNumber) == civil("1969-12-31"))
    }

    @Test func dayNumbersRoundTripAcrossEras() {
        for dayNumber in stride(from: -800_000, through: 3_000_000, by: 997) {
            let date = CivilDate(dayNumber: dayNumber)
            #expect(date.dayNumber == dayNumber)
            #expect(CivilDate(year: date.year, month: date.month, day: date.day) == date)
        }
        #expect(CivilDate(year: 2028, month: 2, day: 29) != nil)
        #expect(CivilDate(year: 1900, month: 2, day: 29) == nil)
        #expect(CivilDate(year: 2000, month: 2, day: 29)?.dayNumber == 11_016)
    }
}

import Foundation
import Testing
@testable import Broker
import Wire

@Suite("Meeting deadlines")
struct DeadlineTests {
    let rules = DeadlineRules()

    @Test("SPEC example: 1 April 2027 10:00 BST")
    func specExample() {
        let deadlines = rules.deadlines(startsAt: date("2027-04-01T09:00:00Z"))
        #expect(deadlines.dispatch == date("2027-03-23T10:00:00Z"))
        #expect(deadlines.return == date("2027-03-31T09:00:00Z"))
    }

    @Test("Deadlines across clock changes, Christmas and bank holidays", arguments: [
        // After Christmas 2026: meeting Thu 7 Jan 2027 10:00 GMT; back over New Year's Day.
        ("2027-01-07T10:00:00Z", "2026-12-30T10:00:00Z", "2027-01-06T10:00:00Z"),
        // Christmas 2026: meeting Wed 30 Dec 10:00 → Mon 21 Dec, skipping 25 and 28 (substitute Boxing Day).
        ("2026-12-30T10:00:00Z", "2026-12-21T10:00:00Z", "2026-12-29T10:00:00Z"),
        // Spring 2027 change (28 March): meeting Tue 30 March 14:00 BST → Fri 19 March 14:00 GMT (skips Good Friday).
        ("2027-03-30T13:00:00Z", "2027-03-19T14:00:00Z", "2027-03-29T13:00:00Z"),
        // Autumn 2027 change (31 October): meeting Wed 3 Nov 10:00 GMT → Wed 27 Oct 10:00 BST = 09:00Z.
        ("2027-11-03T10:00:00Z", "2027-10-27T09:00:00Z", "2027-11-02T10:00:00Z"),
        // Return deadline over the autumn change is 86,400 s absolute: Mon 1 Nov 09:30 GMT → Sun 31 Oct 09:30Z;
        // dispatch Mon 25 Oct 09:30 BST = 08:30Z.
        ("2027-11-01T09:30:00Z", "2027-10-25T08:30:00Z", "2027-10-31T09:30:00Z"),
        // Return deadline over the spring change: Mon 29 March is Easter Monday; meeting Mon 29 Mar 2027 10:00 BST.
        ("2027-03-29T09:00:00Z", "2027-03-19T10:00:00Z", "2027-03-28T09:00:00Z"),
        // Early May and spring bank holidays.
        ("2027-05-07T09:00:00Z", "2027-04-29T09:00:00Z", "2027-05-06T09:00:00Z"),
        ("2027-06-04T09:00:00Z", "2027-05-27T09:00:00Z", "2027-06-03T09:00:00Z"),
        // A Monday meeting in winter: back over a weekend only.
        ("2028-01-10T10:00:00Z", "2027-12-31T10:00:00Z", "2028-01-09T10:00:00Z"),
        // Just after midnight local time in summer: the local date is the next day.
        ("2027-07-07T23:30:00Z", "2027-06-30T23:30:00Z", "2027-07-06T23:30:00Z"),
    ])
    func deadlines(startsAt: String, dispatch: String, returnBy: String) {
        let deadlines = rules.deadlines(startsAt: date(startsAt))
        #expect(RFC3339.format(deadlines.dispatch, fraction: .milliseconds) == dispatch)
        #expect(RFC3339.format(deadlines.return, fraction: .milliseconds) == returnBy)
    }

    @Test("Configurable lead and hours")
    func configurable() {
        let rules = DeadlineRules(researchLeadWorkingDays: 10, returnDeadlineHours: 48)
        let deadlines = rules.deadlines(startsAt: date("2027-04-01T09:00:00Z"))
        #expect(deadlines.dispatch == date("2027-03-16T10:00:00Z"))
        #expect(deadlines.return == date("2027-03-30T09:00:00Z"))
    }
}
